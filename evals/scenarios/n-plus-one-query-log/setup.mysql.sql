CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, created_at datetime NOT NULL, KEY orders_created_at_idx (created_at)) ENGINE=InnoDB;
INSERT INTO orders SELECT seq, 1 + seq % 5000, NOW() - INTERVAL (100000 - seq) MINUTE FROM seq_1_to_100000;
CREATE TABLE order_items (
    id bigint PRIMARY KEY,
    order_id bigint NOT NULL,
    product_id bigint NOT NULL,
    quantity int NOT NULL,
    price decimal(10, 2) NOT NULL
) ENGINE=InnoDB;
INSERT INTO order_items SELECT seq, 1 + (seq - 1) DIV 4, 1 + seq % 900, 1 + seq % 3, (seq % 300) + 0.99 FROM seq_1_to_400000;
ANALYZE TABLE orders, order_items;
