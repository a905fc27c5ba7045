-- case: A statement that does not parse
-- expect: migration.unparsable@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN;
