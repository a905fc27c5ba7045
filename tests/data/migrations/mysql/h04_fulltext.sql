-- expect: migration.mysql_fulltext_index@3
SET SESSION lock_wait_timeout = 5;
CREATE FULLTEXT INDEX ft_orders_notes ON orders (notes);
