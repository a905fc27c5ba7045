CREATE TABLE customers (
    id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email varchar(200) NOT NULL,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT customers_email_key UNIQUE (email)
) ENGINE=InnoDB;
CREATE TABLE orders (
    id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    customer_id bigint NOT NULL,
    status varchar(20) NOT NULL,
    total decimal(12, 2) NOT NULL,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_orders_customer_id_created_at (customer_id, created_at),
    CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT
) ENGINE=InnoDB;
INSERT INTO customers (email, created_at) SELECT CONCAT('c', seq, '@example.com'), NOW() - INTERVAL seq MINUTE FROM seq_1_to_20000;
INSERT INTO orders (customer_id, status, total, created_at) SELECT 1 + (seq * 7919) % 20000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'done'), (seq % 5000) / 10.0, NOW() - INTERVAL (seq * 10) SECOND FROM seq_1_to_200000;
ANALYZE TABLE customers, orders;
