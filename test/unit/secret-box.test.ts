import { randomBytes } from 'node:crypto';
import { isSealed, SecretBox } from '../../src/secrets/secret-box';
import type { PayloadKeys } from '../../src/temporal/payload-keys';

const ring = (current: string, entries: Record<string, Buffer>): PayloadKeys => ({ currentKeyId: current, keys: new Map(Object.entries(entries)) });
const K1 = randomBytes(32);
const K2 = randomBytes(32);
const secret = `whsec_${randomBytes(32).toString('base64')}`;

describe('SecretBox', () => {
  it('seals to `sealed:v1:<key id>:…` without the secret in it, and opens on the same row', () => {
    const box = new SecretBox(ring('k1', { k1: K1 }));
    const sealed = box.seal(secret, 'row-1');
    expect(sealed).toMatch(/^sealed:v1:k1:[A-Za-z0-9+/]+=*$/);
    expect(isSealed(sealed)).toBe(true);
    expect(isSealed(secret)).toBe(false);
    expect(sealed).not.toContain(secret.slice('whsec_'.length, 20));
    expect(box.open(sealed, 'row-1')).toBe(secret);
    expect(box.seal(secret, 'row-1')).not.toBe(sealed);
  });

  it('refuses another row, an altered or truncated value, and names a key id it does not hold', () => {
    const box = new SecretBox(ring('k1', { k1: K1 }));
    const sealed = box.seal(secret, 'row-1');
    expect(() => box.open(sealed, 'row-2')).toThrow(/failed authentication/);
    const body = sealed.slice('sealed:v1:k1:'.length);
    const flipped = Buffer.from(body, 'base64');
    flipped[15] ^= 1;
    expect(() => box.open(`sealed:v1:k1:${flipped.toString('base64')}`, 'row-1')).toThrow(/failed authentication/);
    expect(() => box.open(`sealed:v1:k1:${Buffer.from(body, 'base64').subarray(0, 20).toString('base64')}`, 'row-1')).toThrow(/failed authentication/);
    expect(() => box.open(sealed.replace(':k1:', ':k9:'), 'row-1')).toThrow(/key id "k9", which is not in SECRET_KEYS \(configured: k1\)/);
  });

  it('rotates: a new current key still opens what the old one sealed, and says what is current', () => {
    const old = new SecretBox(ring('k1', { k1: K1 }));
    const rotated = new SecretBox(ring('k2', { k2: K2, k1: K1 }));
    const sealedOld = old.seal(secret, 'row-1');
    expect(rotated.open(sealedOld, 'row-1')).toBe(secret);
    expect(rotated.isCurrent(sealedOld)).toBe(false);
    expect(rotated.isCurrent(rotated.seal(secret, 'row-1'))).toBe(true);
  });
});
