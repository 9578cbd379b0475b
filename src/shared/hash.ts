import { createHash } from 'node:crypto';

/** Hex SHA-256 of a UTF-8 string: API keys at rest, long Idempotency-Keys in workflow ids. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
