CREATE TABLE customers (id bigint PRIMARY KEY, mail varchar(200) NOT NULL, loyalty_points int NOT NULL DEFAULT 0) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('c', seq, '@example.com'), seq % 1000 FROM seq_1_to_200000;
ANALYZE TABLE customers;
