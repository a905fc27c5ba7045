-- case: BEGIN inside BEGIN
-- expect: migration.transaction_nesting@6

BEGIN;
SET LOCAL lock_timeout = '2s';
BEGIN;
ALTER TABLE orders ADD COLUMN note text;
COMMIT;
COMMIT;
