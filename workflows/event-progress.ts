import { setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { EventStatus, EventStep } from '../src/domain/events';
import { EVENT_STATUS, statusQuery, type WebhookEventResult } from './contract';

/** What an event run reports as it goes: its result (answered by the status query), its status and its trail. */
export interface EventProgress {
  result: WebhookEventResult;
  steps: EventStep[];
  /** Sets the status in the result and in the EventStatus search attribute. */
  setStatus: (status: EventStatus) => void;
  /** Adds a line to the Temporal UI's "current details": what happened so far, one line a step. */
  note: (line: string) => void;
}

/** Starts answering the status query for `messageId`'s run; the event and batch workflows share it. */
export function trackEvent(messageId: string): EventProgress {
  const result: WebhookEventResult = { messageId, status: 'accepted', steps: [] };
  setHandler(statusQuery, () => result);
  const trail: string[] = [];
  return {
    result,
    steps: result.steps!,
    setStatus: (status) => {
      result.status = status;
      upsertSearchAttributes([{ key: EVENT_STATUS, value: status }]);
    },
    note: (line) => {
      trail.push(line);
      setCurrentDetails(trail.join('\n'));
    },
  };
}
