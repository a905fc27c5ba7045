-- shop schema, version 1 (MySQL / MariaDB)
CREATE TABLE users (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    email varchar(200) NOT NULL,
    full_name varchar(200) NULL,
    phone varchar(20) NULL,
    created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id)
) ENGINE=InnoDB;

CREATE TABLE coupons (
    code varchar(20) NOT NULL,
    percent_off int NOT NULL,
    PRIMARY KEY (code)
) ENGINE=InnoDB;

CREATE TABLE products (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    sku varchar(32) NOT NULL,
    name varchar(200) NOT NULL,
    price int NOT NULL,
    description text NULL,
    PRIMARY KEY (id),
    KEY products_name_idx (name)
) ENGINE=InnoDB;

CREATE TABLE orders (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    user_id bigint unsigned NOT NULL,
    coupon_code varchar(20) NULL,
    status varchar(20) NOT NULL DEFAULT 'new',
    total int NULL,
    note text NULL,
    created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY orders_user_id_idx (user_id),
    KEY orders_coupon_code_idx (coupon_code),
    CONSTRAINT orders_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT orders_coupon_code_fk FOREIGN KEY (coupon_code) REFERENCES coupons (code)
) ENGINE=InnoDB;

CREATE TABLE order_items (
    order_id bigint unsigned NOT NULL,
    product_id bigint unsigned NOT NULL,
    quantity int NOT NULL,
    PRIMARY KEY (order_id, product_id),
    KEY order_items_product_id_idx (product_id),
    CONSTRAINT order_items_order_id_fk FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    CONSTRAINT order_items_product_id_fk FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB;

CREATE TABLE audit_log (
    id bigint NOT NULL,
    happened_at datetime NOT NULL,
    detail text NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB;
