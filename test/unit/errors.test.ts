import createHttpError, { HttpError } from 'http-errors';
import { DomainError, dependencyUnavailable, upstream, type Dependency } from '../../src/events/errors';
import { apiError, fromBodyParser, toErrorBody } from '../../src/http/errors';

describe('apiError', () => {
  it('carries status, code, headers and field, and exposes its message for 4xx', () => {
    const err = apiError(429, 'RATE_LIMITED', 'slow down', { headers: { 'Retry-After': '3' }, field: 'x' });
    expect(err).toBeInstanceOf(HttpError);
    expect(toErrorBody(err)).toEqual({ status: 429, code: 'RATE_LIMITED', message: 'slow down', field: 'x', headers: { 'Retry-After': '3' } });
  });

  it('exposes a 502 but hides other 5xx behind INTERNAL', () => {
    expect(toErrorBody(apiError(502, 'UPSTREAM_UNAVAILABLE', 'retry')).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(toErrorBody(apiError(500, 'INTERNAL', 'secret detail'))).toEqual({ status: 500, code: 'INTERNAL', message: expect.not.stringMatching(/secret/) });
  });
});

describe('toErrorBody', () => {
  it.each([
    ['entity.too.large', 413, 'PAYLOAD_TOO_LARGE'],
    ['entity.parse.failed', 400, 'MALFORMED_JSON'],
    ['request.size.invalid', 400, 'INVALID_REQUEST'],
    ['request.aborted', 400, 'INVALID_REQUEST'],
  ])('maps the body-parser error %s to %i %s', (type, status, code) => {
    const err = createHttpError(status === 413 ? 413 : 400, 'parser said something', { type });
    const body = toErrorBody(err);
    expect(body.status).toBe(status);
    expect(body.code).toBe(code);
    expect(body.message).not.toMatch(/parser said/);
  });

  it.each([
    [404, 'NOT_FOUND'],
    [405, 'METHOD_NOT_ALLOWED'],
    [408, 'REQUEST_TIMEOUT'],
    [413, 'PAYLOAD_TOO_LARGE'],
    [415, 'UNSUPPORTED_MEDIA_TYPE'],
    [400, 'INVALID_REQUEST'],
  ])('gives a plain http-errors %i the code %s', (status, code) => {
    expect(toErrorBody(createHttpError(status))).toMatchObject({ status, code });
  });

  it('turns an unknown error into a 500 that hides its message', () => {
    expect(toErrorBody(new Error('password=hunter2'))).toEqual({ status: 500, code: 'INTERNAL', message: expect.not.stringMatching(/hunter2/) });
    expect(toErrorBody('a string')).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(toErrorBody(undefined)).toMatchObject({ status: 500, code: 'INTERNAL' });
  });

  it('hides an http-errors 5xx that is not exposed', () => {
    expect(toErrorBody(createHttpError(503, 'db host 10.0.0.3 down'))).toMatchObject({ status: 500, code: 'INTERNAL' });
  });

  it('does not trust a plain object that merely claims a status', () => {
    expect(toErrorBody({ status: 418, expose: true, message: 'teapot' })).toMatchObject({ status: 500, code: 'INTERNAL' });
  });
});

describe('toErrorBody of a domain outcome', () => {
  it.each<[DomainError, number]>([
    [new DomainError('EMPLOYEE_NOT_FOUND', 'No employee e1 in this account.', { field: 'employee_id' }), 404],
    [new DomainError('INSUFFICIENT_CREDITS', 'Balance 3, 10 needed.'), 402],
    [dependencyUnavailable('database', new Error('x')), 502],
  ])('maps %s to its status, code, message and field', (err, status) => {
    expect(toErrorBody(err)).toEqual({ status, code: err.code, message: err.message, field: err.details.field });
  });
});

describe('upstream', () => {
  it('returns the value of a call that succeeds', async () => {
    await expect(upstream('database', async () => 7)).resolves.toBe(7);
  });

  it('turns a failure into a 502 UPSTREAM_UNAVAILABLE that keeps the cause', async () => {
    const cause = new Error('connect ECONNREFUSED');
    const err = await upstream('temporal', async () => Promise.reject(cause)).catch((e: unknown) => e as DomainError);
    expect(err).toBeInstanceOf(DomainError);
    expect(toErrorBody(err)).toMatchObject({ status: 502, code: 'UPSTREAM_UNAVAILABLE' });
    expect(err.cause).toBe(cause);
    expect(err.message).not.toMatch(/ECONNREFUSED/);
  });

  it('lets a domain outcome from inside the call through unchanged', async () => {
    const inner = new DomainError('EMPLOYEE_NOT_FOUND', 'no such employee', { field: 'employee_id' });
    await expect(upstream('database', async () => Promise.reject(inner))).rejects.toBe(inner);
  });

  it('names which system failed and tells the caller to retry with the same key', () => {
    const messages = (['database', 'cache', 'temporal'] as Dependency[]).map((what) => dependencyUnavailable(what, new Error('x')).message);
    for (const message of messages) expect(message).toMatch(/Idempotency-Key/);
    expect(new Set(messages).size).toBe(3);
  });
});

describe('fromBodyParser', () => {
  it("turns co-body's JSON SyntaxError into 400 MALFORMED_JSON", () => {
    const err = Object.assign(new SyntaxError('Unexpected token'), { status: 400, body: '{bad' });
    expect(toErrorBody(fromBodyParser(err))).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
  });

  it('leaves typed raw-body errors and HTTP errors as they are', () => {
    const tooLarge = createHttpError(413, 'too large', { type: 'entity.too.large' });
    expect(fromBodyParser(tooLarge)).toBe(tooLarge);
    const timeout = apiError(408, 'REQUEST_TIMEOUT', 'slow');
    expect(fromBodyParser(timeout)).toBe(timeout);
  });

  it('leaves an unknown failure of an uncompressed body a 500', () => {
    expect(toErrorBody(fromBodyParser(new Error('boom')))).toMatchObject({ status: 500, code: 'INTERNAL' });
  });
});
