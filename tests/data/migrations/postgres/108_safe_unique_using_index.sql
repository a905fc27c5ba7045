-- case: UNIQUE through a concurrently built index
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS customers_email_key ON customers (email);
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE USING INDEX customers_email_key;
