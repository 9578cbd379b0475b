import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { arrivals, trackSockets } from './loopback';

/** One POST that reached the receiver (every attempt, duplicates and failures included). */
export interface Delivery {
  at: number;
  path: string;
  /** The `webhook-id` header (empty when absent). */
  id: string;
  timestamp: string;
  signature: string;
  /** The raw body as received. */
  raw: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: unknown;
  /** Whether `standardwebhooks` verified the signature with the secret registered for the path. */
  verified: boolean;
  /** Why verification failed, when it did. */
  verifyError?: string;
  /** The status the receiver answers (or was about to, when the sender hung up first). */
  status: number;
  /**
   * True when this delivery ran the receiver's handler: the first verified delivery of its id that
   * the receiver accepts (a 2xx answer). The handler runs on receipt, before the answer is sent, as
   * a real receiver's would: a sender that dies before reading the answer retries with the same id,
   * and that retry is deduplicated.
   */
  handled: boolean;
  /** When the answer was sent. */
  answeredAt?: number;
}

/** How the receiver answers one request: scripted per test, consumed in arrival order. */
export interface Answer {
  status: number;
  body?: string;
  /** Waits this long before answering. */
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  port: number;
  /** Every delivery, in arrival order. */
  deliveries: Delivery[];
  /** Verify deliveries to `path` with `secret` (the whsec_… an endpoint was created with). */
  addSecret(path: string, secret: string): void;
  /** Queues answers; once the queue is empty every request gets the default (200 `{"ok":true}`). */
  script(...answers: Answer[]): void;
  /** Queues answers for one path only; asked before the shared queue. */
  scriptPath(path: string, ...answers: Answer[]): void;
  setDefault(answer: Answer): void;
  /** Attempts per webhook-id. */
  attemptsById(): Map<string, number>;
  /** How often each webhook-id reached the handler (after deduplication: at most once each). */
  handledById(): Map<string, number>;
  /** Resolves once `count` deliveries arrived (attempts, all kinds). */
  waitForDeliveries(count: number, timeoutMs?: number): Promise<Delivery[]>;
  /** Closes the port and every open connection: connections are refused until `start`. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  running(): boolean;
}

/**
 * A Standard Webhooks receiver on 127.0.0.1: verifies every signature with the `standardwebhooks`
 * package (the secret registered per path), deduplicates by `webhook-id` the way the spec asks
 * receivers to (a repeated id is answered 2xx without running the handler again), and answers
 * scripted statuses. It can be stopped and restarted on the same port, for outage drills.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secrets = new Map<string, string>();
  const deliveries: Delivery[] = [];
  const queue: Answer[] = [];
  const pathQueues = new Map<string, Answer[]>();
  let fallback: Answer = { status: 200, body: '{"ok":true}' };
  const handled = new Set<string>();
  const arrived = arrivals(deliveries, 'webhook receiver', 'deliveries');
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0];
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(',') : (v ?? '');
      };
      const delivery: Delivery = {
        at: Date.now(),
        path,
        id: header('webhook-id'),
        timestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        raw,
        body: parseJson(raw),
        verified: false,
        status: 0,
        handled: false,
      };
      const secret = secrets.get(path);
      if (!secret) {
        delivery.verifyError = `no secret registered for ${path}`;
      } else {
        try {
          new Webhook(secret).verify(raw, {
            'webhook-id': delivery.id,
            'webhook-timestamp': delivery.timestamp,
            'webhook-signature': delivery.signature,
          });
          delivery.verified = true;
        } catch (err) {
          delivery.verifyError = (err as Error).message;
        }
      }
      deliveries.push(delivery);
      arrived.wake();

      const answer = pathQueues.get(path)?.shift() ?? queue.shift() ?? fallback;
      // An unverifiable delivery is refused; a verified one runs the handler once per id.
      const status = delivery.verified ? answer.status : 401;
      delivery.status = status;
      if (delivery.verified && status >= 200 && status < 300 && !handled.has(delivery.id)) {
        handled.add(delivery.id);
        delivery.handled = true;
      }
      const send = () => {
        timers.delete(timer!);
        if (res.destroyed) return;
        delivery.answeredAt = Date.now();
        const text = delivery.verified ? (answer.body ?? '') : '{"error":"bad signature"}';
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...answer.headers });
        res.end(text);
      };
      let timer: NodeJS.Timeout | undefined;
      // A delayed answer goes `delayMs` after arrival by Date.now(), the clock tests measure with: a
      // timer can fire a millisecond early by it, and then waits out the rest.
      const sendWhenDue = () => {
        const left = delivery.at + answer.delayMs! - Date.now();
        if (left <= 0) return send();
        timers.delete(timer!);
        timer = setTimeout(sendWhenDue, left);
        timers.add(timer);
      };
      if (answer.delayMs) sendWhenDue();
      else send();
    });
  };

  let server: http.Server | undefined;
  let port = 0;
  const listen = async () => {
    const s = http.createServer(handle);
    trackSockets(s, sockets);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  await listen();

  const count = (only: (d: Delivery) => boolean) => {
    const m = new Map<string, number>();
    for (const d of deliveries) if (only(d)) m.set(d.id, (m.get(d.id) ?? 0) + 1);
    return m;
  };

  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    deliveries,
    addSecret: (path, secret) => void secrets.set(path, secret),
    script: (...answers) => void queue.push(...answers),
    scriptPath: (path, ...answers) => {
      const q = pathQueues.get(path) ?? [];
      q.push(...answers);
      pathQueues.set(path, q);
    },
    setDefault: (answer) => {
      fallback = answer;
    },
    attemptsById: () => count(() => true),
    handledById: () => count((d) => d.handled),
    waitForDeliveries: (n, timeoutMs = 30_000) => arrived.waitFor(n, timeoutMs),
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async start() {
      if (!server) await listen();
    },
    running: () => server !== undefined,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
