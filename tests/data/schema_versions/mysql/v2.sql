-- shop schema, version 2 (MySQL / MariaDB)
CREATE TABLE users (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    email varchar(320) NOT NULL,
    display_name varchar(200) NULL COMMENT 'the name other users see',
    phone varchar(20) NULL,
    created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_login_at datetime NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_email_key (email)
) ENGINE=InnoDB;

CREATE TABLE addresses (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    user_id bigint unsigned NOT NULL,
    line1 varchar(200) NOT NULL,
    city varchar(100) NOT NULL,
    country char(2) NOT NULL DEFAULT 'FR',
    PRIMARY KEY (id),
    KEY addresses_user_id_idx (user_id),
    CONSTRAINT addresses_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB COMMENT='where orders ship to';

CREATE TABLE products (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    sku varchar(32) NOT NULL,
    name varchar(200) NOT NULL,
    price decimal(12,2) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY products_sku_key (sku),
    KEY products_name_sku_idx (name, sku),
    CONSTRAINT products_price_check CHECK (price >= 0)
) ENGINE=InnoDB;

CREATE TABLE orders (
    id bigint unsigned NOT NULL AUTO_INCREMENT,
    user_id bigint unsigned NOT NULL,
    shipping_address_id bigint unsigned NULL,
    status varchar(20) NOT NULL DEFAULT 'pending',
    total int NOT NULL,
    created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    KEY orders_user_id_idx (user_id),
    KEY orders_shipping_address_id_idx (shipping_address_id),
    KEY orders_status_created_idx (status, created_at),
    CONSTRAINT orders_user_id_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT orders_shipping_address_id_fk FOREIGN KEY (shipping_address_id) REFERENCES addresses (id),
    CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'shipped'))
) ENGINE=InnoDB;

CREATE TABLE order_items (
    order_id bigint unsigned NOT NULL,
    product_id bigint unsigned NOT NULL,
    quantity int NOT NULL,
    unit_price decimal(12,2) NOT NULL DEFAULT 0.00,
    PRIMARY KEY (order_id, product_id),
    KEY order_items_product_id_idx (product_id),
    CONSTRAINT order_items_order_id_fk FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    CONSTRAINT order_items_product_id_fk FOREIGN KEY (product_id) REFERENCES products (id),
    CONSTRAINT order_items_quantity_check CHECK (quantity > 0)
) ENGINE=InnoDB;

CREATE TABLE audit_events (
    id bigint NOT NULL,
    happened_at datetime NOT NULL,
    detail text NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB;
