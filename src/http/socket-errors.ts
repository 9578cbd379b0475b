import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from './errors';

/** How long a refused connection may linger for the client to read its answer. */
const LINGER_MS = 1_000;

/**
 * Node does not say which method a request it could not parse had. When the failed packet starts the
 * request and says HEAD, the answer carries no body (RFC 9110, 9.3.2), which the client would misread.
 */
export function isHead(rawPacket: Buffer | undefined): boolean {
  return rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
}

/** Writes a JSON error straight to the socket (there is no response object yet) and closes it. */
export function endWithError(socket: Duplex, body: ErrorBody, headOnly = false): void {
  const requestId = randomUUID();
  const text = JSON.stringify({ error: { code: body.code, message: body.message }, request_id: requestId });
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-Request-Id': requestId,
    Connection: 'close',
    ...body.headers,
  };
  const head = [`HTTP/1.1 ${body.status} ${http.STATUS_CODES[body.status]}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${headOnly ? '' : text}`);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
