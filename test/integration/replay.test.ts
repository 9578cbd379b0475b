import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { EventMemo, WebhookEventInput, WebhookEventResult } from '../../workflows/contract';
import { createHarnessWithFakeModel, type Harness } from '../helpers/harness';
import { historyFromJson } from '../helpers/history-json';

/** Histories recorded by test/fixtures/record-histories.ts from earlier versions of the workflow. */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'histories');
const fixtureFiles = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort();

interface JsonEvent {
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
}

const readFixture = (file: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as { events: JsonEvent[] };
const historyEvents = (file: string) => historyFromJson(readFixture(file)).events ?? [];
const decode = <T>(payload: temporal.api.common.v1.IPayload | null | undefined): T => defaultPayloadConverter.fromPayload<T>(payload as Payload);

/**
 * The workflow generations, oldest first: each fixture's file name starts with its generation's
 * prefix. v1: the event workflow (agent loop, settlement with the charge in the memo) as accepted
 * by APIs that held a keyed event's Idempotency-Key window with the workflow, open until the window
 * ended (the input's dedupUntil). v2: the window lives in PostgreSQL; the API sends no dedupUntil
 * and every event closes when its work is done. The workflow code is the same: what differs is
 * decided by the input, which the history holds, so v1 histories replay without a patch marker.
 */
const GENERATIONS = [
  { prefix: 'v1-', keyedTimer: true, patches: [] as string[] },
  { prefix: 'v2-', keyedTimer: false, patches: [] as string[] },
] as const;
type Generation = (typeof GENERATIONS)[number];
const generationOf = (file: string): Generation => [...GENERATIONS].reverse().find((g) => file.startsWith(g.prefix))!;
const replayOptions = (): ReplayWorkerOptions => ({ workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! } });

let h: Harness;

beforeAll(async () => {
  // Also installs the quiet SDK runtime the replay workers log through. The worker's model is a fake one.
  ({ h } = await createHarnessWithFakeModel({ OPENAI_MODEL: 'test-model', IDEMPOTENCY_WINDOW_MS: '1000' }));
});
afterAll(() => h?.close());

describe('replaying event workflow histories against the current workflow code', () => {
  const scenarios = [
    'employee-not-found',
    'idempotency-window-rejected',
    'idempotency-window-success',
    'model-rejected',
    'model-retried-after-500',
    'model-success',
    'tool-calls',
    'step-limit',
  ];

  it('has fixtures for success, retry, rejection, a missing employee, both dedup-window endings, tool calls and the step limit, in every generation', () => {
    expect(fixtureFiles).toEqual(expect.arrayContaining(GENERATIONS.flatMap((g) => scenarios.map((s) => `${g.prefix}${s}.json`))));
    // The deadline's timer for every event that reached the model, and the dedup window's where the generation held it.
    const timers = (f: string) => readFixture(f).events.filter((e) => e.eventType === 'EVENT_TYPE_TIMER_STARTED').length;
    const expected = (f: string) => (f.includes('idempotency-window-') && generationOf(f).keyedTimer ? 1 : 0) + (f.includes('employee-not-found') ? 0 : 1);
    expect(fixtureFiles.map((f) => [f, timers(f)])).toEqual(fixtureFiles.map((f) => [f, expected(f)]));
  });

  it('settles every event, also a failed one, in one local activity beside reading the employee and recording its outcome', () => {
    const localActivities = (f: string) =>
      historyEvents(f).flatMap((e) => {
        const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0];
        return payload ? [decode<{ activity_type: string }>(payload).activity_type] : [];
      });
    for (const f of fixtureFiles) {
      const credits = localActivities(f).filter((type) => !['prepareAgent', 'recordOutcome'].includes(type));
      expect({ f, credits }).toEqual({ f, credits: ['settleCredits'] });
    }
  });

  it('records the settled charge in the memo: the posting on success, null on failure', () => {
    for (const f of fixtureFiles) {
      const events = historyEvents(f);
      const patches = events.flatMap((e) => {
        const payload =
          e.markerRecordedEventAttributes?.markerName === 'core_patch' ? e.markerRecordedEventAttributes.details?.['patch-data']?.payloads?.[0] : undefined;
        return payload ? [decode<{ id: string }>(payload).id] : [];
      });
      const upserts = events.flatMap((e) => {
        const fields = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields;
        return fields ? [Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, decode(v)]))] : [];
      });
      expect({ f, patches }).toEqual({ f, patches: generationOf(f).patches });
      const input = decode<WebhookEventInput>(events[0].workflowExecutionStartedEventAttributes!.input!.payloads![0]);
      const completed = events.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes;
      const succeeded = f.endsWith('success.json') || f.endsWith('retried-after-500.json') || f.endsWith('tool-calls.json');
      expect({ f, completed: Boolean(completed) }).toEqual({ f, completed: succeeded });
      if (f.endsWith('step-limit.json')) {
        // Failed at its limit after two completed turns: those are charged, and the memo says so.
        expect({ f, settled: upserts[0]?.settled, turns: (upserts[0]?.charge as { modelTurns?: number } | undefined)?.modelTurns }).toEqual({
          f,
          settled: true,
          turns: 2,
        });
        continue;
      }
      const result = completed ? decode<WebhookEventResult>(completed.result!.payloads![0]) : undefined;
      // A null charge travels as a binary/null payload, which reads back as undefined: the field is there, empty.
      const memo: Pick<EventMemo, 'settled' | 'charge'> = {
        settled: true,
        charge: succeeded ? { ...result!.charge!.posting!, kind: 'charge', messageId: input.messageId, credits: -result!.charge!.credits } : undefined,
      };
      expect({ f, upserts }).toEqual({ f, upserts: [memo] });
      expect({ f, fields: Object.keys(upserts[0]).sort() }).toEqual({ f, fields: ['charge', 'settled'] });
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
    const tampered = readFixture(`${GENERATIONS[GENERATIONS.length - 1].prefix}model-success.json`);
    const scheduled = tampered.events.find((e) => e.activityTaskScheduledEventAttributes)!;
    scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'someOtherActivity';
    await expect(Worker.runReplayHistory(replayOptions(), historyFromJson(tampered), 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  it('replays a history recorded just now: a keyed event that closed when its work was done', async () => {
    const acct = await h.seedAccount();
    const key = `replay-${randomUUID()}`;
    const res = await h.http.post('/api/webhook/').set(acct.auth).set('Idempotency-Key', key).send({ employee_id: acct.employeeId, payload: 'fresh' });
    expect(res.status).toBe(202);
    const handle = h.workflowHandle(acct.accountId, res.body.message_id, key);
    expect((await handle.result()).status).toBe('completed');

    const history = await handle.fetchHistory();
    // Only the deadline's timer: no timer holds the Idempotency-Key window.
    expect(history.events!.filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
    await Worker.runReplayHistory(replayOptions(), history, handle.workflowId);
  });
});
