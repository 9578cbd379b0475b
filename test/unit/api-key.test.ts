import { createHash } from 'node:crypto';
import { generateApiKey, hashApiKey } from '../../src/stores/api-keys';

describe('generateApiKey', () => {
  it('starts every key with sk- followed by 256 random bits in base64url', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^sk-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(3), 'base64url')).toHaveLength(32);
  });

  it('never hands out the same key twice', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateApiKey()));
    expect(keys.size).toBe(1000);
  });
});

describe('hashApiKey', () => {
  it('is the hex SHA-256 of the raw key', () => {
    const key = 'sk-test-key';
    expect(hashApiKey(key)).toBe(createHash('sha256').update(key, 'utf8').digest('hex'));
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('never contains the raw key and is stable for the same key', () => {
    const key = generateApiKey();
    const hash = hashApiKey(key);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(key.slice(3));
    expect(hashApiKey(key)).toBe(hash);
  });

  it('gives different keys different hashes', () => {
    expect(hashApiKey(generateApiKey())).not.toBe(hashApiKey(generateApiKey()));
  });
});
