import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { HmacSettings, SourceKind } from './kinds';
import { cleanLabel, jsonPath, parseBody, renderText } from './render';
import type { Verified } from './verify';

/** A verified delivery as the employee and the dedupe window see it. */
export interface Delivery {
  /** The sender's delivery id, or the body's sha256 for a sender that sends none. */
  deliveryId: string;
  label?: string;
  /** What the employee reads after `[Webhook: <label>] `. */
  text: string;
  /** The body as text (kept for SOURCE_BODY_RETENTION). */
  body: string;
}

/** Reads a verified body: only now is it parsed. Never throws: a body that is not JSON is text. */
export function describeDelivery(kind: SourceKind, settings: HmacSettings | undefined, verified: Verified, raw: Buffer, template?: string): Delivery {
  const body = isUtf8(raw) ? raw.toString('utf8') : raw.toString('latin1');
  const parsed = parseBody(body);
  let label = verified.label;
  let deliveryId = verified.deliveryId;
  if (kind === 'github' && label) {
    const action = jsonPath(parsed, 'action');
    if (typeof action === 'string' && action) label = `${label}.${action}`;
  }
  // The Standard Webhooks spec's payload names its event in `type`.
  if (kind === 'standard-webhooks') label = asString(jsonPath(parsed, 'type'));
  if (kind === 'stripe') {
    label = asString(jsonPath(parsed, 'type'));
    deliveryId = asString(jsonPath(parsed, 'id'));
  }
  if (kind === 'hmac' && !label && settings?.labelPath) label = asString(jsonPath(parsed, settings.labelPath));
  return {
    deliveryId: deliveryId || `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    label: cleanLabel(label),
    text: renderText(body, parsed, template),
    body,
  };
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}
