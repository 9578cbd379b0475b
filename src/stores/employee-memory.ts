import type { Redis } from 'ioredis';
import { keys } from './keys';
import { redisScript } from './redis-script';
import type { EmployeeOutcome } from '../../workflows/types';

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

/** Outcomes are kept a week: long enough for any retry or re-run of the same event to find them. */
const OUTCOME_TTL_SECONDS = 7 * 24 * 3600;
const INBOX_LIMIT = 1000;

/**
 * Records what one event did to the employee exactly once: the first call appends to the inbox and
 * memory and stores the outcome; a retry finds the outcome and changes nothing.
 * KEYS: outcome, inbox, memory. ARGV: outcome json, inbox entries json..., memory turns json..., counts.
 */
const recordOnce = redisScript<string>(
  'svRecordEmployeeOutcome',
  `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
local nInbox = tonumber(ARGV[2])
local nTurns = tonumber(ARGV[3])
local keepTurns = tonumber(ARGV[4])
for i = 1, nInbox do redis.call('LPUSH', KEYS[2], ARGV[4 + i]) end
redis.call('LTRIM', KEYS[2], 0, ${INBOX_LIMIT - 1})
for i = 1, nTurns do redis.call('RPUSH', KEYS[3], ARGV[4 + nInbox + i]) end
if keepTurns > 0 then redis.call('LTRIM', KEYS[3], -keepTurns, -1) else redis.call('DEL', KEYS[3]) end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ${OUTCOME_TTL_SECONDS})
return ARGV[1]
`,
  3,
);

/** An employee's inbox (what it received and replied) and its conversation memory. */
export class EmployeeMemory {
  constructor(private readonly redis: Redis, private readonly memoryTurns: number) {}

  async outcome(employeeId: string, messageId: string): Promise<EmployeeOutcome | undefined> {
    const raw = await this.redis.get(keys.outcome(employeeId, messageId));
    return raw ? (JSON.parse(raw) as EmployeeOutcome) : undefined;
  }

  /** The last turns, oldest first, as the model should read them. */
  async recentTurns(employeeId: string): Promise<Turn[]> {
    if (this.memoryTurns === 0) return [];
    const raw = await this.redis.lrange(keys.memory(employeeId), -this.memoryTurns * 2, -1);
    return raw.map((r) => JSON.parse(r) as Turn);
  }

  async record(employeeId: string, messageId: string, received: string, outcome: EmployeeOutcome): Promise<EmployeeOutcome> {
    const at = new Date().toISOString();
    const inbox: InboxEntry[] = [{ at, messageId, direction: 'received', text: received }];
    const turns: Turn[] = [{ role: 'user', content: received }];
    if (outcome.reply !== undefined) {
      inbox.push({ at, messageId, direction: 'replied', text: outcome.reply });
      turns.push({ role: 'assistant', content: outcome.reply });
    }
    const stored = await recordOnce(
      this.redis,
      keys.outcome(employeeId, messageId),
      keys.inbox(employeeId),
      keys.memory(employeeId),
      JSON.stringify(outcome),
      inbox.length,
      turns.length,
      this.memoryTurns * 2,
      ...inbox.map((e) => JSON.stringify(e)),
      ...turns.map((t) => JSON.stringify(t)),
    );
    return JSON.parse(String(stored)) as EmployeeOutcome;
  }

  /** Newest first. */
  async inbox(employeeId: string, limit = 50): Promise<InboxEntry[]> {
    const raw = await this.redis.lrange(keys.inbox(employeeId), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as InboxEntry);
  }
}
