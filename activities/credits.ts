import { priceEvent, priceFor, type PriceList } from '../src/billing/pricing';
import type { ChargeResult } from '../src/domain/billing';
import { chargePosting, type Ledger, type SettleResult } from '../src/stores/ledger';
import type { SettleCreditsInput } from '../workflows/contract';

export interface CreditDeps {
  ledger: Ledger;
  prices: PriceList;
}

export function creditActivities(deps: CreditDeps) {
  /**
   * Settles the event in one database statement keyed by its message id: posts what it cost at today's
   * price (recorded on the posting) and releases what the API reserved at ingest. Retries and
   * re-runs find the first posting and post nothing. A failed event is charged for the model turns
   * that completed (their usage is known), nothing else; its reservation is released. A batched
   * event (not the batch's first) is charged nothing: its reservation is released.
   */
  async function settleCredits(input: SettleCreditsInput): Promise<ChargeResult> {
    const charge = input.outcome !== 'batched' && (input.outcome === 'completed' || (input.usage.modelTurns ?? 0) > 0) ? price(input) : undefined;
    const reason = input.outcome === 'completed' ? 'settled' : input.outcome;
    return toResult(input.messageId, await deps.ledger.settle(input.accountId, input.messageId, charge, reason));
  }

  function price(input: SettleCreditsInput) {
    const priceUsed = priceFor(deps.prices, input.usage.model);
    const cost = priceEvent(input.usage, priceUsed);
    return chargePosting({
      accountId: input.accountId,
      messageId: input.messageId,
      employeeId: input.employeeId,
      event: input.event,
      tokensIn: input.usage.promptTokens,
      tokensOut: input.usage.completionTokens,
      runtimeMs: input.usage.runtimeMs,
      model: input.usage.model,
      tokenCredits: cost.tokenCredits,
      runtimeCredits: cost.runtimeCredits,
      price: priceUsed,
      modelTurns: input.usage.modelTurns,
      toolCalls: input.usage.toolCalls,
      events: input.usage.events,
    });
  }

  return { settleCredits };
}

function toResult(messageId: string, settled: SettleResult): ChargeResult {
  const posting = settled.posting;
  return {
    messageId,
    credits: posting ? -posting.credits : 0,
    tokenCredits: posting?.tokenCredits ?? 0,
    runtimeCredits: posting?.runtimeCredits ?? 0,
    balance: settled.balance,
    posted: settled.posted,
    posting,
    released: settled.released,
  };
}
