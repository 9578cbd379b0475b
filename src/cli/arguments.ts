import fs from 'node:fs';
import Ajv from 'ajv';
import { msToNumber } from '@temporalio/common';
import { InvalidArgumentError } from 'commander';
import { TOOL_NAMES, type ToolName } from '../domain/agent';
import { FLOW_MODES, type FlowMode } from '../stores/employees';
import { z } from 'zod';

/**
 * Strict integers: digits only, so "abc", "-5", "1.5", "1e3" and "" are all refused rather than
 * coerced. Credits are whole numbers: the ledger's columns are integers.
 */
function parseInteger(value: string, min: number, max: number, expected: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Expected ${expected}, got "${value}".`);
  return n;
}

/** For amounts and limits that must be at least 1. */
export function positiveInt(value: string): number {
  return parseInteger(value, 1, Number.MAX_SAFE_INTEGER, 'a whole number of at least 1');
}

/** For starting balances, where 0 is a sensible choice. */
export function nonNegativeInt(value: string): number {
  return parseInteger(value, 0, Number.MAX_SAFE_INTEGER, 'a whole number of at least 0');
}

/** At most 1,000 inbox entries a call: more is what `--json` and a pager are for. */
export function inboxLimit(value: string): number {
  return parseInteger(value, 1, 1000, 'a whole number from 1 to 1000');
}

/** Rejects blank names and emails early; the stores would accept them and leave unusable records. */
export function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Must not be empty.');
  return value.trim();
}

/** The same email check zod applies elsewhere; a typo caught here never becomes an account. */
export function email(value: string): string {
  const parsed = z.email().safeParse(value.trim());
  if (!parsed.success) throw new InvalidArgumentError(`"${value}" is not an email address.`);
  return parsed.data;
}

/** A duration like 90s, 30m, 1h or 2d (the notation Temporal uses), as milliseconds. */
export function duration(value: string): number {
  const trimmed = value.trim();
  const ms = /^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(trimmed) ? msToNumber(trimmed) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw new InvalidArgumentError(`Expected a duration like 90s, 30m or 1h, got "${value}".`);
  return ms;
}

/** How an employee takes its events: parallel, ordered or batch. */
export function flowMode(value: string): FlowMode {
  const mode = value.trim();
  if (!(FLOW_MODES as readonly string[]).includes(mode)) throw new InvalidArgumentError(`Expected one of ${FLOW_MODES.join(', ')}, got "${value}".`);
  return mode as FlowMode;
}

/** A comma-separated list of tool names: send_webhook, remember, reply. */
export function toolList(value: string): ToolName[] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(TOOL_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`Expected tools among ${TOOL_NAMES.join(', ')}, got "${value}".`);
  return names as ToolName[];
}

/** An http(s) URL for an outbound endpoint. */
export function webhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`Expected an http or https URL, got "${value}".`);
  return url.toString();
}

/** A JSON Schema file for `endpoint add --schema`: read, parsed and compiled now, so a bad one is refused here, not at delivery. */
export function jsonSchemaFile(file: string): Record<string, unknown> {
  let schema: unknown;
  try {
    schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`cannot read a JSON document from ${file}: ${(err as Error).message}`);
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new InvalidArgumentError(`${file} must hold a JSON Schema object`);
  try {
    new Ajv({ strict: false }).compile(schema);
  } catch (err) {
    throw new InvalidArgumentError(`${file} is not a valid JSON Schema: ${(err as Error).message}`);
  }
  return schema as Record<string, unknown>;
}
