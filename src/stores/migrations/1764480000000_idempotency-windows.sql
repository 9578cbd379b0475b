-- Up Migration

-- Idempotency-Key windows, the system of record for "have we seen this key?": one row per account,
-- channel scope ('api' for POST /api/webhook/) and key (its sha256, never the key itself), naming the
-- original message and a fingerprint of what it carried, until the window ends. Redis only caches
-- these rows; the event workflow no longer stays open to hold the window.
CREATE TABLE idempotency_windows (
  account_id uuid NOT NULL REFERENCES accounts (id),
  scope text NOT NULL,
  key_sha256 text NOT NULL,
  message_id uuid NOT NULL,
  employee_id uuid NOT NULL,
  event text,
  payload_sha256 text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, scope, key_sha256)
);
CREATE INDEX idempotency_windows_by_expiry ON idempotency_windows (expires_at);
CREATE INDEX idempotency_windows_by_message ON idempotency_windows (message_id);

-- The ingest's one database round trip. With a key, it claims the key's window first: a window that
-- is still open (and not being taken over from an original that never started) answers 'duplicate'
-- with the original's fingerprint, and nothing else happens. Then it holds `credits` if
-- balance - reserved covers them, posts the reservation, opens it and records the message — or,
-- when the account cannot cover them, answers 'insufficient' and gives the window claim back.
-- The conditional UPDATE takes the balance row's lock and the window's primary key serialises
-- concurrent claims of one key, on any number of API processes. Each statement here sees what
-- committed before it (READ COMMITTED), so a claim that waited for a concurrent one sees its row.
CREATE FUNCTION accept_event(
  p_account uuid, p_message uuid, p_employee uuid, p_event text, p_workflow text, p_credits bigint, p_at timestamptz,
  p_posting uuid, p_scope text, p_key_sha256 text, p_payload_sha256 text, p_window interval, p_take_over uuid
) RETURNS TABLE (
  outcome text, balance bigint, reserved bigint,
  original_message uuid, original_employee uuid, original_event text, original_payload_sha256 text,
  original_created_at timestamptz, original_expires_at timestamptz
) LANGUAGE plpgsql AS $$
DECLARE
  w idempotency_windows%ROWTYPE;
  held credit_balances%ROWTYPE;
BEGIN
  IF p_key_sha256 IS NOT NULL THEN
    INSERT INTO idempotency_windows (account_id, scope, key_sha256, message_id, employee_id, event, payload_sha256, created_at, expires_at)
    VALUES (p_account, p_scope, p_key_sha256, p_message, p_employee, p_event, p_payload_sha256, p_at, p_at + p_window)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      SELECT * INTO w FROM idempotency_windows
      WHERE account_id = p_account AND scope = p_scope AND key_sha256 = p_key_sha256 FOR UPDATE;
      IF w.expires_at > p_at AND w.message_id IS DISTINCT FROM p_take_over THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, NULL::bigint, w.message_id, w.employee_id, w.event, w.payload_sha256,
                            w.created_at, w.expires_at;
        RETURN;
      END IF;
      UPDATE idempotency_windows
      SET message_id = p_message, employee_id = p_employee, event = p_event, payload_sha256 = p_payload_sha256,
          created_at = p_at, expires_at = p_at + p_window
      WHERE account_id = p_account AND scope = p_scope AND key_sha256 = p_key_sha256;
    END IF;
  END IF;

  UPDATE credit_balances b SET reserved = b.reserved + p_credits
  WHERE b.account_id = p_account AND b.balance - b.reserved >= p_credits
  RETURNING b.* INTO held;
  IF NOT FOUND THEN
    DELETE FROM idempotency_windows
    WHERE account_id = p_account AND scope = p_scope AND key_sha256 = p_key_sha256 AND message_id = p_message;
    RETURN QUERY SELECT 'insufficient'::text, b.balance, b.reserved, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                        NULL::timestamptz, NULL::timestamptz
                 FROM credit_balances b WHERE b.account_id = p_account;
    RETURN;
  END IF;
  INSERT INTO open_reservations (account_id, message_id, credits, workflow_id, since)
  VALUES (p_account, p_message, p_credits, p_workflow, p_at);
  INSERT INTO postings (id, account_id, kind, at, credits, reserved, message_id, employee_id, event, workflow_id)
  VALUES (p_posting, p_account, 'reserve', p_at, 0, p_credits, p_message, p_employee, p_event, p_workflow);
  INSERT INTO messages (id, account_id, employee_id, workflow_id, event, received_at)
  VALUES (p_message, p_account, p_employee, p_workflow, p_event, p_at);
  RETURN QUERY SELECT 'reserved'::text, held.balance, held.reserved, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                      NULL::timestamptz, NULL::timestamptz;
END;
$$;

-- Down Migration
DROP FUNCTION accept_event;
DROP TABLE idempotency_windows;
