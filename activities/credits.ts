import type { Ledger, Price } from '../src/stores/ledger';
import type { ChargeResult, Usage } from '../workflows/types';

export interface ChargeCreditsInput {
  accountId: string;
  messageId: string;
  employeeId: string;
  event?: string;
  usage: Usage;
}

export function creditActivities(deps: { ledger: Ledger; price: Price }) {
  /** Posts the event's charge once, keyed by message id: retries and re-runs return the first posting. */
  async function chargeCredits(input: ChargeCreditsInput): Promise<ChargeResult> {
    const { posted, posting, balance } = await deps.ledger.charge({
      accountId: input.accountId,
      messageId: input.messageId,
      employeeId: input.employeeId,
      event: input.event,
      tokensIn: input.usage.promptTokens,
      tokensOut: input.usage.completionTokens,
      runtimeMs: input.usage.runtimeMs,
      price: deps.price,
    });
    return {
      messageId: input.messageId,
      credits: -posting.credits,
      tokenCredits: posting.tokenCredits ?? 0,
      runtimeCredits: posting.runtimeCredits ?? 0,
      balance,
      posted,
    };
  }
  return { chargeCredits };
}
