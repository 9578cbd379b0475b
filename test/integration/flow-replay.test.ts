import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { EmployeeQueueInput, WebhookBatchInput } from '../../workflows/contract';
import { createLogger } from '../../src/observability/logger';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { historyFromJson } from '../helpers/history-json';

/**
 * Histories recorded by test/fixtures/record-flow-histories.ts: q1 the employee queue workflow of
 * ordered mode; q2 the queue gathering a batch, and the batch's own run (processWebhookBatch); r1 a
 * bulk replay (bulkReplay) of two failed events.
 */
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'flow-histories');
const fixtureFiles = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.json'))
  .sort();
const readFixture = (file: string) => historyFromJson(JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')));
const decode = <T>(payload: temporal.api.common.v1.IPayload | null | undefined): T => defaultPayloadConverter.fromPayload<T>(payload as Payload);
const replayOptions = () => ({ workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! } });

beforeAll(() => installTemporalRuntime(createLogger({ LOG_LEVEL: 'error', LOG_PRETTY: false }, 'test-sdk'), 'ERROR'));

describe('replaying queue, batch and bulk replay histories against the current workflow code', () => {
  it('has a run that continued as new carrying its queue, and a run that waits for more', () => {
    expect(fixtureFiles).toEqual(['q1-continued-as-new.json', 'q1-waiting.json', 'q2-batch-queue.json', 'q2-batch-run.json', 'r1-bulk-replay.json']);
    const events = readFixture('q1-continued-as-new.json').events ?? [];
    const children = events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    expect(children.map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes!.workflowType!.name)).toEqual([
      'processWebhookEvent',
      'processWebhookEvent',
    ]);
    const continued = events.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)!.workflowExecutionContinuedAsNewEventAttributes!;
    const carried = decode<EmployeeQueueInput>(continued.input!.payloads![0]);
    expect(carried.queue.map((e) => e.input.payload)).toEqual(['Ticket 2.']);
  });

  it('has a queue that gathered three events behind a debounce timer into one batch run, and that run charging once', () => {
    const queue = readFixture('q2-batch-queue.json').events ?? [];
    expect(queue.filter((e) => e.timerStartedEventAttributes).length).toBeGreaterThanOrEqual(1);
    const children = queue.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    expect(children).toHaveLength(1);
    const batch = children[0].startChildWorkflowExecutionInitiatedEventAttributes!;
    expect(batch.workflowType!.name).toBe('processWebhookBatch');
    expect(decode<WebhookBatchInput>(batch.input!.payloads![0]).events.map((e) => e.payload)).toEqual(['Ticket 0.', 'Ticket 1.', 'Ticket 2.']);
    const run = readFixture('q2-batch-run.json').events ?? [];
    const localActivities = run.flatMap((e) => {
      const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0];
      return payload ? [decode<{ activity_type: string }>(payload).activity_type] : [];
    });
    expect(localActivities.filter((t) => t === 'settleCredits')).toHaveLength(3);
    expect(localActivities.filter((t) => t === 'linkBatch')).toHaveLength(1);
  });

  it('has a bulk replay that stepped through its items and finished', () => {
    const events = readFixture('r1-bulk-replay.json').events ?? [];
    const activities = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType!.name] : []));
    expect(activities).toEqual(['replayBulkStep', 'finishBulkReplay']);
    expect(events.some((e) => e.workflowExecutionCompletedEventAttributes)).toBe(true);
  });

  it('replays every recorded history without a determinism error', async () => {
    const histories = fixtureFiles.map((file) => ({ workflowId: file, history: readFixture(file) }));
    const results: { workflowId: string; error?: string }[] = [];
    for await (const result of Worker.runReplayHistories(replayOptions(), histories)) {
      results.push({ workflowId: result.workflowId, error: result.error && `${result.error.name}: ${result.error.message}` });
    }
    expect(results).toEqual(fixtureFiles.map((workflowId) => ({ workflowId, error: undefined })));
  });

  it('detects a history the current code could not have produced', async () => {
    const tampered = readFixture('q1-continued-as-new.json');
    const child = tampered.events!.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)!;
    child.startChildWorkflowExecutionInitiatedEventAttributes!.workflowType!.name = 'someOtherWorkflow';
    await expect(Worker.runReplayHistory(replayOptions(), tampered, 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
