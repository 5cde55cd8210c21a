-- verify-rls: does anything read the tenant setting ($1)? The number of policies, whether a
-- policy expression or a user function's body mentions the setting, and the settings the
-- policies and functions do read with current_setting('…') (to name the likely right one).
WITH texts AS (
    SELECT coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || ' ' ||
           coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '') AS t
    FROM pg_catalog.pg_policy AS p
  UNION ALL
    SELECT f.prosrc
    FROM pg_catalog.pg_proc AS f
    JOIN pg_catalog.pg_namespace AS n ON n.oid = f.pronamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
)
SELECT (SELECT count(*) FROM pg_catalog.pg_policy)           AS policies,
       EXISTS (SELECT 1 FROM texts WHERE strpos(t, $1) > 0)  AS read,
       ARRAY(SELECT DISTINCT m[1]
             FROM texts, regexp_matches(t, 'current_setting\(''([^'']+)''', 'g') AS m
             WHERE m[1] <> $1
             ORDER BY 1)                                     AS others
