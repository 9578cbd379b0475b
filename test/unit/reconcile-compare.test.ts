import { compareCharges, staleCandidates } from '../../src/billing/reconcile-compare';
import type { Posting } from '../../src/domain/billing';
import type { RecordedRun } from '../../src/temporal/event-runs';

const charge = (messageId: string, credits: number): Posting => ({ id: `p-${messageId}`, kind: 'charge', at: '2026-12-01T00:00:00Z', credits, messageId });
const run = (messageId: string, over: Partial<RecordedRun> = {}): RecordedRun => ({
  workflowId: `wf-${messageId}`,
  runId: `run-${messageId}`,
  running: false,
  messageId,
  settled: true,
  ...over,
});

describe('comparing the charges runs recorded with the ledger (no I/O)', () => {
  it('sorts runs into matched, pending, uncharged, missing and mismatched', () => {
    const runs = [
      run('a', { charge: charge('a', -5) }),
      run('b', { charge: charge('b', -7) }),
      run('c', { charge: charge('c', -3) }),
      run('d', { running: true, settled: false }),
      run('e'),
    ];
    const ledger = new Map([
      ['a', charge('a', -5)],
      ['b', charge('b', -9)],
    ]);
    const result = compareCharges(runs, ledger);
    expect(result).toMatchObject({ matched: 1, pending: 1, uncharged: 1, refused: [] });
    expect(result.missing.map((r) => r.messageId)).toEqual(['c']);
    expect(result.mismatched).toEqual([{ message_id: 'b', workflow_id: 'wf-b', history_credits: 7, ledger_credits: 9 }]);
  });

  it('never offers for repair a claimed charge that is not a debit (a memo written by hand claiming a credit)', () => {
    const forged = run('f', { charge: { ...charge('f', 1_000_000) } });
    const topup = run('g', { charge: { ...charge('g', -1), kind: 'topup' } });
    const result = compareCharges([forged, topup], new Map());
    expect(result.missing).toEqual([]);
    expect(result.refused).toEqual([
      { message_id: 'f', workflow_id: 'wf-f', why: 'not a debit' },
      { message_id: 'g', workflow_id: 'wf-g', why: 'not a debit' },
    ]);
  });

  it('counts a reservation stale only once it is older than the cutoff', () => {
    const now = new Date('2026-12-01T01:00:00Z');
    const open = [
      { messageId: 'old', workflowId: 'w1', credits: 10, since: new Date('2026-12-01T00:40:00Z') },
      { messageId: 'young', workflowId: 'w2', credits: 10, since: new Date('2026-12-01T00:55:00Z') },
    ];
    expect(staleCandidates(open, now, 15 * 60_000).map((o) => o.messageId)).toEqual(['old']);
  });
});
