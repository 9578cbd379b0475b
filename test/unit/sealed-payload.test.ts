import { randomBytes } from 'node:crypto';
import { parseConfig } from '../../src/config';
import { payloadSealer } from '../../src/temporal/sealed-payload';

const keys = (...ids: string[]) => ids.map((id) => `${id}:${randomBytes(32).toString('base64')}`).join(',');

describe('payloads kept for replay', () => {
  it('are sealed with the current payload key: the stored bytes hold no plain text, and open again', async () => {
    const config = parseConfig({ PAYLOAD_KEYS: keys('k1') });
    const sealer = payloadSealer(config);
    const sealed = await sealer.seal('card ending 4242');
    expect(sealed.includes(Buffer.from('4242'))).toBe(false);
    expect(sealed.includes(Buffer.from('k1'))).toBe(true);
    expect(await sealer.open(sealed)).toBe('card ending 4242');
  });

  it('open after a rotation (old key kept) and refuse to open without their key', async () => {
    const old = keys('k1');
    const sealed = await payloadSealer(parseConfig({ PAYLOAD_KEYS: old })).seal('rotated');
    expect(await payloadSealer(parseConfig({ PAYLOAD_KEYS: `${keys('k2')},${old}` })).open(sealed)).toBe('rotated');
    await expect(payloadSealer(parseConfig({ PAYLOAD_KEYS: keys('k2') })).open(sealed)).rejects.toThrow(/k1/);
    await expect(payloadSealer(parseConfig({})).open(sealed)).rejects.toThrow(/encrypted/);
  });

  it('are kept plain without keys (the dev default); once keys are configured they open only in the migration period', async () => {
    const sealed = await payloadSealer(parseConfig({})).seal('plain');
    expect(sealed.includes(Buffer.from('plain'))).toBe(true);
    const k1 = keys('k1');
    // With PAYLOAD_KEYS every payload must be encrypted, kept ones as Temporal's (the codec refuses plaintext)…
    await expect(payloadSealer(parseConfig({ PAYLOAD_KEYS: k1 })).open(sealed)).rejects.toThrow(/not encrypted/);
    // …unless PAYLOAD_ALLOW_PLAINTEXT says payloads from before the keys may still be read.
    expect(await payloadSealer(parseConfig({ PAYLOAD_KEYS: k1, PAYLOAD_ALLOW_PLAINTEXT: 'true' })).open(sealed)).toBe('plain');
  });
});

describe('REPLAY_RETENTION', () => {
  it('reads a duration (default 7 days) and refuses anything else', () => {
    expect(parseConfig({}).REPLAY_RETENTION).toBe(7 * 86_400_000);
    expect(parseConfig({ REPLAY_RETENTION: '36h' }).REPLAY_RETENTION).toBe(36 * 3_600_000);
    expect(() => parseConfig({ REPLAY_RETENTION: 'a week' })).toThrow(/REPLAY_RETENTION/);
  });
});
