import { isUtf8 } from 'node:buffer';
import type { Middleware } from 'koa';
import { koaBody } from 'koa-body';
import { apiError, fromBodyParser } from '../errors';
import { MAX_BODY_BYTES } from '../webhook-request';

const JSON_TYPES = ['application/json', '+json'];
const UTF8 = /^(utf-?8|us-ascii)$/i;

/**
 * 413 for a declared length over the limit before reading a byte; 415 unless JSON; then koa-body
 * reads at most MAX_BODY_BYTES (a chunked body is cut off there) within the body timeout.
 */
export function jsonBody<S>(timeoutMs: number): Middleware<S> {
  // The same media types pass the 415 check and get parsed; koa-body's own list misses most `+json` types.
  const parse = koaBody({
    json: true,
    jsonTypes: JSON_TYPES,
    jsonLimit: MAX_BODY_BYTES,
    jsonStrict: true,
    urlencoded: false,
    text: false,
    multipart: false,
    encoding: 'utf-8',
  });
  return async (ctx, next) => {
    const declared = Number(ctx.get('Content-Length') || 0);
    if (declared > MAX_BODY_BYTES) {
      ctx.set('Connection', 'close');
      throw apiError(413, 'PAYLOAD_TOO_LARGE', `Request body is ${declared} bytes; the limit is ${MAX_BODY_BYTES} bytes (64 KB).`);
    }
    if (!ctx.is(JSON_TYPES)) {
      throw apiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON with "Content-Type: application/json".');
    }
    // After the 415 check, so the documented order holds: a text/plain request is a 415 even without a body.
    if (!(ctx.request.length > 0) && !ctx.get('Transfer-Encoding')) {
      throw apiError(400, 'INVALID_REQUEST', 'Request body is empty. Send a JSON object with employee_id and payload.');
    }
    // The body is always decoded as UTF-8 (RFC 8259); another declared charset would be garbled silently.
    if (ctx.request.charset && !UTF8.test(ctx.request.charset)) {
      throw apiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Unsupported charset ${ctx.request.charset}. Send UTF-8 JSON.`);
    }
    // Compressed bodies are refused unread: inflating them would put a second stream between the
    // socket and the 64 KB limit, the timeout and the UTF-8 check, and webhook senders rarely compress.
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      ctx.set('Connection', 'close');
      throw apiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${encoding}" is not supported. Send the JSON body uncompressed.`);
    }
    // The parser decodes leniently (bad bytes become U+FFFD); a copy of the bytes it read lets us
    // refuse invalid UTF-8 instead of handing the employee a garbled payload.
    const bytes: Buffer[] = [];
    let copied = 0;
    const copy = (chunk: Buffer) => {
      if (copied > MAX_BODY_BYTES) return;
      bytes.push(chunk);
      copied += chunk.length;
    };
    ctx.req.on('data', copy);
    // Failing the request stream makes raw-body stop reading and reject with our 408.
    const timer = setTimeout(() => {
      ctx.set('Connection', 'close');
      ctx.req.emit('error', apiError(408, 'REQUEST_TIMEOUT', `Request body did not arrive within ${timeoutMs} ms.`));
    }, timeoutMs);
    try {
      await parse(ctx, async () => undefined);
    } catch (err) {
      // The rest of an oversized or stalled body is never read, so the connection cannot be reused.
      ctx.set('Connection', 'close');
      throw fromBodyParser(err);
    } finally {
      clearTimeout(timer);
      ctx.req.off('data', copy);
    }
    // One chunk (the usual webhook body) is checked in place, not copied.
    if (!isUtf8(bytes.length === 1 ? bytes[0] : Buffer.concat(bytes, copied))) {
      throw apiError(400, 'MALFORMED_JSON', 'Request body is not valid UTF-8. Send UTF-8 encoded JSON.');
    }
    await next();
  };
}
