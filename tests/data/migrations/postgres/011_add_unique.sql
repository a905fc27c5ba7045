-- case: ADD UNIQUE builds its index under ACCESS EXCLUSIVE
-- expect: migration.add_unique_constraint@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE (email);
