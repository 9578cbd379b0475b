import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { createPool } from '../../src/stores/postgres/pool';

/** One entry of the server's log: a statement it ran (`execute <name>: <sql>`), its parameters, an error. */
export interface LoggedEntry {
  pid: number;
  level: string;
  text: string;
}

/** A statement as PostgreSQL received it: its prepared name (or undefined), its SQL text and its parameters. */
export interface LoggedStatement {
  name?: string;
  sql: string;
  parameters: string;
}

/** The suite's PostgreSQL writes its log here (test/setup/global-setup.ts). */
const logFile = () => path.join(process.env.TEST_DIR!, 'postgres.log');

const ENTRY = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] ([A-Z]+): {2}([\s\S]*)$/;

function parse(text: string): LoggedEntry[] {
  const entries: LoggedEntry[] = [];
  for (const line of text.split('\n')) {
    const m = ENTRY.exec(line);
    if (m) entries.push({ pid: Number(m[1]), level: m[2], text: m[3] });
    else if (entries.length > 0 && line !== '') entries[entries.length - 1].text += `\n${line}`;
  }
  return entries;
}

export interface StatementLog {
  /** A pool like the API's (createPool), whose sessions the server logs every statement of. */
  pool: pg.Pool;
  /**
   * Runs `work` and returns what this pool's sessions sent PostgreSQL meanwhile, read from the
   * server's own log: what the database received, whatever client code sent it.
   */
  during(work: () => Promise<unknown>): Promise<{ statements: LoggedStatement[]; log: string }>;
  end(): Promise<void>;
}

/**
 * A pool whose sessions run with `log_statement = all` (a superuser setting, here for these sessions
 * only): the server logs each statement and its parameters, like Redis's MONITOR showed commands.
 * `observer` finds the pool's server processes by their application_name.
 */
export function statementLog(observer: pg.Pool, opts: { failFast?: boolean } = {}): StatementLog {
  const name = `logged-${randomUUID()}`;
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.searchParams.set('options', '-c log_statement=all');
  const pool = createPool(url.toString(), { name, failFast: opts.failFast ?? true });
  return {
    pool,
    async during(work) {
      const file = logFile();
      const from = fs.statSync(file).size;
      await work();
      const pids = new Set(
        (await observer.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [name])).rows.map((r) => r.pid),
      );
      const appended = await readFrom(file, from);
      const mine = parse(appended).filter((e) => pids.has(e.pid));
      const statements: LoggedStatement[] = [];
      for (const entry of mine) {
        const executed = /^(?:execute ([^:\s]+)|statement): ([\s\S]*)$/.exec(entry.text);
        if (entry.level === 'LOG' && executed) statements.push({ name: executed[1], sql: executed[2], parameters: '' });
        else if (entry.level === 'DETAIL' && entry.text.startsWith('Parameters: ') && statements.length > 0) {
          statements[statements.length - 1].parameters = entry.text.slice('Parameters: '.length);
        }
      }
      return { statements, log: appended };
    },
    end: () => pool.end(),
  };
}

async function readFrom(file: string, offset: number): Promise<string> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buffer = Buffer.alloc(Math.max(0, size - offset));
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
