import type pg from 'pg';
import type { ChatMessage } from '../domain/agent';
import { statement } from './postgres/statement';

const upsertTurn = statement<{ messageId: string; turn: number; messages: string }>(
  'conversation_upsert_turn',
  `INSERT INTO event_turns (message_id, turn, messages) VALUES (:messageId, :turn, :messages::jsonb)
   ON CONFLICT (message_id, turn) DO UPDATE SET messages = excluded.messages, at = now()`,
);

/** Turn N's row is its assistant message; the tool results that answer it are set after it, whole. */
const setToolResults = statement<{ messageId: string; turn: number; results: string }>(
  'conversation_set_tool_results',
  `UPDATE event_turns SET messages = jsonb_build_array(messages -> 0) || :results::jsonb
   WHERE message_id = :messageId AND turn = :turn`,
);

const selectConversation = statement<{ messageId: string; before: number }, { messages: ChatMessage[] }>(
  'conversation_select',
  `SELECT messages FROM event_turns WHERE message_id = :messageId AND turn < :before ORDER BY turn`,
);

const pruneTurns = statement<{ olderThanMs: number; limit: number }, { pruned: number }>(
  'conversation_prune',
  `WITH gone AS (
     DELETE FROM event_turns WHERE ctid IN (
       SELECT ctid FROM event_turns WHERE at < now() - make_interval(secs => :olderThanMs::double precision / 1000) LIMIT :limit)
     RETURNING 1
   ) SELECT count(*)::int AS pruned FROM gone`,
);

/**
 * An event's conversation with the model, kept in PostgreSQL so the workflow passes references
 * (message id, turn) instead of whole conversations. Every write is keyed by (message, turn) and
 * replaces what an earlier attempt of the same step wrote: retries converge on the attempt that
 * completed.
 */
export class ConversationStore {
  constructor(private readonly db: pg.Pool) {}

  /** The fitted prompt, as turn 0. */
  async start(messageId: string, prompt: ChatMessage[]): Promise<void> {
    await upsertTurn.run(this.db, { messageId, turn: 0, messages: JSON.stringify(prompt) });
  }

  /** The assistant's message of `turn`. */
  async answer(messageId: string, turn: number, message: ChatMessage): Promise<void> {
    await upsertTurn.run(this.db, { messageId, turn, messages: JSON.stringify([message]) });
  }

  /** The results of the tool calls `turn` asked for, in the order it asked. */
  async toolResults(messageId: string, turn: number, results: ChatMessage[]): Promise<void> {
    await setToolResults.run(this.db, { messageId, turn, results: JSON.stringify(results) });
  }

  /** Everything said before `turn`, in order: the prompt, then each turn's answer and tool results. */
  async before(messageId: string, turn: number): Promise<ChatMessage[]> {
    return (await selectConversation.run(this.db, { messageId, before: turn })).flatMap((r) => r.messages);
  }

  /** Conversations of events older than `olderThanMs`: what the model was told stays in the workflow history and the inbox. */
  async prune(olderThanMs: number, limit = 1_000): Promise<number> {
    const [row] = await pruneTurns.run(this.db, { olderThanMs, limit });
    return row.pruned;
  }
}
