-- The rows of tenant table {table} that are gone from materialized view {source} (matched on
-- the table's primary key). ROW EXCLUSIVE on the table: readers never wait on it.
DELETE FROM {table} AS t
 WHERE NOT EXISTS (SELECT 1 FROM {source} AS s WHERE {key_match})
