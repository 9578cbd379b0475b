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
