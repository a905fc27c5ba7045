-- case: More statements after ACCESS EXCLUSIVE in one transaction
-- expect: migration.statements_after_access_exclusive@7

BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN note text;
ALTER TABLE customers ADD COLUMN note text;
COMMIT;
