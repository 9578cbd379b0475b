import path from 'node:path';
import { freePort, makeRunDir, startPostgresServer, startRedisServer, startTemporalDevServer } from '../../src/dev/services';
import { findTemporalCli } from '../../src/dev/temporal-cli';

/**
 * A stack's servers in a process of their own, started as `npm start` starts them when the machine
 * has none: redis-server, PostgreSQL, the Temporal dev server. Prints `servers {"redis": pid, …}`
 * and `ports {…}` once all answer, then waits. Tests SIGKILL it to see the servers go.
 */
async function main(): Promise<void> {
  const dir = process.argv[2] ?? makeRunDir('sistava-servers-');
  const [redisPort, postgresPort, temporalPort] = [await freePort(), await freePort(), await freePort()];
  const [redis, postgres, temporal] = await Promise.all([
    startRedisServer({ port: redisPort, dir: path.join(dir, 'redis') }),
    startPostgresServer({ port: postgresPort, dataDir: path.join(dir, 'postgres'), logFile: path.join(dir, 'postgres.log') }),
    startTemporalDevServer({ cli: findTemporalCli(), port: temporalPort, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') }),
  ]);
  process.stdout.write(`servers ${JSON.stringify({ redis: redis.process!.pid, postgres: postgres.process!.pid, temporal: temporal.process!.pid })}\n`);
  process.stdout.write(`ports ${JSON.stringify({ redis: redisPort, postgres: postgresPort, temporal: temporalPort })}\n`);
  setInterval(() => undefined, 60_000);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
