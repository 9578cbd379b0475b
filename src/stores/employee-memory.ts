import type pg from 'pg';
import type { EmployeeOutcome } from '../domain/events';
import { isUuid } from './accounts';
import { statement } from './postgres/statement';

export interface InboxEntry {
  at: string;
  messageId: string;
  direction: 'received' | 'replied';
  text: string;
}

export interface Turn {
  role: 'user' | 'assistant';
  content: string;
}

const selectOutcome = statement<{ employeeId: string; messageId: string }, { outcome: EmployeeOutcome }>(
  'memory_outcome',
  `SELECT outcome FROM employee_outcomes WHERE employee_id = :employeeId AND message_id = :messageId`,
);

/** The newest `limit` turns; the caller reverses them into reading order. */
const selectRecentTurns = statement<{ employeeId: string; limit: number }, Turn>(
  'memory_recent_turns',
  `SELECT role, content FROM employee_memory WHERE employee_id = :employeeId ORDER BY seq DESC LIMIT :limit`,
);

const selectInbox = statement<{ employeeId: string; limit: number }, { at: Date; message_id: string; direction: InboxEntry['direction']; text: string }>(
  'memory_inbox',
  `SELECT at, message_id, direction, text FROM employee_inbox WHERE employee_id = :employeeId ORDER BY seq DESC LIMIT :limit`,
);

/**
 * Records what one event did to the employee exactly once: the outcome row's primary key decides.
 * The first call inserts it and appends to the inbox and memory; a retry inserts nothing and reads
 * the outcome stored by the first. `inbox` and `turns` are JSON arrays, appended in their order.
 */
const recordOnce = statement<{ employeeId: string; messageId: string; outcome: string; at: Date; inbox: string; turns: string }, { outcome: EmployeeOutcome }>(
  'memory_record_once',
  `WITH recorded AS (
     INSERT INTO employee_outcomes (employee_id, message_id, outcome, at)
     VALUES (:employeeId, :messageId, :outcome, :at)
     ON CONFLICT DO NOTHING
     RETURNING outcome
   ), inbox AS (
     INSERT INTO employee_inbox (employee_id, message_id, direction, text, at)
     SELECT :employeeId::uuid, :messageId::uuid, e.direction, e.text, :at::timestamptz
     FROM ROWS FROM (jsonb_to_recordset(:inbox::jsonb) AS (direction text, text text)) WITH ORDINALITY AS e(direction, text, n)
     WHERE EXISTS (SELECT 1 FROM recorded) ORDER BY n
   ), memory AS (
     INSERT INTO employee_memory (employee_id, message_id, role, content, at)
     SELECT :employeeId::uuid, :messageId::uuid, t.role, t.content, :at::timestamptz
     FROM ROWS FROM (jsonb_to_recordset(:turns::jsonb) AS (role text, content text)) WITH ORDINALITY AS t(role, content, n)
     WHERE EXISTS (SELECT 1 FROM recorded) ORDER BY n
   )
   SELECT coalesce((SELECT outcome FROM recorded),
                   (SELECT outcome FROM employee_outcomes WHERE employee_id = :employeeId AND message_id = :messageId)) AS outcome`,
);

/**
 * PostgreSQL text and jsonb cannot hold U+0000, which a payload or a model may contain: it is
 * stored as U+FFFD. (The workflow history keeps the original text.)
 */
export function storable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** A note kept by `remember`, once per tool call. */
const insertNote = statement<{ employeeId: string; messageId: string; callId: string; note: string }>(
  'memory_note_once',
  `INSERT INTO employee_notes (employee_id, message_id, call_id, note) VALUES (:employeeId, :messageId, :callId, :note)
   ON CONFLICT (message_id, call_id) DO NOTHING`,
);

const selectNotes = statement<{ employeeId: string; limit: number }, { note: string }>(
  'memory_notes',
  `SELECT note FROM employee_notes WHERE employee_id = :employeeId ORDER BY seq DESC LIMIT :limit`,
);

/** A message `reply` leaves in the inbox for the account owner, once per tool call. */
const insertReply = statement<{ employeeId: string; messageId: string; callId: string; text: string }>(
  'memory_reply_once',
  `INSERT INTO employee_inbox (employee_id, message_id, direction, text, call_id) VALUES (:employeeId, :messageId, 'replied', :text, :callId)
   ON CONFLICT (message_id, call_id) WHERE call_id IS NOT NULL DO NOTHING`,
);

/** Notes shown in a prompt at most: the newest. */
const NOTES_IN_PROMPT = 50;

/** An employee's inbox (what it received and replied) and its conversation memory. */
export class EmployeeMemory {
  constructor(
    private readonly db: pg.Pool,
    private readonly memoryTurns: number,
  ) {}

  async outcome(employeeId: string, messageId: string): Promise<EmployeeOutcome | undefined> {
    const [row] = await selectOutcome.run(this.db, { employeeId, messageId });
    return row?.outcome;
  }

  /** The last MEMORY_TURNS exchanges (a user turn and a reply each), oldest first, as the model should read them. */
  async recentTurns(employeeId: string): Promise<Turn[]> {
    if (this.memoryTurns === 0) return [];
    const rows = await selectRecentTurns.run(this.db, { employeeId, limit: this.memoryTurns * 2 });
    return rows.reverse().map((r) => ({ role: r.role, content: r.content }));
  }

  async record(employeeId: string, messageId: string, receivedText: string, outcomeGiven: EmployeeOutcome): Promise<EmployeeOutcome> {
    const received = storable(receivedText);
    const outcome = outcomeGiven.reply === undefined ? outcomeGiven : { ...outcomeGiven, reply: storable(outcomeGiven.reply) };
    const inbox: Array<Pick<InboxEntry, 'direction' | 'text'>> = [{ direction: 'received', text: received }];
    const turns: Turn[] = [{ role: 'user', content: received }];
    if (outcome.reply !== undefined) {
      inbox.push({ direction: 'replied', text: outcome.reply });
      turns.push({ role: 'assistant', content: outcome.reply });
    }
    const [row] = await recordOnce.run(this.db, {
      employeeId,
      messageId,
      outcome: JSON.stringify(outcome),
      at: new Date(),
      inbox: JSON.stringify(inbox),
      turns: JSON.stringify(turns),
    });
    return row.outcome;
  }

  /** Keeps a note in long-term memory; a retried call with the same id adds nothing. */
  async remember(employeeId: string, messageId: string, callId: string, note: string): Promise<void> {
    await insertNote.run(this.db, { employeeId, messageId, callId, note: storable(note) });
  }

  /** The newest notes, oldest first, for the system prompt. */
  async notes(employeeId: string): Promise<string[]> {
    return (await selectNotes.run(this.db, { employeeId, limit: NOTES_IN_PROMPT })).map((r) => r.note).reverse();
  }

  /** Leaves a message for the account owner; a retried call with the same id adds nothing. */
  async reply(employeeId: string, messageId: string, callId: string, text: string): Promise<void> {
    await insertReply.run(this.db, { employeeId, messageId, callId, text: storable(text) });
  }

  /** Newest first. */
  async inbox(employeeId: string, limit = 50): Promise<InboxEntry[]> {
    if (!isUuid(employeeId)) return [];
    const rows = await selectInbox.run(this.db, { employeeId, limit });
    return rows.map((r) => ({ at: r.at.toISOString(), messageId: r.message_id, direction: r.direction, text: r.text }));
  }
}
