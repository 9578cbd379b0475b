/**
 * The agent side of the kernel: the tools an employee may hold, the conversation as the loop keeps
 * it, and the limits that bound one event. Pure types and constants.
 */

/** The tools an operator can turn on for an employee; the model sees only those. */
export const TOOL_NAMES = ['send_webhook', 'remember', 'reply'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** What bounds one event; every field is resolved (employee's own value, else the service default). */
export interface AgentLimits {
  /** Model turns per event. */
  maxSteps: number;
  /** max_tokens of each model call. */
  maxTokens: number;
  /** The whole event, from its acceptance. */
  deadlineMs: number;
  /** Credits one event may spend (its tokens and runtime priced as its charge will be). */
  maxCredits: number;
  /** Tokens one prompt may hold: instructions, notes, memory and the event are fitted into it. */
  maxPromptTokens: number;
  /** Tool calls one model turn may make; calls past it are refused back to the model. */
  maxToolCallsPerTurn: number;
  /** Tool calls one event may make. */
  maxToolCalls: number;
  /** Bytes `send_webhook` may send in one event, bodies summed. */
  maxWebhookBytes: number;
}

/** A Chat Completions tool call, as the model proposes it. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A Chat Completions message as the loop keeps the conversation. */
export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

/** A tool as the model is told of it (Chat Completions `tools`). */
export interface ToolSpec {
  type: 'function';
  function: { name: ToolName; description: string; parameters: Record<string, unknown> };
}

/** The UTF-8 length of a string, in plain JavaScript (workflow code has no Buffer). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}
