import type Koa from 'koa';
import { apiError } from '../errors';
import type { AppState } from '../state';

/**
 * HTTP/1.1 requires a Host header (RFC 9112, 3.2). Node would refuse its absence itself, with a bare
 * 400; the server leaves it to this middleware so the refusal is the usual JSON error.
 */
export function requireHost(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.req.httpVersion === '1.1' && ctx.req.headers.host === undefined) {
      ctx.set('Connection', 'close');
      throw apiError(400, 'INVALID_REQUEST', 'HTTP/1.1 requests need a Host header.');
    }
    await next();
  };
}
