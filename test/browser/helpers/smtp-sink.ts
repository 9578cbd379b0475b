import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  /** Every mail received, as raw RFC 5322 text, decoded from quoted-printable. */
  mails: Array<{ to: string[]; text: string }>;
  /** The sign-in link of the latest mail to `to`, if any. */
  linkFor(to: string): string | undefined;
  /** While set, every mail is refused (a down relay). */
  refuse: boolean;
  stop(): Promise<void>;
}

const decodeQuotedPrintable = (text: string) =>
  text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** A real SMTP server on loopback that keeps what it receives. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const sink: SmtpSink = {
    url: '',
    mails: [],
    refuse: false,
    linkFor(to) {
      const mail = sink.mails.filter((m) => m.to.includes(to.toLowerCase())).at(-1);
      return mail?.text.match(/https?:\/\/\S+\/sign-in\/link\?token=[A-Za-z0-9_%-]+/)?.[0];
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      if (sink.refuse) {
        stream.resume();
        callback(Object.assign(new Error('relay unavailable'), { responseCode: 451 }));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        sink.mails.push({
          to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
          text: decodeQuotedPrintable(Buffer.concat(chunks).toString('utf8')),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return sink;
}
