import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { AgentLimits } from '../../src/domain/agent';
import { CREDIT_CAP, EVENT_DEADLINE, STEP_LIMIT } from '../../src/domain/events';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { createLogger } from '../../src/observability/logger';
import {
  EVENT_WORKFLOW,
  type EventActivities,
  type ModelTurnInput,
  type ProcessWebhookEvent,
  type SettleCreditsInput,
  type ToolCallInput,
  type WebhookEventInput,
} from '../../workflows/contract';

/**
 * The event workflow's limits with every activity mocked: the real workflow bundle on the suite's
 * Temporal dev server, activities that answer at once from memory. (Temporal's time-skipping test
 * server is a download from outside the registries this project reaches, so these run on the
 * pinned dev server, with short limits instead of skipped time.) The end-to-end versions, with a
 * model server, a database and the real activities, are in test/integration/agent-limits.test.ts.
 */
let connection: Connection;
let native: NativeConnection;
let client: Client;

const LIMITS: AgentLimits = {
  maxSteps: 3,
  maxTokens: 100,
  deadlineMs: 60_000,
  maxCredits: 1_000,
  maxPromptTokens: 32_000,
  maxToolCallsPerTurn: 2,
  maxToolCalls: 20,
  maxWebhookBytes: 1_000,
};

beforeAll(async () => {
  installTemporalRuntime(createLogger({ LOG_LEVEL: 'error', LOG_PRETTY: false }, 'test-sdk'), 'ERROR');
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  native = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await native?.close();
});

interface Recorded {
  turns: ModelTurnInput[];
  tools: ToolCallInput[];
  settled: SettleCreditsInput[];
}

/** Mocked activities: `turn` answers each model turn; tools succeed; settlement records what it was asked. */
function mocks(
  limits: AgentLimits,
  turn: (input: ModelTurnInput) => Promise<Awaited<ReturnType<EventActivities['modelTurn']>>>,
): { activities: EventActivities; seen: Recorded } {
  const seen: Recorded = { turns: [], tools: [], settled: [] };
  const tool = async (input: ToolCallInput) => {
    seen.tools.push(input);
    return { ok: true, content: 'done', runtimeMs: 1 };
  };
  const activities: EventActivities = {
    prepareAgent: async () => ({ model: 'mock', limits, tools: [], promptTokens: 10 }),
    modelTurn: async (input) => {
      seen.turns.push(input);
      return turn(input);
    },
    rememberNote: tool,
    replyToOwner: tool,
    sendWebhook: tool,
    recordOutcome: async (input) => input.outcome,
    linkBatch: async () => undefined,
    settleCredits: async (input) => {
      seen.settled.push(input);
      return { messageId: input.messageId, credits: 0, tokenCredits: 0, runtimeCredits: 0, balance: 0, posted: true };
    },
  };
  return { activities, seen };
}

const usage = { promptTokens: 10, completionTokens: 5, runtimeMs: 1, model: 'mock' };
const toolTurn = (names: string[]) => async () => ({
  message: {
    role: 'assistant' as const,
    content: null,
    tool_calls: names.map((name, i) => ({ id: `c${i}`, type: 'function' as const, function: { name, arguments: '{"note":"x"}' } })),
  },
  usage,
  creditsAfter: 1,
});

/** Runs one event through the real workflow with `activities`, and returns its failure (or undefined). */
async function runEvent(activities: EventActivities): Promise<ApplicationFailure | undefined> {
  const taskQueue = `limits-${randomUUID()}`;
  const worker = await Worker.create({ connection: native, taskQueue, workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! }, activities });
  const input: WebhookEventInput = {
    messageId: randomUUID(),
    accountId: randomUUID(),
    employeeId: randomUUID(),
    payload: 'hello',
    requestId: 'r',
    receivedAt: Date.now(),
  };
  return worker.runUntil(
    client.workflow.execute<ProcessWebhookEvent>(EVENT_WORKFLOW, { taskQueue, workflowId: `limits/${input.messageId}`, args: [input] }).then(
      () => undefined,
      (err: unknown) => {
        expect(err).toBeInstanceOf(WorkflowFailedError);
        return (err as WorkflowFailedError).cause as ApplicationFailure;
      },
    ),
  );
}

describe('the event workflow with mocked activities', () => {
  it('ends at STEP_LIMIT after maxSteps model turns, and settles what they used as failed', async () => {
    const { activities, seen } = mocks(LIMITS, toolTurn(['remember']));
    const failure = await runEvent(activities);
    expect(failure).toMatchObject({ type: STEP_LIMIT, nonRetryable: true });
    expect(seen.turns.map((t) => t.turn)).toEqual([1, 2, 3]);
    expect(seen.settled).toHaveLength(1);
    expect(seen.settled[0]).toMatchObject({ outcome: 'failed', usage: { modelTurns: 3, toolCalls: 3, promptTokens: 30 } });
  });

  it('ends at CREDIT_CAP after the turn whose cost passes the cap, without running its tool calls', async () => {
    const { activities, seen } = mocks({ ...LIMITS, maxCredits: 5 }, async (input) => ({ ...(await toolTurn(['remember'])()), creditsAfter: input.turn * 4 }));
    const failure = await runEvent(activities);
    expect(failure).toMatchObject({ type: CREDIT_CAP, message: 'The event has cost 8 credits, over its cap of 5.' });
    expect(seen.turns).toHaveLength(2);
    expect(seen.tools).toHaveLength(1);
  });

  it('ends at EVENT_DEADLINE, cancelling the turn in flight, and still settles', async () => {
    const { activities, seen } = mocks({ ...LIMITS, deadlineMs: 1_500 }, async () => {
      const context = Context.current();
      // A model that never answers: the activity waits until the deadline cancels it.
      const beat = setInterval(() => context.heartbeat(), 200);
      try {
        await new Promise((_, reject) => context.cancellationSignal.addEventListener('abort', () => reject(new CancelledFailure('cancelled'))));
      } finally {
        clearInterval(beat);
      }
      throw new Error('unreachable');
    });
    const failure = await runEvent(activities);
    expect(failure).toMatchObject({ type: EVENT_DEADLINE, message: 'The event passed its deadline (2 s) before the employee finished.' });
    expect(seen.settled).toHaveLength(1);
    expect(seen.settled[0]).toMatchObject({ outcome: 'failed', usage: { modelTurns: 0 } });
  });

  it('runs at most maxToolCallsPerTurn of the calls a turn asks for; the rest never reach an activity', async () => {
    let turn = 0;
    const { activities, seen } = mocks(LIMITS, async () =>
      ++turn === 1 ? toolTurn(['remember', 'remember', 'reply', 'remember'])() : { message: { role: 'assistant', content: 'ok' }, usage, creditsAfter: 1 },
    );
    expect(await runEvent(activities)).toBeUndefined();
    expect(seen.tools).toHaveLength(2);
    expect(seen.turns[1].toolResults.map((r) => r.content)).toEqual([
      'done',
      'done',
      expect.stringMatching(/^Refused: one turn may make at most 2/),
      expect.stringMatching(/^Refused/),
    ]);
  });
});
