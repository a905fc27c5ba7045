-- Tables the MySQL/MariaDB migration corpus runs against (rows are added by the test).
CREATE TABLE customers (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(40) NOT NULL DEFAULT '',
  email VARCHAR(120) NULL,
  legacy_code CHAR(4) NULL,
  score INT NOT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY ix_customers_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE orders (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT NOT NULL,
  status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new',
  quantity INT NOT NULL DEFAULT 1,
  notes TEXT NULL,
  created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY ix_orders_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE audit_log (
  id BIGINT NOT NULL PRIMARY KEY,
  created_at DATETIME NOT NULL,
  message VARCHAR(200) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE places (
  id INT NOT NULL PRIMARY KEY,
  location POINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
