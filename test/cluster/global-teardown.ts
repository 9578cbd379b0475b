import fs from 'node:fs';
import type http from 'node:http';
import type { Supervisor } from '../../src/dev/supervisor';
import type { FakeModelServer } from '../helpers/fake-model-server';
import { API_NAMES, WORKER_NAMES } from './cluster-env';

/** APIs and workers first (they drain), then Temporal, then Redis and PostgreSQL. CLUSTER_KEEP=1 keeps the folder and its logs. */
export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<string, unknown>).__SISTAVA_CLUSTER__ as
    { supervisor: Supervisor; control: http.Server; fake: FakeModelServer; dir: string } | undefined;
  if (!stack) return;
  await stack.supervisor.stopAll([[...API_NAMES, ...WORKER_NAMES], ['temporal'], ['redis', 'postgres']]);
  await new Promise<void>((resolve) => stack.control.close(() => resolve()));
  await stack.fake.close();
  if (process.env.CLUSTER_KEEP) process.stdout.write(`[cluster] kept ${stack.dir}\n`);
  else fs.rmSync(stack.dir, { recursive: true, force: true });
}
