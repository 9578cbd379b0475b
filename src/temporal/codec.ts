import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Config } from '../config';
import type { PayloadKeys } from './payload-keys';

/** `encoding` of an encrypted payload, as in Temporal's encryption samples (Go, TypeScript, Python). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata naming the key a payload was encrypted with, so keys can rotate. */
export const KEY_ID_METADATA = 'encryption-key-id';
/**
 * Metadata naming what the payload's AES-GCM associated data binds it to. `namespace`: the Temporal
 * namespace, so a payload copied into another namespace does not decrypt there. Absent: encrypted by
 * the codec before it bound payloads to anything (still decoded, for histories within retention).
 */
export const AAD_METADATA = 'encryption-aad';
const AAD_NAMESPACE = 'namespace';

const CIPHER = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A payload this codec cannot decode: no key id, a key id not configured, data that fails authentication, or plaintext. */
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

export interface PayloadCodecOptions {
  /** The Temporal namespace the payloads belong to: bound to each as AES-GCM associated data. */
  namespace: string;
  /** Migration period only (PAYLOAD_ALLOW_PLAINTEXT): let unencrypted payloads through decode. */
  allowPlaintext?: boolean;
}

/**
 * AES-256-GCM over each whole payload (its metadata and data, serialized as the `Payload` proto), in
 * the layout of Temporal's encryption samples: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`, data `nonce (12 bytes) || ciphertext || tag (16 bytes)`, plus
 * `encryption-aad: namespace` with the namespace as associated data. Encodes with the current key;
 * decodes with whichever configured key the payload names. A payload that is not encrypted is refused
 * on decode (whoever can write to Temporal could otherwise feed the worker plaintext), unless
 * `allowPlaintext` is set for the migration period.
 */
export class PayloadEncryptionCodec implements PayloadCodec {
  private readonly current: { id: string; key: Buffer };
  private readonly aad: Buffer;

  constructor(
    private readonly keys: PayloadKeys,
    private readonly options: PayloadCodecOptions,
  ) {
    if (!options.namespace) throw new Error('The payload codec needs the namespace its payloads belong to.');
    this.aad = utf8(`temporal-namespace:${options.namespace}`);
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
    cipher.setAAD(this.aad);
    const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.current.id), [AAD_METADATA]: utf8(AAD_NAMESPACE) },
      data: sealed,
    };
  }

  private decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) {
      if (this.options.allowPlaintext) return payload;
      throw new PayloadDecryptionError(
        `A payload in namespace "${this.options.namespace}" is not encrypted, and with PAYLOAD_KEYS set every payload must be. ` +
          'If it was written before the keys were configured, set PAYLOAD_ALLOW_PLAINTEXT=true until no such workflow is within retention.',
      );
    }
    const aadKind = text(payload.metadata?.[AAD_METADATA]);
    if (aadKind !== undefined && aadKind !== AAD_NAMESPACE) throw new PayloadDecryptionError(`Payload names an unknown ${AAD_METADATA} "${aadKind}".`);
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
    // Without the metadata: encrypted before payloads were bound to a namespace. Stripping it from a
    // bound payload does not help: its tag then fails, as it does in another namespace.
    if (aadKind === AAD_NAMESPACE) decipher.setAAD(this.aad);
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(
        `Payload encrypted with key id "${keyId}" failed authentication in namespace "${this.options.namespace}": it was altered, ` +
          `it belongs to another namespace, or key "${keyId}" in PAYLOAD_KEYS is not the key it was encrypted with.`,
        keyId,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

export type CodecConfig = Pick<Config, 'PAYLOAD_KEYS' | 'PAYLOAD_ALLOW_PLAINTEXT' | 'TEMPORAL_NAMESPACE'>;

/** The codec for PAYLOAD_KEYS in `namespace` (default: the configured one); undefined when unset (payloads then travel unencrypted). */
export function payloadCodec(config: CodecConfig, namespace = config.TEMPORAL_NAMESPACE): PayloadCodec | undefined {
  return config.PAYLOAD_KEYS ? new PayloadEncryptionCodec(config.PAYLOAD_KEYS, { namespace, allowPlaintext: config.PAYLOAD_ALLOW_PLAINTEXT }) : undefined;
}

/**
 * The failure converter of every client, worker and workflow bundle (`bundleWorkflowCode({
 * failureConverterPath })`): failure messages and stack traces travel as an encoded payload, so the
 * codec encrypts them with the rest (`encodeCommonAttributes`). The history then reads "Encoded failure".
 */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter every Client and Worker must share (`dataConverter` of both), so that what one
 * writes the other reads: memos, inputs, results, summaries and failure messages are encrypted alike.
 * No codec without PAYLOAD_KEYS.
 */
export function temporalDataConverter(config: CodecConfig): DataConverter {
  const codec = payloadCodec(config);
  return { payloadCodecs: codec ? [codec] : [], failureConverterPath: FAILURE_CONVERTER_PATH };
}
