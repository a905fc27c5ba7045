-- expect: migration.mysql_lock_wait_timeout@3, migration.mysql_charset_change@3
-- the whole table is re-encoded
ALTER TABLE audit_log CONVERT TO CHARACTER SET latin1;
