-- case: ADD COLUMN ... REFERENCES validates at once
-- expect: migration.add_foreign_key@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id);
