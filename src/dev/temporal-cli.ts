import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../config';
import { buildGoTool, toolCacheDir, type GoTool } from './go-tools';

/** The pinned Temporal CLI: later tags carry a go.mod `replace` and cannot be go-installed. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** Outside the clone, so every clone on this machine shares one build. */
export function cacheDir(): string {
  return toolCacheDir(TEMPORAL_CLI_TOOL);
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

/** The CLI as a Go tool: cached in ~/.cache/sistava/temporal-cli-<version>/. */
export const TEMPORAL_CLI_TOOL: GoTool = { dir: 'temporal-cli', label: 'Temporal CLI', module: MODULE, version: TEMPORAL_CLI_VERSION, binary: 'temporal' };

/** Builds the CLI into the cache with `go install` (about 3 minutes and 1.9 GB here), printing progress. */
export function buildTemporalCli(log?: (line: string) => void): Promise<string> {
  return buildGoTool(TEMPORAL_CLI_TOOL, log);
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
