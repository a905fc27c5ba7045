-- case: varchar(50) -> varchar(200) is binary-coercible
-- current: CREATE TABLE customers (id bigint PRIMARY KEY, name varchar(50));
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers ALTER COLUMN name TYPE varchar(200);
