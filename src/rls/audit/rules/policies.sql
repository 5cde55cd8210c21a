-- verify-rls audit: the policies of the audited tables ($1 = their oids), with their
-- expressions as PostgreSQL deparses them (pg_get_expr), which is what the Rust side parses.
-- cmd: r = SELECT, a = INSERT, w = UPDATE, d = DELETE, * = ALL. roles: 0 stands for PUBLIC.
SELECT p.polrelid                              AS table_oid,
       p.polname::text                         AS name,
       p.polcmd::text                          AS cmd,
       p.polpermissive                         AS permissive,
       p.polroles::oid[]                       AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid)      AS using_expr,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
FROM pg_catalog.pg_policy AS p
WHERE p.polrelid = ANY ($1::oid[])
ORDER BY p.polrelid, p.polname
