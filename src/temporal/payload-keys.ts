/** The keys from PAYLOAD_KEYS: `currentKeyId` encrypts, every key in `keys` decrypts. */
export interface PayloadKeys {
  currentKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}
