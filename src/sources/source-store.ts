import type pg from 'pg';
import { SourceStore } from '../stores/sources';
import { UnsealedPlaceholder } from './secret-sealer';

/**
 * THE one place sources' secrets and kept bodies get their sealer (the API and the CLI both build
 * the store here). Until the `money` branch's SecretBox is merged it is a placeholder that does not
 * encrypt; the merge replaces `new UnsealedPlaceholder()` with the SecretBox built from SECRET_KEYS.
 */
export function createSourceStore(db: pg.Pool): SourceStore {
  return new SourceStore(db, new UnsealedPlaceholder());
}
