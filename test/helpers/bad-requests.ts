import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { MAX_BODY_BYTES } from '../../src/http/webhook-request';

/** What the generators aim at: a live account, and things that must not reach it. */
export interface FuzzTarget {
  /** A live key of an account that may send webhooks, and that account's employee. */
  key: string;
  employeeId: string;
  /** A live key of an account whose webhook channel is off (403s). */
  disabledKey: string;
  /** Another account's employee (404s, like an unknown one). */
  foreignEmployeeId: string;
}

/** A request that is valid HTTP/1.1, whatever it says: Node's client can send it. */
export interface HttpSpec {
  /** The body generator that produced it, to read a counterexample at a glance. */
  shape: string;
  method: string;
  path: string;
  headers: [string, string][];
  body: Buffer;
  chunked: boolean;
}

/** A request as raw bytes, including bytes no HTTP client would send. */
export interface RawSpec {
  mutation: string;
  /** Method and target as the server will read them (a mutated request line may have changed them). */
  method: string;
  path: string;
  bytes: Buffer;
}

const LATIN1_VALUE_CHARS = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09));
/** Header values Node's client accepts: tab, visible ASCII, space, and any byte from 0x80 (as Latin-1). */
const latin1Value = (maxLength: number) => fc.array(LATIN1_VALUE_CHARS, { maxLength }).map((codes) => String.fromCharCode(...codes));
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}$/;
/** Framing and connection headers are the transport's business; the raw generator lies about them instead. */
const RESERVED = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'upgrade', 'keep-alive', 'te', 'trailer']);
const headerName = fc.stringMatching(TOKEN).filter((n) => !RESERVED.has(n.toLowerCase()));

const text = fc.string({ maxLength: 200, unit: 'grapheme' });
const eventLabel = fc.stringMatching(/^[A-Za-z0-9._:/-]{1,40}$/);

function validRequest(employeeId: string) {
  return fc
    .record({ payload: text.filter((p) => p.trim().length > 0), event: fc.option(eventLabel, { nil: undefined }) })
    .map(({ payload, event }) => JSON.stringify({ employee_id: employeeId, payload, ...(event ? { event } : {}) }));
}

/** A JSON value of the wrong kind for a field, or a right-looking one that is subtly wrong. */
const wrongValue = (employeeId: string) =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      'null',
      employeeId.toUpperCase(),
      `${employeeId} `,
      employeeId.slice(1),
      `{${employeeId}}`,
      '00000000-0000-0000-0000-000000000000',
    ),
    fc.constantFrom(0, -1, 1e308, true, false, null, [], {}, [employeeId], { id: employeeId }),
    fc.string({ minLength: 129, maxLength: 300, unit: 'binary-ascii' }),
  );

interface Body {
  shape: string;
  bytes: Buffer;
  /** The Content-Encoding the body really has, when it is compressed. */
  encoding?: string;
}

/** Pads a request to exactly `size` bytes with `unit` repeated in the payload (multi-byte units may overshoot by a few bytes). */
function padded(employeeId: string, size: number, unit: string): Buffer {
  const base = Buffer.byteLength(JSON.stringify({ employee_id: employeeId, payload: '' }));
  const unitBytes = Buffer.byteLength(JSON.stringify(unit)) - 2;
  const repeat = Math.max(1, Math.floor((size - base) / unitBytes));
  const bytes = Buffer.from(JSON.stringify({ employee_id: employeeId, payload: unit.repeat(repeat) }));
  const missing = size - bytes.length;
  // Top up with spaces after the object (insignificant in JSON) to hit the size exactly.
  return missing > 0 ? Buffer.concat([bytes, Buffer.alloc(missing, 0x20)]) : bytes;
}

const INVALID_UTF8 = [[0xff], [0xfe], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]].map(
  (b) => Buffer.from(b),
);

