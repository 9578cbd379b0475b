import type { EventStatusReader, EventStatusView } from '../events/event-status';
import type { MessageFilter, MessageRecord, MessageStore } from '../stores/messages';

/** The statuses the Events page filters by; `queued` (flow control) is listed before the status code knows it. */
export const EVENT_STATUSES = ['accepted', 'queued', 'processing', 'completed', 'failed'] as const;
export type ConsoleEventStatus = (typeof EVENT_STATUSES)[number];

export interface EventListItem {
  messageId: string;
  employeeId: string;
  event?: string;
  receivedAt: Date;
  status: ConsoleEventStatus;
  credits: number | null;
}

/** Events on one page of the list: the status of each uncharged one costs a look at Temporal. */
export const EVENTS_PER_PAGE = 50;

/**
 * The console's one door to event status (src/events/): every page that shows an event's status
 * reads it here, so a change of that code is a change of this file alone.
 */
export class ConsoleEvents {
  constructor(
    private readonly messages: MessageStore,
    private readonly status: EventStatusReader,
  ) {}

  /** The account's events, newest first, with their status; `status` filters after it is known. */
  async list(accountId: string, filter: Omit<MessageFilter, 'limit'> & { status?: ConsoleEventStatus }): Promise<EventListItem[]> {
    const records = await this.messages.list(accountId, { ...filter, limit: EVENTS_PER_PAGE });
    const items = await Promise.all(records.map((record) => this.item(accountId, record)));
    return filter.status ? items.filter((item) => item.status === filter.status) : items;
  }

  /** One event with its steps, error and trace link; undefined for an unknown id and for another account's. */
  async get(accountId: string, messageId: string): Promise<EventStatusView | undefined> {
    return this.status.get(accountId, messageId);
  }

  private async item(accountId: string, record: MessageRecord): Promise<EventListItem> {
    const base = { messageId: record.messageId, employeeId: record.employeeId, event: record.event, receivedAt: record.receivedAt };
    // A charged event has completed: the ledger says so without asking Temporal.
    if (record.charge) return { ...base, status: 'completed', credits: -record.charge.credits };
    const view = await this.status.get(accountId, record.messageId);
    return { ...base, status: view?.status ?? 'accepted', credits: view?.credits ?? null };
  }
}

/** Whether an event may still change: its row and detail poll while it is. */
export function isRunning(status: string): boolean {
  return status !== 'completed' && status !== 'failed';
}
