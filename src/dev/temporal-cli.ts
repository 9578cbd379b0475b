import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config';

/** The pinned Temporal CLI: later tags carry a go.mod `replace` and cannot be go-installed. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Outside the clone, so every clone on this machine shares one build. */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'sistava', `temporal-cli-${TEMPORAL_CLI_VERSION.slice(1)}`);
}

function onPath(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
}

/**
 * Where the CLI is: TEMPORAL_CLI, else `temporal` on PATH, else the cache. Undefined when none exists.
 */
export function findTemporalCli(configured = parseConfig().TEMPORAL_CLI): string | undefined {
  if (configured) {
    if (!fs.existsSync(configured)) throw new Error(`TEMPORAL_CLI=${configured} does not exist`);
    return configured;
  }
  const cached = path.join(cacheDir(), 'temporal');
  return onPath('temporal') ?? (fs.existsSync(cached) ? cached : undefined);
}

/**
 * Builds the CLI into the cache with `go install` (about 3 minutes and 1.9 GB here), printing progress.
 * Builds into a temporary folder and renames, so an interrupted build never leaves half a binary.
 */
export async function buildTemporalCli(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<string> {
  const target = path.join(cacheDir(), 'temporal');
  // Next to the cache, not in /tmp: the final rename must not cross filesystems (tmpfs).
  fs.mkdirSync(path.dirname(cacheDir()), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(cacheDir()), '.build-'));
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (about 3 minutes, once per machine) into ${cacheDir()} …`);
  const started = Date.now();
  const ticker = setInterval(() => log(`  … still building (${Math.round((Date.now() - started) / 1000)} s)`), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', `${MODULE}@${TEMPORAL_CLI_VERSION}`], {
        env: { ...process.env, GOBIN: tmp },
        stdio: ['ignore', 'inherit', 'pipe'],
      });
      let downloads = 0;
      child.stderr.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (line.startsWith('go: downloading')) {
            downloads += 1;
            if (downloads % 25 === 1) log(`  downloading modules (${downloads} so far) …`);
          } else if (line.trim()) log(`  ${line}`);
        }
      });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with ${code}`))));
    });
    fs.mkdirSync(cacheDir(), { recursive: true });
    fs.renameSync(path.join(tmp, 'temporal'), target);
  } finally {
    clearInterval(ticker);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
  return target;
}

/**
 * The CLI to run: found, else built with Go, else undefined (then the SDK downloads its own,
 * which needs internet access).
 */
export async function ensureTemporalCli(configured?: string): Promise<string | undefined> {
  const found = findTemporalCli(configured);
  if (found) return found;
  if (onPath('go')) return buildTemporalCli();
  return undefined;
}
