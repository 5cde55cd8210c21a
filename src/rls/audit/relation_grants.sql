-- verify-rls audit: the privileges that the tenant, the roles it reaches, and PUBLIC hold on
-- relations (tables, views, materialized views, sequences; $1 = their oids, $2 = the grantees,
-- 0 = PUBLIC), read from the ACLs so that each privilege names the grantee to revoke it from.
-- A NULL ACL means the built-in default (everything for the owner, nothing for others), hence
-- acldefault. Column-level grants come with their column; table-level ones with NULL.
SELECT c.oid                  AS rel,
       NULL::text             AS column_name,
       acl.grantee,
       acl.privilege_type::text AS privilege
FROM pg_catalog.pg_class AS c,
     LATERAL aclexplode(coalesce(c.relacl,
                                 acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                            c.relowner))) AS acl
WHERE c.oid = ANY ($1::oid[])
  AND acl.grantee = ANY ($2::oid[])
UNION ALL
SELECT a.attrelid,
       a.attname::text,
       acl.grantee,
       acl.privilege_type::text
FROM pg_catalog.pg_attribute AS a,
     LATERAL aclexplode(a.attacl) AS acl
WHERE a.attrelid = ANY ($1::oid[])
  AND a.attacl IS NOT NULL
  AND a.attnum > 0
  AND NOT a.attisdropped
  AND acl.grantee = ANY ($2::oid[])
ORDER BY 1, 2 NULLS FIRST, 3, 4
