-- case: UPDATE of one row by primary key
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
UPDATE settings SET value = 'on' WHERE id = 42;
