import { createMailer } from '../../src/console/mailer';
import { createLogger } from '../../src/observability/logger';
import { captureLogs } from '../helpers/captured-logs';

describe('the console mailer without SMTP_URL', () => {
  it('writes the mail, link included, to the log, so `npm start` users can follow it', async () => {
    const logs = captureLogs();
    const mailer = createMailer(undefined, 'no-reply@localhost', createLogger({ LOG_LEVEL: 'info', LOG_PRETTY: false }, 'api', logs.stream));
    await mailer({ to: 'ada@example.test', subject: 'Your Sistava sign-in link', text: 'Open http://localhost:3000/sign-in/link?token=abc' });
    const line = logs.lines.find((l) => l.to === 'ada@example.test');
    expect(line).toMatchObject({ level: 40, subject: 'Your Sistava sign-in link' });
    expect(String(line!.msg)).toContain('http://localhost:3000/sign-in/link?token=abc');
  });
});
