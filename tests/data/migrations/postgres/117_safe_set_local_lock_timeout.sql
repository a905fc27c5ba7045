-- case: One lock-taking statement in a transaction with SET LOCAL lock_timeout
-- expect: none

BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE orders ADD COLUMN gift_note text;
COMMIT;
