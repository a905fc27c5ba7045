-- expect: none
CREATE TABLE coupons (
  id INT NOT NULL PRIMARY KEY,
  code VARCHAR(20) NOT NULL,
  body TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
ALTER TABLE coupons ADD COLUMN expires_at DATETIME NOT NULL;
CREATE FULLTEXT INDEX ft_coupons_body ON coupons (body);
ALTER TABLE coupons MODIFY COLUMN code VARCHAR(200) NOT NULL;
UPDATE coupons SET code = UPPER(code);
