-- case: enum value renamed
-- expect: migration.enum_rename_value@4

ALTER TYPE order_status RENAME VALUE 'shipped' TO 'dispatched';
