-- Up Migration

-- A queued event (ordered and batch modes) has no workflow of its own until its turn comes: its
-- reservation names the employee's queue workflow instead, so reconcile asks the queue whether it
-- still holds the event, and never takes a long backlog for events that never started. The message
-- record keeps the event's own workflow id (the status API's).
DROP FUNCTION accept_kept_event;
CREATE FUNCTION accept_kept_event(
  p_account uuid, p_message uuid, p_employee uuid, p_event text, p_workflow text, p_credits bigint, p_at timestamptz,
  p_posting uuid, p_scope text, p_key_sha256 text, p_payload_sha256 text, p_window interval, p_take_over uuid,
  p_sealed bytea, p_keep interval, p_replay_of uuid, p_reservation_workflow text
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
  UPDATE open_reservations r SET workflow_id = p_reservation_workflow
  WHERE r.account_id = p_account AND r.message_id = p_message AND p_reservation_workflow IS NOT NULL;
END;
$$;

-- Down Migration
DROP FUNCTION accept_kept_event;
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
