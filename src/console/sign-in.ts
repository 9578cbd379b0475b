import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { sha256Hex } from '../shared/hash';
import type { Account, AccountStore } from '../stores/accounts';
import type { ConsoleSessionStore } from '../stores/console-sessions';
import type { Ledger } from '../stores/ledger';
import type { Mailer } from './mailer';

/** A sign-in link works once, within this long of being requested. */
export const SIGN_IN_LINK_TTL_MS = 15 * 60_000;
/** The window of the per-email and per-IP sign-in limits. */
const LIMIT_WINDOW_SECONDS = 15 * 60;

export type SignInRequest = { outcome: 'sent' } | { outcome: 'limited'; retryAfterSeconds: number } | { outcome: 'mail_failed' };

export interface SignInOptions {
  publicUrl: string;
  signupCredits: number;
  limitPerEmail: number;
  limitPerIp: number;
}

/**
 * Sign-up and sign-in by emailed link. Requesting a link creates nothing but the link, and answers
 * the same whether the address is known or not; opening it creates the account if needed (with the
 * sign-up credits, posted once under the reference signup:<account id>) and marks its email verified.
 */
export class SignInService {
  private readonly perEmail: RateLimiterRedis;
  private readonly perIp: RateLimiterRedis;

  constructor(
    redis: Redis,
    private readonly sessions: ConsoleSessionStore,
    private readonly accounts: AccountStore,
    private readonly ledger: Ledger,
    private readonly mailer: Mailer,
    private readonly opts: SignInOptions,
  ) {
    this.perEmail = new RateLimiterRedis({ storeClient: redis, keyPrefix: 'sv:signin:email', points: opts.limitPerEmail, duration: LIMIT_WINDOW_SECONDS });
    this.perIp = new RateLimiterRedis({ storeClient: redis, keyPrefix: 'sv:signin:ip', points: opts.limitPerIp, duration: LIMIT_WINDOW_SECONDS });
  }

  /** Mails a link to `email`. A mail that could not be sent is not counted against either limit. */
  async requestLink(email: string, ip: string): Promise<SignInRequest> {
    // Counter keys are hashes: addresses stay out of Redis.
    const emailKey = sha256Hex(email.toLowerCase());
    const ipKey = sha256Hex(ip);
    const counted: Array<[RateLimiterRedis, string]> = [];
    try {
      for (const [limiter, key] of [
        [this.perIp, ipKey],
        [this.perEmail, emailKey],
      ] as const) {
        await limiter.consume(key);
        counted.push([limiter, key]);
      }
    } catch (rejection) {
      await this.refund(counted);
      if (rejection instanceof RateLimiterRes) return { outcome: 'limited', retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      throw rejection;
    }
    const token = await this.sessions.createLink(email, SIGN_IN_LINK_TTL_MS);
    const link = `${this.opts.publicUrl}/sign-in/link?token=${encodeURIComponent(token)}`;
    try {
      await this.mailer({
        to: email,
        subject: 'Your Sistava sign-in link',
        text: `Open this link to sign in to Sistava (it works once, within 15 minutes):\n\n${link}\n\nIf you did not ask for it, ignore this mail.`,
      });
    } catch {
      // Nothing was sent: the link can never be opened, and the person may try again at once.
      await this.sessions.consumeLink(token);
      await this.refund(counted);
      return { outcome: 'mail_failed' };
    }
    return { outcome: 'sent' };
  }

  /** The address a link would sign in, while it is unused and unexpired; opening the page of the link spends nothing. */
  linkEmail(token: string): Promise<string | undefined> {
    return this.sessions.peekLink(token);
  }

  /** Opens a link: the signed-in account and a new session id, or undefined for a used, expired or unknown link. */
  async openLink(token: string, session: { maxMs: number; idleMs: number }): Promise<{ account: Account; sessionId: string } | undefined> {
    const email = await this.sessions.consumeLink(token);
    if (!email) return undefined;
    let account = await this.sessions.accountByEmail(email);
    if (!account) {
      // Two links of one new address opened at once: the second insert finds the first account.
      const created = await this.accounts.createAccount({ email, emailVerified: true }).catch(() => undefined);
      account = created ?? (await this.sessions.accountByEmail(email));
      if (!account) throw new Error('the account could neither be created nor found');
      // Only an account this link created gets them (an operator's existing account does not), once
      // by the reference. Should this fail, the request fails: `credits add --reference signup:<id>` repairs it.
      if (created && this.opts.signupCredits > 0) await this.ledger.topUp(created.id, this.opts.signupCredits, `signup:${created.id}`);
    }
    if (!account.emailVerified) account = await this.sessions.markVerified(account.id);
    const sessionId = await this.sessions.createSession(account.id, session.maxMs, session.idleMs);
    return { account, sessionId };
  }

  private async refund(counted: Array<[RateLimiterRedis, string]>): Promise<void> {
    for (const [limiter, key] of counted) await limiter.reward(key, 1);
  }
}
