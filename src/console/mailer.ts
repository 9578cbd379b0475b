import nodemailer from 'nodemailer';
import type { Logger } from '../observability/logger';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/** Sends a mail or throws; the console says "could not be sent" when it does. */
export type Mailer = (mail: Mail) => Promise<void>;

/** A sender that gives up past this: the person waits on the sign-in page meanwhile. */
const SMTP_TIMEOUT_MS = 10_000;

/**
 * SMTP through nodemailer when `smtpUrl` is set. Without it (the dev stack), the mail's text —
 * the sign-in link — goes to the log at warn, so `npm start` users can follow it.
 */
export function createMailer(smtpUrl: string | undefined, from: string, logger: Logger): Mailer {
  if (!smtpUrl) {
    return async (mail) => {
      logger.warn({ to: mail.to, subject: mail.subject }, `SMTP_URL is not set; the mail is printed instead:\n${mail.text}`);
    };
  }
  const url = new URL(smtpUrl);
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  });
  return async (mail) => {
    await transport.sendMail({ from, ...mail });
  };
}
