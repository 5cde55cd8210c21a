//! `arcdb.refresh_log`: every refresh attempt, failed or not, recorded after its transaction.

use super::catalog::MatView;
use super::listing::LastRefresh;
use super::{one_line, Outcome, RefreshEntry};
use crate::db::{server_message, Db};
use anyhow::Context;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient};

const CREATE_LOG: &str = include_str!("refresh_log.sql");
const LAST_REFRESH: &str = include_str!("last_refresh.sql");
/// Serializes concurrent first uses of `arcdb.refresh_log` ("arcdbrlg" as a big-endian i64).
const LOG_CREATE_LOCK: i64 = i64::from_be_bytes(*b"arcdbrlg");

async fn log_exists(client: &impl GenericClient) -> anyhow::Result<bool> {
    Ok(client
        .query_typed_one("SELECT to_regclass('arcdb.refresh_log') IS NOT NULL", &[])
        .await?
        .get(0))
}

/// Create `arcdb.refresh_log` unless it exists. Concurrent first uses: on PostgreSQL a
/// transaction-level advisory lock serializes them; elsewhere (and against a concurrent `arcdb
/// up` creating schema arcdb) a creation that collides in the catalog is retried, by when the
/// other side has committed and IF NOT EXISTS skips.
pub(super) async fn ensure_log(db: &mut Db) -> anyhow::Result<()> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        if log_exists(&db.client).await? {
            return Ok(());
        }
        match create_log(db).await {
            Ok(()) => return Ok(()),
            Err(err) if attempt < ATTEMPTS && is_catalog_collision(&err) => continue,
            Err(err) => {
                return Err(anyhow::anyhow!(
                    "cannot create arcdb.refresh_log, where arcdb records refreshes: {}; nothing was refreshed",
                    server_message(&err)
                ))
            }
        }
    }
    unreachable!("the last attempt returns")
}

async fn create_log(db: &mut Db) -> Result<(), tokio_postgres::Error> {
    if db.engine.transactional_ddl() {
        let tx = db.client.transaction().await?;
        if db.engine.supports_advisory_locks() {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_CREATE_LOCK])
                .await?;
        }
        tx.batch_execute(CREATE_LOG).await?;
        tx.commit().await
    } else {
        db.client.batch_execute(CREATE_LOG).await
    }
}

fn is_catalog_collision(err: &tokio_postgres::Error) -> bool {
    [
        SqlState::UNIQUE_VIOLATION,
        SqlState::DUPLICATE_SCHEMA,
        SqlState::DUPLICATE_TABLE,
        SqlState::DUPLICATE_OBJECT,
    ]
    .iter()
    .any(|code| err.code() == Some(code))
}

/// Write the record of one attempt (its own statement, after the attempt's transaction ended).
pub(super) async fn record(
    client: &Client,
    mv: &MatView,
    entry: &RefreshEntry,
) -> Result<(), tokio_postgres::Error> {
    let outcome = match entry.outcome {
        Outcome::Refreshed => "ok",
        _ => "failed",
    };
    client
        .execute(
            "INSERT INTO arcdb.refresh_log
                    (view_schema, view_name, started_at, finished_at, duration_ms, rows, mode,
                     mode_reason, outcome, error)
             SELECT $1, $2, t - $3::int8 * interval '1 millisecond', t, $3, $4, $5, $6, $7, $8
               FROM (SELECT clock_timestamp() AS t) AS now",
            &[
                &mv.schema,
                &mv.name,
                &(entry.duration_ms.unwrap_or(0) as i64),
                &entry.rows,
                &entry.mode.as_str(),
                &entry.mode_reason,
                &outcome,
                &entry.error,
            ],
        )
        .await?;
    Ok(())
}

/// The error when an attempt cannot be recorded. For a failed refresh its own cause comes first:
/// the record usually fails for the same reason (the connection is gone), and the cause is what
/// the reader needs.
pub(super) fn unrecorded(
    entry: &RefreshEntry,
    view_unchanged: bool,
    err: &tokio_postgres::Error,
) -> anyhow::Error {
    let name = entry.display_name();
    let log_error = one_line(&server_message(err));
    match entry.outcome {
        Outcome::Failed => {
            let cause = entry.error.as_deref().unwrap_or("unknown error");
            // Lock and statement timeouts say it already.
            let state = if cause.contains("keeps its previous contents") {
                String::new()
            } else if view_unchanged {
                format!("; {name} keeps its previous contents")
            } else {
                format!("; {name} may or may not have been refreshed")
            };
            let again = if err.is_closed() {
                " — run arcdb refresh again"
            } else {
                ""
            };
            anyhow::anyhow!(
                "the refresh of {name} failed: {cause}; it is not recorded in arcdb.refresh_log ({log_error}){state}{again}"
            )
        }
        Outcome::Refreshed | Outcome::WouldRefresh => anyhow::anyhow!(
            "the refresh of {name} succeeded but cannot be recorded in arcdb.refresh_log: {log_error}"
        ),
    }
}

/// The latest attempt per view, when the log exists.
pub(super) async fn last_refreshes(db: &Db) -> anyhow::Result<Vec<(String, String, LastRefresh)>> {
    if !log_exists(&db.client).await? {
        return Ok(Vec::new());
    }
    let rows = db
        .client
        .query_typed(LAST_REFRESH, &[])
        .await
        .context("cannot read arcdb.refresh_log")?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("view_schema"),
                r.get("view_name"),
                LastRefresh {
                    started_at: r.get("started_at"),
                    finished_at: r.get("finished_at"),
                    duration_ms: r.get("duration_ms"),
                    rows: r.get("rows"),
                    mode: r.get("mode"),
                    outcome: r.get("outcome"),
                    error: r.get("error"),
                    age_seconds: r.get::<_, f64>("age_seconds").max(0.0),
                    last_ok_at: r.get("last_ok_at"),
                },
            )
        })
        .collect())
}
