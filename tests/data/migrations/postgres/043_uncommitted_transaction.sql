-- case: BEGIN without COMMIT
-- expect: migration.uncommitted_transaction@4

BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN note text;
