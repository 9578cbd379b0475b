import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { parseRetryAfter, toFailure } from '../../activities/model-server';
import { MODEL_RATE_LIMITED, MODEL_REJECTED, MODEL_UNAVAILABLE } from '../../src/domain/events';

/** An error exactly as the SDK builds it from a model server's HTTP answer. */
function statusError(status: number, headers: Record<string, string> = {}) {
  const body = { error: { message: `status ${status}`, type: 'invalid_request_error', param: null, code: null } };
  return OpenAI.APIError.generate(status, body, undefined, new Headers(headers));
}

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0);

  it('reads Retry-After as seconds', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '2' }), now)).toBe(2_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': '0.5' }), now)).toBe(500);
  });

  it('reads Retry-After as an HTTP date relative to now', () => {
    const at = new Date(now + 30_000).toUTCString();
    expect(parseRetryAfter(new Headers({ 'retry-after': at }), now)).toBe(30_000);
  });

  it('prefers the retry-after-ms extension', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), now)).toBe(1_500);
  });

  it('caps a long wait at ten minutes, after which the workflow backoff takes over', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '86400' }), now)).toBe(600_000);
  });

  it.each([
    ['absent', {}],
    ['garbage', { 'retry-after': 'soon' }],
    ['garbage retry-after-ms', { 'retry-after-ms': 'later' }],
    ['zero', { 'retry-after': '0' }],
    ['negative', { 'retry-after': '-5' }],
    ['a date in the past', { 'retry-after': new Date(now - 60_000).toUTCString() }],
  ])('gives undefined when the header is %s', (_what, headers) => {
    expect(parseRetryAfter(new Headers(headers as Record<string, string>), now)).toBeUndefined();
  });

  it('gives undefined without headers at all', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('toFailure', () => {
  it.each([400, 401, 403, 404, 422])('makes %i a non-retryable MODEL_REJECTED', (status) => {
    const failure = toFailure(statusError(status));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: MODEL_REJECTED, nonRetryable: true });
  });

  it.each([408, 500, 502, 503])('makes %i a retryable MODEL_UNAVAILABLE', (status) => {
    const failure = toFailure(statusError(status));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: MODEL_UNAVAILABLE, nonRetryable: false });
  });

  it('makes 429 a retryable MODEL_RATE_LIMITED that waits as long as Retry-After says', () => {
    expect(toFailure(statusError(429, { 'retry-after': '3' }))).toMatchObject({
      type: MODEL_RATE_LIMITED,
      nonRetryable: false,
      nextRetryDelay: 3_000,
    });
  });

  it('leaves the retry delay of a 429 without Retry-After to the workflow backoff', () => {
    const failure = toFailure(statusError(429)) as ApplicationFailure;
    expect(failure).toMatchObject({ type: MODEL_RATE_LIMITED, nonRetryable: false });
    expect(failure.nextRetryDelay).toBeUndefined();
  });

  it.each([
    ['a connection error', new OpenAI.APIConnectionError({ message: 'Connection error.', cause: new TypeError('fetch failed') })],
    ['a connection timeout', new OpenAI.APIConnectionTimeoutError()],
  ])('makes %s a retryable MODEL_UNAVAILABLE', (_what, err) => {
    expect(toFailure(err)).toMatchObject({ type: MODEL_UNAVAILABLE, nonRetryable: false });
  });

  it('passes an abort and any non-SDK error through unchanged', () => {
    const abort = new OpenAI.APIUserAbortError();
    const plain = new TypeError('boom');
    expect(toFailure(abort)).toBe(abort);
    expect(toFailure(plain)).toBe(plain);
  });
});
