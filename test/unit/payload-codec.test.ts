import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import request from 'supertest';
import { parseConfig } from '../../src/config';
import { CODEC_BODY_LIMIT_BYTES, codecEndpoint } from '../../src/http/routes/codec';
import {
  AAD_METADATA,
  ENCRYPTED_ENCODING,
  FAILURE_CONVERTER_PATH,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  PayloadEncryptionCodec,
  payloadCodec,
  temporalDataConverter,
} from '../../src/temporal/codec';
import type { PayloadKeys } from '../../src/temporal/payload-keys';
import { codecApp } from '../helpers/codec-app';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const keys = (current: string, entries: Record<string, Buffer>): PayloadKeys => ({ currentKeyId: current, keys: new Map(Object.entries(entries)) });
/** The namespace the codecs here bind payloads to, unless a test says otherwise. */
const NS = { namespace: 'default' };
const aadOf = (namespace: string) => Buffer.from(`temporal-namespace:${namespace}`);

type JsonPayload = { metadata: Record<string, string>; data: string };
/** A codec response's payloads, and an error response's error (supertest bodies are untyped). */
const payloadsOf = (res: { body: unknown }) => (res.body as { payloads?: JsonPayload[] }).payloads;
const errorOf = (res: { body: unknown }) => (res.body as { error: { code: string; message: string } }).error;

/** Plain, comparable form of a payload: metadata and data as strings. */
function plain(payload: Payload) {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
    data: b64(payload.data ?? new Uint8Array()),
  };
}

/** The error a promise rejects with, checked to be the codec's own. */
async function decodeError(codec: PayloadEncryptionCodec, payload: Payload): Promise<PayloadDecryptionError> {
  const err = await codec.decode([payload]).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PayloadDecryptionError);
  return err as PayloadDecryptionError;
}

