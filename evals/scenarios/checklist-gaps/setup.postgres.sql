CREATE TABLE page_views (id serial PRIMARY KEY, path text NOT NULL, viewed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO page_views (path) SELECT '/p/' || g FROM generate_series(1, 1000) g;
SELECT setval('page_views_id_seq', 2000000000);
