-- verify-rls audit: user triggers on the audited tables ($1): their functions run on a tenant's
-- writes whether or not the tenant may EXECUTE them.
SELECT t.tgrelid AS table_oid,
       t.tgfoid  AS function_oid,
       t.tgname::text AS name
FROM pg_catalog.pg_trigger AS t
WHERE t.tgrelid = ANY ($1::oid[])
  AND NOT t.tgisinternal
ORDER BY t.tgrelid, t.tgname
