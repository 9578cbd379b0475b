import { createHmac, timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { HmacSettings, SourceKind } from './kinds';
import { jsonPath } from './render';

/** Standard Webhooks: ±5 minutes (the spec's and the package's own). */
export const STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 5 * 60;
/** Stripe's DEFAULT_TOLERANCE (stripe-node src/Webhooks.ts). */
export const STRIPE_TOLERANCE_SECONDS = 300;
/** The generic verifier's default when a timestamp is signed and no tolerance was set. */
export const HMAC_DEFAULT_TOLERANCE_SECONDS = 300;

/** What a verified delivery says about itself; its body is parsed only after this. */
export interface Verified {
  ok: true;
  /** The sender's delivery id (the dedupe key), when the kind takes it from a header. */
  deliveryId?: string;
  /** The event label, when the kind takes it from a header. */
  label?: string;
  /** GitHub's ping: answered 200, starts nothing. */
  ping?: boolean;
}

/** A refusal: what was checked, never the expected value. */
export interface Refused {
  ok: false;
  checked: string;
}

export type Verdict = Verified | Refused;

export interface VerifyInput {
  kind: SourceKind;
  /** One secret, or two while one is rotated: any may match. */
  secrets: string[];
  settings: HmacSettings | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
  now?: number;
}

/** Every accepted signature format in one place; runs on the raw bytes, before any parse. */
export function verifyDelivery(input: VerifyInput): Verdict {
  const now = Math.floor((input.now ?? Date.now()) / 1000);
  switch (input.kind) {
    case 'standard-webhooks':
      return verifyStandardWebhooks(input);
    case 'github':
      return verifyGithub(input);
    case 'stripe':
      return verifyStripe(input, now);
    case 'hmac':
      return verifyHmac(input, input.settings!, now);
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

const refuse = (checked: string): Refused => ({ ok: false, checked });

/** Constant-time compare of two strings as bytes; different lengths never match. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function hmac(key: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

function withinTolerance(timestamp: number, now: number, tolerance: number): boolean {
  return Number.isFinite(timestamp) && Math.abs(now - timestamp) <= tolerance;
}

/**
 * The `standardwebhooks` package checks the signature (and its ±5 min), with `svix-*` headers
 * read as `webhook-*`. Where it does not fit: it signs the body decoded as text, so a body that is
 * not UTF-8 is refused here before it (two different byte strings could decode alike); it would
 * parse the body as JSON (we pass jsonParse: false: a text body reaches the employee); and its
 * answers are errors with messages, turned into what was checked below.
 */
function verifyStandardWebhooks({ secrets, headers, body }: VerifyInput): Verdict {
  const prefix = headers['webhook-signature'] !== undefined || headers['svix-signature'] === undefined ? 'webhook' : 'svix';
  const id = header(headers, `${prefix}-id`);
  const timestamp = header(headers, `${prefix}-timestamp`);
  const signature = header(headers, `${prefix}-signature`);
  if (!id || !timestamp || !signature) return refuse('webhook-id, webhook-timestamp and webhook-signature (or svix-*) headers are required');
  if (!isUtf8(body)) return refuse('the body is not UTF-8, and Standard Webhooks signatures are checked over text');
  const stdHeaders = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
  let reason = 'no v1 signature in webhook-signature matches HMAC-SHA256 of id.timestamp.body with the source secret';
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, stdHeaders, { jsonParse: false });
      return { ok: true, deliveryId: id };
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      if (/timestamp/i.test(err.message) || /Invalid Signature Headers/.test(err.message)) {
        return refuse(`webhook-timestamp is not within ${STANDARD_WEBHOOKS_TOLERANCE_SECONDS} s of now`);
      }
      if (/Missing/.test(err.message)) reason = 'webhook-id, webhook-timestamp and webhook-signature headers are required';
    }
  }
  return refuse(reason);
}

