import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import pg from 'pg';
import { formatWebhookMessage } from '../src/domain/events';
import { ACCOUNT_ID, EMPLOYEE_ID, EVENT_STATUS, EVENT_TYPE } from '../workflows/contract';

/**
 * Child process of `npm run bench`: the floor under the API's CPU per request. It makes the round
 * trips an accepted event needs (read the HTTP request, one Redis command, one PostgreSQL statement,
 * one Temporal start shaped as the ingest's, a 202 with a JSON body) with the bare libraries and
 * nothing else: no framework, no validation, no logging, no metrics. What the API costs above it is
 * what our own code and Koa cost; the floor itself is what this machine charges for the I/O.
 */
async function main(): Promise<void> {
  const env = process.env;
  const redis = new Redis(env.REDIS_URL!, { lazyConnect: false });
  const db = new pg.Pool({ connectionString: env.APP_DATABASE_URL ?? env.DATABASE_URL, max: 10 });
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS! });
  const client = new Client({ connection });
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') return void res.writeHead(200).end('ok');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { employee_id: string; event?: string; payload: string };
        const key = req.headers['idempotency-key'] as string | undefined;
        const messageId = randomUUID();
        await redis.set(`floor:${key ?? messageId}`, messageId, 'PX', 60_000);
        await db.query({ name: 'floor', text: 'SELECT $1::uuid AS id, now() AS at', values: [messageId] });
        const text = formatWebhookMessage(body.payload, body.event);
        await client.workflow.start('noopWorkflow', {
          taskQueue: env.TEMPORAL_TASK_QUEUE!,
          workflowId: key ?? messageId,
          args: [{ messageId, employeeId: body.employee_id, payload: body.payload, event: body.event }],
          workflowIdConflictPolicy: 'FAIL',
          staticSummary: text.slice(0, 200),
          memo: { messageId, employeeId: body.employee_id, receivedAt: new Date().toISOString() },
          typedSearchAttributes: [
            { key: ACCOUNT_ID, value: 'floor' },
            { key: EMPLOYEE_ID, value: body.employee_id },
            { key: EVENT_TYPE, value: body.event ?? '' },
            { key: EVENT_STATUS, value: 'accepted' },
          ],
        });
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ message_id: messageId, status: 'accepted' }));
      })().catch((err: Error) => res.writeHead(500).end(err.message));
    });
  });
  server.listen(Number(env.PORT), env.HOST ?? '127.0.0.1');
  process.once('SIGTERM', () => {
    server.close();
    void Promise.allSettled([redis.quit(), db.end(), connection.close()]).then(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`floor api failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
