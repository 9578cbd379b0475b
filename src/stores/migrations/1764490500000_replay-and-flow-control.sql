-- Up Migration

-- Replay: each accepted event's payload is kept (sealed: AES-256-GCM with the payload keys when they
-- are configured) for REPLAY_RETENTION, beyond Temporal's retention, so a failed event can be run
-- again. The row goes with its message (a release that forgets the message forgets the payload) and
-- is pruned once it expires. A replay's message names the first original it replays.
CREATE TABLE event_payloads (
  message_id uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
  account_id uuid NOT NULL,
  sealed bytea NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX event_payloads_by_expiry ON event_payloads (expires_at);

ALTER TABLE messages ADD COLUMN replay_of uuid;
-- Set once the employee's queue workflow durably holds the event (ordered mode): until its own
-- workflow starts, the event is `queued`, and a repeat of its Idempotency-Key is a duplicate of it.
ALTER TABLE messages ADD COLUMN queued_at timestamptz;
CREATE INDEX messages_by_replay ON messages (replay_of) WHERE replay_of IS NOT NULL;

-- Flow control per employee: parallel (every event its own workflow at once), ordered (through the
-- employee's queue workflow, `flow_concurrency` at a time, in acceptance order), batch.
ALTER TABLE employees
  ADD COLUMN flow_mode text NOT NULL DEFAULT 'parallel' CHECK (flow_mode IN ('parallel', 'ordered', 'batch')),
  ADD COLUMN flow_concurrency integer CHECK (flow_concurrency > 0),
  ADD COLUMN flow_debounce_ms integer CHECK (flow_debounce_ms > 0),
  ADD COLUMN flow_max_wait_ms integer CHECK (flow_max_wait_ms > 0),
  ADD COLUMN flow_max_batch integer CHECK (flow_max_batch > 0);

-- accept_event(), plus the payload kept for replay and the original a replay points at, in the same
-- round trip: both are written only when the event was reserved (its message row is new).
CREATE FUNCTION accept_kept_event(
  p_account uuid, p_message uuid, p_employee uuid, p_event text, p_workflow text, p_credits bigint, p_at timestamptz,
  p_posting uuid, p_scope text, p_key_sha256 text, p_payload_sha256 text, p_window interval, p_take_over uuid,
  p_sealed bytea, p_keep interval, p_replay_of uuid
) RETURNS TABLE (
  outcome text, balance bigint, reserved bigint,
  original_message uuid, original_employee uuid, original_event text, original_payload_sha256 text,
  original_created_at timestamptz, original_expires_at timestamptz
) LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT * FROM accept_event(p_account, p_message, p_employee, p_event, p_workflow, p_credits, p_at, p_posting,
                                          p_scope, p_key_sha256, p_payload_sha256, p_window, p_take_over);
  INSERT INTO event_payloads (message_id, account_id, sealed, expires_at)
  SELECT m.id, m.account_id, p_sealed, p_at + p_keep FROM messages m WHERE m.id = p_message AND p_sealed IS NOT NULL;
  UPDATE messages m SET replay_of = p_replay_of WHERE m.id = p_message AND p_replay_of IS NOT NULL;
END;
$$;

-- Down Migration
DROP FUNCTION accept_kept_event;
ALTER TABLE employees DROP COLUMN flow_mode, DROP COLUMN flow_concurrency, DROP COLUMN flow_debounce_ms, DROP COLUMN flow_max_wait_ms,
  DROP COLUMN flow_max_batch;
DROP INDEX messages_by_replay;
ALTER TABLE messages DROP COLUMN replay_of, DROP COLUMN queued_at;
DROP TABLE event_payloads;
