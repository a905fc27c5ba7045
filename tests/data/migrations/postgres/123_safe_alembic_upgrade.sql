-- case: Alembic offline upgrade: one ALTER, then the version row
-- expect: none

BEGIN;

SET LOCAL lock_timeout = '2s';

-- Running upgrade 1a2b3c4d5e6f -> 2b3c4d5e6f7a

ALTER TABLE orders ADD COLUMN gift_wrap BOOLEAN;

UPDATE alembic_version SET version_num='2b3c4d5e6f7a' WHERE alembic_version.version_num = '1a2b3c4d5e6f';

COMMIT;
