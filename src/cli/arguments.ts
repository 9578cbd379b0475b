import { InvalidArgumentError } from 'commander';
import { z } from 'zod';

/**
 * Strict integers: digits only, so "abc", "-5", "1.5", "1e3" and "" are all refused rather than
 * coerced. Credits are whole numbers because the ledger moves balances with Redis INCRBY.
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

/** The inbox keeps at most 1,000 entries (EmployeeMemory's trim), so a larger limit would only mislead. */
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
