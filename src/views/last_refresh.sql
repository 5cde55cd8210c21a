-- The latest refresh attempt of every view in arcdb.refresh_log, when its latest successful
-- one finished, and the ages of both on the server's clock.
SELECT DISTINCT ON (l.view_schema, l.view_name)
       l.view_schema,
       l.view_name,
       l.started_at,
       l.finished_at,
       l.duration_ms,
       l.rows,
       l.mode,
       l.outcome,
       l.error,
       extract(epoch FROM now() - l.finished_at)::float8 AS age_seconds,
       (SELECT max(ok.finished_at)
          FROM arcdb.refresh_log AS ok
         WHERE ok.view_schema = l.view_schema AND ok.view_name = l.view_name
           AND ok.outcome = 'ok') AS last_ok_at
  FROM arcdb.refresh_log AS l
 ORDER BY l.view_schema, l.view_name, l.finished_at DESC, l.id DESC
