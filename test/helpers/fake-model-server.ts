import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { arrivals, trackSockets } from './loopback';

/** What the fake does with one request; queued per test, consumed in arrival order. */
export type Behaviour =
  | { kind: 'ok'; reply?: string; promptTokens?: number; completionTokens?: number }
  /** Answers with tool calls (several: parallel calls), as the Chat Completions tool-calling protocol does. */
  | { kind: 'tools'; calls: Array<{ name: string; arguments: unknown; id?: string }>; content?: string; promptTokens?: number; completionTokens?: number }
  | { kind: 'status'; status: number; message?: string; type?: string; code?: string | null; retryAfter?: string; retryAfterMs?: string }
  /** Sends nothing for `ms` (forever when absent), then answers ok; the client's timeout should fire first. */
  | { kind: 'hang'; ms?: number }
  /** Sends 200 and the headers, then never finishes the body. */
  | { kind: 'stall-body' }
  /** Destroys the socket without answering. */
  | { kind: 'close' };

export interface RecordedRequest {
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body (Chat Completions request). */
  body: ChatCompletionRequest;
  /** When the client gave up on the request before it was answered (a timeout, a cancelled activity, a killed worker). */
  abandonedAt?: number;
}

export interface ChatCompletionRequest {
  model: string;
  messages: Array<{
    role: string;
    content: string | null;
    tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>;
    tool_call_id?: string;
  }>;
  tools?: Array<{ type: 'function'; function: { name: string; parameters: unknown } }>;
  max_tokens?: number;
  [field: string]: unknown;
}

export type Responder = (request: RecordedRequest, index: number) => Behaviour | undefined;

/**
 * Which model turn of its event a request is: 1 + the assistant messages after the event's own
 * user message (earlier events' memory comes before it).
 */
export function turnOf(request: RecordedRequest): number {
  const messages = request.body.messages;
  let lastUser = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user') lastUser = i;
  });
  return 1 + messages.slice(lastUser + 1).filter((m) => m.role === 'assistant').length;
}

