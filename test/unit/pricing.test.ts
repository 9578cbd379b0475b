import { priceEvent, priceFor, type PriceList } from '../../src/billing/pricing';
import { parseConfig, priceList } from '../../src/config';

const list: PriceList = {
  models: { 'gpt-4o-mini': { prompt_per_1k: 1, completion_per_1k: 4 }, 'gpt-4': { prompt_per_1k: 30, completion_per_1k: 60 } },
  defaultPromptPer1k: 2,
  defaultCompletionPer1k: 3,
  runtimePerSecond: 5,
};

describe('priceFor', () => {
  it('uses the model’s own entry and names it on the price', () => {
    expect(priceFor(list, 'gpt-4o-mini')).toEqual({ model: 'gpt-4o-mini', promptPer1k: 1, completionPer1k: 4, runtimePerSecond: 5 });
  });

  it.each([
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-4-0613', 'gpt-4'],
  ])('prices the dated snapshot %s as %s', (reported, listed) => {
    expect(priceFor(list, reported).model).toBe(listed);
  });

  it.each([undefined, 'llama3.2', 'gpt-4o', 'constructor', '__proto__'])('falls back on the default price for %s', (model) => {
    expect(priceFor(list, model)).toEqual({ model: 'default', promptPer1k: 2, completionPer1k: 3, runtimePerSecond: 5 });
  });
});

describe('priceEvent', () => {
  const price = { model: 'm', promptPer1k: 1, completionPer1k: 4, runtimePerSecond: 1 };

  it('prices prompt and completion tokens separately and rounds their sum up once', () => {
    // 1,500 × 1 + 600 × 4 = 3,900 thousandths → 4 credits (not ⌈1.5⌉ + ⌈2.4⌉ = 5)
    expect(priceEvent({ promptTokens: 1500, completionTokens: 600, runtimeMs: 1000 }, price)).toEqual({ tokenCredits: 4, runtimeCredits: 1, credits: 5 });
  });

  it('charges runtime pro rata by the millisecond, rounded up, at least one millisecond', () => {
    const perSecond3 = { ...price, runtimePerSecond: 3 };
    expect(priceEvent({ promptTokens: 0, completionTokens: 0, runtimeMs: 1200 }, perSecond3).runtimeCredits).toBe(4); // 3.6 → 4
    expect(priceEvent({ promptTokens: 0, completionTokens: 0, runtimeMs: 0 }, perSecond3).runtimeCredits).toBe(1);
    expect(priceEvent({ promptTokens: 0, completionTokens: 0, runtimeMs: 2000 }, perSecond3).runtimeCredits).toBe(6);
  });

  it('costs nothing at a price of zero and never goes negative on odd usage', () => {
    expect(
      priceEvent({ promptTokens: 5000, completionTokens: 5000, runtimeMs: 5000 }, { ...price, promptPer1k: 0, completionPer1k: 0, runtimePerSecond: 0 })
        .credits,
    ).toBe(0);
    expect(priceEvent({ promptTokens: -50, completionTokens: Number.NaN, runtimeMs: -1 }, price)).toEqual({ tokenCredits: 0, runtimeCredits: 1, credits: 1 });
  });

  it('always yields whole credits', () => {
    for (const [p, c, ms] of [
      [1, 1, 1],
      [999, 1, 999],
      [1001, 0, 1001],
      [123456, 7890, 65432],
    ]) {
      const cost = priceEvent({ promptTokens: p, completionTokens: c, runtimeMs: ms }, { ...price, promptPer1k: 7, completionPer1k: 13, runtimePerSecond: 3 });
      expect(Number.isInteger(cost.tokenCredits) && Number.isInteger(cost.runtimeCredits)).toBe(true);
      expect(cost.tokenCredits).toBe(Math.ceil((p * 7 + c * 13) / 1000));
    }
  });
});

describe('pricing configuration', () => {
  it('reads MODEL_PRICES as JSON and the defaults from their own variables', () => {
    const config = parseConfig({
      MODEL_PRICES: '{"gpt-4o-mini":{"prompt_per_1k":1,"completion_per_1k":4}}',
      CREDITS_PER_1K_PROMPT_TOKENS: '2',
      CREDITS_PER_1K_COMPLETION_TOKENS: '3',
      CREDITS_PER_RUNTIME_SECOND: '5',
    });
    expect(priceList(config)).toEqual({
      models: { 'gpt-4o-mini': { prompt_per_1k: 1, completion_per_1k: 4 } },
      defaultPromptPer1k: 2,
      defaultCompletionPer1k: 3,
      runtimePerSecond: 5,
    });
    expect(parseConfig({}).MODEL_PRICES).toEqual({});
  });

  it.each([
    ['not JSON', { MODEL_PRICES: '{gpt' }, 'MODEL_PRICES'],
    ['a fractional price', { MODEL_PRICES: '{"m":{"prompt_per_1k":0.5,"completion_per_1k":1}}' }, 'MODEL_PRICES.m.prompt_per_1k'],
    ['a missing completion price', { MODEL_PRICES: '{"m":{"prompt_per_1k":1}}' }, 'MODEL_PRICES.m.completion_per_1k'],
    ['an unknown field', { MODEL_PRICES: '{"m":{"prompt_per_1k":1,"completion_per_1k":1,"per_call":3}}' }, 'MODEL_PRICES.m'],
    ['a reservation of zero', { RESERVE_CREDITS_PER_EVENT: '0' }, 'RESERVE_CREDITS_PER_EVENT'],
    ['the replaced CREDITS_PER_1K_TOKENS', { CREDITS_PER_1K_TOKENS: '1' }, 'CREDITS_PER_1K_TOKENS'],
  ])('refuses %s, naming the variable', (_what, env, name) => {
    expect(() => parseConfig(env)).toThrow(name);
  });
});
