import { timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import { apiError } from '../http/errors';
import type { AppState } from '../http/state';
import type { ConsoleSession, ConsoleSessionStore } from '../stores/console-sessions';

export interface ConsoleState extends AppState {
  session?: ConsoleSession;
  /** The raw session id from the cookie, for sign-out. */
  sessionId?: string;
}

export interface SignedInState extends ConsoleState {
  session: ConsoleSession;
}

export interface SessionOptions {
  publicUrl: string;
  idleMs: number;
}

/** Scripts, styles and images from this origin only; no inline script or style, no framing. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

export function cookieName(publicUrl: string): string {
  // __Host- binds the cookie to this exact origin; browsers accept the prefix only with Secure.
  return publicUrl.startsWith('https:') ? '__Host-sv_session' : 'sv_session';
}

/** The Set-Cookie value: written by hand, because Koa refuses Secure on a proxied plain-HTTP hop. */
export function sessionCookie(publicUrl: string, value: string, maxAgeSeconds: number): string {
  const secure = publicUrl.startsWith('https:') ? '; Secure' : '';
  return `${cookieName(publicUrl)}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure}`;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Every console request: security headers, the session from its cookie (if live), and for a POST
 * a same-origin `Origin` (403 before anything else runs). The CSRF token is checked by `signedIn`.
 */
export function consoleSession(store: ConsoleSessionStore, opts: SessionOptions): Koa.Middleware<ConsoleState> {
  const origin = new URL(opts.publicUrl).origin;
  const name = cookieName(opts.publicUrl);
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    ctx.set('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with its own form posts.
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cache-Control', 'no-store');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && ctx.get('Origin') !== origin) {
      throw apiError(403, 'CROSS_ORIGIN', 'This form may only be sent from the console itself.');
    }
    const sessionId = ctx.cookies.get(name);
    if (sessionId) {
      ctx.state.sessionId = sessionId;
      ctx.state.session = await store.resolve(sessionId, opts.idleMs);
    }
    await next();
  };
}

/** Pages and actions of a signed-in account; a POST also needs the session's CSRF token. */
export function signedIn(): Koa.Middleware<ConsoleState> {
  return async (ctx, next) => {
    const session = ctx.state.session;
    if (!session) {
      // htmx would swap a redirect's sign-in page into the element that polled: it follows HX-Redirect instead.
      if (ctx.get('HX-Request') === 'true') {
        ctx.set('HX-Redirect', '/');
        ctx.status = 401;
        ctx.body = '';
        return;
      }
      if (ctx.method === 'GET') {
        ctx.redirect('/');
        return;
      }
      throw apiError(401, 'SIGN_IN_REQUIRED', 'Your session has ended. Sign in again.');
    }
    if (ctx.method === 'POST') {
      const body = ctx.request.body as Record<string, unknown> | undefined;
      const sent = ctx.get('X-CSRF-Token') || (typeof body?._csrf === 'string' ? body._csrf : '');
      if (!sameSecret(sent, session.csrfToken)) throw apiError(403, 'CSRF_TOKEN_INVALID', 'The form was stale. Reload the page and try again.');
    }
    await next();
  };
}