describe('PAYLOAD_KEYS and CODEC_AUTH_TOKEN in the config', () => {
  it('leaves encryption off when PAYLOAD_KEYS is unset or empty: no codec, an empty codec list', () => {
    for (const env of [{}, { PAYLOAD_KEYS: '' }, { PAYLOAD_KEYS: '   ' }]) {
      const config = parseConfig(env);
      expect(config.PAYLOAD_KEYS).toBeUndefined();
      expect(payloadCodec(config)).toBeUndefined();
      expect(temporalDataConverter(config)).toEqual({ payloadCodecs: [], failureConverterPath: FAILURE_CONVERTER_PATH });
    }
  });

  it('parses id:base64key pairs in order; the first is current', () => {
    const config = parseConfig({ PAYLOAD_KEYS: `k2:${b64(K2)}, k1:${b64(K1)}` });
    expect(config.PAYLOAD_KEYS?.currentKeyId).toBe('k2');
    expect([...(config.PAYLOAD_KEYS?.keys.keys() ?? [])]).toEqual(['k2', 'k1']);
    expect(config.PAYLOAD_KEYS?.keys.get('k1')?.equals(K1)).toBe(true);
    expect(config.PAYLOAD_KEYS?.keys.get('k2')?.equals(K2)).toBe(true);
    expect(temporalDataConverter(config).payloadCodecs?.[0]).toBeInstanceOf(PayloadEncryptionCodec);
    // Unpadded base64 is the same key.
    expect(
      parseConfig({ PAYLOAD_KEYS: `k1:${b64(K1).replace(/=+$/, '')}` })
        .PAYLOAD_KEYS?.keys.get('k1')
        ?.equals(K1),
    ).toBe(true);
  });

  it.each([
    ['a 16-byte key', `k1:${b64(randomBytes(16))}`, /PAYLOAD_KEYS: key "k1" is 16 bytes; AES-256 needs 32/],
    ['a 33-byte key', `k1:${b64(randomBytes(33))}`, /key "k1" is 33 bytes/],
    ['a key that is not base64', `k1:${'!'.repeat(44)}`, /key "k1" is not valid base64/],
    ['an entry without a colon', b64(K1), /entry 1 must be id:base64key/],
    ['an empty entry', `k1:${b64(K1)},`, /entry 2 must be id:base64key/],
    ['an id with spaces', `my key:${b64(K1)}`, /entry 1: the key id must be/],
    ['an empty id', `:${b64(K1)}`, /entry 1: the key id must be/],
    ['a repeated id', `k1:${b64(K1)},k1:${b64(K2)}`, /key id "k1" is listed twice/],
  ])('refuses %s, naming the problem but never the key', (_what, value, message) => {
    const err = (() => {
      try {
        parseConfig({ PAYLOAD_KEYS: value });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected parseConfig to throw');
    })();
    expect(err.message).toMatch(message);
    const secret = value.slice(value.indexOf(':') + 1).split(',')[0];
    if (secret.length > 8) expect(err.message).not.toContain(secret);
  });

  it('refuses a CODEC_AUTH_TOKEN shorter than 32 characters and keeps a long one', () => {
    expect(() => parseConfig({ CODEC_AUTH_TOKEN: 'short' })).toThrow(/CODEC_AUTH_TOKEN: must be at least 32 characters/);
    const token = randomBytes(32).toString('base64');
    expect(parseConfig({ CODEC_AUTH_TOKEN: token }).CODEC_AUTH_TOKEN).toBe(token);
    expect(parseConfig({}).CODEC_AUTH_TOKEN).toBeUndefined();
  });
});

describe('PayloadEncryptionCodec', () => {
  const codec = new PayloadEncryptionCodec(keys('k2', { k2: K2, k1: K1 }), NS);
  const secret = `Customer ${randomUUID()} ordered a sofa`;

  it('round-trips every kind of payload the default converter makes, metadata included', async () => {
    const values = [{ payload: secret, nested: { n: 1, list: [true, null] } }, secret, undefined, null, new Uint8Array([0, 1, 2, 255]), 42];
    const originals = values.map((v) => defaultPayloadConverter.toPayload(v));
    const encoded = await codec.encode(originals);
    expect(encoded).toHaveLength(originals.length);
    const decoded = await codec.decode(encoded);
    expect(decoded.map(plain)).toEqual(originals.map(plain));
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual(values.map((v) => (v === undefined ? undefined : v)));
  });

  it('encodes to binary/encrypted under the current key id, with no plaintext and a fresh nonce each time', async () => {
    const original = defaultPayloadConverter.toPayload({ payload: secret });
    const [a, b] = await codec.encode([original, original]);
    expect(Object.fromEntries(Object.entries(a.metadata ?? {}).map(([k, v]) => [k, text(v)]))).toEqual({
      [METADATA_ENCODING_KEY]: ENCRYPTED_ENCODING,
      [KEY_ID_METADATA]: 'k2',
      [AAD_METADATA]: 'namespace',
    });
    const bytes = Buffer.from(a.data!);
    expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(bytes.includes(Buffer.from('json/plain'))).toBe(false);
    expect(bytes.length).toBe(12 + temporal.api.common.v1.Payload.encode(original).finish().length + 16);
    expect(Buffer.from(b.data!).equals(bytes)).toBe(false);
    expect(Buffer.from(a.data!).subarray(0, 12).equals(Buffer.from(b.data!).subarray(0, 12))).toBe(false);
  });

  it("uses the samples' layout: nonce || AES-GCM ciphertext || tag over the serialized Payload proto", async () => {
    const original = defaultPayloadConverter.toPayload({ payload: secret });
    const [encoded] = await codec.encode([original]);
    const data = Buffer.from(encoded.data!);
    const key = await webcrypto.subtle.importKey('raw', K2, 'AES-GCM', false, ['encrypt', 'decrypt']);
    // WebCrypto's AES-GCM output is ciphertext || tag, exactly what follows the nonce.
    // The namespace is the associated data.
    const opened = Buffer.from(
      await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv: data.subarray(0, 12), tagLength: 128, additionalData: aadOf('default') }, key, data.subarray(12)),
    );
    expect(opened.equals(Buffer.from(temporal.api.common.v1.Payload.encode(original).finish()))).toBe(true);

    // And the other way: a payload sealed without associated data and without `encryption-aad`, as
    // this codec did before it bound payloads to their namespace, still decodes (old histories).
    const iv = randomBytes(12);
    const sealed = await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv, tagLength: 128 }, key, temporal.api.common.v1.Payload.encode(original).finish());
    const foreign: Payload = {
      metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from('k2') },
      data: Buffer.concat([iv, Buffer.from(sealed)]),
    };
    const [decoded] = await codec.decode([foreign]);
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual({ payload: secret });
  });

  it('refuses a payload that is not encrypted, naming PAYLOAD_ALLOW_PLAINTEXT', async () => {
    const original = defaultPayloadConverter.toPayload({ payload: secret });
    const err = await decodeError(codec, original);
    expect(err.message).toMatch(/A payload in namespace "default" is not encrypted, and with PAYLOAD_KEYS set every payload must be/);
    expect(err.message).toMatch(/PAYLOAD_ALLOW_PLAINTEXT=true/);
  });

  it('passes unencrypted payloads through decode only with allowPlaintext (the migration period), and still encrypts', async () => {
    const lenient = new PayloadEncryptionCodec(keys('k2', { k2: K2 }), { namespace: 'default', allowPlaintext: true });
    const original = defaultPayloadConverter.toPayload({ payload: secret });
    const [decoded] = await lenient.decode([original]);
    expect(decoded).toBe(original);
    const [encoded] = await lenient.encode([original]);
    expect(text(encoded.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
  });

  it('binds each payload to its namespace: one encrypted for A does not decrypt in B, nor with its binding stripped', async () => {
    const inA = new PayloadEncryptionCodec(keys('k2', { k2: K2 }), { namespace: 'tenant-a' });
    const inB = new PayloadEncryptionCodec(keys('k2', { k2: K2 }), { namespace: 'tenant-b' });
    const [encoded] = await inA.encode([defaultPayloadConverter.toPayload({ payload: secret })]);
    expect(defaultPayloadConverter.fromPayload((await inA.decode([encoded]))[0])).toEqual({ payload: secret });
    expect((await decodeError(inB, encoded)).message).toMatch(/key id "k2" failed authentication in namespace "tenant-b"/);
    // Dropping `encryption-aad` to pass as an old payload: the tag was computed with the namespace, so it fails everywhere.
    const { [AAD_METADATA]: _bound, ...unbound } = encoded.metadata!;
    expect(_bound).toBeDefined();
    expect((await decodeError(inA, { metadata: unbound, data: encoded.data })).message).toMatch(/failed authentication/);
    expect((await decodeError(inB, { metadata: unbound, data: encoded.data })).message).toMatch(/failed authentication/);
    const odd = { metadata: { ...encoded.metadata, [AAD_METADATA]: Buffer.from('workflow-id') }, data: encoded.data };
    expect((await decodeError(inA, odd)).message).toMatch(/unknown encryption-aad "workflow-id"/);
  });

  it('refuses a tampered ciphertext, tag or nonce, and a truncated payload, naming the key id', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload({ payload: secret })]);
    const data = Buffer.from(encoded.data!);
    const flipped = (at: number) => {
      const copy = Buffer.from(data);
      copy[at] ^= 0x01;
      return { metadata: encoded.metadata, data: copy };
    };
    for (const at of [20, data.length - 1, 0]) {
      const err = await decodeError(codec, flipped(at));
      expect(err.message).toMatch(/key id "k2" failed authentication in namespace "default": it was altered/);
      expect(err.keyId).toBe('k2');
    }
    const short = await decodeError(codec, { metadata: encoded.metadata, data: data.subarray(0, 27) });
    expect(short.message).toMatch(/27 bytes: too short/);
    // The untouched payload still decodes: the failures above are the tampering, not the codec.
    expect(defaultPayloadConverter.fromPayload((await codec.decode([encoded]))[0])).toEqual({ payload: secret });
  });

  it('refuses a payload relabelled with another configured key id', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(secret)]);
    const relabelled = { metadata: { ...encoded.metadata, [KEY_ID_METADATA]: Buffer.from('k1') }, data: encoded.data };
    expect((await decodeError(codec, relabelled)).message).toMatch(/key id "k1" failed authentication/);
  });

  it('rotates: payloads under the old key still decode after a new current key, new ones use the new key', async () => {
    const before = new PayloadEncryptionCodec(keys('k1', { k1: K1 }), NS);
    const [old] = await before.encode([defaultPayloadConverter.toPayload({ payload: secret })]);
    expect(text(old.metadata?.[KEY_ID_METADATA])).toBe('k1');

    const after = new PayloadEncryptionCodec(keys('k2', { k2: K2, k1: K1 }), NS);
    expect(defaultPayloadConverter.fromPayload((await after.decode([old]))[0])).toEqual({ payload: secret });
    const [fresh] = await after.encode([defaultPayloadConverter.toPayload('new')]);
    expect(text(fresh.metadata?.[KEY_ID_METADATA])).toBe('k2');
    // The old key alone cannot read what the new one wrote.
    expect((await decodeError(before, fresh)).message).toMatch(/key id "k2", which is not in PAYLOAD_KEYS \(configured: k1\)/);
  });

  it('fails clearly on a key id it does not have, and never prints key material', async () => {
    const [old] = await new PayloadEncryptionCodec(keys('k0', { k0: randomBytes(32) }), NS).encode([defaultPayloadConverter.toPayload(secret)]);
    const err = await decodeError(codec, old);
    expect(err.message).toBe(
      'Payload is encrypted with key id "k0", which is not in PAYLOAD_KEYS (configured: k2, k1). Add that key back to PAYLOAD_KEYS to decode it.',
    );
    expect(err.keyId).toBe('k0');
    for (const k of [K1, K2]) expect(err.message).not.toContain(b64(k));
  });

  it('refuses an encrypted payload without a key id', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(secret)]);
    const err = await decodeError(codec, { metadata: { [METADATA_ENCODING_KEY]: encoded.metadata![METADATA_ENCODING_KEY] }, data: encoded.data });
    expect(err.message).toMatch(/no encryption-key-id metadata/);
  });

  it('refuses to be built with a current key it does not hold or a key of the wrong size', () => {
    expect(() => new PayloadEncryptionCodec(keys('k3', { k1: K1 }), NS)).toThrow(/current payload key "k3" is not among/);
    expect(() => new PayloadEncryptionCodec(keys('k1', { k1: randomBytes(16) }), NS)).toThrow(/"k1" is 16 bytes/);
  });
});

