-- case: Purge in one DELETE (one-sided bound)
-- expect: migration.unbatched_backfill@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
DELETE FROM audit_log WHERE created_at < now() - interval '90 days';
