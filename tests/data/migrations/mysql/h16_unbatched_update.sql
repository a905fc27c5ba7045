-- expect: migration.mysql_unbatched_dml@2
UPDATE orders SET status = 'paid' WHERE status = 'new';
