-- case: ALTER COLUMN TYPE integer -> bigint rewrites
-- current: CREATE TABLE orders (id bigint PRIMARY KEY, quantity integer NOT NULL);
-- expect: migration.change_column_type@7

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ALTER COLUMN quantity TYPE bigint;
