export { processWebhookEvent, statusQuery } from './process-webhook-event';
