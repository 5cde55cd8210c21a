-- The new rows of materialized view {source} into tenant table {table}, and the changed ones
-- over their old values: a row whose values are all the same is not written again (no dead
-- tuple, no WAL), so a refresh that changed little writes little.
INSERT INTO {table} AS t ({columns})
SELECT {source_columns} FROM {source} AS s
    ON CONFLICT ({key}) DO UPDATE SET ({update_columns}) = ROW({excluded_update_columns})
 WHERE ROW({table_update_columns}) IS DISTINCT FROM ROW({excluded_update_columns})
