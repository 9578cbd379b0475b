import { createHash, timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Middleware, ParameterizedContext } from 'koa';
import { koaBody } from 'koa-body';
import { z } from 'zod';
import type { Config } from '../../config';
import { payloadCodec } from '../../temporal/codec';
import { apiError, fromBodyParser } from '../errors';
import type { AppState } from '../state';

/** What the codec routes need; absent (no PAYLOAD_KEYS or no CODEC_AUTH_TOKEN): the routes do not exist. */
export interface CodecEndpoint {
  /** The codec for a namespace: payloads are bound to theirs (AES-GCM associated data). */
  codecFor(namespace: string): PayloadCodec;
  /** TEMPORAL_NAMESPACE, for a caller that sends no `X-Namespace` header. */
  defaultNamespace: string;
  /** CODEC_AUTH_TOKEN: callers send `Authorization: Bearer <token>`. */
  authToken: string;
  /** The Temporal Web UI's origin (from TEMPORAL_UI_URL), the one origin CORS lets call. */
  allowedOrigin: string;
}

/** The codec endpoint for this config, or undefined unless both PAYLOAD_KEYS and CODEC_AUTH_TOKEN are set. */
export function codecEndpoint(
  config: Pick<Config, 'PAYLOAD_KEYS' | 'PAYLOAD_ALLOW_PLAINTEXT' | 'TEMPORAL_NAMESPACE' | 'CODEC_AUTH_TOKEN' | 'TEMPORAL_UI_URL'>,
): CodecEndpoint | undefined {
  if (!config.PAYLOAD_KEYS || !config.CODEC_AUTH_TOKEN) return undefined;
  return {
    codecFor: (namespace) => payloadCodec(config, namespace)!,
    defaultNamespace: config.TEMPORAL_NAMESPACE,
    authToken: config.CODEC_AUTH_TOKEN,
    allowedOrigin: new URL(config.TEMPORAL_UI_URL).origin,
  };
}

/** Temporal's namespace names: letters, digits, `.`, `_` and `-`. */
const NAMESPACE = /^[A-Za-z0-9._-]{1,255}$/;

/** One request may carry a few payloads of up to Temporal's 2 MB blob limit each, base64 in JSON. */
export const CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const ALLOW_HEADERS = 'authorization, content-type, x-namespace';
const ALLOW_METHODS = 'POST, OPTIONS';
const BEARER = /^Bearer[ ]+(\S+)\s*$/i;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

const Base64 = z.string().regex(BASE64, 'must be base64');
/** Proto3 JSON of `temporal.api.common.v1.Payloads`, as the Web UI and `temporal --codec-endpoint` send it. */
const PayloadsBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), Base64).nullish(), data: Base64.nullish() })),
});
type JsonPayload = z.infer<typeof PayloadsBody>['payloads'][number];

function fromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(data ?? '', 'base64'),
  };
}

function toJson({ metadata, data }: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(data ?? new Uint8Array()).toString('base64'),
  };
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * The Temporal Web UI's "codec server" (and `temporal workflow show --codec-endpoint URL/codec
 * --codec-auth 'Bearer …'`): POST /codec/decode and /codec/encode take and return `{payloads: [...]}`
 * in proto JSON (base64 `data` and metadata values). CORS admits only the UI's origin; a preflight is
 * answered without credentials, every other request needs `Authorization: Bearer <CODEC_AUTH_TOKEN>`
 * (401 otherwise, compared in constant time) before its body is read. Without PAYLOAD_KEYS or
 * CODEC_AUTH_TOKEN the routes are not registered at all: 404, like any unknown path.
 */
export function codecRoutes(router: Router<AppState>, deps: { codec?: CodecEndpoint }): void {
  const endpoint = deps.codec;
  if (!endpoint) return;
  const expected = digest(endpoint.authToken);

  const cors: Middleware<AppState> = async (ctx, next) => {
    ctx.vary('Origin');
    if (ctx.get('Origin') === endpoint.allowedOrigin) {
      ctx.set('Access-Control-Allow-Origin', endpoint.allowedOrigin);
      // The UI's "include cross-origin credentials" setting fails without it; no cookie is ever trusted here.
      ctx.set('Access-Control-Allow-Credentials', 'true');
    }
    await next();
  };

  const preflight = (ctx: ParameterizedContext<AppState>) => {
    if (ctx.response.get('Access-Control-Allow-Origin')) {
      ctx.set('Access-Control-Allow-Methods', ALLOW_METHODS);
      ctx.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
      ctx.set('Access-Control-Max-Age', '600');
    }
    ctx.status = 204;
  };

  const requireToken: Middleware<AppState> = async (ctx, next) => {
    const header = ctx.get('Authorization');
    const unauthorized = (code: 'MISSING_API_KEY' | 'INVALID_API_KEY', message: string) =>
      apiError(401, code, message, { headers: { 'WWW-Authenticate': 'Bearer' } });
    if (!header) throw unauthorized('MISSING_API_KEY', 'Missing codec token. Send "Authorization: Bearer <CODEC_AUTH_TOKEN>".');
    const match = BEARER.exec(header);
    // Both sides hashed first: equal lengths for timingSafeEqual, and no length leaks through timing.
    if (!match || !timingSafeEqual(digest(match[1]), expected)) throw unauthorized('INVALID_API_KEY', 'Invalid codec token.');
    await next();
  };

  const parse = koaBody({
    json: true,
    jsonLimit: CODEC_BODY_LIMIT_BYTES,
    jsonStrict: true,
    urlencoded: false,
    text: false,
    multipart: false,
    encoding: 'utf-8',
  });
  const readPayloads = async (ctx: ParameterizedContext<AppState>): Promise<Payload[]> => {
    if (!ctx.is('application/json')) throw apiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send {"payloads": [...]} as JSON with "Content-Type: application/json".');
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      ctx.set('Connection', 'close');
      if ((err as { type?: string }).type === 'entity.too.large') {
        throw apiError(413, 'PAYLOAD_TOO_LARGE', `Request body exceeds ${CODEC_BODY_LIMIT_BYTES} bytes. Send fewer payloads at once.`);
      }
      throw fromBodyParser(err);
    }
    const parsed = PayloadsBody.safeParse(ctx.request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw apiError(
        400,
        'INVALID_REQUEST',
        `Body must be {"payloads": [{"metadata": {...}, "data": "base64"}]}: ${issue.path.join('.') || 'body'} ${issue.message}.`,
      );
    }
    return parsed.data.payloads.map(fromJson);
  };

  const transform = (op: 'encode' | 'decode') => async (ctx: ParameterizedContext<AppState>) => {
    // The Web UI names the namespace it shows; `temporal --codec-endpoint` may not: then ours.
    const namespace = ctx.get('X-Namespace') || endpoint.defaultNamespace;
    if (!NAMESPACE.test(namespace)) throw apiError(400, 'INVALID_REQUEST', 'X-Namespace must be a Temporal namespace name (letters, digits, ".", "_", "-").');
    const payloads = await readPayloads(ctx);
    let result: Payload[];
    try {
      result = await endpoint.codecFor(namespace)[op](payloads);
    } catch (err) {
      // The codec's messages name key ids and what failed, never key material or payload bytes.
      throw apiError(400, 'INVALID_REQUEST', (err as Error).message, { cause: err });
    }
    ctx.body = { payloads: result.map(toJson) };
  };

  for (const op of ['decode', 'encode'] as const) {
    const path = `/codec/${op}`;
    router.options(path, cors, preflight);
    router.post(path, cors, requireToken, transform(op));
  }
}
