import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, type Harness } from '../helpers/harness';
import { historyFromJson } from '../helpers/history-json';

/** Histories recorded by test/fixtures/record-histories.ts from earlier versions of the workflow. */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'histories');
const fixtureFiles = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();

interface JsonEvent {
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
}

const readFixture = (file: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as { events: JsonEvent[] };
const replayOptions = (): ReplayWorkerOptions => ({ workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! } });

let fake: FakeModelServer;
let h: Harness;

beforeAll(async () => {
  fake = await startFakeModelServer();
  // Also installs the quiet SDK runtime the replay workers log through.
  h = await createHarness({ OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'test-model', IDEMPOTENCY_WINDOW_MS: '1000' });
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});

describe('replaying event workflow histories against the current workflow code', () => {
  const scenarios = ['employee-not-found', 'idempotency-window-rejected', 'idempotency-window-success', 'model-rejected', 'model-retried-after-500', 'model-success'];

  it('has fixtures for success, retry, rejection, a missing employee and both dedup-window endings, before and after settle-credits', () => {
    expect(fixtureFiles).toEqual(expect.arrayContaining([...scenarios, ...scenarios.map((s) => `settle-${s}`)].map((s) => `${s}.json`)));
    const withTimer = fixtureFiles.filter((f) => readFixture(f).events.some((e) => e.eventType === 'EVENT_TYPE_TIMER_STARTED'));
    expect(withTimer).toEqual(fixtureFiles.filter((f) => f.includes('idempotency-window-')));
  });

  it('settles in every settle- fixture (also on failure) and charges only on success in the older ones', () => {
    const localActivities = (f: string) =>
      (historyFromJson(readFixture(f)).events ?? []).flatMap((e) => {
        const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0];
        return payload ? [(defaultPayloadConverter.fromPayload(payload as Payload) as { activity_type: string }).activity_type] : [];
      });
    for (const f of fixtureFiles) {
      const credits = localActivities(f).filter((type) => type !== 'formatMessage');
      const succeeded = f.endsWith('success.json') || f.endsWith('retried-after-500.json');
      expect({ f, credits }).toEqual({ f, credits: f.startsWith('settle-') ? ['settleCredits'] : succeeded ? ['chargeCredits'] : [] });
    }
  });

  it('replays every recorded history without a determinism error', async () => {
    const histories = fixtureFiles.map((file) => ({ workflowId: file, history: historyFromJson(readFixture(file)) }));
    const results: { workflowId: string; error?: string }[] = [];
    for await (const result of Worker.runReplayHistories(replayOptions(), histories)) {
      results.push({ workflowId: result.workflowId, error: result.error && `${result.error.name}: ${result.error.message}` });
    }
    expect(results).toEqual(fixtureFiles.map((workflowId) => ({ workflowId, error: undefined })));
  });

  it('detects a history the current code could not have produced', async () => {
    const tampered = readFixture('model-success.json');
    const scheduled = tampered.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'someOtherActivity';
    await expect(Worker.runReplayHistory(replayOptions(), historyFromJson(tampered), 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('replays a history recorded just now, through the dedup-window timer', async () => {
    const acct = await h.seedAccount();
    const key = `replay-${randomUUID()}`;
    const res = await h.http.post('/api/webhook/').set(acct.auth).set('Idempotency-Key', key).send({ employee_id: acct.employeeId, payload: 'fresh' });
    expect(res.status).toBe(202);
    const handle = h.workflowHandle(acct.accountId, res.body.message_id, key);
    expect((await handle.result()).status).toBe('completed');

    const history = await handle.fetchHistory();
    expect(history.events!.some((e) => e.timerStartedEventAttributes)).toBe(true);
    await Worker.runReplayHistory(replayOptions(), history, handle.workflowId);
  });
});
