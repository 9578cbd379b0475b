import { createHmac, randomUUID } from 'node:crypto';

/**
 * Requests signed the way each sender documents it, computed here with node:crypto (never with
 * the service's verifier), so a verifier that drifted from the sender's documentation fails.
 */
export interface SenderDelivery {
  headers: Record<string, string>;
  body: Buffer;
}

export interface SignOptions {
  /** The delivery id (the dedupe key). */
  id: string;
  /** Unix seconds the sender stamps. */
  ts: number;
  /** Signatures made with these secrets, in order (several: rotation, or a sender's multiple signatures). */
  secrets: string[];
  /** Extra signatures that match nothing, sent first (any of several may match). */
  junk?: boolean;
}

export interface SenderKind {
  kind: 'standard-webhooks' | 'github' | 'stripe' | 'hmac';
  /** A secret in the sender's own form. */
  secret(): string;
  /** The sender's JSON body for delivery `id` (Stripe's event id is in the body). */
  body(id: string): string;
  sign(body: Buffer, opts: SignOptions): Record<string, string>;
  /** Seconds of tolerance, for the kinds that sign a timestamp. */
  tolerance?: number;
  /** Whether the sender can put several signatures in one request. */
  multiple: boolean;
  /** The label the employee sees. */
  label: string;
  settings?: Record<string, unknown>;
}

const hmac = (key: string | Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();

/** Standard Webhooks spec: `v1,` base64 HMAC-SHA256 of `id.timestamp.body`, keyed by the base64-decoded part after `whsec_`. */
export const standardWebhooks: SenderKind = {
  kind: 'standard-webhooks',
  secret: () => `whsec_${Buffer.from(randomUUID() + randomUUID()).toString('base64')}`,
  body: (id) => JSON.stringify({ type: 'invoice.paid', data: { invoice: id, amount: 4200 } }),
  sign(body, { id, ts, secrets, junk }) {
    const sigs = secrets.map(
      (s) => `v1,${hmac(Buffer.from(s.replace(/^whsec_/, ''), 'base64'), Buffer.concat([Buffer.from(`${id}.${ts}.`), body])).toString('base64')}`,
    );
    if (junk) sigs.unshift(`v1,${Buffer.alloc(32, 7).toString('base64')}`, 'v2,notchecked');
    return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sigs.join(' '), 'content-type': 'application/json' };
  },
  tolerance: 300,
  multiple: true,
  label: 'invoice.paid',
};

/** GitHub docs: X-Hub-Signature-256 = `sha256=` + hex HMAC-SHA256 of the payload body. */
export const github: SenderKind = {
  kind: 'github',
  secret: () => randomUUID(),
  body: (id) => JSON.stringify({ action: 'opened', issue: { number: 42, title: `Crash on save ${id.slice(0, 4)}` }, sender: { login: 'octocat' } }),
  sign(body, { id, secrets }) {
    return {
      'x-hub-signature-256': `sha256=${hmac(secrets[0], body).toString('hex')}`,
      'x-github-event': 'issues',
      'x-github-delivery': id,
      'content-type': 'application/json',
    };
  },
  multiple: false,
  label: 'issues.opened',
};

/** Stripe docs: Stripe-Signature `t=<ts>,v1=<hex HMAC-SHA256 of "t.body" keyed by the whole whsec_ secret>`. */
export const stripe: SenderKind = {
  kind: 'stripe',
  secret: () => `whsec_${randomUUID().replace(/-/g, '')}`,
  body: (id) => JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { id: 'in_1', amount_paid: 4200 } } }),
  sign(body, { ts, secrets, junk }) {
    const v1 = secrets.map((s) => `v1=${hmac(s, Buffer.concat([Buffer.from(`${ts}.`), body])).toString('hex')}`);
    if (junk) v1.unshift(`v1=${'0'.repeat(64)}`, `v0=${'1'.repeat(64)}`);
    return { 'stripe-signature': [`t=${ts}`, ...v1].join(','), 'content-type': 'application/json; charset=utf-8' };
  },
  tolerance: 300,
  multiple: true,
  label: 'invoice.paid',
};

/** Shopify docs: X-Shopify-Hmac-Sha256 = base64 HMAC-SHA256 of the raw body (the hmac kind's shopify preset). */
export const shopify: SenderKind = {
  kind: 'hmac',
  settings: { preset: 'shopify' },
  secret: () => randomUUID(),
  body: (id) => JSON.stringify({ id: 820982911946154500, note: `order ${id.slice(0, 4)}` }),
  sign(body, { id, secrets }) {
    return {
      'x-shopify-hmac-sha256': hmac(secrets[0], body).toString('base64'),
      'x-shopify-topic': 'orders/create',
      'x-shopify-webhook-id': id,
      'content-type': 'application/json',
    };
  },
  multiple: false,
  label: 'orders/create',
};

/** Zendesk docs: X-Zendesk-Webhook-Signature = base64 HMAC-SHA256 of timestamp + body (the zendesk preset). */
export const zendesk: SenderKind = {
  kind: 'hmac',
  settings: { preset: 'zendesk' },
  secret: () => randomUUID(),
  body: (id) => JSON.stringify({ type: 'ticket.created', detail: { id: id.slice(0, 8), subject: 'Printer on fire' } }),
  sign(body, { id, ts, secrets }) {
    const stamp = new Date(ts * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      'x-zendesk-webhook-signature': hmac(secrets[0], Buffer.concat([Buffer.from(stamp), body])).toString('base64'),
      'x-zendesk-webhook-signature-timestamp': stamp,
      'x-zendesk-webhook-invocation-id': id,
      'content-type': 'application/json',
    };
  },
  tolerance: 300,
  multiple: false,
  label: 'ticket.created',
};

export const nowSeconds = () => Math.floor(Date.now() / 1000);
