import { createHmac } from 'node:crypto';
import { HMAC_PRESETS, parseHmacSettings, SourceSettingsError } from '../../src/sources/kinds';
import { checkTemplate, renderText, parseBody, MAX_TEXT_BYTES } from '../../src/sources/render';
import { verifyDelivery } from '../../src/sources/verify';

const hmac = (key: string | Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();
const now = Date.now();
const ts = Math.floor(now / 1000);

describe('the signature checks, on the raw bytes', () => {
  it('reads the svix-* header names of a Standard Webhooks sender', () => {
    const secret = `whsec_${Buffer.from('a secret of thirty-two bytes!!!!').toString('base64')}`;
    const body = Buffer.from('{"type":"user.created"}');
    const sig = hmac(Buffer.from(secret.slice(6), 'base64'), `msg_1.${ts}.${body.toString()}`).toString('base64');
    const headers = { 'svix-id': 'msg_1', 'svix-timestamp': String(ts), 'svix-signature': `v1,${sig}` };
    expect(verifyDelivery({ kind: 'standard-webhooks', secrets: [secret], settings: undefined, headers, body, now })).toEqual({
      ok: true,
      deliveryId: 'msg_1',
    });
  });

  it('refuses a Standard Webhooks body that is not UTF-8 (the package signs decoded text)', () => {
    const secret = `whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`;
    const body = Buffer.from([0x7b, 0xff, 0x7d]);
    const sig = hmac(Buffer.from(secret.slice(6), 'base64'), Buffer.concat([Buffer.from(`m.${ts}.`), body])).toString('base64');
    const verdict = verifyDelivery({
      kind: 'standard-webhooks',
      secrets: [secret],
      settings: undefined,
      headers: { 'webhook-id': 'm', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${sig}` },
      body,
      now,
    });
    expect(verdict).toEqual({ ok: false, checked: expect.stringContaining('not UTF-8') });
  });

  it('checks the linear preset: hex over the body, webhookTimestamp in milliseconds within a minute', () => {
    const settings = parseHmacSettings({ preset: 'linear' });
    const check = (stampMs: number) => {
      const body = Buffer.from(JSON.stringify({ type: 'Issue', action: 'create', webhookTimestamp: stampMs }));
      const headers = { 'linear-signature': hmac('lin_secret', body).toString('hex'), 'linear-delivery': 'd-1' };
      return verifyDelivery({ kind: 'hmac', secrets: ['lin_secret'], settings, headers, body, now });
    };
    expect(check(now - 30_000)).toEqual({ ok: true, deliveryId: 'd-1', label: undefined });
    expect(check(now - 90_000)).toEqual({ ok: false, checked: 'the timestamp is not within 60 s of now' });
  });

  it('checks a generic verifier with a prefix, base64 and `ts.body`, naming what it checked and never the expected value', () => {
    const settings = parseHmacSettings({ header: 'X-Sig', prefix: 'v1=', encoding: 'base64', signed: 'ts.body', timestampHeader: 'X-Ts', idHeader: 'X-Id' });
    const body = Buffer.from('hello');
    const good = hmac('s3cr3t-key', `${ts}.hello`).toString('base64');
    const headers = { 'x-sig': `v1=${good}`, 'x-ts': String(ts), 'x-id': 'abc' };
    expect(verifyDelivery({ kind: 'hmac', secrets: ['other-key', 's3cr3t-key'], settings, headers, body, now })).toMatchObject({ ok: true, deliveryId: 'abc' });
    const wrong = verifyDelivery({ kind: 'hmac', secrets: ['other-key'], settings, headers, body, now });
    expect(wrong).toEqual({ ok: false, checked: 'x-sig does not match the base64 HMAC-SHA256 of ts.body with the source secret' });
  });

  it('refuses unknown presets and settings that cannot be checked', () => {
    expect(() => parseHmacSettings({ preset: 'nope' })).toThrow(SourceSettingsError);
    expect(() => parseHmacSettings({ header: 'x', signed: 'ts+body' })).toThrow(/needs --timestamp-header/);
    expect(() => parseHmacSettings({ header: 'bad header' })).toThrow(/header name/);
    expect(Object.keys(HMAC_PRESETS).sort()).toEqual(['linear', 'shopify', 'zendesk']);
  });
});

describe('what the employee reads', () => {
  it('renders a template over the JSON body with missing fields empty, and refuses malformed templates', () => {
    const body = '{"issue":{"number":7,"labels":["bug"]}}';
    expect(renderText(body, parseBody(body), '#{{issue.number}} {{issue.labels}} {{nope.x}}!')).toBe('#7 ["bug"] !');
    expect(renderText('not json', parseBody('not json'), '#{{issue.number}}')).toBe('#');
    expect(() => checkTemplate('{{issue.number')).toThrow(/unclosed/);
    expect(() => checkTemplate('{{ 1 + 1 }}')).toThrow(/dotted field path/);
  });

  it('cuts a long rendering to 64 KB with a note, on a character boundary', () => {
    const text = renderText('é'.repeat(40_000), undefined, undefined);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(text.endsWith('[… cut: the body was longer than 64 KB]')).toBe(true);
    expect(text).not.toContain('\uFFFD');
  });
});
