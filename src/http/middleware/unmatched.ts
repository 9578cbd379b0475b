import type Koa from 'koa';
import { apiError } from '../errors';
import type { AppState } from '../state';

/**
 * What no route answered becomes a JSON error. It runs after the router's `allowedMethods`, which
 * only acts once everything downstream has returned: a 404 thrown below it would hide every 405.
 * A method the router does not implement (501 there) is a 405 on a known path: the caller's error.
 */
export function unmatched(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    await next();
    if (ctx.body !== undefined && ctx.body !== null) return;
    const allow = ctx.response.get('Allow');
    if ((ctx.status === 405 || ctx.status === 501) && allow) {
      throw apiError(405, 'METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; use ${allow}.`, { headers: { Allow: allow } });
    }
    if (ctx.status === 404 || ctx.status === 405 || ctx.status === 501) {
      throw apiError(404, 'NOT_FOUND', `No route for ${ctx.method} ${ctx.path}.`);
    }
  };
}
