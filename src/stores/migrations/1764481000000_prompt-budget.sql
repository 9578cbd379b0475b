-- Up Migration

-- What an employee may put in one prompt, whether it keeps notes at all, and what one event may do
-- with its tools. NULL means the service's default (AGENT_* in the configuration).
ALTER TABLE employees
  ADD COLUMN max_prompt_tokens integer CHECK (max_prompt_tokens > 0),
  ADD COLUMN keep_notes boolean NOT NULL DEFAULT true,
  ADD COLUMN max_tool_calls_per_turn integer CHECK (max_tool_calls_per_turn >= 0),
  ADD COLUMN max_tool_calls integer CHECK (max_tool_calls >= 0),
  ADD COLUMN max_webhook_bytes integer CHECK (max_webhook_bytes >= 0);

-- An event's conversation, kept here rather than passed through the workflow: the workflow hands
-- each model turn a reference (message id and turn), so its history grows with the turns, not with
-- turns times the prompt. Turn 0 holds the fitted prompt; turn N the assistant's message of turn N
-- followed by the results of the tool calls it asked for.
CREATE TABLE event_turns (
  message_id uuid NOT NULL,
  turn integer NOT NULL CHECK (turn >= 0),
  messages jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, turn)
);
CREATE INDEX event_turns_by_age ON event_turns (at);

-- Outbound deliveries per endpoint and minute (a fixed window counted in the endpoint's row), and
-- an optional JSON Schema the bodies sent there must match.
ALTER TABLE endpoints
  ADD COLUMN per_minute integer CHECK (per_minute >= 0),
  ADD COLUMN body_schema jsonb,
  ADD COLUMN window_started_at timestamptz,
  ADD COLUMN window_deliveries integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE endpoints DROP COLUMN per_minute, DROP COLUMN body_schema, DROP COLUMN window_started_at, DROP COLUMN window_deliveries;
DROP TABLE event_turns;
ALTER TABLE employees DROP COLUMN max_prompt_tokens, DROP COLUMN keep_notes, DROP COLUMN max_tool_calls_per_turn, DROP COLUMN max_tool_calls,
  DROP COLUMN max_webhook_bytes;
