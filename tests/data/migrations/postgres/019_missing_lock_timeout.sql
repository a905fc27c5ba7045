-- case: Lock-taking DDL without lock_timeout
-- expect: migration.missing_lock_timeout@4

ALTER TABLE orders ADD COLUMN note text;
