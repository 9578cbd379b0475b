import type { Middleware } from 'koa';
import { upstream } from '../../events/errors';
import { isWellFormedApiKey, type ApiKeyStore } from '../../stores/api-keys';
import { apiError, clientClosedRequest } from '../errors';
import type { AuthenticatedState } from '../state';

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

function unauthorized(code: 'MISSING_API_KEY' | 'INVALID_API_KEY', message: string) {
  return apiError(401, code, message, { headers: { 'WWW-Authenticate': 'Bearer' } });
}

/**
 * 401 unless the request carries a live API key; puts the account on `ctx.state`. A string not
 * shaped like a key costs nothing; a key seen in the last second costs no round trip (ApiKeyStore's
 * cache); otherwise one indexed query.
 */
export function authenticate(keys: ApiKeyStore): Middleware<AuthenticatedState> {
  return async (ctx, next) => {
    const header = ctx.get('Authorization');
    if (!header) throw unauthorized('MISSING_API_KEY', 'Missing API key. Send the header "Authorization: Bearer sk-…".');
    const match = BEARER.exec(header);
    if (!match) throw unauthorized('INVALID_API_KEY', 'Authorization must use the Bearer scheme: "Authorization: Bearer sk-…".');
    // Not our key's shape: refused before it is hashed or looked up, like an unknown key.
    if (!isWellFormedApiKey(match[1])) throw unauthorized('INVALID_API_KEY', 'Invalid or revoked API key. Create a new key and try again.');
    const found = await upstream('database', () => keys.resolveKey(match[1]));
    if (!found) throw unauthorized('INVALID_API_KEY', 'Invalid or revoked API key. Create a new key and try again.');
    // The lookup is where a request waits on a slow database: a client that hung up meanwhile costs
    // nothing more (no rate-limit round trip, no reservation, no start). Past this point a hang-up
    // fails the body read (400), and once the handler runs it runs to its end, so a reservation is
    // never left without its start or its release.
    if (ctx.req.socket.destroyed) throw clientClosedRequest();
    const { account, keyId } = found;
    ctx.state.account = account;
    ctx.state.keyId = keyId;
    ctx.state.log = ctx.state.log.child({ account_id: account.id, key_id: keyId });
    await next();
  };
}

/** 403 unless the account may use the webhook channel; the message says which condition failed. */
export function requireWebhookChannel(): Middleware<AuthenticatedState> {
  return async (ctx, next) => {
    const account = ctx.state.account;
    if (!account.webhookEnabled) {
      throw apiError(
        403,
        'CHANNEL_DISABLED',
        'The Webhook channel is disabled for this account. Enable it under Settings, Technical, Communications (CLI: sistava channel enable webhook --account ID).',
      );
    }
    if (!account.emailVerified) {
      throw apiError(403, 'EMAIL_NOT_VERIFIED', "The account's email address is not verified. Verify it, then retry.");
    }
    await next();
  };
}
