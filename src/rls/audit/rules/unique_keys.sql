-- verify-rls audit: unique indexes of the audited tables ($1) — primary keys, UNIQUE
-- constraints and plain unique indexes alike — with their key columns ('(expression)' for an
-- expression), the constraint they back if any, and the comments of both: the tag
-- `arcdb:platform-unique: <reason>` on either one is the allowlist. Indexes attached to a
-- partitioned index are left out (the parent index stands for them). surrogate: every key column
-- is a uuid with a default (a random surrogate key: a warning, not an error, when unscoped).
SELECT i.indrelid                                        AS table_oid,
       ic.relname::text                                  AS index_name,
       quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS index_qname,
       i.indisprimary                                    AS is_primary,
       ARRAY(SELECT coalesce(a.attname::text, '(expression)')
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_catalog.pg_attribute AS a
               ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
             WHERE k.ord <= i.indnkeyatts
             ORDER BY k.ord)                             AS columns,
       i.indpred IS NOT NULL                             AS partial,
       con.conname::text                                 AS constraint_name,
       pg_catalog.obj_description(con.oid, 'pg_constraint') AS constraint_comment,
       pg_catalog.obj_description(i.indexrelid, 'pg_class')  AS index_comment,
       (i.indnkeyatts > 0 AND NOT EXISTS (
            SELECT 1
            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
            LEFT JOIN pg_catalog.pg_attribute AS a
              ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum > 0
            WHERE k.ord <= i.indnkeyatts
              AND (a.attnum IS NULL OR a.atttypid <> 'uuid'::regtype OR NOT a.atthasdef))) AS surrogate
FROM pg_catalog.pg_index AS i
JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = ic.relnamespace
LEFT JOIN pg_catalog.pg_constraint AS con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indisunique
  AND i.indrelid = ANY ($1::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits AS inh WHERE inh.inhrelid = i.indexrelid)
ORDER BY i.indrelid, ic.relname
