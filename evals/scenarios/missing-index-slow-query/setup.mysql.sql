CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, created_at datetime NOT NULL) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('c', seq, '@example.com'), NOW() - INTERVAL seq MINUTE FROM seq_1_to_20000;
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    status varchar(20) NOT NULL,
    total decimal(12, 2) NOT NULL,
    created_at datetime NOT NULL
) ENGINE=InnoDB;
INSERT INTO orders SELECT seq, 1 + (seq * 7919) % 20000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'done'), (seq % 5000) / 10.0, NOW() - INTERVAL (seq * 10) SECOND FROM seq_1_to_300000;
ANALYZE TABLE customers, orders;
