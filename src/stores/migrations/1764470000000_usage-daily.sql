-- Up Migration

-- Charges summed per account, UTC day, employee and event label, beside the hourly rollup and in
-- the same settlement statement: a 30-day report reads 30 days of rows, not 720 hours of them.
CREATE TABLE usage_daily (LIKE usage_hourly INCLUDING DEFAULTS);
ALTER TABLE usage_daily RENAME COLUMN hour TO day;
ALTER TABLE usage_daily ADD PRIMARY KEY (account_id, day, employee_id, event);

INSERT INTO usage_daily (account_id, day, employee_id, event, events, credits, token_credits, runtime_credits, tokens_in, tokens_out,
                         runtime_ms, model_turns, tool_calls)
SELECT account_id, date_trunc('day', hour, 'UTC'), employee_id, event, sum(events), sum(credits), sum(token_credits), sum(runtime_credits),
       sum(tokens_in), sum(tokens_out), sum(runtime_ms), sum(model_turns), sum(tool_calls)
FROM usage_hourly
GROUP BY 1, 2, 3, 4;

-- `credits verify` sums an account's postings: read from this index alone, not the whole table.
CREATE INDEX postings_by_account ON postings (account_id) INCLUDE (kind, credits, reserved);

-- Down Migration
DROP INDEX postings_by_account;
DROP TABLE usage_daily;
