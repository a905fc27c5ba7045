-- case: enum value added without BEFORE/AFTER
-- expect: migration.enum_add_value_unordered@4

ALTER TYPE order_status ADD VALUE 'archived';
