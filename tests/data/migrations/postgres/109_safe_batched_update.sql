-- case: Backfill by key range
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
UPDATE orders SET channel = 'web'
WHERE id >= 1 AND id < 10001 AND channel IS NULL;
