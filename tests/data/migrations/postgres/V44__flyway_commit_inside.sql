-- case: COMMIT inside a Flyway migration (Flyway wraps the file)
-- expect: migration.transaction_nesting@7

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN note text;
COMMIT;
