import { SEARCH_ATTRIBUTES } from '../../../workflows/contract';
import { stderrLog, type Log } from '../go-tools';
import { waitFor } from '../services';
import { run } from './run-tool';

/**
 * The namespace (created with its retention when missing) and the contract's search attributes,
 * through the CLI: `search-attribute create` skips the ones that exist. Then waits until the
 * frontend knows both (its namespace cache refreshes every few seconds): a visibility query on every
 * attribute succeeds only once workflows may be started with them.
 */
export async function ensureNamespace(cli: string, address: string, namespace: string, retention: string, log: Log = stderrLog): Promise<void> {
  const common = ['--address', address, '--namespace', namespace];
  const exists = await run(cli, ['operator', 'namespace', 'describe', ...common]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await run(cli, ['operator', 'namespace', 'create', ...common, '--retention', retention]);
    log(`Temporal: created namespace ${namespace} (retention ${retention})`);
  }
  const args = ['operator', 'search-attribute', 'create', ...common];
  for (const key of SEARCH_ATTRIBUTES) args.push('--name', key.name, '--type', 'Keyword');
  await waitFor(`namespace ${namespace}`, () => run(cli, args, 20_000), 60_000);
  const query = SEARCH_ATTRIBUTES.map((key) => `${key.name} = 'probe'`).join(' AND ');
  await waitFor(
    `search attributes in namespace ${namespace}`,
    () => run(cli, ['workflow', 'list', ...common, '--limit', '1', '--query', query], 20_000),
    60_000,
  );
  log(`Temporal: namespace ${namespace} has search attributes ${SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')}`);
}
