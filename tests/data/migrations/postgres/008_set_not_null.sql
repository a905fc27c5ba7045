-- case: SET NOT NULL scans under ACCESS EXCLUSIVE
-- expect: migration.set_not_null@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;
