CREATE TABLE products (
    id bigint PRIMARY KEY,
    sku varchar(40) NOT NULL,
    category_id int NOT NULL,
    price decimal(10, 2) NOT NULL,
    name varchar(200) NOT NULL
) ENGINE=InnoDB;
INSERT INTO products SELECT seq, CONCAT('SKU-', seq), 1 + seq % 200, (seq % 1000) + 0.5, CONCAT('product ', seq) FROM seq_1_to_100000;
CREATE UNIQUE INDEX products_sku_key ON products (sku);
CREATE INDEX products_sku_copy ON products (sku);
CREATE INDEX products_category ON products (category_id);
CREATE INDEX products_category_price ON products (category_id, price);
ANALYZE TABLE products;
