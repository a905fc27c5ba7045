-- case: enum value added at a stated position
-- expect: none

ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'archived' AFTER 'delivered';
