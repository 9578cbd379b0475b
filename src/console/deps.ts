import type { TrustedProxies } from '../net/client-ip';
import type { Logger } from '../observability/logger';
import type { AccountStore } from '../stores/accounts';
import type { ApiKeyStore } from '../stores/api-keys';
import type { ConsoleSessionStore } from '../stores/console-sessions';
import type { EmployeeMemory } from '../stores/employee-memory';
import type { EmployeeStore } from '../stores/employees';
import type { EndpointStore } from '../stores/endpoints';
import type { Ledger } from '../stores/ledger';
import type { TopUpStore } from '../stores/top-ups';
import type { SourceStore } from '../stores/sources';
import type { UsageStore } from '../stores/usage';
import type { ConsoleEvents } from './data';
import type { SignInService } from './sign-in';

export interface ConsoleDeps {
  /** Signed sources (Settings → Sources), and the dedupe window a new one gets. */
  sources: SourceStore;
  sourceWindowMs: number;
  publicUrl: string;
  sessionIdleMs: number;
  sessionMaxMs: number;
  /** Proxies whose X-Forwarded-For names the client (TRUST_PROXY). */
  trustedProxies: TrustedProxies;
  signIn: SignInService;
  sessions: ConsoleSessionStore;
  accounts: AccountStore;
  keys: ApiKeyStore;
  employees: EmployeeStore;
  endpoints: EndpointStore;
  memory: EmployeeMemory;
  ledger: Ledger;
  topUps: TopUpStore;
  usage: UsageStore;
  events: ConsoleEvents;
  logger: Logger;
}
