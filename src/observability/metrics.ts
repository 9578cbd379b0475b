import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The API's Prometheus metrics, on a registry of its own so tests can build several apps. */
export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route, method and status code',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    ingestSeconds: new Histogram({
      name: 'webhook_ingest_duration_seconds',
      help: 'Time from request to response on POST /api/webhook/, by outcome',
      labelNames: ['outcome'] as const,
      // Starts take a few ms on a quiet server and hundreds under load; 5 s is the start deadline.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    events: new Counter({
      name: 'webhook_events_total',
      help: 'Webhook requests by outcome: accepted, duplicate or rejected (with the error code)',
      labelNames: ['outcome', 'code'] as const,
      registers: [registry],
    }),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;
