import { formatWebhookMessage } from '../../src/domain/events';

describe('formatWebhookMessage', () => {
  it('prefixes the payload with the event label, as the product contract shows', () => {
    expect(formatWebhookMessage('Customer John placed order #1234 for $99.', 'order.completed')).toBe(
      '[Webhook: order.completed] Customer John placed order #1234 for $99.',
    );
  });

  it('uses a bare [Webhook] prefix when no event label is given', () => {
    expect(formatWebhookMessage('Customer John placed order #1234 for $99.')).toBe('[Webhook] Customer John placed order #1234 for $99.');
  });

  it('treats an empty event label as no label', () => {
    expect(formatWebhookMessage('Deploy finished.', '')).toBe('[Webhook] Deploy finished.');
  });

  it('passes the payload through unchanged, newlines and JSON included', () => {
    const payload = '{"order":1234}\nsecond line  ';
    expect(formatWebhookMessage(payload, 'deploy.failed')).toBe(`[Webhook: deploy.failed] ${payload}`);
  });
});
