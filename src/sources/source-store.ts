import type pg from 'pg';
import { SecretBox, SecretKeysMissingError } from '../secrets/secret-box';
import { SourceStore } from '../stores/sources';
import type { PayloadKeys } from '../temporal/payload-keys';
import type { SecretSealer } from './secret-sealer';

/**
 * The one place sources' secrets and kept bodies get their sealer (the API and the CLI both build
 * the store here): SecretBox over SECRET_KEYS, the key-encryption keys that seal the endpoints'
 * signing secrets too. Without keys, a source can be neither added nor verified: nothing is ever
 * stored in plain text.
 */
export function createSourceStore(db: pg.Pool, keys: PayloadKeys | undefined): SourceStore {
  return new SourceStore(db, keys ? new SecretBox(keys) : new NoKeys());
}

/** Refuses every use, saying what to set. */
class NoKeys implements SecretSealer {
  seal(): string {
    throw new SecretKeysMissingError('Cannot keep a source secret');
  }
  open(): string {
    throw new SecretKeysMissingError('Cannot read a source secret');
  }
}
