import type { Ledger } from '../../src/stores/ledger';

/**
 * The message ids the ledger debited, one entry per debit posting: a message charged twice shows
 * up twice. Works on any posting kind that takes credits for an event.
 */
export async function debitedMessageIds(ledger: Ledger, accountId: string): Promise<string[]> {
  const postings = await ledger.postings(accountId);
  return postings.filter((p) => p.messageId && p.credits < 0).map((p) => p.messageId!);
}

/** Ids that appear more than once. */
export function repeated(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
}

/** Prints a drill's counts on one line, for the run log. */
export function reportDrill(name: string, counts: Record<string, number>): void {
  const fields = Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`[drill] ${name}: ${fields}\n`);
}
