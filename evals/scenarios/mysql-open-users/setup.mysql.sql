CREATE USER '{{run}}_report'@'%';
GRANT SELECT ON *.* TO '{{run}}_report'@'%';
CREATE USER '{{run}}_batch'@'%' IDENTIFIED BY 'Batch-Pass-2026!';
CREATE TABLE sales (id bigint PRIMARY KEY, amount decimal(12, 2) NOT NULL) ENGINE=InnoDB;
INSERT INTO sales SELECT seq, seq % 500 FROM seq_1_to_1000;
