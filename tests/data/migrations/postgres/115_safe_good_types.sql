-- case: A new table with the persona's types
-- expect: none

CREATE TABLE IF NOT EXISTS payments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL,
    amount numeric(19,4) NOT NULL,
    currency text NOT NULL CHECK (length(currency) = 3),
    details jsonb,
    paid_at timestamptz NOT NULL DEFAULT now()
);
