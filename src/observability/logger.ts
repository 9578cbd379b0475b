import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config';

export type { Logger };

/**
 * JSON lines by default; `LOG_PRETTY=true` for people reading a terminal (what `npm start` sets).
 * `destination` replaces stdout (tests read the logs back from it); it is always JSON lines.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>, name: string, destination?: DestinationStream): Logger {
  const options = {
    name,
    level: config.LOG_LEVEL,
    // Belt and braces: even a careless log call never prints a credential.
    redact: { paths: ['authorization', '*.authorization', 'req.headers.authorization', 'key', '*.key'], censor: '[redacted]' },
  };
  if (destination) return pino(options, destination);
  return pino({
    ...options,
    ...(config.LOG_PRETTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true } } } : {}),
  });
}
