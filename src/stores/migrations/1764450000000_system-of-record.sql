-- Up Migration

-- The system of record: accounts, employees, API keys, credits and the ledger, the employees'
-- inbox and memory, and what the status API knows of each accepted event. Redis keeps only what
-- may be forgotten (rate-limit counters, the Idempotency-Key window cache).

CREATE TABLE accounts (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  email_verified boolean NOT NULL DEFAULT false,
  webhook_enabled boolean NOT NULL DEFAULT false,
  -- Requests per minute; NULL means the service's default.
  rate_limit_per_minute integer CHECK (rate_limit_per_minute > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE employees (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  name text NOT NULL,
  instructions text NOT NULL,
  model text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employees_by_account ON employees (account_id, created_at);

-- Keys are stored as SHA-256 of the raw key only: raw keys carry 256 random bits, so no salt or
-- slow hash is needed, and a database dump reveals no usable key.
CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  name text NOT NULL,
  prefix text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_by_account ON api_keys (account_id, created_at);

-- The account's counters. They change only in the same statement as the posting that moves them,
-- so `balance` always equals the sum of the postings' credits and `reserved` the sum of their
-- reserved deltas (`credits verify` proves it).
CREATE TABLE credit_balances (
  account_id uuid PRIMARY KEY REFERENCES accounts (id),
  balance bigint NOT NULL DEFAULT 0,
  reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0)
);

-- The ledger. Append-only: the triggers below refuse UPDATE, DELETE and TRUNCATE from anyone, so a
-- correction is always a new posting. One reserve, one charge and one release per message at most.
CREATE TABLE postings (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id uuid NOT NULL UNIQUE,
  account_id uuid NOT NULL REFERENCES accounts (id),
  kind text NOT NULL CHECK (kind IN ('topup', 'reserve', 'charge', 'release')),
  at timestamptz NOT NULL,
  credits bigint NOT NULL DEFAULT 0,
  reserved bigint NOT NULL DEFAULT 0,
  message_id uuid,
  employee_id uuid,
  event text,
  workflow_id text,
  tokens_in bigint,
  tokens_out bigint,
  runtime_ms bigint,
  token_credits bigint,
  runtime_credits bigint,
  price jsonb,
  model text,
  reason text,
  repaired_at timestamptz,
  reference text,
  CHECK ((kind = 'topup') = (message_id IS NULL))
);
CREATE UNIQUE INDEX postings_once_per_message ON postings (account_id, message_id, kind) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX postings_topup_reference ON postings (account_id, reference) WHERE reference IS NOT NULL;
-- Reports read charges by time: the edges of a period that the hourly rollup does not cover, and
-- the per-message report.
CREATE INDEX postings_charges_by_time ON postings (account_id, at) WHERE kind = 'charge';

CREATE FUNCTION postings_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only: % on postings is refused; post a correcting entry instead', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER postings_no_update_or_delete BEFORE UPDATE OR DELETE ON postings
  FOR EACH ROW EXECUTE FUNCTION postings_are_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
  FOR EACH STATEMENT EXECUTE FUNCTION postings_are_append_only();

-- Reservations not yet released: the working set behind `reserved`, deleted by the release that
-- posts its `release` entry. The ledger, not this table, is the record.
CREATE TABLE open_reservations (
  account_id uuid NOT NULL REFERENCES accounts (id),
  message_id uuid NOT NULL,
  credits bigint NOT NULL CHECK (credits > 0),
  workflow_id text NOT NULL,
  since timestamptz NOT NULL,
  PRIMARY KEY (account_id, message_id)
);
CREATE INDEX open_reservations_by_age ON open_reservations (since);

-- Charges summed per account, hour, employee and event label, in the same statement as the charge
-- posting: a report over a period reads hours, so its cost follows the period, not the history.
-- event '' stands for "no label" (labels are never empty).
CREATE TABLE usage_hourly (
  account_id uuid NOT NULL,
  hour timestamptz NOT NULL,
  employee_id uuid NOT NULL,
  event text NOT NULL,
  events bigint NOT NULL,
  credits bigint NOT NULL,
  token_credits bigint NOT NULL,
  runtime_credits bigint NOT NULL,
  tokens_in bigint NOT NULL,
  tokens_out bigint NOT NULL,
  runtime_ms bigint NOT NULL,
  PRIMARY KEY (account_id, hour, employee_id, event)
);

-- What the status API needs to find an accepted event's workflow; written with its reservation.
CREATE TABLE messages (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  employee_id uuid NOT NULL,
  workflow_id text NOT NULL,
  event text,
  received_at timestamptz NOT NULL
);

-- What one event did to its employee, recorded once: a retried activity finds it and does nothing.
CREATE TABLE employee_outcomes (
  employee_id uuid NOT NULL,
  message_id uuid NOT NULL,
  outcome jsonb NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (employee_id, message_id)
);

CREATE TABLE employee_inbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  employee_id uuid NOT NULL,
  message_id uuid NOT NULL,
  direction text NOT NULL CHECK (direction IN ('received', 'replied')),
  text text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employee_inbox_latest ON employee_inbox (employee_id, seq DESC);

CREATE TABLE employee_memory (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  employee_id uuid NOT NULL,
  message_id uuid NOT NULL,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  content text NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employee_memory_latest ON employee_memory (employee_id, seq DESC);

-- What each reconcile found, whether run by the Schedule or by hand.
CREATE TABLE reconcile_runs (
  id uuid PRIMARY KEY,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  accounts integer NOT NULL,
  workflows integer NOT NULL,
  missing integer NOT NULL,
  repaired integer NOT NULL,
  stale_released integer NOT NULL,
  ok boolean NOT NULL,
  details jsonb NOT NULL
);

-- Down Migration
DROP TABLE reconcile_runs, employee_memory, employee_inbox, employee_outcomes, messages, usage_hourly,
  open_reservations, postings, credit_balances, api_keys, employees, accounts;
DROP FUNCTION postings_are_append_only();
