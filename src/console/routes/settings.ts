import type Router from '@koa/router';
import { z } from 'zod';
import { apiError } from '../../http/errors';
import type { ConsoleDeps } from '../deps';
import { communicationsPage, webhookSwitch } from '../pages/communications';
import { signedIn, type ConsoleState, type SignedInState } from '../session';

const KeyName = z.string().trim().min(1).max(100);

/** Settings → Communications: the Webhook switch, and the Webhook card's keys (create once, revoke). */
export function settingsPages(router: Router<ConsoleState>, deps: ConsoleDeps): void {
  router.get('/settings', signedIn(), async (ctx) => ctx.redirect('/settings/communications'));

  router.get<SignedInState>('/settings/communications', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const keys = await deps.keys.listApiKeys(session.account.id);
    ctx.type = 'html';
    ctx.body = communicationsPage({ session, account: session.account, keys }).text;
  });

  router.post<SignedInState>('/settings/communications/webhook', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const enabled = (ctx.request.body as Record<string, unknown>).enabled === 'true';
    const account = await deps.accounts.updateAccount(session.account.id, { webhookEnabled: enabled });
    if (ctx.get('HX-Request') === 'true') {
      ctx.type = 'html';
      ctx.body = webhookSwitch(account, session).text;
    } else {
      ctx.redirect('/settings/communications');
    }
  });

  // The raw key is rendered once, in the answer to this POST: never in a URL, a redirect or a log.
  router.post<SignedInState>('/settings/communications/keys', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const name = KeyName.safeParse((ctx.request.body as Record<string, unknown>).name);
    if (!name.success) throw apiError(400, 'INVALID_REQUEST', 'Give the key a name (1 to 100 characters).');
    const { key } = await deps.keys.createApiKey(session.account.id, name.data);
    const keys = await deps.keys.listApiKeys(session.account.id);
    ctx.status = 201;
    ctx.type = 'html';
    ctx.body = communicationsPage({ session, account: session.account, keys, created: { key, name: name.data } }).text;
  });

  router.post<SignedInState>('/settings/communications/keys/:id/revoke', signedIn(), async (ctx) => {
    // Scoped by account in SQL: another account's key id is a NotFoundError, hence 404.
    await deps.keys.revokeApiKey(ctx.state.session.account.id, ctx.params.id);
    ctx.redirect('/settings/communications');
  });
}
