import type Koa from 'koa';
import { toErrorBody } from '../errors';
import type { AppState } from '../state';

/** Turns every thrown error into `{ error: { code, message }, request_id }`; 5xx go to `app.on('error')`. */
export function errorResponses(): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const body = toErrorBody(err);
      ctx.status = body.status;
      if (body.headers) ctx.set(body.headers);
      ctx.body = {
        error: { code: body.code, message: body.message, ...(body.field ? { field: body.field } : {}) },
        request_id: ctx.state.requestId,
      };
      if (body.status >= 500) ctx.app.emit('error', err, ctx);
    }
  };
}
