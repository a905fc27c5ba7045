-- expect: migration.mysql_spatial_index@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE places ADD SPATIAL INDEX sp_places_location (location);
