import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { payloadCodec, type CodecConfig } from './codec';

/**
 * Seals an event's payload for keeping in PostgreSQL (replay), with the same codec Temporal's
 * payloads go through: AES-256-GCM under the current PAYLOAD_KEYS key when keys are configured,
 * plain otherwise. The stored bytes are a serialized `Payload`, so the key id travels with them and
 * rotation works as it does for histories. The one place the kept payloads are encrypted: a change
 * of keys (e.g. a SECRET_KEYS variable) changes only `payloadSealer`.
 */
export interface PayloadSealer {
  seal(text: string): Promise<Buffer>;
  open(sealed: Buffer): Promise<string>;
}

const PLAIN_TEXT = Buffer.from('text/plain', 'utf8');

/** The sealer for the configured keys. */
export function payloadSealer(config: CodecConfig): PayloadSealer {
  const codec: PayloadCodec | undefined = payloadCodec(config);
  return {
    async seal(text) {
      const plain: Payload = { metadata: { [METADATA_ENCODING_KEY]: PLAIN_TEXT }, data: Buffer.from(text, 'utf8') };
      const [sealed] = codec ? await codec.encode([plain]) : [plain];
      return Buffer.from(temporal.api.common.v1.Payload.encode(sealed).finish());
    },
    async open(sealed) {
      const payload = temporal.api.common.v1.Payload.decode(sealed) as Payload;
      // Without a codec an encrypted payload stays encrypted: its encoding then is not text/plain.
      const [opened] = codec ? await codec.decode([payload]) : [payload];
      if (Buffer.from(opened.metadata?.[METADATA_ENCODING_KEY] ?? []).toString('utf8') !== 'text/plain') {
        throw new Error('The kept payload is encrypted and PAYLOAD_KEYS does not hold its key.');
      }
      return Buffer.from(opened.data ?? []).toString('utf8');
    },
  };
}
