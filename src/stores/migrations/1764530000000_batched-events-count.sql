-- Up Migration

-- A batch run's charge stands for every message it ran: reports count each as an event (the
-- credits once). NULL is one event, as every charge before.
ALTER TABLE postings ADD COLUMN events integer CHECK (events > 0);

-- Down Migration
ALTER TABLE postings DROP COLUMN events;
