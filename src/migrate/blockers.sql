-- What the migrating session ($1) waits for and who holds it: one row per blocking session,
-- with the lock requested, the blocker's transaction and query start, state, query and the
-- modes it holds on the same object.
SELECT w.mode AS wanted,
       coalesce(w.relation::regclass::text, w.locktype) AS object,
       b.pid,
       to_char(a.xact_start, 'HH24:MI:SS') AS xact_start,
       to_char(a.query_start, 'HH24:MI:SS') AS query_start,
       coalesce(a.state, '?') AS state,
       left(regexp_replace(coalesce(a.query, ''), '\s+', ' ', 'g'), 60) AS query,
       (SELECT string_agg(DISTINCT h.mode, ', ')
          FROM pg_locks h
         WHERE h.pid = b.pid AND h.granted AND h.locktype = w.locktype
           AND h.database IS NOT DISTINCT FROM w.database
           AND h.relation IS NOT DISTINCT FROM w.relation) AS held
  FROM pg_locks w
 CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)
  LEFT JOIN pg_stat_activity a ON a.pid = b.pid
 WHERE w.pid = $1 AND NOT w.granted
 ORDER BY a.xact_start NULLS LAST
 LIMIT 3
