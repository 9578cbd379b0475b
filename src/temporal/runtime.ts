import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../observability/logger';

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed = false;

/**
 * Routes the Temporal SDK's own logs through pino (once per process, before any worker exists).
 * The SDK logs every worker state change at INFO; WARN keeps the useful part.
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN', metricsAddress?: string): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    // The SDK's own Prometheus exporter: task latencies, poll counts, workflow and activity outcomes.
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
    logger: new DefaultLogger(level, (entry) => {
      logger[PINO_LEVEL[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
  });
}
