-- case: DROP CONSTRAINT of a unique constraint
-- expect: migration.drop_constraint@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers DROP CONSTRAINT customers_email_key;
