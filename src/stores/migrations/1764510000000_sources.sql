-- Up Migration

-- Signed sources (issue 21): a sender's own webhooks, verified with a shared secret, wake one
-- employee. Secrets are stored sealed (SecretSealer), never in plain text; `secrets` holds one, or
-- two while a secret is rotated. `settings` holds the kind's data (the hmac verifier's header,
-- encoding, what is signed, where the timestamp, delivery id and label come from).
CREATE TABLE sources (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  employee_id uuid NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL,
  secrets text[] NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}',
  template text,
  window_ms bigint NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_delivery_at timestamptz,
  UNIQUE (employee_id, name)
);

-- The original body of a source's event, kept (sealed) for a retention period so a fixed template
-- can render it again; pruned in the background.
CREATE TABLE source_bodies (
  message_id uuid PRIMARY KEY,
  source_id uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
  content_type text,
  body text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX source_bodies_by_expiry ON source_bodies (expires_at);

-- Down Migration
DROP TABLE source_bodies;
DROP TABLE sources;
