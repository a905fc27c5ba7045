-- case: Purge in LIMITed batches
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
DELETE FROM audit_log
WHERE id IN (SELECT id FROM audit_log WHERE created_at < now() - interval '90 days' LIMIT 5000);
