-- case: lock_timeout set with set_config(), then a cheap ALTER
-- expect: none

SELECT set_config('lock_timeout', '2s', false);
ALTER TABLE orders ALTER COLUMN channel SET DEFAULT 'web';
