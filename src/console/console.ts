import Router from '@koa/router';
import type Koa from 'koa';
import { koaBody } from 'koa-body';
import { toErrorBody } from '../http/errors';
import { NotFoundError } from '../stores/accounts';
import { assetRoutes } from './assets';
import type { ConsoleDeps } from './deps';

export type { ConsoleDeps } from './deps';
import { html } from './html';
import { page } from './layout';
import { authRoutes } from './routes/auth';
import { billingPages } from './routes/billing';
import { employeePages } from './routes/employees';
import { eventPages } from './routes/events';
import { settingsPages } from './routes/settings';
import { consoleSession, type ConsoleState } from './session';

/**
 * The console's errors as a page: the same mapping as the API's (toErrorBody), rendered as HTML. A
 * store's NotFoundError (another account's id included) is a 404 like any unknown id.
 */
function errorPages(): Koa.Middleware<ConsoleState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const body: { status: number; message: string; headers?: Record<string, string> } =
        err instanceof NotFoundError ? { status: 404, message: 'Not found.' } : toErrorBody(err);
      const status = body.status;
      ctx.status = status;
      if (body.headers) ctx.set(body.headers);
      ctx.type = 'html';
      ctx.body = page(
        { title: status === 404 ? 'Not found' : 'Something went wrong', session: ctx.state.session },
        html`<p class="error" role="alert">${body.message}</p>
          <p><a href="/">Back to the console</a></p>`,
      ).text;
      if (status >= 500) ctx.app.emit('error', err, ctx);
    }
  };
}

/**
 * The console served by the API at `/`: its static files, then its pages (each behind the session,
 * Origin and CSRF checks). Two routers, so a stylesheet costs no session lookup.
 */
export function consoleRoutes(deps: ConsoleDeps): Koa.Middleware[] {
  const assets = new Router();
  assetRoutes(assets);
  const pages = new Router<ConsoleState>();
  pages.use(errorPages());
  pages.use(consoleSession(deps.sessions, { publicUrl: deps.publicUrl, idleMs: deps.sessionIdleMs }));
  // Forms only, and small ones: the console posts nothing but short fields.
  pages.use(koaBody({ json: false, urlencoded: true, text: false, multipart: false, formLimit: '32kb' }));
  authRoutes(pages, deps);
  settingsPages(pages, deps);
  employeePages(pages, deps);
  eventPages(pages, deps);
  billingPages(pages, deps);
  return [assets.routes() as Koa.Middleware, pages.routes() as Koa.Middleware];
}
