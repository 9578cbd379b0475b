import fs from 'node:fs';
import path from 'node:path';
import { stderrLog, type Log } from '../go-tools';
import { SERVER_MODULE, TEMPORAL_SERVER_VERSION } from './binaries';
import { run } from './run-tool';

/**
 * go.temporal.io/server@v1.29.1 in the Go module cache (`go install` put it there): the versioned
 * schema files and the sample configs. `go mod download` fetches it when the cache lacks it.
 */
export async function serverModuleDir(log: Log = stderrLog): Promise<string> {
  const modcache = (await run('go', ['env', 'GOMODCACHE'])).trim();
  const dir = path.join(modcache, `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
  if (fs.existsSync(path.join(dir, 'schema'))) return dir;
  log(`Fetching ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} into the Go module cache (its schema files and sample config) …`);
  const out = await run('go', ['mod', 'download', '-json', `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], 600_000);
  const downloaded = (JSON.parse(out) as { Dir?: string }).Dir ?? dir;
  if (!fs.existsSync(path.join(downloaded, 'schema'))) throw new Error(`${downloaded} has no schema folder`);
  return downloaded;
}
