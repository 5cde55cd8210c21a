-- verify-rls: large objects the tenant role ($1) — or any role it can become (inherited or only
-- by SET ROLE) — can read or write, on PostgreSQL 18 and later (has_largeobject_privilege). Large objects have no
-- row-level security: whoever may read one reads it whatever organization it belongs to.
WITH become AS (
    SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE pg_catalog.pg_has_role($1::text, r.oid, 'MEMBER')
)
SELECT m.oid::bigint                                                         AS loid,
       pg_catalog.pg_get_userbyid(m.lomowner)::text                          AS owner_name,
       ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'UPDATE']) AS p
             WHERE EXISTS (SELECT 1 FROM become AS b
                           WHERE has_largeobject_privilege(b.oid, m.oid, p)))            AS privileges,
       pg_catalog.pg_has_role($1::text, m.lomowner, 'MEMBER')                 AS owned
FROM pg_catalog.pg_largeobject_metadata AS m
WHERE EXISTS (SELECT 1 FROM become AS b
              WHERE has_largeobject_privilege(b.oid, m.oid, 'SELECT')
                 OR has_largeobject_privilege(b.oid, m.oid, 'UPDATE'))
ORDER BY 1
