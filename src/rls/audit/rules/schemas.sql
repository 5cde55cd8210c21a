-- verify-rls audit: CREATE on the schemas that hold audited tables ($1 = their oids), for the
-- tenant's roles and PUBLIC ($2, 0 = PUBLIC), read from the schema ACL (NULL = built-in default,
-- which on PostgreSQL 14 and older gives PUBLIC CREATE on schema public).
SELECT n.oid,
       quote_ident(n.nspname) AS qname,
       ARRAY(SELECT DISTINCT acl.grantee
             FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS acl
             WHERE acl.privilege_type = 'CREATE'
               AND acl.grantee = ANY ($2::oid[]))  AS create_by
FROM pg_catalog.pg_namespace AS n
WHERE n.oid = ANY ($1::oid[])
ORDER BY n.nspname
