import pino, { type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

/** JSON lines by default; `LOG_PRETTY=true` for people reading a terminal (what `npm start` sets). */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>, name: string): Logger {
  return pino({
    name,
    level: config.LOG_LEVEL,
    // Belt and braces: even a careless log call never prints a credential.
    redact: { paths: ['authorization', '*.authorization', 'req.headers.authorization', 'key', '*.key'], censor: '[redacted]' },
    ...(config.LOG_PRETTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true } } }
      : {}),
  });
}
