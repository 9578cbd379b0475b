import { ensureTemporalCli } from './temporal-cli';

/** `npm test` runs this first: the suite's Temporal dev server needs the CLI binary. */
ensureTemporalCli().then(
  (cli) => {
    if (cli) process.stderr.write(`Temporal CLI: ${cli}\n`);
    else process.stderr.write('No Temporal CLI and no Go toolchain: the SDK will download the CLI (needs internet).\n');
  },
  (err) => {
    process.stderr.write(`Could not provide the Temporal CLI: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
