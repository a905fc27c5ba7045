-- expect: migration.mysql_unbatched_dml@2
DELETE FROM audit_log WHERE created_at < '2021-01-01';
