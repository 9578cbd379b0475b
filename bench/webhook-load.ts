import autocannon from 'autocannon';
import type { Sample } from './stats';

export interface WebhookLoadOptions {
  baseUrl: string;
  apiKey: string;
  employeeId: string;
  n: number;
  concurrency: number;
  /** When set, each request carries its own Idempotency-Key `<prefix>-<i>`. */
  idempotencyPrefix?: string;
  /** Read each 202's message id and note when its request was sent (costs the client a JSON.parse). */
  trackMessages?: boolean;
}

export interface WebhookLoadResult extends Sample {
  statuses: Record<string, number>;
  /** Epoch ms at which the request behind each accepted message id was sent. */
  sentAt: Map<string, number>;
  startedAtMs: number;
}

const EVENT = { event: 'order.completed', payload: 'Customer John placed order #1234 for $99.' };

/**
 * `n` valid POST /api/webhook/ requests over `concurrency` keep-alive connections (autocannon).
 * Latency is autocannon's hrtime per response; each 202's message id is paired with its send time,
 * so later phases can measure POST-to-charged.
 */
export function webhookLoad(opts: WebhookLoadOptions): Promise<WebhookLoadResult> {
  const body = JSON.stringify({ employee_id: opts.employeeId, ...EVENT });
  const headers = { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' };
  const latencies: number[] = [];
  const sentAt = new Map<string, number>();
  let sequence = 0;
  // onResponse runs just before the instance's 'response' event for the same response (same tick).
  let acceptedId: string | undefined;
  const startedAtMs = Date.now();
  const started = process.hrtime.bigint();
  // autocannon reports `done` on its next sample tick (50 ms here), so the phase ends at the last response.
  let lastResponse = started;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${opts.baseUrl}/api/webhook/`,
        connections: opts.concurrency,
        pipelining: 1,
        amount: opts.n,
        timeout: 30,
        // Its default one-second tick would leave up to a second of idle tail in every CPU window.
        sampleInt: 50,
        requests: [
          {
            method: 'POST',
            body,
            headers,
            setupRequest: (req) =>
              opts.idempotencyPrefix ? { ...req, headers: { ...headers, 'idempotency-key': `${opts.idempotencyPrefix}-${sequence++}` } } : req,
            ...(opts.trackMessages
              ? {
                  onResponse: (status: number, responseBody: string) => {
                    acceptedId = status === 202 ? (JSON.parse(responseBody) as { message_id: string }).message_id : undefined;
                  },
                }
              : {}),
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        const durationMs = Number(lastResponse - started) / 1e6;
        const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, (s as { count: number }).count]));
        resolve({ n: opts.n, errors: opts.n - latencies.length, durationMs, latenciesMs: latencies, statuses, sentAt, startedAtMs });
      },
    );
    instance.on('response', (_client, status, _bytes, responseTime) => {
      lastResponse = process.hrtime.bigint();
      if (status >= 200 && status < 300) latencies.push(responseTime);
      if (acceptedId) sentAt.set(acceptedId, Date.now() - responseTime);
      acceptedId = undefined;
    });
  });
}
