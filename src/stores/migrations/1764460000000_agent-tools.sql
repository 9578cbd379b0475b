-- Up Migration

-- Employees act with tools, within limits. A NULL limit means the service's default.
ALTER TABLE employees
  ADD COLUMN tools text[] NOT NULL DEFAULT '{}',
  ADD COLUMN max_steps integer CHECK (max_steps > 0),
  ADD COLUMN max_tokens integer CHECK (max_tokens > 0),
  ADD COLUMN deadline_ms bigint CHECK (deadline_ms > 0),
  ADD COLUMN max_credits bigint CHECK (max_credits > 0);

-- Where `send_webhook` may post, by name. The signing secret (Standard Webhooks `whsec_…`) is kept
-- to sign deliveries; it is shown once, at creation, and never listed or logged.
CREATE TABLE endpoints (
  id uuid PRIMARY KEY,
  employee_id uuid NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
  name text NOT NULL,
  url text NOT NULL,
  signing_secret text NOT NULL,
  -- Private, loopback and link-local addresses are refused unless the operator allowed them here.
  allow_private boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (employee_id, name)
);

-- Long-term notes from `remember`, shown in later prompts. One per tool call: a retried call adds nothing.
CREATE TABLE employee_notes (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  employee_id uuid NOT NULL,
  message_id uuid NOT NULL,
  call_id text NOT NULL,
  note text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (message_id, call_id)
);
CREATE INDEX employee_notes_latest ON employee_notes (employee_id, seq DESC);

-- `reply` leaves inbox messages; one per tool call.
ALTER TABLE employee_inbox ADD COLUMN call_id text;
CREATE UNIQUE INDEX employee_inbox_once_per_call ON employee_inbox (message_id, call_id) WHERE call_id IS NOT NULL;

-- What an event did, on its charge and in the rollup: reports count model turns and tool calls.
ALTER TABLE postings ADD COLUMN model_turns integer, ADD COLUMN tool_calls integer;
ALTER TABLE usage_hourly
  ADD COLUMN model_turns bigint NOT NULL DEFAULT 0,
  ADD COLUMN tool_calls bigint NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE usage_hourly DROP COLUMN model_turns, DROP COLUMN tool_calls;
ALTER TABLE postings DROP COLUMN model_turns, DROP COLUMN tool_calls;
DROP INDEX employee_inbox_once_per_call;
ALTER TABLE employee_inbox DROP COLUMN call_id;
DROP TABLE employee_notes, endpoints;
ALTER TABLE employees DROP COLUMN tools, DROP COLUMN max_steps, DROP COLUMN max_tokens, DROP COLUMN deadline_ms, DROP COLUMN max_credits;
