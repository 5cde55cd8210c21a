-- arcdb's record of materialized-view refreshes (`arcdb refresh` writes one row per attempt,
-- successful or not; `arcdb views` reads the latest). Lives in arcdb's own schema, which
-- migrations never touch. Created on first use; `arcdb` serializes concurrent first uses.
CREATE SCHEMA IF NOT EXISTS arcdb;
CREATE TABLE IF NOT EXISTS arcdb.refresh_log (
    id           bigserial   PRIMARY KEY,
    view_schema  text        NOT NULL,
    view_name    text        NOT NULL,
    -- The attempt: from BEGIN to COMMIT (or ROLLBACK), on the server's clock.
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    duration_ms  bigint      NOT NULL,
    -- Rows in the view after the refresh (NULL when it failed).
    rows         bigint,
    -- 'concurrent' (REFRESH … CONCURRENTLY) or 'plain'; mode_reason says why.
    mode         text        NOT NULL,
    mode_reason  text        NOT NULL DEFAULT '',
    -- 'ok' or 'failed'; error is the one-line reason of a failure.
    outcome      text        NOT NULL,
    error        text,
    refreshed_by text        NOT NULL DEFAULT current_user,
    CONSTRAINT refresh_log_mode_check CHECK (mode IN ('concurrent', 'plain')),
    CONSTRAINT refresh_log_outcome_check CHECK (outcome IN ('ok', 'failed')),
    CONSTRAINT refresh_log_error_check CHECK ((outcome = 'failed') = (error IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS refresh_log_view_idx
    ON arcdb.refresh_log (view_schema, view_name, finished_at DESC);
