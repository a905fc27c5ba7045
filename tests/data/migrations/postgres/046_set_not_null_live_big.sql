-- case: SET NOT NULL with no previous CHECK, in a transaction with other work
-- expect: migration.set_not_null@8
-- expect: migration.statements_after_access_exclusive@9
-- expect: migration.unbatched_backfill@9

BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE orders ALTER COLUMN customer_id SET NOT NULL;
UPDATE orders SET channel = 'web';
COMMIT;
