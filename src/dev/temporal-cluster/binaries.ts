import { ensureGoTool, stderrLog, type GoTool, type Log } from '../go-tools';
import { ensureTemporalCli } from '../temporal-cli';

/**
 * The Go programs of a Temporal cluster as production runs it: the `server` binary built from
 * go.temporal.io/server (the version our CLI embeds), its SQL schema tool and the Web UI server.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_VERSION = 'v2.42.1';
export const SERVER_MODULE = 'go.temporal.io/server';

export const TEMPORAL_SERVER: GoTool = {
  dir: 'temporal-server',
  label: 'Temporal server',
  module: `${SERVER_MODULE}/cmd/server`,
  version: TEMPORAL_SERVER_VERSION,
  binary: 'server',
};
export const TEMPORAL_SQL_TOOL: GoTool = {
  dir: 'temporal-sql-tool',
  label: 'Temporal SQL schema tool',
  module: `${SERVER_MODULE}/cmd/tools/sql`,
  version: TEMPORAL_SERVER_VERSION,
  binary: 'sql',
};
export const TEMPORAL_UI_SERVER: GoTool = {
  dir: 'temporal-ui-server',
  label: 'Temporal UI server',
  module: 'github.com/temporalio/ui-server/v2/cmd/server',
  version: TEMPORAL_UI_VERSION,
  binary: 'server',
};

export interface TemporalBinaries {
  server: string;
  sql: string;
  ui: string;
  /** The CLI: namespace and search attributes. */
  cli: string;
}

/** Every binary the cluster needs, built one after the other when missing (each build peaks near 2 GB). */
export async function ensureTemporalBinaries(log: Log = stderrLog): Promise<TemporalBinaries> {
  const server = await ensureGoTool(TEMPORAL_SERVER, log);
  const sql = await ensureGoTool(TEMPORAL_SQL_TOOL, log);
  const ui = await ensureGoTool(TEMPORAL_UI_SERVER, log);
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI and no Go toolchain to build it: the cluster needs the CLI for its namespace and search attributes');
  return { server, sql, ui, cli };
}
