-- case: Backfill in one UPDATE
-- expect: migration.unbatched_backfill@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
UPDATE orders SET channel = 'web' WHERE channel IS NULL;