/** GitHub: X-Hub-Signature-256 is `sha256=` and the hex HMAC-SHA256 of the body (octokit's verify). */
function verifyGithub({ secrets, headers, body }: VerifyInput): Verdict {
  const signature = header(headers, 'x-hub-signature-256');
  if (!signature) return refuse('X-Hub-Signature-256 header is required');
  const matched = secrets.some((secret) => safeEqual(signature, `sha256=${hmac(secret, body).toString('hex')}`));
  if (!matched) return refuse('X-Hub-Signature-256 does not match sha256=HMAC-SHA256(body) with the source secret');
  const event = header(headers, 'x-github-event');
  return { ok: true, deliveryId: header(headers, 'x-github-delivery'), label: event, ping: event === 'ping' };
}

/** Stripe: `t=<unix>,v1=<hex>[,v1=…]`, HMAC-SHA256 of `t.body` keyed by the whole whsec_ string (stripe-node parseHeader). */
function verifyStripe({ secrets, headers, body }: VerifyInput, now: number): Verdict {
  const value = header(headers, 'stripe-signature');
  if (!value) return refuse('Stripe-Signature header is required');
  let t: string | undefined;
  const v1: string[] = [];
  for (const item of value.split(',')) {
    const [k, v] = item.split('=', 2).map((x) => x.trim());
    if (k === 't') t = v;
    if (k === 'v1' && v) v1.push(v);
  }
  if (!t || !/^\d+$/.test(t) || v1.length === 0) return refuse('Stripe-Signature must carry t= and at least one v1=');
  const matched = secrets.some((secret) => {
    const expected = hmac(secret, `${t}.`, body).toString('hex');
    return v1.some((candidate) => safeEqual(candidate, expected));
  });
  if (!matched) return refuse('no v1 in Stripe-Signature matches HMAC-SHA256 of t.body with the source secret');
  if (!withinTolerance(Number(t), now, STRIPE_TOLERANCE_SECONDS)) return refuse(`Stripe-Signature t= is not within ${STRIPE_TOLERANCE_SECONDS} s of now`);
  return { ok: true };
}

/** The generic verifier: the settings say where the signature, timestamp, delivery id and label are. */
function verifyHmac({ secrets, headers, body }: VerifyInput, s: HmacSettings, now: number): Verdict {
  const value = header(headers, s.header);
  if (!value) return refuse(`${s.header} header is required`);
  const prefix = s.prefix ?? '';
  if (!value.startsWith(prefix)) return refuse(`${s.header} must start with "${prefix}"`);
  const given = value.slice(prefix.length).trim();
  let timestamp: string | undefined;
  if (s.timestampHeader) timestamp = header(headers, s.timestampHeader);
  else if (s.timestampPath) timestamp = stringAt(body, s.timestampPath);
  if ((s.timestampHeader || s.timestampPath) && !timestamp) return refuse(`the timestamp (${s.timestampHeader ?? s.timestampPath}) is required`);
  const signedParts = (): (string | Buffer)[] => {
    if (s.signed === 'ts+body') return [timestamp!, body];
    if (s.signed === 'ts.body') return [`${timestamp!}.`, body];
    return [body];
  };
  const matched = secrets.some((secret) => safeEqual(given, hmac(secret, ...signedParts()).toString(s.encoding)));
  if (!matched) return refuse(`${s.header} does not match the ${s.encoding} HMAC-SHA256 of ${s.signed} with the source secret`);
  if (timestamp !== undefined) {
    const tolerance = s.toleranceSeconds ?? HMAC_DEFAULT_TOLERANCE_SECONDS;
    if (!withinTolerance(toUnixSeconds(timestamp), now, tolerance)) return refuse(`the timestamp is not within ${tolerance} s of now`);
  }
  return {
    ok: true,
    deliveryId: s.idHeader ? header(headers, s.idHeader) : undefined,
    label: s.labelHeader ? header(headers, s.labelHeader) : undefined,
  };
}

/** Seconds, milliseconds (13 digits, as Linear sends) or an ISO date (as Zendesk sends). */
function toUnixSeconds(value: string): number {
  if (/^\d{13}$/.test(value)) return Number(value) / 1000;
  if (/^\d+$/.test(value)) return Number(value);
  return Date.parse(value) / 1000;
}

/** A timestamp read from a JSON body (after the signature covers it, it is only read here). */
function stringAt(body: Buffer, path: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const value = jsonPath(parsed, path);
  return typeof value === 'number' || typeof value === 'string' ? String(value) : undefined;
}