function insertAt(bytes: Buffer, at: number, insert: Buffer): Buffer {
  const i = Math.min(at, bytes.length);
  return Buffer.concat([bytes.subarray(0, i), insert, bytes.subarray(i)]);
}

/** Gzip, deflate or brotli bodies: small ones whole or cut anywhere, and bombs (all refused with 415). */
function compressed(t: FuzzTarget): fc.Arbitrary<Body> {
  const encodings = fc.constantFrom('gzip', 'deflate', 'br');
  const compress = (encoding: string, text: string) =>
    (encoding === 'gzip' ? gzipSync : encoding === 'deflate' ? deflateSync : brotliCompressSync)(Buffer.from(text));
  const small = fc
    .record({ source: validRequest(t.employeeId), encoding: encodings, cut: fc.option(fc.nat(), { nil: undefined }) })
    .map(({ source, encoding, cut }) => {
      const bytes = compress(encoding, source);
      return { shape: `compressed-${encoding}`, encoding, bytes: cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length) };
    });
  const bomb = encodings.map((encoding) => ({
    shape: `compressed-bomb-${encoding}`,
    encoding,
    bytes: compress(encoding, JSON.stringify({ employee_id: t.employeeId, payload: 'z'.repeat(4 * MAX_BODY_BYTES) })),
  }));
  return fc.oneof(small, bomb);
}

/** Bodies a client should never send, and a few it may (so some requests get all the way through). */
export function bodies(t: FuzzTarget): fc.Arbitrary<Body> {
  const valid = validRequest(t.employeeId);
  const jsonLike = fc.oneof(
    valid,
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  );
  return fc.oneof(
    { weight: 1, arbitrary: valid.map((s) => ({ shape: 'valid', bytes: Buffer.from(s) })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(t.foreignEmployeeId, '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f'),
          text.filter((p) => p.trim().length > 0),
        )
        .map(([id, payload]) => ({ shape: 'other-employee', bytes: Buffer.from(JSON.stringify({ employee_id: id, payload })) })),
    },
    {
      weight: 4,
      arbitrary: fc
        .record(
          {
            employee_id: fc.oneof(fc.constant(t.employeeId), wrongValue(t.employeeId)),
            payload: fc.oneof(text, wrongValue(t.employeeId)),
            event: fc.oneof(eventLabel, wrongValue(t.employeeId)),
            extra: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
          },
          { requiredKeys: [] },
        )
        .map(({ extra, ...fields }) => ({ shape: 'wrong-types', bytes: Buffer.from(JSON.stringify({ ...extra, ...fields })) })),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => ({ shape: 'random-json', bytes: Buffer.from(JSON.stringify(v) ?? 'null') })) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((b) => ({ shape: 'random-bytes', bytes: Buffer.from(b) })) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(jsonLike, fc.nat())
        .map(([s, cut]) => ({ shape: 'truncated-json', bytes: Buffer.from(s).subarray(0, cut % Math.max(1, Buffer.byteLength(s))) })),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({
          depth: fc.integer({ min: 1, max: 30_000 }),
          open: fc.constantFrom('{"a":', '[', '{"employee_id":', '[{"x":'),
          closed: fc.boolean(),
          wrapped: fc.boolean(),
        })
        .map(({ depth, open, closed, wrapped }) => {
          const close = open.startsWith('{') ? '}' : open === '[' ? ']' : '}]';
          const nest = `${open.repeat(depth)}1${closed ? close.repeat(depth) : ''}`;
          const doc = wrapped ? `{"employee_id":"${t.employeeId}","payload":"deep","extra":${nest}}` : nest;
          return { shape: 'deep-nesting', bytes: Buffer.from(doc).subarray(0, MAX_BODY_BYTES + 16) };
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.nat(), fc.constantFrom(...INVALID_UTF8))
        .map(([s, at, bad]) => ({ shape: 'invalid-utf8', bytes: insertAt(Buffer.from(s), at % (Buffer.byteLength(s) + 1), bad) })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }))
        .map(([s, ats]) => ({ shape: 'nul-bytes', bytes: ats.reduce<Buffer>((b, at) => insertAt(b, at % (b.length + 1), Buffer.from([0])), Buffer.from(s)) })),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({
          size: fc.constantFrom(MAX_BODY_BYTES - 1, MAX_BODY_BYTES, MAX_BODY_BYTES + 1, MAX_BODY_BYTES + 2, MAX_BODY_BYTES + 1024, 2 * MAX_BODY_BYTES),
          unit: fc.constantFrom('x', 'é', '€', '😀', '\n', '\u0000'),
          garbage: fc.boolean(),
        })
        .map(({ size, unit, garbage }) => ({
          shape: `around-limit-${size}`,
          bytes: garbage ? Buffer.alloc(size, '{') : padded(t.employeeId, size, unit),
        })),
    },
    { weight: 2, arbitrary: compressed(t) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\r\n', '\ufeff{}', 'null', '{}', '[]', '"x"').map((s) => ({ shape: 'tiny', bytes: Buffer.from(s) })) },
  );
}

