-- Up Migration

-- The console's sign-in: one-time links mailed to an address, and the sessions they open. Both keep
-- only a SHA-256 of their secret (256 random bits each, so no salt or slow hash is needed): a
-- database dump signs nobody in.
CREATE TABLE sign_in_links (
  token_hash text PRIMARY KEY,
  email text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX sign_in_links_by_expiry ON sign_in_links (expires_at);

CREATE TABLE console_sessions (
  id_hash text PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  -- Sent back with every state-changing request; bound to this session alone.
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_by_account ON console_sessions (account_id);

-- The console's Events page lists an account's events newest first.
CREATE INDEX messages_by_account_time ON messages (account_id, received_at DESC);

-- The Billing page lists an account's latest top-ups: few rows among all of its postings.
CREATE INDEX postings_topups_by_account ON postings (account_id, seq DESC) WHERE kind = 'topup';

-- Down Migration
DROP INDEX postings_topups_by_account;
DROP INDEX messages_by_account_time;
DROP TABLE console_sessions, sign_in_links;
