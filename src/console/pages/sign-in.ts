import { html, type Html } from '../html';
import { page } from '../layout';

/** The first page: an email field; Enter sends the link. */
export function signInPage(opts: { notice?: Html; email?: string } = {}): Html {
  return page(
    { title: 'Sign in' },
    html`${opts.notice ?? ''}
      <section>
        <p>Enter your email address. We send you a link that signs you in; a new address gets a new account.</p>
        <form method="post" action="/sign-in">
          <label for="email">Email</label>
          <input id="email" name="email" type="email" required autocomplete="email" value="${opts.email ?? ''}" />
          <p><button type="submit">Send sign-in link</button></p>
        </form>
      </section>`,
  );
}

/**
 * What the mailed link opens: a button that signs in. The link itself spends nothing, so a mail
 * scanner or a link preview that fetches it leaves it working for the person it was sent to.
 */
export function confirmSignInPage(email: string, token: string): Html {
  return page(
    { title: 'Sign in' },
    html`<section>
      <p>Sign in to Sistava as <strong>${email}</strong>.</p>
      <form method="post" action="/sign-in/link">
        <input type="hidden" name="token" value="${token}" />
        <p><button type="submit">Sign in</button></p>
      </form>
    </section>`,
  );
}

export const SENT = html`<div class="banner" role="status">
  Check your email: if the address can sign in, a link is on its way. It works once, within 15 minutes.
</div>`;
export const INVALID_EMAIL = html`<p class="error" role="alert">Enter a valid email address.</p>`;
export const MAIL_FAILED = html`<p class="error" role="alert">The mail could not be sent just now. Nothing was created; please try again in a moment.</p>`;
export const LINK_INVALID = html`<p class="error" role="alert">This sign-in link has expired or was already used. Ask for a new one below.</p>`;
export const limited = (seconds: number) =>
  html`<p class="error" role="alert">Too many sign-in requests. Try again in ${Math.ceil(seconds / 60)} minute(s).</p>`;
