import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A Go program the stacks build once per machine with `go install`, into ~/.cache/sistava/. */
export interface GoTool {
  /** The cache folder's name before the version: ~/.cache/sistava/<dir>-<version>/. */
  dir: string;
  label: string;
  module: string;
  version: string;
  /** What go install names the binary. The server and the UI server are both `server`: each has its own folder. */
  binary: string;
}

export type Log = (line: string) => void;
export const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

/** Outside the clone, like the CLI: every clone on this machine shares one build. */
export function toolCacheDir(tool: GoTool): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'sistava', `${tool.dir}-${tool.version.slice(1)}`);
}

/** The cached binary, or undefined when it has not been built yet. */
export function findGoTool(tool: GoTool): string | undefined {
  const binary = path.join(toolCacheDir(tool), tool.binary);
  return fs.existsSync(binary) ? binary : undefined;
}

function hasGo(): boolean {
  return spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).status === 0;
}

/**
 * `go install module@version` with GOBIN in a temporary folder next to the cache, then a rename: an
 * interrupted build never leaves half a binary. Prints progress (the server takes about 3 minutes here).
 */
export async function buildGoTool(tool: GoTool, log: Log = stderrLog): Promise<string> {
  const cache = toolCacheDir(tool);
  const target = path.join(cache, tool.binary);
  fs.mkdirSync(path.dirname(cache), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(cache), '.build-'));
  log(`Building the ${tool.label} ${tool.version} with go install (a few minutes, once per machine) into ${cache} …`);
  const started = Date.now();
  const ticker = setInterval(() => log(`  … still building the ${tool.label} (${Math.round((Date.now() - started) / 1000)} s)`), 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('go', ['install', `${tool.module}@${tool.version}`], { env: { ...process.env, GOBIN: tmp }, stdio: ['ignore', 'inherit', 'pipe'] });
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
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install ${tool.module}@${tool.version} exited with ${code}`))));
    });
    fs.mkdirSync(cache, { recursive: true });
    fs.renameSync(path.join(tmp, tool.binary), target);
  } finally {
    clearInterval(ticker);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  log(`${tool.label} built in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
  return target;
}

/** Found in the cache, else built with Go; fails when there is no Go toolchain to build it with. */
export async function ensureGoTool(tool: GoTool, log: Log = stderrLog): Promise<string> {
  const found = findGoTool(tool);
  if (found) return found;
  if (!hasGo()) throw new Error(`the ${tool.label} is not in ${toolCacheDir(tool)} and there is no Go toolchain to build it (https://go.dev/dl/)`);
  return buildGoTool(tool, log);
}
