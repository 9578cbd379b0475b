import type Router from '@koa/router';
import { z } from 'zod';
import { apiError } from '../../http/errors';
import type { ConsoleDeps } from '../deps';
import { generateSourceSecret, parseHmacSettings, SOURCE_KINDS, type SourceKind } from '../../sources/kinds';
import { communicationsPage, webhookSwitch } from '../pages/communications';
import { SOURCE_CHOICES, sourcesPage } from '../pages/sources';
import { signedIn, type ConsoleState, type SignedInState } from '../session';

const KeyName = z.string().trim().min(1).max(100);

const NewSource = z.object({
  name: z.string().trim().min(1).max(100),
  kind: z.enum(SOURCE_CHOICES.map(([value]) => value) as [string, ...string[]]),
  employee: z.string(),
});

const sourceUrl = (deps: ConsoleDeps, id: string) => `${deps.publicUrl}/api/sources/${id}`;

/** The account's sources, employee by employee (an account has a handful of employees). */
async function sourcesView(deps: ConsoleDeps, session: SignedInState['session']) {
  const employees = await deps.employees.listEmployees(session.account.id);
  const sources = (await Promise.all(employees.map((e) => deps.sources.list(e.id)))).flat().map((s) => ({ ...s, url: sourceUrl(deps, s.id) }));
  return { session, employees, sources };
}

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

  router.get<SignedInState>('/settings/sources', signedIn(), async (ctx) => {
    ctx.type = 'html';
    ctx.body = sourcesPage(await sourcesView(deps, ctx.state.session)).text;
  });

  // The secret is rendered once, in the answer to this POST.
  router.post<SignedInState>('/settings/sources', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const form = NewSource.safeParse(ctx.request.body);
    const employees = await deps.employees.listEmployees(session.account.id);
    if (!form.success || !employees.some((e) => e.id === form.data.employee)) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = sourcesPage({
        ...(await sourcesView(deps, session)),
        error: 'Give the source a name (1 to 100 characters), a sender and one of your employees.',
      }).text;
      return;
    }
    const { name, kind: choice, employee } = form.data;
    const kind: SourceKind = (SOURCE_KINDS as readonly string[]).includes(choice) ? (choice as SourceKind) : 'hmac';
    const secret = generateSourceSecret(kind);
    const added = await deps.sources.add({
      employeeId: employee,
      name,
      kind,
      secret,
      settings: kind === 'hmac' ? parseHmacSettings({ preset: choice }) : undefined,
      windowMs: deps.sourceWindowMs,
    });
    ctx.status = 201;
    ctx.type = 'html';
    ctx.body = sourcesPage({ ...(await sourcesView(deps, session)), created: { name: added.name, url: sourceUrl(deps, added.id), secret } }).text;
  });

  for (const action of ['enable', 'disable'] as const) {
    router.post<SignedInState>(`/settings/sources/:id/${action}`, signedIn(), async (ctx) => {
      const source = await deps.sources.get(ctx.params.id);
      // Another account's source is 404, exactly like an unknown one.
      if (!source || source.accountId !== ctx.state.session.account.id) throw apiError(404, 'NOT_FOUND', 'No such source.');
      await deps.sources.setEnabled(source.id, action === 'enable');
      ctx.redirect('/settings/sources');
    });
  }

  router.post<SignedInState>('/settings/communications/keys/:id/revoke', signedIn(), async (ctx) => {
    // Scoped by account in SQL: another account's key id is a NotFoundError, hence 404.
    await deps.keys.revokeApiKey(ctx.state.session.account.id, ctx.params.id);
    ctx.redirect('/settings/communications');
  });
}
