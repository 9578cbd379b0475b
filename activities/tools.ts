import { z } from 'zod';
import type { ToolName, ToolSpec } from '../src/domain/agent';
import type { ToolCallResult } from '../workflows/contract';

/** The tools' arguments, as the product's interface names them; the model is shown their JSON Schema. */
export const ToolArguments = {
  send_webhook: z.object({
    endpoint: z.string({ error: 'endpoint must be the name of one of your endpoints' }).min(1).describe('Which endpoint, by name.'),
    body: z.record(z.string(), z.unknown(), { error: 'body must be a JSON object' }).describe('The JSON object to send.'),
  }),
  remember: z.object({ note: z.string({ error: 'note must be a string' }).trim().min(1, 'note must not be empty').max(2_000) }),
  reply: z.object({ text: z.string({ error: 'text must be a string' }).trim().min(1, 'text must not be empty').max(10_000) }),
} satisfies Record<ToolName, z.ZodType>;

const DESCRIPTIONS: Record<ToolName, string> = {
  send_webhook: 'POST a JSON body to one of your registered outbound endpoints. Returns the HTTP status and the start of the answer.',
  remember: 'Keep a note in your long-term memory; it is shown to you with every later event.',
  reply: 'Leave a message in the inbox of the account owner.',
};

/** A tool's parameters as JSON Schema, derived from the zod schema that checks its arguments. */
function parameters(schema: z.ZodType): Record<string, unknown> {
  // The model needs the shape only; `$schema` is noise in a prompt.
  const { $schema: _ignored, ...shape } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return shape;
}

/**
 * The tools the model is told of: those the operator turned on, `send_webhook` only with at least
 * one endpoint, whose names it may choose from.
 */
export function toolSpecs(enabled: readonly ToolName[], endpointNames: string[]): ToolSpec[] {
  const schemas: Partial<Record<ToolName, z.ZodType>> = {
    send_webhook: endpointNames.length
      ? ToolArguments.send_webhook.extend({ endpoint: z.enum(endpointNames as [string, ...string[]]).describe('Which endpoint, by name.') })
      : undefined,
    remember: ToolArguments.remember,
    reply: ToolArguments.reply,
  };
  return (Object.keys(DESCRIPTIONS) as ToolName[]).flatMap((name) => {
    const schema = schemas[name];
    if (!enabled.includes(name) || !schema) return [];
    return [{ type: 'function' as const, function: { name, description: DESCRIPTIONS[name], parameters: parameters(schema) } }];
  });
}

/** A tool call's arguments checked against its schema; the error is worded for the model to correct. */
export function parseArguments<T extends ToolName>(
  name: T,
  raw: string,
): { ok: true; args: z.infer<(typeof ToolArguments)[T]> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw || '{}');
  } catch {
    return { ok: false, error: `The arguments of ${name} are not valid JSON. Send a JSON object.` };
  }
  const parsed = ToolArguments[name].safeParse(json);
  if (parsed.success) return { ok: true, args: parsed.data as z.infer<(typeof ToolArguments)[T]> };
  const issue = parsed.error.issues[0];
  return { ok: false, error: `Invalid arguments for ${name}: ${issue.path.join('.') || 'arguments'}: ${issue.message}.` };
}

export function toolResult(ok: boolean, content: unknown, started: number): ToolCallResult {
  return { ok, content: typeof content === 'string' ? content : JSON.stringify(content), runtimeMs: Date.now() - started };
}
