-- expect: migration.mysql_table_rebuild@3
SET SESSION lock_wait_timeout = 5;
OPTIMIZE TABLE orders;
