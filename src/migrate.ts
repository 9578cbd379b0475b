import { loadConfigOrExit } from './config';
import { setUpDatabase } from './stores/postgres/app-role';

/**
 * `npm run migrate`: applies every pending migration to DATABASE_URL (the tables' owner), then
 * creates the application role if it may and sets that role's privileges, then exits.
 */
const config = loadConfigOrExit();
const log = (line: string) => process.stdout.write(`${line}\n`);
setUpDatabase(config, log).then(
  ({ applied, appUrl }) => {
    process.stdout.write(applied.length ? `Applied ${applied.length} migration(s).\n` : 'The schema is current; nothing to apply.\n');
    process.stdout.write(`The service connects as ${decodeURIComponent(new URL(appUrl).username)}.\n`);
  },
  (err: unknown) => {
    process.stderr.write(`migrate failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
