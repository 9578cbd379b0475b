import { HttpError } from 'http-errors';
import { MAX_EVENT_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, parseIdempotencyKey, parseWebhookRequest } from '../../src/http/webhook-request';

const EMPLOYEE = '3f2c1f7e-8d7a-4c1e-9a55-2b1a0c7d9e10';

/** The HttpError a call throws, so tests can check status, code and field. */
function thrown(call: () => unknown): HttpError & { code: string; field?: string } {
  try {
    call();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError & { code: string; field?: string };
  }
  throw new Error('expected the call to throw');
}

describe('parseWebhookRequest', () => {
  it('accepts the documented body and returns its fields', () => {
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, event: 'order.completed', payload: 'Order #1234 placed.' })).toEqual({
      employee_id: EMPLOYEE,
      event: 'order.completed',
      payload: 'Order #1234 placed.',
    });
  });

  it('treats event as optional, and null as absent', () => {
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, payload: 'x' }).event).toBeUndefined();
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, payload: 'x', event: null }).event).toBeUndefined();
  });

  it('ignores unknown fields so clients can send extra context', () => {
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, payload: 'x', extra: { a: 1 } })).toEqual({ employee_id: EMPLOYEE, payload: 'x' });
  });

  it('normalises employee_id to lowercase without surrounding whitespace', () => {
    expect(parseWebhookRequest({ employee_id: `  ${EMPLOYEE.toUpperCase()} `, payload: 'x' }).employee_id).toBe(EMPLOYEE);
  });

  it('keeps the payload exactly as sent, whitespace included', () => {
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, payload: '  two\nlines ' }).payload).toBe('  two\nlines ');
  });

  it('accepts an event of exactly the maximum length and the documented characters', () => {
    const event = 'a'.repeat(MAX_EVENT_LENGTH);
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, payload: 'x', event }).event).toBe(event);
    expect(parseWebhookRequest({ employee_id: EMPLOYEE, payload: 'x', event: 'shop/order.completed:v2_b-1' }).event).toBe('shop/order.completed:v2_b-1');
  });

  it.each([
    ['a string', 'not an object', undefined],
    ['an array', [{ employee_id: EMPLOYEE, payload: 'x' }], undefined],
    ['null', null, undefined],
    ['a number', 42, undefined],
  ])('refuses a body that is %s with INVALID_REQUEST', (_what, body, field) => {
    const err = thrown(() => parseWebhookRequest(body));
    expect(err.status).toBe(400);
    expect(err.code).toBe('INVALID_REQUEST');
    expect(err.field).toBe(field);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['missing employee_id', { payload: 'x' }, 'employee_id'],
    ['null employee_id', { employee_id: null, payload: 'x' }, 'employee_id'],
    ['empty employee_id', { employee_id: '', payload: 'x' }, 'employee_id'],
    ['whitespace employee_id', { employee_id: '   ', payload: 'x' }, 'employee_id'],
    ['non-UUID employee_id', { employee_id: 'emp-123', payload: 'x' }, 'employee_id'],
    ['numeric employee_id', { employee_id: 123, payload: 'x' }, 'employee_id'],
    ['missing payload', { employee_id: EMPLOYEE }, 'payload'],
    ['null payload', { employee_id: EMPLOYEE, payload: null }, 'payload'],
    ['empty payload', { employee_id: EMPLOYEE, payload: '' }, 'payload'],
    ['whitespace-only payload', { employee_id: EMPLOYEE, payload: ' \n\t ' }, 'payload'],
    ['numeric payload', { employee_id: EMPLOYEE, payload: 42 }, 'payload'],
    ['object payload', { employee_id: EMPLOYEE, payload: { order: 1 } }, 'payload'],
    ['numeric event', { employee_id: EMPLOYEE, payload: 'x', event: 7 }, 'event'],
    ['event of 129 characters', { employee_id: EMPLOYEE, payload: 'x', event: 'a'.repeat(MAX_EVENT_LENGTH + 1) }, 'event'],
    ['event with a space', { employee_id: EMPLOYEE, payload: 'x', event: 'order completed' }, 'event'],
    ['empty event', { employee_id: EMPLOYEE, payload: 'x', event: '' }, 'event'],
  ])('refuses a %s with a 400 naming the field', (_what, body, field) => {
    const err = thrown(() => parseWebhookRequest(body));
    expect(err.status).toBe(400);
    expect(err.code).toBe('INVALID_REQUEST');
    expect(err.field).toBe(field);
    expect(err.message).toMatch(field);
    expect(err.expose).toBe(true);
  });

  it('says a missing field is required and a wrong type what it must be', () => {
    expect(thrown(() => parseWebhookRequest({ payload: 'x' })).message).toMatch(/required/);
    expect(thrown(() => parseWebhookRequest({ employee_id: EMPLOYEE, payload: 42 })).message).toMatch(/string/);
  });

  it('names employee_id first when both required fields are missing', () => {
    expect(thrown(() => parseWebhookRequest({})).field).toBe('employee_id');
  });
});

describe('parseIdempotencyKey', () => {
  it('is optional', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it('accepts printable ASCII up to the maximum length, spaces included', () => {
    expect(parseIdempotencyKey('order-1234-completed')).toBe('order-1234-completed');
    expect(parseIdempotencyKey('order 1234 / "completed"')).toBe('order 1234 / "completed"');
    const longest = 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH);
    expect(parseIdempotencyKey(longest)).toBe(longest);
  });

  it.each([
    ['empty', ''],
    ['256 characters long', 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1)],
    ['non-ASCII', 'café'],
    ['a control character', 'a\tb'],
  ])('refuses a key that is %s with INVALID_IDEMPOTENCY_KEY', (_what, key) => {
    const err = thrown(() => parseIdempotencyKey(key));
    expect(err.status).toBe(400);
    expect(err.code).toBe('INVALID_IDEMPOTENCY_KEY');
    expect(err.message).toMatch(/Idempotency-Key/);
  });
});
