import type { Harness, Seeded } from './harness';

export interface BurstResult {
  accepted: string[];
  statuses: Record<number, number>;
}

/** Posts `count` distinct events through the app, `concurrency` at a time; collects the 202s. */
export async function postBurst(
  h: Harness,
  acct: Seeded,
  count: number,
  opts: { concurrency?: number; label?: string; onAnswer?: (done: number) => void } = {},
): Promise<BurstResult> {
  const accepted: string[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      // A request that gets no answer at all is a bug of its own: count it as status 0, don't hang.
      const res = await h.http
        .post('/api/webhook/')
        .set(acct.auth)
        .timeout({ response: 30_000 })
        .send({ employee_id: acct.employeeId, event: opts.label ?? 'drill', payload: `event ${i}` })
        .catch(() => ({ status: 0, body: {} as { message_id?: string } }));
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 202) accepted.push(res.body.message_id);
      opts.onAnswer?.(++done);
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
      const result = await h.workflowHandle(acct.accountId, id).result();
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
