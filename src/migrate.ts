import { loadConfigOrExit } from './config';
import { migrate } from './stores/postgres/migrate';

/** `npm run migrate`: applies every pending migration to DATABASE_URL, then exits. */
const config = loadConfigOrExit();
migrate(config.DATABASE_URL, (line) => process.stdout.write(`${line}\n`)).then(
  (applied) => {
    process.stdout.write(applied.length ? `Applied ${applied.length} migration(s).\n` : 'The schema is current; nothing to apply.\n');
  },
  (err: unknown) => {
    process.stderr.write(`migrate failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
