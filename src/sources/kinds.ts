import { randomBytes } from 'node:crypto';

/** The kinds of source, each checked exactly as its sender documents it (src/sources/verify.ts). */
export const SOURCE_KINDS = ['standard-webhooks', 'github', 'stripe', 'hmac'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** The generic verifier's data: what `source add --kind hmac` (or a preset) sets. */
export interface HmacSettings {
  /** The header holding the signature. */
  header: string;
  /** What precedes the signature in the header (`sha256=`), if anything. */
  prefix?: string;
  encoding: 'hex' | 'base64';
  /** What is signed: the body, the timestamp then the body, or `timestamp.body`. */
  signed: 'body' | 'ts+body' | 'ts.body';
  timestampHeader?: string;
  /** A dotted path into the JSON body (`webhookTimestamp`). */
  timestampPath?: string;
  toleranceSeconds?: number;
  idHeader?: string;
  labelHeader?: string;
  labelPath?: string;
}

/** Presets are data over the generic verifier, as each sender documents its signature. */
export const HMAC_PRESETS: Record<string, HmacSettings> = {
  // X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body; no timestamp.
  shopify: { header: 'x-shopify-hmac-sha256', encoding: 'base64', signed: 'body', idHeader: 'x-shopify-webhook-id', labelHeader: 'x-shopify-topic' },
  // Linear-Signature: hex HMAC-SHA256 of the body; webhookTimestamp (ms) in the body, within a minute.
  linear: {
    header: 'linear-signature',
    encoding: 'hex',
    signed: 'body',
    timestampPath: 'webhookTimestamp',
    toleranceSeconds: 60,
    idHeader: 'linear-delivery',
    labelPath: 'type',
  },
  // X-Zendesk-Webhook-Signature: base64 HMAC-SHA256 of timestamp + body.
  zendesk: {
    header: 'x-zendesk-webhook-signature',
    encoding: 'base64',
    signed: 'ts+body',
    timestampHeader: 'x-zendesk-webhook-signature-timestamp',
    toleranceSeconds: 300,
    idHeader: 'x-zendesk-webhook-invocation-id',
    labelPath: 'type',
  },
};

/** A refusal of `source add`: the message says what to fix. */
export class SourceSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceSettingsError';
  }
}

export function parseKind(kind: string): SourceKind {
  if ((SOURCE_KINDS as readonly string[]).includes(kind)) return kind as SourceKind;
  throw new SourceSettingsError(`Unknown source kind "${kind}". Use one of: ${SOURCE_KINDS.join(', ')}.`);
}

const HEADER_NAME = /^[A-Za-z0-9-]{1,100}$/;
const JSON_PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

/** Checks the generic verifier's settings (a preset's, overridden by explicit options). */
export function parseHmacSettings(input: Partial<HmacSettings> & { preset?: string }): HmacSettings {
  const preset = input.preset === undefined ? undefined : HMAC_PRESETS[input.preset];
  if (input.preset !== undefined && !preset) {
    throw new SourceSettingsError(`Unknown preset "${input.preset}". Use one of: ${Object.keys(HMAC_PRESETS).join(', ')}.`);
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([k, v]) => v !== undefined && k !== 'preset'));
  const s = { signed: 'body', encoding: 'hex', ...preset, ...defined } as HmacSettings;
  if (!s.header) throw new SourceSettingsError('--header is required for --kind hmac (or pick --preset).');
  for (const [name, value] of [
    ['--header', s.header],
    ['--timestamp-header', s.timestampHeader],
    ['--id-header', s.idHeader],
    ['--label-header', s.labelHeader],
  ] as const) {
    if (value !== undefined && !HEADER_NAME.test(value)) throw new SourceSettingsError(`${name} must be an HTTP header name.`);
  }
  for (const [name, value] of [
    ['--timestamp-path', s.timestampPath],
    ['--label-path', s.labelPath],
  ] as const) {
    if (value !== undefined && !JSON_PATH.test(value)) throw new SourceSettingsError(`${name} must be a dotted JSON path like data.type.`);
  }
  if (!['hex', 'base64'].includes(s.encoding)) throw new SourceSettingsError('--encoding must be hex or base64.');
  if (!['body', 'ts+body', 'ts.body'].includes(s.signed)) throw new SourceSettingsError('--signed must be body, ts+body or ts.body.');
  if (s.signed !== 'body' && !s.timestampHeader && !s.timestampPath) {
    throw new SourceSettingsError(`--signed ${s.signed} needs --timestamp-header or --timestamp-path.`);
  }
  return {
    ...s,
    header: s.header.toLowerCase(),
    timestampHeader: s.timestampHeader?.toLowerCase(),
    idHeader: s.idHeader?.toLowerCase(),
    labelHeader: s.labelHeader?.toLowerCase(),
  };
}

/** A new secret in the form the kind's senders use. */
export function generateSourceSecret(kind: SourceKind): string {
  if (kind === 'standard-webhooks') return `whsec_${randomBytes(32).toString('base64')}`;
  if (kind === 'stripe') return `whsec_${randomBytes(24).toString('hex')}`;
  return randomBytes(32).toString('hex');
}

/** A secret that the kind's check can use: a Standard Webhooks secret is `whsec_` and base64. */
export function checkSecret(kind: SourceKind, secret: string): void {
  if (secret.length < 8) throw new SourceSettingsError('--secret must be at least 8 characters.');
  if (kind === 'standard-webhooks' && !/^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
    throw new SourceSettingsError('A standard-webhooks secret is whsec_ followed by base64.');
  }
}
