import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { secretKeys } from '../../src/secrets/secret-box';
import { EndpointStore } from '../../src/stores/endpoints';
import type { EventStep } from '../../src/domain/events';
import type { FakeModelServer } from './fake-model-server';
import { createHarnessWithFakeModel, type Harness, type Seeded } from './harness';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver';

/** What the agent loop's tests drive: the model it asks and the receiver its send_webhook calls reach. */
export interface AgentStack {
  h: Harness;
  fake: FakeModelServer;
  receiver: WebhookReceiver;
}

/**
 * A Standard Webhooks receiver, a fake model server and a harness (with its worker) whose model is
 * the fake, with `overrides`; `h.close()` closes the model server and stops the receiver too.
 */
export async function startAgentStack(overrides: Record<string, string | undefined> = {}): Promise<AgentStack> {
  const receiver = await startWebhookReceiver();
  try {
    const { h, fake } = await createHarnessWithFakeModel(overrides);
    const closeHarness = h.close.bind(h);
    h.close = async () => {
      await closeHarness();
      await receiver.stop();
    };
    return { h, fake, receiver };
  } catch (err) {
    await receiver.stop();
    throw err;
  }
}

/** For beforeEach: nothing queued or recorded; the model answers `ok` and the receiver 200 unless a test scripts otherwise. */
export function resetAgentStack({ fake, receiver }: Pick<AgentStack, 'fake' | 'receiver'>): void {
  fake.reset();
  fake.setDefault({ kind: 'ok' });
  receiver.setDefault({ status: 200, body: '{"ok":true}' });
}

/**
 * Adds endpoint `name` to the employee, at a path of its own on the receiver (or at `url(path)`),
 * and registers its secret with the receiver, which verifies every delivery to that path with it.
 */
export async function addEndpoint(
  { h, receiver }: Pick<AgentStack, 'h' | 'receiver'>,
  employeeId: string,
  name: string,
  opts: { allowPrivate?: boolean; url?: (path: string) => string } = {},
): Promise<{ path: string; secret: string }> {
  const path = `/hooks/${randomUUID()}`;
  const url = opts.url ? opts.url(path) : `${receiver.origin}${path}`;
  const { secret } = await new EndpointStore(h.appDb, secretKeys(h.config)).add({ employeeId, name, url, allowPrivate: opts.allowPrivate ?? true });
  receiver.addSecret(path, secret);
  return { path, secret };
}

/** The workflow's failure, checked down the chain: WorkflowFailedError → ApplicationFailure. */
export async function workflowFailure(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** What GET /api/webhook/:id answers for an event. */
export interface EventStatusBody {
  status: string;
  credits: number | null;
  steps: EventStep[];
  error?: { type: string | null; message: string };
}

/** GET /api/webhook/:id as the event's account, which must answer 200. */
export async function eventStatus(h: Harness, e: Seeded, messageId: string): Promise<EventStatusBody> {
  const res = await h.http.get(`/api/webhook/${messageId}`).set(e.auth);
  expect(res.status).toBe(200);
  return res.body as EventStatusBody;
}
