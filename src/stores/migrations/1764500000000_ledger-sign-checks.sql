-- Up Migration

-- The sign of every posting kind, enforced by the database, whoever writes: a top-up only adds, a
-- charge only takes, a reserve only holds and a release only lets go. A forged or mistaken amount
-- (a "charge" of +1,000,000, a negative top-up) is refused before it reaches the balance.
-- Existing rows are checked too: the migration fails, naming this constraint, if one breaks it.
ALTER TABLE postings ADD CONSTRAINT postings_sign_by_kind CHECK (
  CASE kind
    WHEN 'topup' THEN credits > 0 AND reserved = 0
    WHEN 'reserve' THEN credits = 0 AND reserved > 0
    WHEN 'charge' THEN credits <= 0 AND reserved = 0
    WHEN 'release' THEN credits = 0 AND reserved < 0
    ELSE false
  END
);

-- Down Migration
ALTER TABLE postings DROP CONSTRAINT postings_sign_by_kind;
