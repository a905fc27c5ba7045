CREATE TABLE invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL, amount decimal(12, 2) NOT NULL, legacy_code varchar(20), note varchar(100), issued_at datetime NOT NULL) ENGINE=InnoDB;
INSERT INTO invoices SELECT seq, 1 + seq % 20000, seq % 997, NULL, NULL, NOW() - INTERVAL seq MINUTE FROM seq_1_to_300000;
ANALYZE TABLE invoices;
