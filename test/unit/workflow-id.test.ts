import { createHash } from 'node:crypto';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { sha256Hex } from '../../src/shared/hash';

const ACCOUNT = '6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e';
const OTHER_ACCOUNT = '0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d';
const MESSAGE = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';

describe('eventWorkflowId', () => {
  it('uses the message id when there is no Idempotency-Key', () => {
    expect(eventWorkflowId(ACCOUNT, MESSAGE)).toBe(`webhook/${ACCOUNT}/msg/${MESSAGE}`);
  });

  it('keeps a short readable key as it is, whatever the message id', () => {
    expect(eventWorkflowId(ACCOUNT, MESSAGE, 'order-1234-completed')).toBe(`webhook/${ACCOUNT}/key/order-1234-completed`);
    expect(eventWorkflowId(ACCOUNT, 'another', 'order-1234-completed')).toBe(`webhook/${ACCOUNT}/key/order-1234-completed`);
    expect(eventWorkflowId(ACCOUNT, MESSAGE, 'a.b_c:d-E9')).toBe(`webhook/${ACCOUNT}/key/a.b_c:d-E9`);
  });

  it('keeps a 64-character key readable and hashes a 65-character one', () => {
    const k64 = 'k'.repeat(64);
    const k65 = 'k'.repeat(65);
    expect(eventWorkflowId(ACCOUNT, MESSAGE, k64)).toBe(`webhook/${ACCOUNT}/key/${k64}`);
    expect(eventWorkflowId(ACCOUNT, MESSAGE, k65)).toBe(`webhook/${ACCOUNT}/key-sha256/${sha256Hex(k65)}`);
  });

  it.each([
    ['spaces', 'order 1234 completed'],
    ['a slash', 'orders/1234'],
    ['255 characters', 'x'.repeat(255)],
    ['a quote', 'order"1234'],
  ])('hashes a key with %s', (_what, key) => {
    const id = eventWorkflowId(ACCOUNT, MESSAGE, key);
    expect(id).toBe(`webhook/${ACCOUNT}/key-sha256/${sha256Hex(key)}`);
    expect(id.length).toBeLessThan(200);
  });

  it('scopes the id by account, so two accounts may use the same key', () => {
    expect(eventWorkflowId(ACCOUNT, MESSAGE, 'same-key')).not.toBe(eventWorkflowId(OTHER_ACCOUNT, MESSAGE, 'same-key'));
    expect(eventWorkflowId(ACCOUNT, MESSAGE, 'same key')).not.toBe(eventWorkflowId(OTHER_ACCOUNT, MESSAGE, 'same key'));
  });

  it('never lets a readable key collide with a hashed one', () => {
    const odd = 'needs hashing';
    const readableLookalike = sha256Hex(odd);
    expect(eventWorkflowId(ACCOUNT, MESSAGE, readableLookalike)).not.toBe(eventWorkflowId(ACCOUNT, MESSAGE, odd));
  });

  it('is case-sensitive, like the key itself', () => {
    expect(eventWorkflowId(ACCOUNT, MESSAGE, 'Key')).not.toBe(eventWorkflowId(ACCOUNT, MESSAGE, 'key'));
  });
});

describe('sha256Hex', () => {
  it('is the lowercase hex SHA-256 of the UTF-8 text', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('café')).toBe(createHash('sha256').update(Buffer.from('café', 'utf8')).digest('hex'));
  });
});
