-- arcdb's record of applied migrations. Lives in its own schema so that migrations never touch
-- it and `rollback --to 0` can leave the application schema empty.
CREATE SCHEMA IF NOT EXISTS arcdb;
CREATE TABLE IF NOT EXISTS arcdb.schema_history (
    version      integer     PRIMARY KEY,
    name         text        NOT NULL,
    checksum     text        NOT NULL,
    -- The file that ran: up.sql, or the engine variant chosen for this server.
    script       text        NOT NULL,
    -- false while a migration that cannot run in one transaction (CockroachDB) is under way.
    complete     boolean     NOT NULL DEFAULT true,
    applied_by   text        NOT NULL DEFAULT current_user,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms bigint      NOT NULL DEFAULT 0
);
