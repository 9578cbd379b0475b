import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { AppState } from '../../src/http/state';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the answer is JSON, as JSON.parse returns it. */
  body: ReturnType<typeof JSON.parse>;
}

/**
 * Listens on an ephemeral loopback port, for requests supertest cannot shape (chunked, lying
 * Content-Length) or a server built with createServer; `close` drops every connection.
 */
export async function listen(target: Koa<AppState> | http.Server): Promise<{ port: number; close: () => Promise<void> }> {
  const callback = target instanceof http.Server ? undefined : target.callback();
  const server = target instanceof http.Server ? target : http.createServer((req, res) => void callback!(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Sends headers, then `write` feeds the body; resolves with the first response, even if the body
 * was never finished: that is how a test proves the server answered without reading it all.
 */
export function rawRequest(port: number, headers: http.OutgoingHttpHeaders, write: (req: http.ClientRequest) => void): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/webhook/', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
        req.destroy();
      });
      res.on('error', reject);
    });
    // The server may close while we still write: a reset after the response is expected, not a failure.
    req.on('error', (err) => reject(err));
    req.flushHeaders();
    write(req);
  });
}
