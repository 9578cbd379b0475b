import http from 'node:http';
import net from 'node:net';

/** One HTTP/1.1 response as it came off the wire. */
export interface WireResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface WireExchange {
  /** Every complete response the server sent on this connection, in order. */
  responses: WireResponse[];
  /** Bytes after the last complete response: a truncated or unparseable response. */
  trailing: Buffer;
  /** The server ended or reset the connection (as opposed to our own timeout). */
  closedByServer: boolean;
  /** ECONNRESET, EPIPE…: a socket error seen on our side. */
  socketError?: string;
  /** From the first byte written to the first complete response, or to the end. */
  firstResponseMs?: number;
}

export interface SendOptions {
  /** Half-close our side after the last chunk, as a client that is done sending does. */
  halfClose?: boolean;
  /** Milliseconds between chunks (a slow client); 0 writes them back to back. */
  chunkDelayMs?: number;
  /** Give up waiting for the server after this long (our side then closes). */
  timeoutMs?: number;
  /**
   * Once a response arrived that keeps the connection open, stop after this long without more bytes
   * (pipelined answers come back to back); a closing response waits for the server's close instead.
   */
  settleMs?: number;
}

/**
 * Writes raw bytes to a fresh TCP connection (no HTTP client in the way: NUL bytes, bare LFs, lying
 * lengths all go through) and collects whatever responses come back until the server closes, the
 * answers settle on a kept-alive connection, or `timeoutMs` passes.
 */
export function sendRaw(port: number, chunks: Buffer[], options: SendOptions = {}): Promise<WireExchange> {
  const { halfClose = false, chunkDelayMs = 0, timeoutMs = 5_000, settleMs = 50 } = options;
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    let socketError: string | undefined;
    let closedByServer = false;
    let firstResponseMs: number | undefined;
    let started = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let settle: NodeJS.Timeout | undefined;

    const finish = () => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (settle) clearTimeout(settle);
      socket.destroy();
      const parsed = parseResponses(Buffer.concat(received));
      resolve({ ...parsed, closedByServer, socketError, firstResponseMs });
    };

    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      const { responses, trailing } = parseResponses(Buffer.concat(received), false);
      if (responses.length > 0 && firstResponseMs === undefined) firstResponseMs = Date.now() - started;
      if (settle) clearTimeout(settle);
      const last = responses[responses.length - 1];
      if (last && trailing.length === 0 && last.headers.connection?.toLowerCase() !== 'close') settle = setTimeout(finish, settleMs);
    });
    socket.on('end', () => {
      closedByServer = true;
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      socketError = err.code ?? err.message;
      if (err.code === 'ECONNRESET') closedByServer = true;
      finish();
    });
    socket.on('close', finish);
    socket.once(
      'connect',
      () =>
        void (async () => {
          started = Date.now();
          timer = setTimeout(finish, timeoutMs);
          for (let i = 0; i < chunks.length; i++) {
            if (settled || socket.destroyed) return;
            if (i > 0 && chunkDelayMs > 0) await new Promise((r) => setTimeout(r, chunkDelayMs));
            if (settled || socket.destroyed || !socket.writable) return;
            socket.write(chunks[i]);
          }
          if (halfClose && !settled && socket.writable) socket.end();
        })(),
    );
  });
}

/**
 * Splits a byte stream into HTTP/1.1 responses (Content-Length, chunked, or read-until-close bodies);
 * `ended` says the server closed, which is what completes an unframed body.
 */
export function parseResponses(bytes: Buffer, ended = true): { responses: WireResponse[]; trailing: Buffer } {
  const responses: WireResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) break;
    const lines = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!statusMatch) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(statusMatch[1]);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const decoded = decodeChunked(bytes, bodyStart);
      if (!decoded) break;
      body = decoded.body;
      bodyStart = decoded.end;
      responses.push({ status, headers, body });
      at = bodyStart;
      continue;
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bytes.length < bodyStart + length) break;
      body = bytes.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else {
      // No framing: the body runs until the server closes, so it is complete only at the end.
      if (!ended) break;
      body = bytes.subarray(bodyStart);
      bodyStart = bytes.length;
    }
    responses.push({ status, headers, body });
    at = bodyStart;
  }
  return { responses, trailing: bytes.subarray(at) };
}

function decodeChunked(bytes: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    at = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = bytes.indexOf('\r\n', at, 'latin1');
      return trailerEnd < 0 ? undefined : { body: Buffer.concat(parts), end: trailerEnd + 2 };
    }
    if (bytes.length < at + size + 2) return undefined;
    parts.push(bytes.subarray(at, at + size));
    at += size + 2;
  }
}

export interface HttpOutcome {
  /** Absent when the connection failed before a response: `error` says how. */
  response?: WireResponse;
  error?: string;
}

/**
 * Sends a well-formed request through Node's client (so a keep-alive agent can reuse connections);
 * header values may carry any Latin-1 byte. Resolves with the response, or the error that came
 * instead of one; an error after the response (the server closed while we still sent) is ignored.
 */
export function sendHttp(
  port: number,
  agent: http.Agent,
  request: { method: string; path: string; headers: [string, string][]; body: Buffer; chunked: boolean },
  timeoutMs = 5_000,
): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    // Given as a list, headers go out exactly as listed: Node adds no Host of its own.
    const flat = request.headers.some(([name]) => name.toLowerCase() === 'host')
      ? request.headers.flat()
      : ['Host', `127.0.0.1:${port}`, ...request.headers.flat()];
    if (!request.chunked && request.body.length > 0) flat.push('Content-Length', String(request.body.length));
    let done = false;
    const settle = (outcome: HttpOutcome) => {
      if (done) return;
      done = true;
      resolve(outcome);
    };
    const req = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers: flat, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
        settle({ response: { status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) } });
      });
      res.on('error', (err: NodeJS.ErrnoException) => settle({ error: err.code ?? err.message }));
    });
    req.setTimeout(timeoutMs, () => {
      settle({ error: 'TIMEOUT' });
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => settle({ error: err.code ?? err.message }));
    if (request.body.length > 0) req.write(request.body);
    req.end();
  });
}
