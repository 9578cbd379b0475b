import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KeyRingSchema, type Config } from '../config';
import type { PayloadKeys } from '../temporal/payload-keys';

/** A sealed secret as stored: `sealed:v1:<key id>:<base64 of nonce || AES-256-GCM ciphertext || tag>`. */
const SEALED = /^sealed:v1:([A-Za-z0-9._-]{1,64}):([A-Za-z0-9+/]+={0,2})$/;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeysMissingError extends Error {
  constructor(what: string) {
    super(
      `${what}: SECRET_KEYS is not set, and secrets are stored only encrypted. Set SECRET_KEYS=k1:$(openssl rand -base64 32) ` +
        '(keep it like a database password; `npm start` generates one into DATA_DIR/secret-keys).',
    );
    this.name = 'SecretKeysMissingError';
  }
}

/** True when a stored value is sealed (not a secret kept in plain text before SECRET_KEYS existed). */
export function isSealed(stored: string): boolean {
  return SEALED.test(stored);
}

/**
 * Secrets at rest (the endpoints' signing secrets), encrypted with a key-encryption key from
 * SECRET_KEYS: AES-256-GCM, the key id in the stored value so keys rotate like PAYLOAD_KEYS (the
 * first seals, all open), and `context` (the row's id) as associated data, so a sealed value copied
 * onto another row does not open there.
 */
export class SecretBox {
  constructor(private readonly keys: PayloadKeys) {}

  seal(secret: string, context: string): string {
    const key = this.keys.keys.get(this.keys.currentKeyId)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const sealed = Buffer.concat([nonce, cipher.update(secret, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `sealed:v1:${this.keys.currentKeyId}:${sealed.toString('base64')}`;
  }

  open(stored: string, context: string): string {
    const match = SEALED.exec(stored);
    if (!match) throw new Error('not a sealed secret');
    const [, keyId, encoded] = match;
    const key = this.keys.keys.get(keyId);
    if (!key) throw new Error(`A secret is sealed with key id "${keyId}", which is not in SECRET_KEYS (configured: ${[...this.keys.keys.keys()].join(', ')}).`);
    const data = Buffer.from(encoded, 'base64');
    try {
      if (data.length < NONCE_BYTES + TAG_BYTES) throw new Error('too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      return Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(`A secret sealed with key id "${keyId}" failed authentication: altered, moved from another row, or the wrong key.`);
    }
  }

  /** True when `stored` is sealed with the current key (nothing to rotate). */
  isCurrent(stored: string): boolean {
    return SEALED.exec(stored)?.[1] === this.keys.currentKeyId;
  }
}

/** The dev stacks' key-encryption key file: `k1:<base64>`, generated once (mode 600). */
export function secretKeysFile(dataDir: string): string {
  return path.join(dataDir, 'secret-keys');
}

/** Reads the dev key file, generating it on first use. Returns its contents (a SECRET_KEYS value). */
export function ensureDevSecretKeys(dataDir: string): string {
  const file = secretKeysFile(dataDir);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, `dev1:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
}

/**
 * SECRET_KEYS, or on a machine running a dev stack the key it generated into DATA_DIR/secret-keys
 * (so the CLI next to `npm start` needs no export); undefined elsewhere.
 */
export function secretKeys(config: Pick<Config, 'SECRET_KEYS' | 'DATA_DIR'>): PayloadKeys | undefined {
  if (config.SECRET_KEYS) return config.SECRET_KEYS;
  const file = secretKeysFile(config.DATA_DIR);
  if (!fs.existsSync(file)) return undefined;
  const parsed = KeyRingSchema.safeParse(fs.readFileSync(file, 'utf8').trim());
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}
