-- verify-rls audit: foreign keys declared on the audited tables ($1), with their columns and
-- the referenced columns in key order. Constraints cloned onto partitions (conparentid <> 0)
-- are left out: the one on the partitioned table stands for them.
SELECT c.conname::text AS name,
       c.conrelid      AS table_oid,
       c.confrelid     AS ref_table_oid,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       ARRAY(SELECT a.attname::text
             FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS ref_columns
FROM pg_catalog.pg_constraint AS c
WHERE c.contype = 'f'
  AND c.conrelid = ANY ($1::oid[])
  AND c.conparentid = 0
ORDER BY c.conrelid, c.conname
