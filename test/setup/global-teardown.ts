import fs from 'node:fs';
import type { RunningService } from '../../src/dev/services';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as any).__SISTAVA_STACK__ as { redis: RunningService; temporal: RunningService; postgres: RunningService; dir: string } | undefined;
  if (!stack) return;
  await Promise.all([stack.redis.stop(), stack.temporal.stop(), stack.postgres.stop()]);
  fs.rmSync(stack.dir, { recursive: true, force: true });
}
