import { z } from 'zod';
import type { Usage } from '../domain/events';
import type { PriceUsed } from '../domain/billing';

/** One model's token prices, in whole credits per 1,000 tokens. */
export const ModelPrice = z.strictObject({
  prompt_per_1k: z.number().int().min(0),
  completion_per_1k: z.number().int().min(0),
});

/** MODEL_PRICES: `{"<model>": {"prompt_per_1k": n, "completion_per_1k": n}, …}`. */
export const ModelPrices = z.record(z.string().min(1), ModelPrice);
export type ModelPrices = z.infer<typeof ModelPrices>;

/** The worker's price list, built once from the configuration. */
export interface PriceList {
  models: ModelPrices;
  defaultPromptPer1k: number;
  defaultCompletionPer1k: number;
  runtimePerSecond: number;
}

/** A dated snapshot a server reports (`gpt-4o-mini-2024-07-18`, `gpt-4-0613`) is priced as its model. */
const SNAPSHOT_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{4})$/;

/** The price of a model: its own entry, else its snapshot's base model's, else the default. */
export function priceFor(list: PriceList, model: string | undefined): PriceUsed {
  const name = listedName(list, model);
  const entry = name === undefined ? undefined : list.models[name];
  return {
    model: name ?? 'default',
    promptPer1k: entry ? entry.prompt_per_1k : list.defaultPromptPer1k,
    completionPer1k: entry ? entry.completion_per_1k : list.defaultCompletionPer1k,
    runtimePerSecond: list.runtimePerSecond,
  };
}

function listedName(list: PriceList, model: string | undefined): string | undefined {
  if (model === undefined) return undefined;
  if (Object.hasOwn(list.models, model)) return model;
  const base = model.replace(SNAPSHOT_SUFFIX, '');
  return Object.hasOwn(list.models, base) ? base : undefined;
}

export interface EventCost {
  tokenCredits: number;
  runtimeCredits: number;
  credits: number;
}

/**
 * Credits are whole numbers, and each part is rounded up once per event: token credits are
 * ⌈(prompt × prompt price + completion × completion price) / 1000⌉, runtime credits are
 * ⌈runtime ms × price per second / 1000⌉ (pro rata by the millisecond, at least 1 ms). Rounding up
 * means a completed event never costs nothing by rounding; rounding once means a long event is not
 * overcharged per second. Integer arithmetic throughout: no float drift.
 */
export function priceEvent(usage: Pick<Usage, 'promptTokens' | 'completionTokens' | 'runtimeMs'>, price: PriceUsed): EventCost {
  const tokens = count(usage.promptTokens) * price.promptPer1k + count(usage.completionTokens) * price.completionPer1k;
  const tokenCredits = ceilDiv(tokens, 1000);
  const runtimeCredits = ceilDiv(Math.max(count(usage.runtimeMs), 1) * price.runtimePerSecond, 1000);
  return { tokenCredits, runtimeCredits, credits: tokenCredits + runtimeCredits };
}

/** A model server's odd usage (negative, fractional, missing) never makes a charge negative or NaN. */
const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0);

function ceilDiv(numerator: number, denominator: number): number {
  return Math.floor((numerator + denominator - 1) / denominator);
}
