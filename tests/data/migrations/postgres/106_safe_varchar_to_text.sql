-- case: varchar -> text is binary-coercible
-- current: CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(100) NOT NULL);
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers ALTER COLUMN email TYPE text;
