import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, type Harness } from '../helpers/harness';

const ROOT = path.resolve(__dirname, '..', '..');
const TASK_QUEUE = `test-crash-${randomUUID()}`;

let fake: FakeModelServer;
let h: Harness;
const workers = new Set<WorkerProcess>();

interface WorkerProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
}

/**
 * `src/worker.ts` as its own process group (tsx runs node as a child of its own), so a SIGKILL to the
 * group takes the whole worker down at once, the way a crashed machine would.
 */
function startWorkerProcess(): WorkerProcess {
  const child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['src/worker.ts'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      REDIS_URL: process.env.TEST_REDIS_URL,
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      WORKFLOW_BUNDLE_PATH: process.env.WORKFLOW_BUNDLE_PATH,
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_MODEL: 'test-model',
      LOG_LEVEL: 'warn',
    },
  });
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const worker = { child, output, exited };
  workers.add(worker);
  void exited.then(() => workers.delete(worker));
  return worker;
}

async function killGroup(worker: WorkerProcess, signal: NodeJS.Signals): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  try {
    process.kill(-worker.child.pid!, signal);
  } catch {
    return; // already gone
  }
  await worker.exited;
}

beforeAll(async () => {
  fake = await startFakeModelServer();
  h = await createHarness({ TEMPORAL_TASK_QUEUE: TASK_QUEUE, OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'test-model' }, { worker: false });
});
afterAll(async () => {
  for (const worker of [...workers]) await killGroup(worker, 'SIGKILL');
  await h?.close();
  await fake?.close();
});

describe('a worker killed while the employee waits on the model', () => {
  it('retries on another worker and delivers, records and charges the event exactly once', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    fake.enqueue({ kind: 'hang' }, { kind: 'ok', reply: 'Handled after the crash.', promptTokens: 900, completionTokens: 200 });
    const first = startWorkerProcess();

    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #77.' });
    expect(res.status).toBe(202);
    const messageId: string = res.body.message_id;
    const handle = h.workflowHandle(acct.accountId, messageId);

    await fake.waitForRequests(1, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\nworker output:\n${first.output.join('')}`);
    });
    await killGroup(first, 'SIGKILL');
    const second = startWorkerProcess();

    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect(fake.requests).toHaveLength(2);

    // The first attempt died with its worker and was noticed by the missing heartbeats.
    const history = await handle.fetchHistory();
    const started = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes).filter((a) => a);
    expect(started).toHaveLength(1);
    expect(started[0]!.attempt).toBe(2);
    expect(started[0]!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);

    const charges = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'charge');
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ messageId, tokensIn: 900, tokensOut: 200, tokenCredits: 2 });
    expect(result.charge).toMatchObject({ posted: true, credits: -charges[0].credits });
    expect(await h.ledger.balance(acct.accountId)).toBe(100 + charges[0].credits);

    const entries = (await h.memory.inbox(acct.employeeId)).filter((e) => e.messageId === messageId);
    expect(entries.map((e) => e.direction).sort()).toEqual(['received', 'replied']);
    expect(entries.find((e) => e.direction === 'received')!.text).toBe('[Webhook: order.completed] Order #77.');

    await killGroup(second, 'SIGTERM');
  }, 45_000);
});
