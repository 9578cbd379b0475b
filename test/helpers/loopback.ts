import type http from 'node:http';
import type { Socket } from 'node:net';

/**
 * What the loopback fakes (the model server, the webhook receiver) record arrives over time; a test
 * waits for it. `wake()` after each push into `items`; `waitFor(count)` resolves with a copy of
 * `items` once it holds `count`, or fails after `timeoutMs` with what `who` saw so far.
 */
export function arrivals<T>(items: T[], who: string, noun: string) {
  const waiters = new Set<() => void>();
  return {
    wake(): void {
      for (const wake of waiters) wake();
    },
    waitFor(count: number, timeoutMs: number): Promise<T[]> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (items.length < count) return;
          cleanup();
          resolve(items.slice());
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${who} saw ${items.length} ${noun}, expected ${count} within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Keeps `sockets` to the server's open connections, so that closing it can destroy them (a keep-alive client would hold it open). */
export function trackSockets(server: http.Server, sockets: Set<Socket>): void {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
}
