/**
 * The exact text the employee receives (product contract):
 * `[Webhook: order.completed] <payload>`, or `[Webhook] <payload>` without an event label.
 */
export function formatWebhookMessage(payload: string, event?: string): string {
  return event ? `[Webhook: ${event}] ${payload}` : `[Webhook] ${payload}`;
}
