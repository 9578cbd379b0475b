import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { AccountStore } from '../stores/accounts';
import { ApiKeyStore } from '../stores/api-keys';
import { EmployeeStore } from '../stores/employees';
import { Ledger } from '../stores/ledger';

export interface Demo {
  accountId: string;
  employeeId: string;
  key: string;
}

const DEMO_CREDITS = 1000;

/**
 * The demo account of the dev stack (verified email, webhook channel on, some credits), its
 * employee and an API key. The raw key is kept only in DATA_DIR/demo.json (mode 600) so every
 * `npm start` can print a ready-to-paste curl; the database holds its hash like any other key.
 */
export async function ensureDemo(db: pg.Pool, dataDir: string): Promise<{ demo: Demo; created: boolean }> {
  const file = path.join(dataDir, 'demo.json');
  const [accounts, employees, keys] = [new AccountStore(db), new EmployeeStore(db), new ApiKeyStore(db)];
  if (fs.existsSync(file)) {
    const demo = JSON.parse(fs.readFileSync(file, 'utf8')) as Demo;
    const [auth, employee] = await Promise.all([keys.authenticate(demo.key), employees.getEmployee(demo.employeeId)]);
    if (auth?.accountId === demo.accountId && employee) return { demo, created: false };
  }
  const account = await accounts.createAccount({
    email: `demo+${Date.now()}@sistava.local`,
    emailVerified: true,
    webhookEnabled: true,
  });
  await new Ledger(db).topUp(account.id, DEMO_CREDITS);
  const employee = await employees.createEmployee({
    accountId: account.id,
    name: 'Ava',
    instructions: 'You are Ava, the shop assistant. When an event arrives, say in one or two sentences what you will do about it.',
  });
  const { key } = await keys.createApiKey(account.id, 'demo');
  const demo: Demo = { accountId: account.id, employeeId: employee.id, key };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return { demo, created: true };
}