const authorization = (t: FuzzTarget): fc.Arbitrary<[string, string][]> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant([['Authorization', `Bearer ${t.key}`]] as [string, string][]) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          `bearer ${t.key}`,
          `Bearer    ${t.key}  `,
          `Bearer ${t.disabledKey}`,
          `Bearer ${t.key}x`,
          `Bearer ${t.key.slice(0, -1)}`,
          `Basic ${t.key}`,
          t.key,
          'Bearer',
          'Bearer ',
        )
        .map((v) => [['Authorization', v]] as [string, string][]),
    },
    { weight: 1, arbitrary: latin1Value(80).map((v) => [['Authorization', `Bearer ${v}`]] as [string, string][]) },
    { weight: 1, arbitrary: fc.constant([] as [string, string][]) },
    {
      weight: 1,
      arbitrary: fc.constant([
        ['Authorization', `Bearer ${t.key}`],
        ['Authorization', 'Bearer sk-other'],
      ] as [string, string][]),
    },
  );

const contentType: fc.Arbitrary<[string, string][]> = fc.oneof(
  { weight: 12, arbitrary: fc.constant([['Content-Type', 'application/json']] as [string, string][]) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        'application/json; charset=utf-8',
        'application/json;charset=UTF-8',
        'application/json; charset=latin1',
        'application/json; charset=klingon',
        'application/json; charset="',
        'application/vnd.api+json',
        'APPLICATION/JSON',
        'text/plain',
        'text/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=xyz',
        'application/octet-stream',
        ';;;',
        '',
        '*/*',
      )
      .map((v) => [['Content-Type', v]] as [string, string][]),
  },
  { weight: 1, arbitrary: latin1Value(60).map((v) => [['Content-Type', v]] as [string, string][]) },
  { weight: 1, arbitrary: fc.constant([] as [string, string][]) },
  {
    weight: 1,
    arbitrary: fc.constant([
      ['Content-Type', 'text/plain'],
      ['Content-Type', 'application/json'],
    ] as [string, string][]),
  },
);

