import Table from 'cli-table3';

/** What a command hands back: one JSON object for `--json`, readable text otherwise. */
export interface CommandResult {
  json: Record<string, unknown>;
  text: string;
  /** The text is written exactly as it is (its own line endings, as CSV needs), without a newline added. */
  raw?: boolean;
  /** Non-zero: the command ran but found a problem (a ledger that does not add up); the result is still printed. */
  exitCode?: number;
}

/**
 * An error the operator can act on. `code` is a stable SCREAMING_SNAKE string scripts branch on;
 * the message says what to fix. Exit code 2 means the command line itself was wrong.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Writes the result: exactly one JSON object on stdout with `--json`, the text otherwise. */
export function printResult(result: CommandResult, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(result.json)}\n` : result.raw ? result.text : `${result.text}\n`);
}

/**
 * The message always goes to stderr so a human sees it even when stdout is piped; with `--json`
 * stdout also gets `{"error": {code, message}}`, the same shape the HTTP API answers with.
 */
export function printError(err: CliError, json: boolean, alreadyOnStderr = false): void {
  if (!alreadyOnStderr) process.stderr.write(`error: ${err.message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message } })}\n`);
}

/** No rule between rows, so long lists stay readable; no colours, so piped output carries no escape codes. */
const ROWS_WITHOUT_RULES = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** A plain table for lists. */
export function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, chars: ROWS_WITHOUT_RULES, style: { head: [], border: [] } });
  t.push(...rows);
  return t.toString();
}

/** Aligned `label: value` lines for one record. */
export function fields(pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${value}`).join('\n');
}

/** Shortens free text for a table cell; `--json` always carries it whole. */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

/** Empty cells read better than "undefined" in tables. */
export const orDash = (v: string | number | undefined): string => (v === undefined ? '-' : String(v));
