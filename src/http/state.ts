import type { Logger } from '../observability/logger';
import type { Account } from '../stores/accounts';

/** What every request carries, set by the request-context middleware. */
export interface AppState {
  requestId: string;
  log: Logger;
}

/** What an authenticated route's middleware may read, set by `authenticate`. */
export interface AuthenticatedState extends AppState {
  account: Account;
  keyId: string;
}
