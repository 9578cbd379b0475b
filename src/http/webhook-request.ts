import { z } from 'zod';
import { apiError } from './errors';

export const MAX_BODY_BYTES = 65_536;
export const MAX_EVENT_LENGTH = 128;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const EVENT_PATTERN = /^[A-Za-z0-9._\-:/]+$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

const required = (field: string, kind: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined || issue.input === null ? `${field} is required` : `${field} must be ${kind}`),
});

/** The body of POST /api/webhook/. Unknown fields are ignored so clients can send extra context. */
export const WebhookRequest = z.object({
  employee_id: z
    .string(required('employee_id', 'a UUID string'))
    .trim()
    .min(1, 'employee_id is required')
    .pipe(z.uuid({ error: 'employee_id must be a UUID, like 3f2c1f7e-8d7a-4c1e-9a55-2b1a0c7d9e10' }))
    .transform((id) => id.toLowerCase()),
  payload: z
    .string(required('payload', 'a string (plain text; JSON-stringify structured data)'))
    .refine((p) => p.trim().length > 0, 'payload must not be empty or only whitespace'),
  event: z
    .string({ error: 'event must be a string, like "order.completed"' })
    .max(MAX_EVENT_LENGTH, `event must be at most ${MAX_EVENT_LENGTH} characters`)
    .regex(EVENT_PATTERN, 'event may contain only letters, digits and . _ - : /')
    .nullish()
    .transform((e) => e ?? undefined),
});
export type WebhookRequest = z.infer<typeof WebhookRequest>;

/** Validates a parsed JSON body; throws a 400 naming the first field to fix. */
export function parseWebhookRequest(body: unknown): WebhookRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw apiError(400, 'INVALID_REQUEST', 'Request body must be a JSON object with employee_id and payload.');
  }
  const result = WebhookRequest.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw apiError(400, 'INVALID_REQUEST', issue.message, { field: String(issue.path[0] ?? '') });
}

/** Validates the optional Idempotency-Key header. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header.join(',') : header;
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) {
    throw apiError(400, 'INVALID_IDEMPOTENCY_KEY', `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters.`);
  }
  return key;
}
