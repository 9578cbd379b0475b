import fs from 'node:fs';
import { testStack } from './test-stack';

export default async function globalTeardown(): Promise<void> {
  const stack = testStack.current;
  if (!stack) return;
  await Promise.all([stack.redis.stop(), stack.temporal.stop(), stack.postgres.stop()]);
  fs.rmSync(stack.dir, { recursive: true, force: true });
}
