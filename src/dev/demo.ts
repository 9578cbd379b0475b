import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { AccountStore } from '../stores/account-store';
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
 * `npm start` can print a ready-to-paste curl; Redis holds its hash like any other key.
 */
export async function ensureDemo(redis: Redis, dataDir: string): Promise<{ demo: Demo; created: boolean }> {
  const file = path.join(dataDir, 'demo.json');
  const accounts = new AccountStore(redis);
  if (fs.existsSync(file)) {
    const demo = JSON.parse(fs.readFileSync(file, 'utf8')) as Demo;
    const [auth, employee] = await Promise.all([accounts.authenticate(demo.key), accounts.getEmployee(demo.employeeId)]);
    if (auth?.accountId === demo.accountId && employee) return { demo, created: false };
  }
  const account = await accounts.createAccount({
    email: `demo+${Date.now()}@sistava.local`,
    emailVerified: true,
    webhookEnabled: true,
  });
  await new Ledger(redis).topUp(account.id, DEMO_CREDITS);
  const employee = await accounts.createEmployee({
    accountId: account.id,
    name: 'Ava',
    instructions: 'You are Ava, the shop assistant. When an event arrives, say in one or two sentences what you will do about it.',
  });
  const { key } = await accounts.createApiKey(account.id, 'demo');
  const demo: Demo = { accountId: account.id, employeeId: employee.id, key };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return { demo, created: true };
}
