-- Up Migration

-- Bulk replays: the set of events a confirmed bulk replay starts, fixed when it was confirmed, and
-- what became of each (the replay's message id, or why it was not replayed). The bulk's workflow
-- works through the items in order; an item is done once its row says so, and the replay itself is
-- claimed under an Idempotency-Key window named after the bulk and the item, so a retried step after
-- a crash finds the replay it already started instead of starting another.
CREATE TABLE bulk_replays (
  id text PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  filter jsonb NOT NULL,
  total integer NOT NULL,
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'cancelled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX bulk_replays_by_account ON bulk_replays (account_id, created_at);

CREATE TABLE bulk_replay_items (
  bulk_id text NOT NULL REFERENCES bulk_replays (id),
  seq integer NOT NULL,
  message_id uuid NOT NULL,
  replay_message_id uuid,
  error text,
  done_at timestamptz,
  PRIMARY KEY (bulk_id, seq)
);
CREATE INDEX bulk_replay_items_pending ON bulk_replay_items (bulk_id, seq) WHERE done_at IS NULL;

-- Down Migration
DROP TABLE bulk_replay_items, bulk_replays;
