-- case: serial primary key
-- expect: migration.int_primary_key@5
-- expect: migration.prefer_identity@5

CREATE TABLE events (
    id serial PRIMARY KEY,
    name text NOT NULL
);