describe('the codec endpoint (POST /codec/decode, /codec/encode)', () => {
  const token = `tok-${randomBytes(24).toString('base64')}`;
  const ui = 'http://ui.example.test:8080';
  const config = parseConfig({ PAYLOAD_KEYS: `k2:${b64(K2)},k1:${b64(K1)}`, CODEC_AUTH_TOKEN: token, TEMPORAL_UI_URL: `${ui}/namespaces/default` });
  const endpoint = codecEndpoint(config)!;
  const http = request(codecApp(endpoint).callback());
  const auth = { Authorization: `Bearer ${token}` };
  const json = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data!) });
  const secret = `reply ${randomUUID()}`;

  it('exists only with both PAYLOAD_KEYS and CODEC_AUTH_TOKEN; otherwise every route and preflight is 404', async () => {
    expect(endpoint.allowedOrigin).toBe(ui);
    expect(codecEndpoint(parseConfig({ CODEC_AUTH_TOKEN: token }))).toBeUndefined();
    expect(codecEndpoint(parseConfig({ PAYLOAD_KEYS: `k1:${b64(K1)}` }))).toBeUndefined();
    const off = request(codecApp(undefined).callback());
    for (const path of ['/codec/decode', '/codec/encode']) {
      const post = await off.post(path).set(auth).send({ payloads: [] });
      expect([post.status, errorOf(post).code]).toEqual([404, 'NOT_FOUND']);
      const preflight = await off.options(path).set({ Origin: ui, 'Access-Control-Request-Method': 'POST' });
      expect(preflight.status).toBe(404);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('encodes and decodes {payloads} in proto JSON form', async () => {
    const original = defaultPayloadConverter.toPayload({ payload: secret });
    const enc = await http
      .post('/codec/encode')
      .set(auth)
      .send({ payloads: [json(original)] });
    expect(enc.status).toBe(200);
    expect(Buffer.from(payloadsOf(enc)![0].metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(payloadsOf(enc)![0].metadata[KEY_ID_METADATA], 'base64').toString()).toBe('k2');
    expect(Buffer.from(payloadsOf(enc)![0].data, 'base64').includes(Buffer.from(secret))).toBe(false);

    const dec = await http
      .post('/codec/decode')
      .set(auth)
      .set('X-Namespace', 'default')
      .send({ payloads: payloadsOf(enc) });
    expect(dec.status).toBe(200);
    expect(dec.body).toEqual({ payloads: [json(original)] });
    // Without X-Namespace, the configured namespace. Unencrypted payloads are refused; an empty list is fine.
    expect(
      (
        await http
          .post('/codec/decode')
          .set(auth)
          .send({ payloads: payloadsOf(enc) })
      ).body,
    ).toEqual({ payloads: [json(original)] });
    const plaintext = await http
      .post('/codec/decode')
      .set(auth)
      .send({ payloads: [json(original)] });
    expect([plaintext.status, errorOf(plaintext).message]).toEqual([400, expect.stringMatching(/is not encrypted/)]);
    expect((await http.post('/codec/decode').set(auth).send({ payloads: [] })).body).toEqual({ payloads: [] });
  });

  it('decodes in the namespace the X-Namespace header names: a payload of another namespace is refused', async () => {
    const original = defaultPayloadConverter.toPayload({ payload: secret });
    const enc = await http
      .post('/codec/encode')
      .set(auth)
      .set('X-Namespace', 'tenant-a')
      .send({ payloads: [json(original)] });
    expect(enc.status).toBe(200);
    const sameNs = await http
      .post('/codec/decode')
      .set(auth)
      .set('X-Namespace', 'tenant-a')
      .send({ payloads: payloadsOf(enc) });
    expect(sameNs.body).toEqual({ payloads: [json(original)] });
    for (const ns of ['tenant-b', 'default']) {
      const other = await http
        .post('/codec/decode')
        .set(auth)
        .set('X-Namespace', ns)
        .send({ payloads: payloadsOf(enc) });
      expect([other.status, errorOf(other).message]).toEqual([400, expect.stringMatching(new RegExp(`failed authentication in namespace "${ns}"`))]);
    }
    const bad = await http
      .post('/codec/decode')
      .set(auth)
      .set('X-Namespace', 'a/b')
      .send({ payloads: payloadsOf(enc) });
    expect([bad.status, errorOf(bad).message]).toEqual([400, expect.stringMatching(/X-Namespace must be a Temporal namespace name/)]);
  });

  it('refuses callers without the token with 401, before reading the body', async () => {
    const cases: Record<string, string>[] = [
      {},
      { Authorization: token },
      { Authorization: `Basic ${token}` },
      { Authorization: `Bearer ${token}x` },
      { Authorization: `Bearer ${token.slice(0, -1)}` },
      { Authorization: 'Bearer ' },
    ];
    for (const headers of cases) {
      for (const path of ['/codec/decode', '/codec/encode']) {
        const res = await http.post(path).set(headers).set('Origin', ui).send({ payloads: [] });
        expect([JSON.stringify(headers), path, res.status]).toEqual([JSON.stringify(headers), path, 401]);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        // The UI can read the refusal: CORS headers are on errors too.
        expect(res.headers['access-control-allow-origin']).toBe(ui);
        expect(payloadsOf(res)).toBeUndefined();
      }
    }
    const garbage = await http.post('/codec/decode').set('Content-Type', 'application/json').send('{not json');
    expect(garbage.status).toBe(401);
  });

  it('answers the UI origin preflight with CORS headers, and gives other origins none', async () => {
    const res = await http
      .options('/codec/decode')
      .set({ Origin: ui, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-namespace' });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ui);
    expect(res.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
    expect(res.headers['access-control-allow-headers'].split(/,\s*/).sort()).toEqual(['authorization', 'content-type', 'x-namespace']);
    expect(res.headers.vary).toMatch(/Origin/);

    const other = await http.options('/codec/decode').set({ Origin: 'http://evil.example.test', 'Access-Control-Request-Method': 'POST' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers['access-control-allow-headers']).toBeUndefined();
    const post = await http.post('/codec/decode').set(auth).set('Origin', 'http://evil.example.test').send({ payloads: [] });
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 400 naming the key id for a payload it cannot decode, and 400/415/413 for bad bodies', async () => {
    const [foreign] = await new PayloadEncryptionCodec(keys('k9', { k9: randomBytes(32) }), NS).encode([defaultPayloadConverter.toPayload(secret)]);
    const unknown = await http
      .post('/codec/decode')
      .set(auth)
      .send({ payloads: [json(foreign)] });
    expect([unknown.status, errorOf(unknown).code]).toEqual([400, 'INVALID_REQUEST']);
    expect(errorOf(unknown).message).toMatch(/key id "k9", which is not in PAYLOAD_KEYS/);

    const shape = await http.post('/codec/decode').set(auth).send({ payload: [] });
    expect([shape.status, errorOf(shape).message]).toEqual([400, expect.stringMatching(/payloads/)]);
    const notBase64 = await http
      .post('/codec/decode')
      .set(auth)
      .send({ payloads: [{ data: 'a b' }] });
    expect([notBase64.status, errorOf(notBase64).message]).toEqual([400, expect.stringMatching(/payloads\.0\.data must be base64/)]);
    const text = await http.post('/codec/decode').set(auth).set('Content-Type', 'text/plain').send('hello');
    expect(text.status).toBe(415);
    const big = await http
      .post('/codec/decode')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ payloads: [{ data: 'A'.repeat(CODEC_BODY_LIMIT_BYTES) }] }));
    expect([big.status, errorOf(big).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('answers 405 for other methods on the codec paths', async () => {
    const res = await http.get('/codec/decode').set(auth);
    expect(res.status).toBe(405);
  });
});
