import { AccountStore } from '../../src/stores/accounts';
import { ApiKeyStore } from '../../src/stores/api-keys';
import { EmployeeMemory } from '../../src/stores/employee-memory';
import { EmployeeStore } from '../../src/stores/employees';
import { EndpointStore } from '../../src/stores/endpoints';
import { Ledger } from '../../src/stores/ledger';
import { secretKeys } from '../../src/secrets/secret-box';
import { createPool } from '../../src/stores/postgres/pool';

/**
 * A pool of its own on the suite's PostgreSQL (`name` shows in pg_stat_activity) and the stores on
 * it, for tests that run no API and no worker (the CLI's: they check what a command wrote). The pool
 * connects lazily; end it (`db.end()`) in afterAll.
 */
export function suiteStores(name: string) {
  const db = createPool(process.env.TEST_DATABASE_URL!, { name });
  return {
    db,
    accounts: new AccountStore(db),
    employees: new EmployeeStore(db),
    keys: new ApiKeyStore(db),
    ledger: new Ledger(db),
    memory: new EmployeeMemory(db, 20),
    endpoints: new EndpointStore(db, secretKeys({ DATA_DIR: process.env.TEST_DIR! })),
  };
}
