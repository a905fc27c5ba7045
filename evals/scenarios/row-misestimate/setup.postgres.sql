CREATE TABLE addresses (id bigint PRIMARY KEY, city text NOT NULL, zip text NOT NULL, street text NOT NULL);
INSERT INTO addresses SELECT g, 'city-' || (g % 100), 'zip-' || (g % 100), 'street ' || g FROM generate_series(1, 200000) g;
CREATE INDEX addresses_city_idx ON addresses (city);
CREATE INDEX addresses_zip_idx ON addresses (zip);
ANALYZE;
