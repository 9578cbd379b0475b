import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import type { EmployeeStore } from '../src/stores/employees';
import { guardedLookup, isPrivateAddress, PrivateAddressError } from '../src/net/guarded-lookup';
import type { EndpointStore } from '../src/stores/endpoints';
import { truncate } from '../src/shared/text';
import { WEBHOOK_DELIVERY_FAILED } from '../src/domain/events';
import type { ToolCallInput, ToolCallResult } from '../workflows/contract';
import { withHeartbeat } from './heartbeat';
import { parseArguments, toolResult } from './tools';
import { parseRetryAfter } from './model-server';

export interface WebhookDeps {
  employees: EmployeeStore;
  endpoints: EndpointStore;
  /** Per attempt; a timeout is retried. */
  timeoutMs: number;
}

/** The start of an endpoint's answer that goes back to the model. */
const EXCERPT_CHARS = 300;
/** What is read of an answer at most. */
const MAX_ANSWER_BYTES = 16 * 1024;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One POST. Unless the operator allowed private addresses for this endpoint, the connection is
 * refused when the name resolves to a private, loopback or link-local address, checked when the
 * socket connects (guardedLookup). A literal IP in the URL is checked the same way.
 */
function post(url: URL, body: string, headers: Record<string, string>, allowPrivate: boolean, timeoutMs: number): Promise<Answer> {
  const transport = url.protocol === 'https:' ? https : http;
  if (!allowPrivate && ipLiteral(url.hostname)) {
    const check = isPrivateAddress(ipLiteral(url.hostname)!);
    if (check.private) return Promise.reject(new PrivateAddressError(url.hostname, ipLiteral(url.hostname)!, check.range));
  }
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        agent: false,
        lookup: allowPrivate ? undefined : guardedLookup,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A hostname that is an IP address already (Node skips `lookup` for those), without IPv6 brackets. */
function ipLiteral(hostname: string): string | undefined {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return isIP(bare) ? bare : undefined;
}

export function webhookActivities(deps: WebhookDeps) {
  /**
   * `send_webhook`: POSTs the JSON body to one of the employee's endpoints, signed per Standard
   * Webhooks. Its `webhook-id` is the workflow's id for this call, the same on every attempt, so a
   * receiver deduplicates retries. A 5xx, a 429, a 408, a timeout or a refused connection throws a
   * retryable failure (the workflow's policy backs off); any other answer — and every mistake the
   * model can fix (unknown endpoint, bad arguments, a private address) — goes back to the model.
   */
  async function sendWebhook(input: ToolCallInput): Promise<ToolCallResult> {
    const started = Date.now();
    const parsed = parseArguments('send_webhook', input.call.function.arguments);
    if (!parsed.ok) return toolResult(false, parsed.error, started);
    const employee = await deps.employees.getEmployee(input.employeeId);
    if (!employee?.tools.includes('send_webhook')) return toolResult(false, 'The tool send_webhook is not enabled for you.', started);
    const endpoint = await deps.endpoints.forDelivery(input.employeeId, parsed.args.endpoint);
    if (!endpoint) {
      const names = (await deps.endpoints.list(input.employeeId)).map((e) => e.name);
      return toolResult(false, `No endpoint named ${parsed.args.endpoint}. Your endpoints: ${names.join(', ') || 'none'}.`, started);
    }
    const body = JSON.stringify(parsed.args.body);
    const id = `msg_${input.deliveryId}`;
    const at = new Date();
    const signature = new Webhook(endpoint.secret).sign(id, at, body);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'sistava-webhooks',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    };
    let answer: Answer;
    try {
      answer = await withHeartbeat(() => post(new URL(endpoint.url), body, headers, endpoint.allowPrivate, deps.timeoutMs));
    } catch (err) {
      if (err instanceof PrivateAddressError) {
        return toolResult(
          false,
          `Refused: ${endpoint.name} resolves to a private, loopback or link-local address, which the operator has not allowed.`,
          started,
        );
      }
      throw ApplicationFailure.retryable(`Delivery to ${endpoint.name} failed: ${(err as Error).message}`, WEBHOOK_DELIVERY_FAILED);
    }
    const excerpt = truncate(answer.text, EXCERPT_CHARS);
    if (answer.status >= 500 || answer.status === 429 || answer.status === 408) {
      throw ApplicationFailure.create({
        type: WEBHOOK_DELIVERY_FAILED,
        message: `Delivery to ${endpoint.name} answered ${answer.status}: ${excerpt}`,
        nextRetryDelay: parseRetryAfter(new Headers(Object.entries(answer.headers).filter((e): e is [string, string] => typeof e[1] === 'string'))),
      });
    }
    return toolResult(answer.status < 300, { endpoint: endpoint.name, status: answer.status, answer: excerpt }, started);
  }

  return { sendWebhook };
}
