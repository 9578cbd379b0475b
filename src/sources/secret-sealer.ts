/**
 * How a source's secrets (and kept bodies) are stored: sealed with `context` (the row's id) as
 * associated data, so a value copied onto another row does not open there. SecretBox
 * (src/secrets/secret-box.ts) is the implementation; see `createSourceStore()`.
 */
export interface SecretSealer {
  seal(secret: string, context: string): string;
  open(stored: string, context: string): string;
}
