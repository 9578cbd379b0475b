import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Config } from '../config';
import type { PayloadKeys } from './payload-keys';

/** `encoding` of an encrypted payload, as in Temporal's encryption samples (Go, TypeScript, Python). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata naming the key a payload was encrypted with, so keys can rotate. */
export const KEY_ID_METADATA = 'encryption-key-id';

const CIPHER = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A payload this codec cannot decode: no key id, a key id not configured, or data that fails authentication. */
export class PayloadDecryptionError extends Error {
  constructor(
    message: string,
    /** The key id the payload names, when it names one. */
    readonly keyId?: string,
  ) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

/**
 * AES-256-GCM over each whole payload (its metadata and data, serialized as the `Payload` proto), in
 * the layout of Temporal's encryption samples: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`, data `nonce (12 bytes) || ciphertext || tag (16 bytes)`. Encodes with the
 * current key; decodes with whichever configured key the payload names. Payloads that are not
 * `binary/encrypted` (written before encryption was turned on) pass through decode unchanged.
 */
export class PayloadEncryptionCodec implements PayloadCodec {
  private readonly current: { id: string; key: Buffer };

  constructor(private readonly keys: PayloadKeys) {
    const key = keys.keys.get(keys.currentKeyId);
    if (!key) throw new Error(`The current payload key "${keys.currentKeyId}" is not among the keys given.`);
    for (const [id, k] of keys.keys) if (k.length !== KEY_BYTES) throw new Error(`Payload key "${id}" is ${k.length} bytes; AES-256 needs ${KEY_BYTES}.`);
    this.current = { id: keys.currentKeyId, key };
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  private encrypt(payload: Payload): Payload {
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(CIPHER, this.current.key, nonce, { authTagLength: TAG_BYTES });
    const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.current.id) },
      data: sealed,
    };
  }

  private decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!keyId) throw new PayloadDecryptionError(`An encrypted payload has no ${KEY_ID_METADATA} metadata; it cannot be decrypted.`);
    const key = this.keys.keys.get(keyId);
    if (!key) {
      const known = [...this.keys.keys.keys()].join(', ');
      throw new PayloadDecryptionError(
        `Payload is encrypted with key id "${keyId}", which is not in PAYLOAD_KEYS (configured: ${known}). Add that key back to PAYLOAD_KEYS to decode it.`,
        keyId,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`Payload encrypted with key id "${keyId}" is ${data.length} bytes: too short to be AES-256-GCM output.`, keyId);
    }
    const decipher = createDecipheriv(CIPHER, key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `Payload encrypted with key id "${keyId}" failed authentication: it was altered, or key "${keyId}" in PAYLOAD_KEYS is not the key it was encrypted with.`,
        keyId,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/** The codec for PAYLOAD_KEYS; undefined when it is unset (payloads then travel unencrypted). */
export function payloadCodec(config: Pick<Config, 'PAYLOAD_KEYS'>): PayloadCodec | undefined {
  return config.PAYLOAD_KEYS ? new PayloadEncryptionCodec(config.PAYLOAD_KEYS) : undefined;
}

/**
 * The data converter every Client and Worker must share (`dataConverter` of both), so that what one
 * writes the other reads: memos, inputs, results and summaries are encrypted alike. No codec without
 * PAYLOAD_KEYS.
 */
export function temporalDataConverter(config: Pick<Config, 'PAYLOAD_KEYS'>): DataConverter {
  const codec = payloadCodec(config);
  return { payloadCodecs: codec ? [codec] : [] };
}
