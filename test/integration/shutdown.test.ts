import { freePort } from '../../src/dev/services';
import { useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { startService, type ServiceProcess } from '../helpers/processes';

const stack = useDrillStack('shutdown', { fakeModel: true, credits: 10_000 });

async function waitForApi(port: number, api: ServiceProcess): Promise<void> {
  await eventually(
    'API listening',
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return res?.ok ? true : undefined;
    },
    30_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${api.output.join('')}`);
  });
}

describe('SIGTERM', () => {
  it('stops the API during a burst without losing any accepted event, and the worker drains before exiting', async () => {
    const { h, acct, fake, taskQueue: TASK_QUEUE } = stack;
    const port = await freePort();
    const api = startService('src/api.ts', { PORT: String(port), HOST: '127.0.0.1', TEMPORAL_TASK_QUEUE: TASK_QUEUE });
    const worker = startService('src/worker.ts', { TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_BASE_URL: fake.baseURL });
    await waitForApi(port, api);
    fake.setDefault({ kind: 'hang', ms: 300 });

    // A burst of 120 events; SIGTERM the API once the first 40 answers are in.
    const answers: Array<{ status: number; messageId?: string } | { error: string }> = [];
    let answered = 0;
    const burst = Array.from({ length: 120 }, (_, i) =>
      fetch(`http://127.0.0.1:${port}/api/webhook/`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${acct.key}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ employee_id: acct.employeeId, event: 'burst', payload: `event ${i}` }),
      })
        .then(async (res) => answers.push({ status: res.status, messageId: ((await res.json()) as { message_id: string }).message_id }))
        .catch((err: Error) => answers.push({ error: err.message }))
        .finally(() => {
          answered += 1;
          if (answered === 40) void api.stop('SIGTERM');
        }),
    );
    await Promise.all(burst);
    expect(await api.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    const accepted = answers.flatMap((a) => ('status' in a && a.status === 202 ? [a.messageId!] : []));
    const refused = answers.filter((a) => 'error' in a);
    // Every request either got an answer or a connection error (the client's cue to retry); none got a 5xx.
    expect(answers.filter((a) => 'status' in a && a.status !== 202)).toEqual([]);
    expect(accepted.length + refused.length).toBe(120);
    expect(accepted.length).toBeGreaterThanOrEqual(40);

    // Stop the worker while it still has events in flight; it finishes running activities, then exits 0.
    await fake.waitForRequests(5, 30_000);
    expect(await worker.stop('SIGTERM')).toBe(0);
    const restarted = startService('src/worker.ts', { TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_BASE_URL: fake.baseURL });

    for (const messageId of accepted) {
      const result = await h.workflowHandle(acct.accountId, messageId).result();
      expect(result.status).toBe('completed');
    }
    const charges = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
    expect(charges.map((p) => p.messageId).sort()).toEqual([...accepted].sort());
    // No activity was abandoned by the stopping worker: one model call per event, no retries.
    expect(fake.requests).toHaveLength(accepted.length);
    await restarted.stop('SIGTERM');
  }, 120_000);
});
