-- verify-rls audit: CREATE on every schema but the system ones, for the tenant's roles and
-- PUBLIC ($1, 0 = PUBLIC), read from the schema ACL (NULL = built-in default, which on
-- PostgreSQL 14 and older gives PUBLIC CREATE on schema public).
--   resolved: names are looked up in this schema at run time: it is `public`, or it is on a
--             search_path a tenant session may start with (the tenant role's ($2) setting, the
--             database's, the server's; "$user" is the tenant role), where every function
--             without a pinned search_path resolves what it calls, or on the pinned search_path
--             of a function. A table or function created there can shadow what a policy, view,
--             trigger or function calls.
WITH paths AS (
    SELECT substr(c, length('search_path=') + 1) AS path
    FROM pg_catalog.pg_db_role_setting AS s, unnest(s.setconfig) AS c
    WHERE c LIKE 'search\_path=%'
      AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database
                                WHERE datname = current_database()))
      AND s.setrole IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2::text))
    UNION ALL
    SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'search_path'
    UNION ALL
    SELECT boot_val FROM pg_catalog.pg_settings WHERE name = 'search_path'
    UNION ALL
    SELECT substr(c, length('search_path=') + 1)
    FROM pg_catalog.pg_proc AS p, unnest(p.proconfig) AS c
    WHERE c LIKE 'search\_path=%'
), resolved AS (
    SELECT DISTINCT replace(btrim(part, ' "'), '$user', $2::text) AS nspname
    FROM paths, regexp_split_to_table(paths.path, ',') AS part
)
SELECT n.oid,
       quote_ident(n.nspname) AS qname,
       ARRAY(SELECT DISTINCT acl.grantee
             FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS acl
             WHERE acl.privilege_type = 'CREATE'
               AND acl.grantee = ANY ($1::oid[]))  AS create_by,
       (n.nspname = 'public' OR n.nspname IN (SELECT nspname FROM resolved)) AS resolved
FROM pg_catalog.pg_namespace AS n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY n.nspname
