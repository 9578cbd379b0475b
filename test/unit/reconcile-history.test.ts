import fs from 'node:fs';
import path from 'node:path';
import { chargeInHistory } from '../../src/billing/reconcile';
import { historyFromJson } from '../helpers/history-json';

const events = (name: string) =>
  historyFromJson(JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'histories', `${name}.json`), 'utf8'))).events ?? [];

describe('the charge a workflow history holds', () => {
  it('is the posting itself since settle-credits, price included', () => {
    const { input, charge } = chargeInHistory(events('settle-model-success'));
    expect(charge).toMatchObject({
      kind: 'charge',
      messageId: input.messageId,
      employeeId: input.employeeId,
      event: 'order.completed',
      tokensIn: 1500,
      tokensOut: 600,
      price: { model: 'default', promptPer1k: 1, completionPer1k: 1, runtimePerSecond: 1 },
    });
    expect(charge!.credits).toBe(-(charge!.tokenCredits! + charge!.runtimeCredits!));
  });

  it('is rebuilt from the chargeCredits result and the employee’s usage in older histories', () => {
    const { input, charge } = chargeInHistory(events('model-success'));
    expect(charge).toMatchObject({
      kind: 'charge',
      messageId: input.messageId,
      credits: -4,
      tokenCredits: 3,
      runtimeCredits: 1,
      tokensIn: 1500,
      tokensOut: 600,
      event: 'order.completed',
    });
    expect(charge!.price).toBeUndefined();
  });

  it.each(['settle-model-rejected', 'settle-employee-not-found', 'model-rejected', 'employee-not-found'])('is none for a failed event (%s)', (name) => {
    expect(chargeInHistory(events(name)).charge).toBeUndefined();
  });
});
