CREATE USER '{{run}}_web'@'localhost' IDENTIFIED BY 'Web-Pass-2026!';
GRANT ALL PRIVILEGES ON *.* TO '{{run}}_web'@'localhost';
CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(200) NOT NULL) ENGINE=InnoDB;
CREATE TABLE payments (id bigint PRIMARY KEY, customer_id bigint NOT NULL, amount decimal(12, 2) NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers (id)) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('c', seq, '@example.com') FROM seq_1_to_1000;
