-- case: ALTER COLUMN TYPE with USING (text -> integer)
-- expect: migration.change_column_type@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ALTER COLUMN status TYPE integer USING status::integer;