export interface FakeModelServer {
  /** `http://127.0.0.1:PORT/v1`, as OPENAI_BASE_URL. */
  baseURL: string;
  /** Every chat completion request received, in arrival order (including those that hung). */
  requests: RecordedRequest[];
  /** Queues behaviours; once the queue is empty every request gets the default (`ok` unless set). */
  enqueue(...behaviours: Behaviour[]): void;
  /** What a request gets when the queue is empty, e.g. `{ kind: 'hang', ms: 300 }` for a slow model; a `tools` default repeats forever. */
  setDefault(behaviour: Behaviour): void;
  /**
   * Per-request scripting: asked first for every request (with the request and its 0-based index);
   * a behaviour it returns is used, undefined falls through to the queue and the default.
   */
  setResponder(responder: Responder | undefined): void;
  /** On: every answer bills the prompt it actually received, characters / 4 (whatever the behaviour says). */
  billPromptByLength(on: boolean): void;
  /** Resolves once `count` requests have arrived in total. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Forgets queued behaviours and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  422: 'invalid_request_error',
  429: 'rate_limit_exceeded',
  500: 'server_error',
  503: 'service_unavailable',
};

/**
 * An OpenAI Chat Completions server on loopback, real HTTP: `POST /v1/chat/completions` answers the
 * real response shape, errors come as `{ error: { message, type, code } }` like OpenAI's.
 */
export async function startFakeModelServer(): Promise<FakeModelServer> {
  const queue: Behaviour[] = [];
  let fallback: Behaviour = { kind: 'ok' };
  let responder: Responder | undefined;
  let billByLength = false;
  const requests: RecordedRequest[] = [];
  const arrived = arrivals(requests, 'fake model server', 'requests');
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let sequence = 0;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      return sendJson(res, 404, errorBody(`Unknown request URL: ${req.method} ${req.url}`, 'invalid_request_error', 'unknown_url'));
    }
    let body: ChatCompletionRequest;
    try {
      body = JSON.parse(raw) as ChatCompletionRequest;
    } catch {
      return sendJson(res, 400, errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null));
    }
    const recorded: RecordedRequest = { at: Date.now(), method: req.method, url: req.url, headers: req.headers, body };
    requests.push(recorded);
    res.on('close', () => {
      if (!res.writableFinished) recorded.abandonedAt = Date.now();
    });
    arrived.wake();

    const behaviour = responder?.(recorded, requests.length - 1) ?? queue.shift() ?? fallback;
    const billed = billByLength ? { promptTokens: promptLength(body) } : {};
    const answer = () => sendJson(res, 200, completion(body.model, { ...(behaviour.kind === 'ok' ? behaviour : {}), ...billed }, ++sequence));
    switch (behaviour.kind) {
      case 'ok':
        return answer();
      case 'tools':
        return sendJson(res, 200, toolCompletion(body.model, { ...behaviour, ...billed }, ++sequence));
      case 'status': {
        const headers: Record<string, string> = {};
        if (behaviour.retryAfter !== undefined) headers['retry-after'] = behaviour.retryAfter;
        if (behaviour.retryAfterMs !== undefined) headers['retry-after-ms'] = behaviour.retryAfterMs;
        const type = behaviour.type ?? ERROR_TYPES[behaviour.status] ?? 'api_error';
        return sendJson(res, behaviour.status, errorBody(behaviour.message ?? `fake error ${behaviour.status}`, type, behaviour.code ?? null), headers);
      }
      case 'hang':
        if (behaviour.ms !== undefined) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!res.destroyed) answer();
          }, behaviour.ms);
          timers.add(timer);
        }
        return;
      case 'stall-body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":"chatcmpl-stalled","object":"chat.completion",');
        return;
      case 'close':
        return void req.socket.destroy();
    }
  };
  // A client that gives up mid-request is normal here (timeouts are what the tests provoke).
  const server = http.createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  trackSockets(server, sockets);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...behaviours) => queue.push(...behaviours),
    setDefault: (behaviour) => {
      fallback = behaviour;
    },
    setResponder: (r) => {
      responder = r;
    },
    billPromptByLength: (on) => {
      billByLength = on;
    },
    waitForRequests: (count, timeoutMs = 30_000) => arrived.waitFor(count, timeoutMs),
    reset() {
      queue.length = 0;
      requests.length = 0;
      responder = undefined;
      billByLength = false;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The text an event message quotes between its markers (src/domain/prompt.ts quoteEvent), or the content as it is. */
export function quotedEvent(content: string): string {
  const match = /^An event arrived[^\n]*\n<<<event (\S+)\n([\s\S]*)\nevent \1>>>$/.exec(content);
  return match ? match[2] : content;
}

/** The characters of a request's messages (contents and tool calls), over 4: what a model would bill, roughly. */
export function promptLength(body: ChatCompletionRequest): number {
  const chars = body.messages.reduce(
    (n, m) => n + (m.content ?? '').length + (m.tool_calls ?? []).reduce((k, c) => k + c.function.name.length + c.function.arguments.length, 0),
    0,
  );
  return Math.ceil(chars / 4);
}

function completion(model: string, ok: { reply?: string; promptTokens?: number; completionTokens?: number }, n: number) {
  const promptTokens = ok.promptTokens ?? 12;
  const completionTokens = ok.completionTokens ?? 5;
  return {
    id: `chatcmpl-fake${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: ok.reply ?? `fake reply ${n}`, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function toolCompletion(model: string, b: Extract<Behaviour, { kind: 'tools' }>, n: number) {
  const promptTokens = b.promptTokens ?? 20;
  const completionTokens = b.completionTokens ?? 8;
  const tool_calls = b.calls.map((c, i) => ({
    id: c.id ?? `call_${n}_${i}`,
    type: 'function',
    function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
  }));
  return {
    id: `chatcmpl-fake${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: b.content ?? null, tool_calls, refusal: null }, logprobs: null, finish_reason: 'tool_calls' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}

function errorBody(message: string, type: string, code: string | null) {
  return { error: { message, type, param: null, code } };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
