-- case: Flyway migration (wrapped by the tool) adding a nullable column
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN referrer text;