/** Present one time in `oneIn`: most requests should get past the headers to the body checks. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

const optionalHeaders: fc.Arbitrary<[string, string][]> = fc
  .record({
    idempotency: sometimes(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 255, unit: 'binary-ascii' }).filter((k) => /^[\x20-\x7e]+$/.test(k)),
        latin1Value(300),
      ),
      4,
    ),
    requestId: sometimes(latin1Value(140), 4),
    expect: sometimes(fc.constantFrom('100-continue', 'something-else', ''), 10),
    encoding: sometimes(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'compress', 'x-klingon', ''), 10),
    extra: fc.array(fc.tuple(headerName, latin1Value(100)), { maxLength: 6 }),
    huge: sometimes(
      fc.tuple(headerName, fc.integer({ min: 8 * 1024, max: 24 * 1024 })).map(([n, size]) => [n, 'h'.repeat(size)] as [string, string]),
      25,
    ),
  })
  .map(({ idempotency, requestId, expect, encoding, extra, huge }) => {
    const h: [string, string][] = [];
    if (idempotency !== undefined) h.push(['Idempotency-Key', idempotency]);
    if (requestId !== undefined) h.push(['X-Request-Id', requestId]);
    if (expect !== undefined) h.push(['Expect', expect]);
    if (encoding !== undefined) h.push(['Content-Encoding', encoding]);
    if (huge) h.push(huge);
    return [...h, ...extra];
  });

const percentBytes = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Array.from(b, (x) => `%${x.toString(16).padStart(2, '0')}`).join(''));

/** Request targets, mostly the webhook route; Node's client sends any byte from 0x21 to 0xff in a path. */
export const paths: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.constant('/api/webhook/') },
  { weight: 4, arbitrary: fc.constant('/api/webhook') },
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.uuid().map((id) => `/api/webhook/${id}`),
      percentBytes.map((p) => `/api/webhook/${p}`),
      fc.constantFrom(
        '/api/webhook/%ZZ',
        '/api/webhook/%E0%A4%A',
        '/api/webhook/..%2F..%2Fetc%2Fpasswd',
        '//api//webhook',
        '/api/webhook/?',
        '/api/webhook/#x',
        '/API/WEBHOOK/',
        '/api/webhook/./',
      ),
      fc.webSegment().map((s) => `/api/webhook/${s}`),
      latin1Value(30).map(
        (v) =>
          `/api/webhook/${Buffer.from(v, 'latin1')
            .toString('latin1')
            .replace(/[\p{Cc} ]/gu, '_')}`,
      ),
      fc.webQueryParameters().map((q) => `/api/webhook/?${q}`),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constant('/api/billing/usage'),
      fc.webQueryParameters().map((q) => `/api/billing/usage?${q}`),
      fc
        .record(
          { from: latin1Value(30), to: fc.constantFrom('2030-01-01', 'yesterday', ''), group_by: fc.constantFrom('employee', 'day', 'account', 'x') },
          { requiredKeys: [] },
        )
        .map((q) => `/api/billing/usage?${new URLSearchParams(q as Record<string, string>).toString()}`),
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom('/healthz', '/metrics', '/', '/api', '/api/webhook/x/y', '/.env', '*') },
  { weight: 1, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
  { weight: 1, arbitrary: fc.integer({ min: 2_000, max: 20_000 }).map((n) => `/api/webhook/${'a'.repeat(n)}`) },
);

