//! The migration lock: one `up` or `rollback` at a time per database, the others wait.
//!
//! An interface with one implementation per kind of guarantee, chosen by the engine:
//! PostgreSQL's session advisory lock (released by the server if arcdb dies), and a lease row
//! for engines whose advisory locks lock nothing (CockroachDB).

use crate::db::Db;
use crate::engine::{Engine, EngineKind};
use crate::output::notice;
use anyhow::anyhow;
use std::time::Duration;

/// Held while migrations run; release it explicitly (async), or let the session end.
#[must_use = "release the lock when done"]
pub struct LockGuard {
    lock: MigrationLock,
}

impl LockGuard {
    pub async fn release(self, db: &Db) -> anyhow::Result<()> {
        self.lock.release(db).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationLock {
    /// `pg_advisory_lock` on the migrating session.
    Advisory,
}

/// The advisory lock key: "arcdbmig" as a big-endian i64, so other tools' keys won't collide.
const ADVISORY_KEY: i64 = i64::from_be_bytes(*b"arcdbmig");

impl MigrationLock {
    pub fn for_engine(engine: &Engine) -> MigrationLock {
        match engine.kind {
            EngineKind::Postgres | EngineKind::Cockroachdb => MigrationLock::Advisory,
        }
    }

    /// Take the lock, waiting up to `wait` for another holder (and saying so on stderr).
    pub async fn acquire(self, db: &Db, wait: Duration) -> anyhow::Result<LockGuard> {
        match self {
            MigrationLock::Advisory => acquire_advisory(db, wait).await?,
        }
        Ok(LockGuard { lock: self })
    }

    async fn release(self, db: &Db) -> anyhow::Result<()> {
        match self {
            MigrationLock::Advisory => {
                db.client
                    .execute("SELECT pg_advisory_unlock($1)", &[&ADVISORY_KEY])
                    .await?;
            }
        }
        Ok(())
    }
}

async fn acquire_advisory(db: &Db, wait: Duration) -> anyhow::Result<()> {
    let client = &db.client;
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&ADVISORY_KEY])
        .await?
        .get(0);
    if got {
        return Ok(());
    }
    let holder = advisory_holder(db).await.unwrap_or_default();
    notice(format!(
        "waiting up to {}s for the migration lock held by another arcdb run{holder}",
        wait.as_secs()
    ));
    // lock_timeout bounds the wait; the server wakes us the moment the holder releases.
    client
        .batch_execute(&format!(
            "SET lock_timeout = '{}ms'",
            wait.as_millis().max(1)
        ))
        .await?;
    let result = client
        .execute("SELECT pg_advisory_lock($1)", &[&ADVISORY_KEY])
        .await;
    client.batch_execute("RESET lock_timeout").await?;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => Err(anyhow!(
            "timed out after {}s waiting for the migration lock{holder}: another arcdb run is still migrating; retry later or raise --lock-timeout",
            wait.as_secs()
        )),
        Err(e) => Err(e.into()),
    }
}

/// " (held by pid N since HH:MM:SS)" for the message, when the server tells.
async fn advisory_holder(db: &Db) -> anyhow::Result<String> {
    let row = db
        .client
        .query_opt(
            "SELECT l.pid, to_char(a.backend_start, 'HH24:MI:SS')
               FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid::bigint = ($1::bigint >> 32) & 4294967295 AND l.objid::bigint = $1::bigint & 4294967295
              LIMIT 1",
            &[&ADVISORY_KEY],
        )
        .await?;
    Ok(row
        .map(|r| {
            let pid: i32 = r.get(0);
            let since: Option<String> = r.get(1);
            format!(
                " (pid {pid}{})",
                since
                    .map(|s| format!(", connected since {s}"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default())
}
