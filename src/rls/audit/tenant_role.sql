-- verify-rls audit: the tenant role itself ($1 = its name). No row when it does not exist.
-- rolsuper / rolbypassrls: either attribute exempts every session of the role from RLS.
SELECT r.oid,
       r.rolname::text AS name,
       r.rolsuper      AS superuser,
       r.rolbypassrls  AS bypassrls
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = $1