export const methods: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.constant('POST') },
  { weight: 4, arbitrary: fc.constant('GET') },
  { weight: 3, arbitrary: fc.constantFrom('PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'FOO', 'post') },
);

/** Well-formed HTTP carrying hostile headers and bodies. */
export function httpRequests(t: FuzzTarget): fc.Arbitrary<HttpSpec> {
  return fc
    .record({
      method: methods,
      path: paths,
      auth: authorization(t),
      type: contentType,
      optional: optionalHeaders,
      body: bodies(t),
      chunked: fc.boolean(),
    })
    .map(({ method, path, auth, type, optional, body, chunked }) => {
      const headers = [...auth, ...type, ...optional];
      if (body.encoding && !headers.some(([n]) => n === 'Content-Encoding')) headers.push(['Content-Encoding', body.encoding]);
      return printable({ shape: body.shape, method, path, headers, body: body.bytes, chunked }, describeHttp);
    });
}

/** The request as it goes on the wire: request line, headers, then the body framed by length or in chunks. */
export function render(spec: HttpSpec): { head: string[]; body: Buffer } {
  const head = [`${spec.method} ${spec.path} HTTP/1.1`, 'Host: 127.0.0.1', ...spec.headers.map(([n, v]) => `${n}: ${v}`)];
  if (spec.chunked) {
    head.push('Transfer-Encoding: chunked');
    const body = spec.body.length
      ? Buffer.concat([Buffer.from(`${spec.body.length.toString(16)}\r\n`), spec.body, Buffer.from('\r\n0\r\n\r\n')])
      : Buffer.from('0\r\n\r\n');
    return { head, body };
  }
  head.push(`Content-Length: ${spec.body.length}`);
  return { head, body: spec.body };
}

const join = (head: string[], body: Buffer) => Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
const anyByte = fc.oneof(fc.constantFrom(0x00, 0x0a, 0x0d, 0x7f, 0x09, 0x20, 0x3a), fc.integer({ min: 0x80, max: 0xff }), fc.integer({ min: 0, max: 0x1f }));

type Mutation = (head: string[], body: Buffer) => Buffer;

/** Ways to break the framing or grammar of a request; each returns the bytes to send. */
const mutations: fc.Arbitrary<[string, Mutation]> = fc.oneof(
  fc
    .constantFrom(
      'G@T / HTTP/1.1',
      'POST /api/webhook/ HTTP/1.2',
      'POST /api/webhook/ HTTP/2.0',
      'POST /api/webhook/ HTTP/0.9',
      'POST /api/webhook/',
      'POST  /api/webhook/  HTTP/1.1',
      'POST\t/api/webhook/\tHTTP/1.1',
      'POST /api/ webhook/ HTTP/1.1',
      'POST http://evil.example/api/webhook/ HTTP/1.1',
      'CONNECT evil.example:443 HTTP/1.1',
      'PRI * HTTP/2.0',
      '',
      ' POST /api/webhook/ HTTP/1.1',
      'POST /api/webhook/\u0000 HTTP/1.1',
      'POST /api/webhook/\u00ff HTTP/1.1',
    )
    .map((line): [string, Mutation] => [`request-line:${JSON.stringify(line)}`, (head, body) => join([line, ...head.slice(1)], body)]),
  fc
    .uint8Array({ maxLength: 64 })
    .map((junk): [string, Mutation] => ['request-line:random', (head, body) => join([Buffer.from(junk).toString('latin1'), ...head.slice(1)], body)]),
  fc.tuple(fc.nat(), fc.nat(), anyByte).map(([line, at, byte]): [string, Mutation] => [
    `header-byte:${byte}`,
    (head, body) => {
      const i = 1 + (line % (head.length - 1));
      const h = [...head];
      const pos = at % (h[i].length + 1);
      h[i] = h[i].slice(0, pos) + String.fromCharCode(byte) + h[i].slice(pos);
      return join(h, body);
    },
  ]),
  fc
    .constantFrom<[string, (h: string[]) => string[]]>(
      ['no-colon', (h) => [...h.slice(0, 2), 'X-Broken header', ...h.slice(2)]],
      ['obs-fold', (h) => [...h.slice(0, 2), ' folded', ...h.slice(2)]],
      ['space-before-colon', (h) => [...h.slice(0, 2), 'Authorization : Bearer x', ...h.slice(2)]],
      ['empty-name', (h) => [...h.slice(0, 2), ': value', ...h.slice(2)]],
      ['duplicate-content-length', (h) => [...h, 'Content-Length: 1']],
      ['content-length-and-chunked', (h) => [...h, 'Transfer-Encoding: chunked']],
      ['bad-content-length', (h) => [...h.filter((l) => !/^content-length:/i.test(l)), 'Content-Length: 1x']],
      ['negative-content-length', (h) => [...h.filter((l) => !/^content-length:/i.test(l)), 'Content-Length: -1']],
      ['huge-content-length', (h) => [...h.filter((l) => !/^content-length:/i.test(l)), 'Content-Length: 99999999999999999999999']],
      ['weird-transfer-encoding', (h) => [...h.filter((l) => !/^content-length:/i.test(l)), 'Transfer-Encoding: gzip, chunked, identity']],
      ['too-many-headers', (h) => [...h, ...Array.from({ length: 3_000 }, (_, i) => `X-${i}: y`)]],
      ['huge-header', (h) => [...h, `X-Huge: ${'h'.repeat(17 * 1024)}`]],
      ['no-host', (h) => h.filter((l) => !/^host:/i.test(l))],
      ['two-hosts', (h) => [...h, 'Host: evil.example']],
    )
    .map(([name, edit]): [string, Mutation] => [name, (head, body) => join(edit(head), body)]),
  fc.constant<[string, Mutation]>(['bare-lf', (head, body) => Buffer.concat([Buffer.from(`${head.join('\n')}\n\n`, 'latin1'), body])]),
  fc
    .uint8Array({ minLength: 1, maxLength: 200 })
    .map((junk): [string, Mutation] => ['bytes-after-body', (head, body) => Buffer.concat([join(head, body), Buffer.from(junk)])]),
  fc.constant<[string, Mutation]>(['pipelined-pair', (head, body) => Buffer.concat([join(head, body), join(head, body)])]),
  fc
    .nat()
    .map((n): [string, Mutation] => [
      'short-content-length',
      (head, body) => join([...head.filter((l) => !/^content-length:/i.test(l)), `Content-Length: ${body.length ? n % body.length : 0}`], body),
    ]),
  fc
    .constantFrom(
      'zz\r\n{}\r\n0\r\n\r\n',
      '2\r\n{}0\r\n\r\n',
      'fffffffffffffffffff\r\n{}\r\n0\r\n\r\n',
      `2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
      '-2\r\n{}\r\n0\r\n\r\n',
      '2\r\n{}\r\n0\r\nX-Trailer: \u0000\r\n\r\n',
    )
    .map((chunks): [string, Mutation] => [
      `bad-chunks:${JSON.stringify(chunks.slice(0, 20))}`,
      (head) => join([...head.filter((l) => !/^content-length:/i.test(l)), 'Transfer-Encoding: chunked'], Buffer.from(chunks, 'latin1')),
    ]),
);

/** Requests that are not valid HTTP/1.1, or that lie about their own framing. */
export function rawRequests(t: FuzzTarget): fc.Arbitrary<RawSpec> {
  // HEAD is left out: its answer has a Content-Length and no body, which only the request can tell.
  return fc
    .tuple(
      httpRequests(t).filter((s) => s.method.toUpperCase() !== 'HEAD'),
      mutations,
    )
    .map(([spec, [mutation, mutate]]) => {
      const { head, body } = render(spec);
      const bytes = mutate(head, body);
      const [, method = '?', path = '?'] = /^([A-Z]+) (\S+)/.exec(bytes.toString('latin1', 0, 200)) ?? [];
      return printable({ mutation, method, path, bytes }, describeRaw);
    });
}

/** Counterexamples print as one readable line instead of a Buffer's every byte. */
function printable<T extends object>(value: T, describe: (value: T) => string): T {
  return Object.defineProperty(value, fc.toStringMethod, { value: () => describe(value), enumerable: false });
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(${text.length} chars)`;
}

/** One line: shape, request line, headers (long values clipped) and the start of the body. */
export function describeHttp(spec: HttpSpec): string {
  const headers = spec.headers.map(([n, v]) => `${n}: ${clip(v, 80)}`).join(' | ');
  return `${spec.shape}: ${spec.method} ${clip(spec.path, 120)} [${headers}] ${spec.chunked ? 'chunked ' : ''}${spec.body.length} bytes ${JSON.stringify(clip(spec.body.toString('latin1'), 200))}`;
}

export function describeRaw(raw: RawSpec): string {
  return `${raw.mutation}: ${JSON.stringify(clip(raw.bytes.toString('latin1'), 600))}`;
}
