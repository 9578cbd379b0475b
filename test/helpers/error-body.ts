import type { Response } from 'supertest';

/**
 * Asserts the one error shape every failure shares: `{ error: { code, message[, field] }, request_id }`,
 * with the request id echoed in X-Request-Id. Checks the code, never the message text.
 */
export function expectError(res: Pick<Response, 'status' | 'body' | 'headers'>, status: number, code: string, field?: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({
    error: { code, message: expect.any(String), ...(field ? { field } : {}) },
    request_id: expect.any(String),
  });
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(res.headers['x-request-id']).toBe(res.body.request_id);
}
