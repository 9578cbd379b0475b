import createHttpError, { HttpError } from 'http-errors';
import { DomainError, type DomainErrorCode } from '../events/errors';

/**
 * Error codes callers can branch on. The message says what to fix; the code never changes meaning.
 */
export type ErrorCode =
  | 'MISSING_API_KEY'
  | 'INVALID_API_KEY'
  | 'CHANNEL_DISABLED'
  | 'EMAIL_NOT_VERIFIED'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'MALFORMED_JSON'
  | 'INVALID_REQUEST'
  | 'INVALID_IDEMPOTENCY_KEY'
  | 'EMPLOYEE_NOT_FOUND'
  | 'INSUFFICIENT_CREDITS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'MESSAGE_NOT_FOUND'
  | 'REPLAY_EXPIRED'
  | 'EVENT_RUNNING'
  | 'BULK_COUNT_CHANGED'
  | 'BULK_NOT_FOUND'
  | 'NOT_FOUND'
  | 'CROSS_ORIGIN'
  | 'CSRF_TOKEN_INVALID'
  | 'SIGN_IN_REQUIRED'
  | 'SIGN_IN_LINK_INVALID'
  | 'MAIL_NOT_SENT'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'UPSTREAM_UNAVAILABLE'
  | 'TOO_MANY_AUTH_FAILURES'
  | 'OVERLOADED'
  | 'CLIENT_CLOSED_REQUEST'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_DISABLED'
  | 'INVALID_SIGNATURE'
  | 'INTERNAL';

/** A typed HTTP error: handlers throw it, one middleware turns it into the JSON body. */
export function apiError(
  status: number,
  code: ErrorCode,
  message: string,
  extra: { headers?: Record<string, string>; field?: string; cause?: unknown } = {},
): HttpError {
  return createHttpError(status, message, { code, ...extra, expose: status < 500 || status === 502 || status === 503 });
}

/**
 * The client closed its connection before the work began: nothing was done for it. 499 (nginx's
 * code for it) only shows in the access log and the metrics: nobody is left to read the answer.
 */
export function clientClosedRequest(): HttpError {
  return apiError(499, 'CLIENT_CLOSED_REQUEST', 'The client closed the connection before the request was processed; nothing was done.');
}

/** The one place a domain outcome becomes an HTTP status. */
const DOMAIN_STATUS: Record<DomainErrorCode, number> = {
  EMPLOYEE_NOT_FOUND: 404,
  INSUFFICIENT_CREDITS: 402,
  // The IETF Idempotency-Key draft's status for a key reused with another request.
  IDEMPOTENCY_KEY_REUSED: 422,
  UPSTREAM_UNAVAILABLE: 502,
  MESSAGE_NOT_FOUND: 404,
  // Gone: the payload is no longer kept (REPLAY_RETENTION), so the event cannot be replayed.
  REPLAY_EXPIRED: 410,
  // A running (or queued) event is replayed once it ended: its outcome is not known yet.
  EVENT_RUNNING: 409,
  // The events matching the filter changed since the count the caller confirmed: the message has the new count.
  BULK_COUNT_CHANGED: 409,
  BULK_NOT_FOUND: 404,
};

/** Errors raised by body parsing (raw-body / co-body), mapped by their stable `type`. */
const BODY_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  'entity.too.large': { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body exceeds 65536 bytes (64 KB). Send a shorter payload.' },
  'entity.parse.failed': { status: 400, code: 'MALFORMED_JSON', message: 'Request body is not valid JSON. Send a JSON object.' },
  'request.size.invalid': { status: 400, code: 'INVALID_REQUEST', message: 'Request body length does not match Content-Length.' },
  'request.aborted': { status: 400, code: 'INVALID_REQUEST', message: 'Request body was aborted before it was complete.' },
  // The body is read once, by the body parser; a stream already unreadable then means the client hung
  // up (or the server refused the connection) before it got there, which is no fault of ours.
  'stream.not.readable': { status: 400, code: 'INVALID_REQUEST', message: 'Request body was aborted before it was complete.' },
};

/**
 * co-body throws a JSON syntax error as a plain SyntaxError (status 400) without a `type`. Only the
 * body parser may call this: elsewhere a SyntaxError is our bug. (Compressed bodies never reach the
 * parser: the route refuses them with 415.)
 */
export function fromBodyParser(err: unknown): unknown {
  const e = err as { type?: string };
  if (err instanceof HttpError || e?.type) return err;
  if (err instanceof SyntaxError) {
    const { status, code, message } = BODY_ERRORS['entity.parse.failed'];
    return apiError(status, code, message, { cause: err });
  }
  return err;
}

export interface ErrorBody {
  status: number;
  code: ErrorCode;
  message: string;
  field?: string;
  headers?: Record<string, string>;
}

/** Maps anything thrown to the response; unknown errors become a 500 that hides its details. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof DomainError) return { status: DOMAIN_STATUS[err.code], code: err.code, message: err.message, field: err.details.field };
  const e = err as {
    status?: number;
    statusCode?: number;
    type?: string;
    code?: unknown;
    expose?: boolean;
    message?: string;
    field?: string;
    headers?: Record<string, string>;
  };
  const mapped = e?.type ? BODY_ERRORS[e.type] : undefined;
  if (mapped) return mapped;
  const status = e?.status ?? e?.statusCode;
  if (err instanceof HttpError && status && e.expose) {
    const code = typeof e.code === 'string' ? (e.code as ErrorCode) : defaultCode(status);
    return { status, code, message: e.message ?? 'Request failed', field: e.field, headers: e.headers };
  }
  return { status: 500, code: 'INTERNAL', message: 'Internal error. It has been logged; retry later.' };
}

/**
 * What to answer when Node's HTTP parser or its deadlines refuse a connection before the app sees a
 * request (the server's `clientError`). Undefined for socket failures (a reset, a broken pipe): there
 * is nobody left to answer. The parser's reason names what was wrong with the request, never its bytes.
 */
export function clientErrorBody(err: { code?: string; reason?: string }): ErrorBody | undefined {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'Request line and headers exceed 16 KB. Send shorter headers.' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Chunk extensions are too large.' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'The request did not arrive in time.' };
  }
  if (!err.code?.startsWith('HPE_')) return undefined;
  const reason = typeof err.reason === 'string' && /^[\x20-\x7e]{1,200}$/.test(err.reason) ? `: ${err.reason}` : '';
  return { status: 400, code: 'INVALID_REQUEST', message: `The request is not valid HTTP/1.1${reason}.` };
}

function defaultCode(status: number): ErrorCode {
  if (status === 404) return 'NOT_FOUND';
  if (status === 405 || status === 501) return 'METHOD_NOT_ALLOWED';
  if (status === 408) return 'REQUEST_TIMEOUT';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 431) return 'HEADERS_TOO_LARGE';
  return 'INVALID_REQUEST';
}
