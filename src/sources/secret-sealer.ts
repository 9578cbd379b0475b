/**
 * How a source's secrets (and kept bodies) are stored: sealed with `context` (the row's id) as
 * associated data, so a value copied onto another row does not open there. The `money` branch's
 * SecretBox (AES-GCM over SECRET_KEYS) has this shape; until it is merged, sources are wired with
 * the placeholder below in one place: `createSourceStore()` in src/sources/source-store.ts.
 */
export interface SecretSealer {
  seal(secret: string, context: string): string;
  open(stored: string, context: string): string;
}

const PLACEHOLDER_PREFIX = 'unsealed:v0:';

/**
 * NOT encryption: marks values as not yet sealed (base64 with the context), so the merge can find
 * and re-seal them. Replaced by SecretBox when the `money` branch lands (see `createSourceStore`).
 */
export class UnsealedPlaceholder implements SecretSealer {
  seal(secret: string, context: string): string {
    return `${PLACEHOLDER_PREFIX}${Buffer.from(context).toString('base64')}:${Buffer.from(secret).toString('base64')}`;
  }

  open(stored: string, context: string): string {
    const [ctx, value] = stored.startsWith(PLACEHOLDER_PREFIX) ? stored.slice(PLACEHOLDER_PREFIX.length).split(':') : [];
    if (value === undefined || Buffer.from(ctx, 'base64').toString() !== context) throw new Error('stored secret does not belong to this row');
    return Buffer.from(value, 'base64').toString();
  }
}
