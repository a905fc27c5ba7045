-- expect: migration.mysql_primary_key_change@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE audit_log DROP PRIMARY KEY, ADD PRIMARY KEY (id, created_at), ALGORITHM=INPLACE, LOCK=NONE;
