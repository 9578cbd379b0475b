-- Up Migration

-- Batch mode: the events one agent run took together. Each message of a batch names the batch's
-- first message (the batch's own names itself); the run's charge is posted against that first one.
ALTER TABLE messages ADD COLUMN batch_of uuid;
CREATE INDEX messages_by_batch ON messages (batch_of) WHERE batch_of IS NOT NULL;

-- Down Migration
DROP INDEX messages_by_batch;
ALTER TABLE messages DROP COLUMN batch_of;
