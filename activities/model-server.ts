import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import type { AssistantMessage, ChatMessage, ToolSpec } from '../src/domain/agent';
import { MODEL_RATE_LIMITED, MODEL_REJECTED, MODEL_UNAVAILABLE } from '../src/domain/events';

/** One turn of the agent loop: the assistant's message (content and/or tool calls) and its usage. */
export interface TurnResult {
  message: AssistantMessage;
  promptTokens: number;
  completionTokens: number;
  model: string;
}

export type ModelServer = ReturnType<typeof createModelServer>;

export type ChatTurn = (request: { model: string; messages: ChatMessage[]; tools: ToolSpec[]; maxTokens: number }, signal?: AbortSignal) => Promise<TurnResult>;

export interface ModelServerOptions {
  baseURL: string;
  apiKey?: string;
  timeoutMs: number;
}

/** A model server's Retry-After is honoured up to this; beyond it the workflow's backoff takes over. */
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000;

/**
 * OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, …). The SDK's own retries are off:
 * Temporal retries the activity durably, and this function only says whether a failure is worth it.
 */
export function createModelServer(options: ModelServerOptions) {
  const client = new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey ?? 'unused',
    maxRetries: 0,
    timeout: options.timeoutMs,
  });

  /**
   * The SDK's `timeout` stops once the response headers arrive; a body that stalls after them would
   * hang until the activity's start-to-close timeout. This deadline covers the whole exchange.
   */
  async function call<T>(signal: AbortSignal | undefined, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(options.timeoutMs);
    try {
      return await request(signal ? AbortSignal.any([signal, deadline]) : deadline);
    } catch (err) {
      // Temporal reports an activity as cancelled only if it throws the CancelledFailure it aborted with.
      if (signal?.aborted) throw signal.reason ?? err;
      const answered = err instanceof OpenAI.APIError && err.status !== undefined;
      if (deadline.aborted && !answered) {
        throw ApplicationFailure.retryable(`Model server did not answer within ${options.timeoutMs} ms`, MODEL_UNAVAILABLE);
      }
      throw toFailure(err);
    }
  }

  /** One turn of the agent loop over the tool-calling protocol (`tools` in, `tool_calls` out). */
  const turn: ChatTurn = async ({ model, messages, tools, maxTokens }, signal) => {
    const res = await call(signal, (s) =>
      client.chat.completions.create(
        { model, messages, max_tokens: maxTokens, ...(tools.length ? { tools, tool_choice: 'auto' as const } : {}) },
        { signal: s },
      ),
    );
    const message = res.choices[0]?.message;
    const toolCalls = (message?.tool_calls ?? []).flatMap((c) =>
      c.type === 'function' ? [{ id: c.id, type: 'function' as const, function: { name: c.function.name, arguments: c.function.arguments } }] : [],
    );
    return {
      message: { role: 'assistant', content: message?.content ?? null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
      promptTokens: res.usage?.prompt_tokens ?? 0,
      completionTokens: res.usage?.completion_tokens ?? 0,
      model: res.model || model,
    };
  };

  return { turn };
}

/** 4xx other than 408/429 is permanent; 429 retries after Retry-After; anything else retries with backoff. */
export function toFailure(err: unknown): Error {
  if (!(err instanceof OpenAI.APIError) || err instanceof OpenAI.APIUserAbortError) return err as Error;
  const answered: unknown = err.status;
  const status = typeof answered === 'number' ? answered : undefined;
  if (status === undefined) {
    return ApplicationFailure.retryable(`Model server unreachable: ${err.message}`, MODEL_UNAVAILABLE);
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(err.headers as Headers | undefined);
    return ApplicationFailure.create({
      type: MODEL_RATE_LIMITED,
      message: `Model server rate limited the request (429)`,
      nextRetryDelay: retryAfterMs,
    });
  }
  if (status >= 400 && status < 500 && status !== 408) {
    return ApplicationFailure.nonRetryable(`Model server rejected the request (${status}): ${err.message}`, MODEL_REJECTED);
  }
  return ApplicationFailure.retryable(`Model server failed (${status}): ${err.message}`, MODEL_UNAVAILABLE);
}

/** Retry-After as seconds or an HTTP date, or the `retry-after-ms` extension; undefined when absent. */
export function parseRetryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return Math.min(ms, MAX_RETRY_AFTER_MS);
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  const delay = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(delay) || delay <= 0) return undefined;
  return Math.min(delay, MAX_RETRY_AFTER_MS);
}
