import type Router from '@koa/router';
import { z } from 'zod';
import { clientIp } from '../../net/client-ip';
import type { ConsoleDeps } from '../deps';
import { confirmSignInPage, INVALID_EMAIL, LINK_INVALID, limited, MAIL_FAILED, SENT, signInPage } from '../pages/sign-in';
import { sessionCookie, signedIn, type ConsoleState } from '../session';

const Email = z.string().trim().toLowerCase().pipe(z.email()).pipe(z.string().max(254));

/** `/` (sign-in or the console), POST /sign-in, the mailed link, sign-out. */
export function authRoutes(router: Router<ConsoleState>, deps: ConsoleDeps): void {
  router.get('/', async (ctx) => {
    if (ctx.state.session) {
      ctx.redirect('/employees');
      return;
    }
    ctx.type = 'html';
    ctx.body = signInPage().text;
  });

  router.post('/sign-in', async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const parsed = Email.safeParse(body.email);
    ctx.type = 'html';
    if (!parsed.success) {
      ctx.status = 400;
      ctx.body = signInPage({ notice: INVALID_EMAIL }).text;
      return;
    }
    const result = await deps.signIn.requestLink(
      parsed.data,
      clientIp(ctx.req.socket.remoteAddress, ctx.get('X-Forwarded-For') || undefined, deps.trustedProxies),
    );
    if (result.outcome === 'limited') {
      ctx.status = 429;
      ctx.set('Retry-After', String(result.retryAfterSeconds));
      ctx.body = signInPage({ notice: limited(result.retryAfterSeconds), email: parsed.data }).text;
    } else if (result.outcome === 'mail_failed') {
      ctx.status = 503;
      ctx.body = signInPage({ notice: MAIL_FAILED, email: parsed.data }).text;
    } else {
      ctx.body = signInPage({ notice: SENT }).text;
    }
  });

  // The mailed link opens a page with a button: a GET spends nothing, so a mail scanner or a link
  // preview that fetches the link leaves it working. The token is in the query (the access log
  // records the path alone; Referrer-Policy same-origin keeps it from other sites), then in the form.
  router.get('/sign-in/link', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const email = token ? await deps.signIn.linkEmail(token) : undefined;
    ctx.type = 'html';
    if (!email) {
      ctx.status = 400;
      ctx.body = signInPage({ notice: LINK_INVALID }).text;
      return;
    }
    ctx.body = confirmSignInPage(email, token).text;
  });

  router.post('/sign-in/link', async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const token = typeof body.token === 'string' ? body.token : '';
    const opened = token ? await deps.signIn.openLink(token, { maxMs: deps.sessionMaxMs, idleMs: deps.sessionIdleMs }) : undefined;
    if (!opened) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = signInPage({ notice: LINK_INVALID }).text;
      return;
    }
    if (ctx.state.sessionId) await deps.sessions.end(ctx.state.sessionId);
    ctx.set('Set-Cookie', sessionCookie(deps.publicUrl, opened.sessionId, Math.floor(deps.sessionMaxMs / 1000)));
    ctx.redirect('/employees');
  });

  router.post('/sign-out', signedIn(), async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    if (body.everywhere === 'true') await deps.sessions.endAll(ctx.state.session!.account.id);
    else if (ctx.state.sessionId) await deps.sessions.end(ctx.state.sessionId);
    ctx.set('Set-Cookie', sessionCookie(deps.publicUrl, '', 0));
    ctx.redirect('/');
  });
}
