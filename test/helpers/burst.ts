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
      const res = await h.http
        .post('/api/webhook/')
        .set(acct.auth)
        .send({ employee_id: acct.employeeId, event: opts.label ?? 'drill', payload: `event ${i}` });
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status === 202) accepted.push(res.body.message_id);
      opts.onAnswer?.(++done);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, lane));
  return { accepted, statuses };
}

/** Waits for every accepted event's workflow and returns the ids whose result says completed. */
export async function awaitCompleted(h: Harness, acct: Seeded, messageIds: string[]): Promise<string[]> {
  const results = await Promise.all(messageIds.map((id) => h.workflowHandle(acct.accountId, id).result()));
  return results.filter((r) => r.status === 'completed').map((r) => r.messageId);
}
