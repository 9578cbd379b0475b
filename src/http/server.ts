import http from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import type { Logger } from '../observability/logger';
import { clientErrorBody } from './errors';
import { endWithError, isHead } from './socket-errors';
import type { AppState } from './state';

export interface ServerOptions {
  /** Headers must arrive within this long (the body has its own timer in the body parser). */
  timeoutMs: number;
  logger: Logger;
}

/**
 * The app's HTTP server (not yet listening). Node answers some requests itself before the app sees
 * them: malformed HTTP, headers over 16 KB, passed deadlines, unknown `Expect`, `CONNECT`. Here those
 * answers are the same JSON errors as the app's, and every deadline is short enough that a stalled
 * client holds a socket for about `timeoutMs`, not Node's default minutes.
 */
export function createServer(app: Koa<AppState>, { timeoutMs, logger }: ServerOptions): http.Server {
  // Koa's handler settles its own promise (errors become responses); Node only needs a listener.
  const callback = app.callback();
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => void callback(req, res);
  const server = http.createServer(
    {
      headersTimeout: timeoutMs,
      // A backstop: the body parser answers 408 on its own timer, started once the headers are in.
      requestTimeout: 2 * timeoutMs,
      // Node checks those deadlines on this interval; its 30 s default would let a stalled client stay that long past them.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 5))),
      // The app answers a missing Host itself, as JSON (see requireHost).
      requireHostHeader: false,
    },
    handle,
  );
  const refused = new WeakSet<Duplex>();
  // The response being written on each socket, so a parser error can tell whether a request is in flight.
  const responses = new WeakMap<Duplex, http.ServerResponse>();
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    responses.set(req.socket, res);
    res.once('finish', () => {
      if (responses.get(req.socket) === res) responses.delete(req.socket);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string; rawPacket?: Buffer }, socket: Duplex) => {
    const body = clientErrorBody(err);
    // Bytes still arriving after a refusal fail the parser again; the answer already on its way closes the socket.
    if (refused.has(socket) && socket.writable) return;
    if (!body || !socket.writable) return void socket.destroy();
    refused.add(socket);
    // Never the error itself: its rawPacket holds the request bytes, Authorization header included.
    logger.debug({ code: err.code, status: body.status }, 'request refused by the HTTP parser');
    const inFlight = responses.get(socket);
    if (!inFlight || inFlight.writableFinished) return endWithError(socket, body, isHead(err.rawPacket));
    if (inFlight.headersSent) return void socket.destroy();
    // Garbage pipelined behind a complete request: that request is answered first, then the garbage.
    if (inFlight.req.complete) return void inFlight.once('finish', () => (socket.writable ? endWithError(socket, body) : socket.destroy()));
    // The request the app is still reading is the broken or late one: it is answered now, and the
    // app's own answer, if it ever comes, meets a closed socket.
    endWithError(socket, body);
  });
  // An expectation other than 100-continue: RFC 9110 lets a server ignore it, so the app answers as usual.
  server.on('checkExpectation', handle);
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    endWithError(socket, { status: 405, code: 'METHOD_NOT_ALLOWED', message: 'CONNECT is not supported: this server is not a proxy.', headers: { Allow: '' } });
  });
  return server;
}
