import type { WebhookEventResult } from '../../workflows/contract';
import type { Harness, Seeded } from './harness';

export interface BurstResult {
  accepted: string[];
  statuses: Record<number, number>;
}

/** One answer of a burst, as `onAnswer` sees it: status 0 when the request got no answer at all. */
export interface BurstAnswer {
  index: number;
  status: number;
  /** The message id of a 202 (or of a 200 duplicate: the original's). */
  messageId?: string;
  /** The body's `status` field: `accepted` or `duplicate` on success. */
  result?: string;
}

export interface BurstOptions {
  concurrency?: number;
  label?: string;
  /** The API process to send to (`http://127.0.0.1:PORT`), or request i's; default the harness's in-process app. */
  to?: string | ((i: number) => string);
  /** The Idempotency-Key of request `i`; default none. */
  idempotencyKey?: (i: number) => string | undefined;
  /** A lane that got anything but a 2xx waits this long before its next request, like a client backing off. */
  pauseAfterRefusalMs?: number;
  onAnswer?: (done: number, answer: BurstAnswer) => void;
}

const RESPONSE_TIMEOUT_MS = 30_000;

/** One POST /api/webhook/, in process or over HTTP; a request with no answer is status 0, not a hang. */
export async function postWebhook(
  h: Harness,
  acct: Seeded,
  body: Record<string, unknown>,
  opts: { to?: string; idempotencyKey?: string } = {},
): Promise<{ status: number; body: { message_id?: string; status?: string } }> {
  const headers: Record<string, string> = { ...acct.auth, 'Content-Type': 'application/json' };
  if (opts.idempotencyKey !== undefined) headers['Idempotency-Key'] = opts.idempotencyKey;
  if (opts.to) {
    try {
      const res = await fetch(`${opts.to}/api/webhook/`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(RESPONSE_TIMEOUT_MS),
      });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as { message_id?: string; status?: string } };
    } catch {
      return { status: 0, body: {} };
    }
  }
  return h.http
    .post('/api/webhook/')
    .set(headers)
    .timeout({ response: RESPONSE_TIMEOUT_MS })
    .send(body)
    .then((res) => ({ status: res.status, body: res.body as { message_id?: string; status?: string } }))
    .catch(() => ({ status: 0, body: {} }));
}

/** Posts `count` distinct events through the app, `concurrency` at a time; collects the 202s. */
export async function postBurst(h: Harness, acct: Seeded, count: number, opts: BurstOptions = {}): Promise<BurstResult> {
  const accepted: string[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const res = await postWebhook(
        h,
        acct,
        { employee_id: acct.employeeId, event: opts.label ?? 'drill', payload: `event ${i}` },
        { to: typeof opts.to === 'function' ? opts.to(i) : opts.to, idempotencyKey: opts.idempotencyKey?.(i) },
      );
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 202) accepted.push(res.body.message_id!);
      opts.onAnswer?.(++done, { index: i, status: res.status, messageId: res.body.message_id, result: res.body.status });
      if (opts.pauseAfterRefusalMs && !(res.status >= 200 && res.status < 300)) {
        await new Promise((r) => setTimeout(r, opts.pauseAfterRefusalMs));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, lane));
  return { accepted, statuses };
}

/**
 * Waits for every accepted event's workflow and returns the ids whose result says completed.
 * Past the deadline it fails with what the unfinished workflows are waiting on.
 */
export async function awaitCompleted(h: Harness, acct: Seeded, messageIds: string[], timeoutMs = 120_000): Promise<string[]> {
  const done = new Map<string, string>();
  const all = Promise.all(
    messageIds.map(async (id) => {
      const result = (await h.workflowHandle(acct.accountId, id).result()) as WebhookEventResult;
      done.set(id, result.status);
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const outcome = await Promise.race([all.then(() => 'done' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    const pending = messageIds.filter((id) => !done.has(id)).slice(0, 5);
    const details = await Promise.all(
      pending.map(async (id) => {
        const d = await h.workflowHandle(acct.accountId, id).describe();
        const activity = d.raw.pendingActivities?.[0];
        return `${id}: ${d.status.name} ${String(d.searchAttributes.EventStatus ?? '')} pending=${activity?.activityType?.name ?? '-'} attempt=${activity?.attempt ?? '-'} last=${activity?.lastFailure?.message ?? '-'}`;
      }),
    );
    throw new Error(`${messageIds.length - done.size} of ${messageIds.length} events unfinished after ${timeoutMs} ms:\n${details.join('\n')}`);
  }
  return messageIds.filter((id) => done.get(id) === 'completed');
}
