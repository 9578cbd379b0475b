-- Up Migration

-- Deliveries per endpoint and minute move out of the endpoints table into a table of their own:
-- the application role may then count deliveries (INSERT, UPDATE here) without being able to
-- update an endpoint's row, and so its signing secret.
ALTER TABLE endpoints DROP COLUMN window_started_at, DROP COLUMN window_deliveries;
CREATE TABLE endpoint_delivery_windows (
  endpoint_id uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
  started_at timestamptz NOT NULL,
  deliveries integer NOT NULL CHECK (deliveries > 0)
);

-- Down Migration
DROP TABLE endpoint_delivery_windows;
ALTER TABLE endpoints ADD COLUMN window_started_at timestamptz, ADD COLUMN window_deliveries integer NOT NULL DEFAULT 0;
