-- case: DROP NOT NULL
-- expect: migration.drop_not_null@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers ALTER COLUMN email DROP NOT NULL;
