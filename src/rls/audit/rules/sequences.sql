-- verify-rls audit: sequences that number rows of the audited tables ($1): a column default
-- that calls nextval() (recorded in pg_depend from the pg_attrdef row), or a sequence owned by
-- a column (serial: deptype 'a'; identity: deptype 'i'). One sequence feeding one table
-- already numbers the rows of every organization in that table.
WITH feeds AS (
    SELECT d.refobjid AS seq, ad.adrelid AS rel, ad.adnum AS attnum, 'default' AS how
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_attrdef AS ad
      ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
    WHERE d.refclassid = 'pg_catalog.pg_class'::regclass
      AND ad.adrelid = ANY ($1::oid[])
  UNION
    SELECT d.objid, d.refobjid, d.refobjsubid::int2,
           CASE d.deptype WHEN 'i' THEN 'identity' ELSE 'owned' END
    FROM pg_catalog.pg_depend AS d
    WHERE d.classid = 'pg_catalog.pg_class'::regclass
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.deptype IN ('a', 'i')
      AND d.refobjid = ANY ($1::oid[])
      AND d.refobjsubid > 0
)
SELECT f.seq,
       quote_ident(n.nspname) || '.' || quote_ident(s.relname) AS seq_qname,
       f.rel      AS table_oid,
       a.attname::text AS column_name,
       f.how
FROM feeds AS f
JOIN pg_catalog.pg_class AS s ON s.oid = f.seq AND s.relkind = 'S'
JOIN pg_catalog.pg_namespace AS n ON n.oid = s.relnamespace
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = f.rel AND a.attnum = f.attnum
ORDER BY 2, 3, 4
