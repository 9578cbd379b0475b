/** Every workflow the worker runs; the bundle's entry point. */
export { processWebhookEvent } from './process-webhook-event';
export { reconcileBilling } from './reconcile-billing';
export { runEmployeeQueue } from './employee-queue';
export { bulkReplay } from './bulk-replay';
export { processWebhookBatch } from './process-webhook-batch';
