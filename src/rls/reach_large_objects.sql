-- verify-rls: large objects the tenant role ($1) — or a role it inherits from — can read or
-- write, on PostgreSQL 18 and later (has_largeobject_privilege). Large objects have no
-- row-level security: whoever may read one reads it whatever organization it belongs to.
SELECT m.oid::bigint                                                         AS loid,
       pg_catalog.pg_get_userbyid(m.lomowner)::text                          AS owner_name,
       ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'UPDATE']) AS p
             WHERE has_largeobject_privilege($1::text, m.oid, p))            AS privileges,
       pg_catalog.pg_has_role($1::text, m.lomowner, 'USAGE')                 AS owned
FROM pg_catalog.pg_largeobject_metadata AS m
WHERE has_largeobject_privilege($1::text, m.oid, 'SELECT')
   OR has_largeobject_privilege($1::text, m.oid, 'UPDATE')
ORDER BY 1
