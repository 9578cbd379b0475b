import type { Middleware } from 'koa';
import { apiError } from '../errors';

/** Where a route that verifies the raw bytes finds them. */
export interface RawBodyState {
  rawBody: Buffer;
}

/**
 * Reads the body as bytes, unparsed (a signature covers the bytes the sender sent): 413 for a
 * declared or actual length over `maxBytes` (the rest is never read, so the connection closes),
 * 408 when it has not arrived within `timeoutMs`, 415 for a compressed body.
 */
export function rawBody<S extends RawBodyState>(maxBytes: number, timeoutMs: number): Middleware<S> {
  const tooLarge = (what: string) => apiError(413, 'PAYLOAD_TOO_LARGE', `Request body is ${what}; the limit is ${maxBytes} bytes.`);
  return async (ctx, next) => {
    const declared = Number(ctx.get('Content-Length') || 0);
    if (declared > maxBytes) {
      ctx.set('Connection', 'close');
      throw tooLarge(`${declared} bytes`);
    }
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      ctx.set('Connection', 'close');
      throw apiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding "${encoding}" is not supported. Send the body uncompressed.`);
    }
    ctx.state.rawBody = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (err?: Error) => {
        clearTimeout(timer);
        ctx.req.off('data', onData).off('end', onEnd).off('error', done).off('aborted', onAborted);
        if (err) {
          ctx.set('Connection', 'close');
          reject(err);
        } else resolve(Buffer.concat(chunks, size));
      };
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          ctx.req.pause();
          done(tooLarge('larger than that'));
        } else chunks.push(chunk);
      };
      const onEnd = () => done();
      const onAborted = () => done(apiError(400, 'INVALID_REQUEST', 'Request body was aborted before it was complete.'));
      const timer = setTimeout(() => done(apiError(408, 'REQUEST_TIMEOUT', `Request body did not arrive within ${timeoutMs} ms.`)), timeoutMs);
      if (ctx.req.readableEnded) return done();
      ctx.req.on('data', onData).on('end', onEnd).on('error', done).on('aborted', onAborted);
    });
    await next();
  };
}
