//! The migration lock: one `up` or `rollback` at a time per database, the others wait.
//!
//! An interface with one implementation per kind of guarantee, chosen by the engine:
//! PostgreSQL's session advisory lock (released by the server if arcdb dies), and a lease row
//! for engines whose advisory locks lock nothing (CockroachDB): `arcdb.migration_lock` holds
//! one row naming the holder and when its lease expires; the holder renews it from a second
//! connection while it migrates and deletes it when done, and a lease that expired (its holder
//! died) is taken over. Both work on PostgreSQL (`--lock lease`, or `ARCDB_LOCK=lease`, selects
//! the lease there: behind PgBouncer in transaction mode a session advisory lock is held by
//! whichever server connection ran it, so only the lease excludes other runs).

use crate::db::Db;
use crate::engine::Engine;
use crate::migrate::interrupt::Interrupt;
use crate::output::notice;
use anyhow::anyhow;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;

/// Held while migrations run; release it explicitly (async), or let the session end (advisory)
/// or the lease expire (lease).
#[must_use = "release the lock when done"]
pub struct LockGuard {
    lock: MigrationLock,
    lease: Option<HeldLease>,
}

impl LockGuard {
    /// Give the lock back after `outcome`, the work done under it, whatever happened: the
    /// work's error comes first, else the release's.
    pub async fn release_after<T>(self, db: &Db, outcome: anyhow::Result<T>) -> anyhow::Result<T> {
        let released = self.release(db).await;
        let value = outcome?;
        released?;
        Ok(value)
    }

    pub async fn release(self, db: &Db) -> anyhow::Result<()> {
        match self.lease {
            Some(lease) => lease.release(db).await,
            None => self.lock.release_advisory(db).await,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MigrationLock {
    /// A session advisory lock on the migrating connection (PostgreSQL's default). Needs a
    /// session of its own: not behind PgBouncer in transaction mode.
    Advisory,
    /// A lease row in `arcdb.migration_lock`, renewed by a heartbeat (CockroachDB's default;
    /// works behind PgBouncer in transaction mode).
    Lease,
}

/// The advisory lock key: "arcdbmig" as a big-endian i64, so other tools' keys won't collide.
const ADVISORY_KEY: i64 = i64::from_be_bytes(*b"arcdbmig");

impl MigrationLock {
    /// The lock `--lock` asks for (`ARCDB_LOCK` is its environment form), else the one that
    /// really excludes other runs on this engine: the advisory lock where advisory locks work,
    /// else the lease. The advisory lock is refused where it would lock nothing.
    pub fn choose(
        engine: &Engine,
        requested: Option<MigrationLock>,
    ) -> anyhow::Result<MigrationLock> {
        match requested {
            Some(MigrationLock::Advisory) if !engine.supports_advisory_locks() => {
                Err(crate::error::Refusal::usage(format!(
                    "--lock advisory: advisory locks lock nothing on {}; use --lock lease (the default there); nothing was changed",
                    engine.describe()
                ))
                .into())
            }
            Some(lock) => Ok(lock),
            None => Ok(Self::for_engine(engine)),
        }
    }

    /// The lock that really excludes other runs on this engine.
    pub fn for_engine(engine: &Engine) -> MigrationLock {
        if engine.supports_advisory_locks() {
            MigrationLock::Advisory
        } else {
            MigrationLock::Lease
        }
    }

    /// Take the lock, waiting up to `wait` for another holder (and saying so on stderr); a
    /// signal stops the wait.
    pub async fn acquire(
        self,
        db: &Db,
        wait: Duration,
        interrupt: &Interrupt,
    ) -> anyhow::Result<LockGuard> {
        let lease = match self {
            MigrationLock::Advisory => {
                acquire_advisory(db, wait, interrupt).await?;
                None
            }
            MigrationLock::Lease => Some(acquire_lease(db, wait, lease_ttl(), interrupt).await?),
        };
        Ok(LockGuard { lock: self, lease })
    }

    async fn release_advisory(self, db: &Db) -> anyhow::Result<()> {
        db.client
            .execute_typed(
                "SELECT pg_advisory_unlock($1)",
                &[(&ADVISORY_KEY, tokio_postgres::types::Type::INT8)],
            )
            .await?;
        Ok(())
    }
}

/// Try the lock, and while another run holds it, try again with backoff until `wait` is up.
/// Never a blocking `pg_advisory_lock`: a session waiting inside a statement holds a snapshot,
/// and a `CREATE INDEX CONCURRENTLY` of the holder waits for every such snapshot to end — the
/// two would wait for each other until the timeout (Flyway #1654, golang-migrate #960).
async fn acquire_advisory(db: &Db, wait: Duration, interrupt: &Interrupt) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    let mut delay = Duration::from_millis(50);
    let mut announced = false;
    loop {
        let got: bool = db
            .client
            .query_typed_one(
                "SELECT pg_try_advisory_lock($1)",
                &[(&ADVISORY_KEY, tokio_postgres::types::Type::INT8)],
            )
            .await?
            .get(0);
        if got {
            return Ok(());
        }
        let holder = advisory_holder(db).await.unwrap_or_default();
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(anyhow!(
                "timed out after {}s waiting for the migration lock{holder}: another arcdb run is still migrating; retry later or raise --lock-timeout",
                wait.as_secs()
            ));
        }
        if !announced {
            notice(format!(
                "waiting up to {}s for the migration lock held by another arcdb run{holder}",
                wait.as_secs()
            ));
            announced = true;
        }
        pause(remaining.min(delay), interrupt).await?;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// Sleep, or fail at once on SIGINT/SIGTERM (nothing is held yet).
async fn pause(delay: Duration, interrupt: &Interrupt) -> anyhow::Result<()> {
    let mut interrupt = interrupt.clone();
    tokio::select! {
        _ = tokio::time::sleep(delay) => Ok(()),
        signal = interrupt.fired() => Err(crate::migrate::interrupt::interrupted(
            signal,
            "stopped waiting for the migration lock; nothing was changed",
        )),
    }
}

/// " (held by pid N since HH:MM:SS)" for the message, when the server tells.
async fn advisory_holder(db: &Db) -> anyhow::Result<String> {
    let row = db
        .client
        .query_typed_opt(
            "SELECT l.pid, to_char(a.backend_start, 'HH24:MI:SS')
               FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid)
              WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.classid::bigint = ($1::bigint >> 32) & 4294967295 AND l.objid::bigint = $1::bigint & 4294967295
              LIMIT 1",
            &[(&ADVISORY_KEY, tokio_postgres::types::Type::INT8)],
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

// ---------------------------------------------------------------------------------------------
// The lease
// ---------------------------------------------------------------------------------------------

/// How long a lease lasts without renewal. The heartbeat renews it every third of that, so a
/// holder that stops renewing (killed, frozen, cut off) loses it within this time.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// The lease's only row: one migration lock per database.
const LEASE_ID: &str = "migrations";

const LEASE_TABLE: &str = "CREATE SCHEMA IF NOT EXISTS arcdb;
CREATE TABLE IF NOT EXISTS arcdb.migration_lock (
    id          text        PRIMARY KEY,
    holder      text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
)";

/// `ARCDB_LEASE_TTL_SECS` (a test hook, so that a takeover test need not wait 30 s), else 30 s.
fn lease_ttl() -> Duration {
    std::env::var("ARCDB_LEASE_TTL_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|secs| *secs > 0)
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LEASE_TTL)
}

/// A lease this process holds: its holder id and the heartbeat that renews it.
struct HeldLease {
    holder: String,
    stop: watch::Sender<bool>,
    heartbeat: JoinHandle<Option<Db>>,
    lost: Arc<AtomicBool>,
}

/// Who holds the lease now, as the table says.
struct LeaseRow {
    holder: String,
    acquired_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl LeaseRow {
    fn expired(&self) -> bool {
        self.expires_at < self.now
    }

    fn describe(&self) -> String {
        let left = (self.expires_at - self.now).num_seconds();
        format!(
            "{} since {} UTC (lease {})",
            self.holder,
            self.acquired_at.format("%H:%M:%S"),
            if left >= 0 {
                format!("expires in {left}s unless renewed")
            } else {
                format!("expired {}s ago", -left)
            }
        )
    }
}

/// "host pid 1234 #1a2b3c4d": unique per acquisition, readable in the waiting message.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{host} pid {} #{}", std::process::id(), &tag[..8])
}

/// Errors that mean "try again": a concurrent run created the table or took the row first
/// (PostgreSQL), or a serialization conflict (CockroachDB runs SERIALIZABLE).
fn is_contention(err: &tokio_postgres::Error) -> bool {
    err.code().is_some_and(|c| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::DUPLICATE_TABLE,
            SqlState::DUPLICATE_SCHEMA,
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
        ]
        .contains(c)
    })
}

async fn ensure_lease_table(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    let exists: bool = client
        .query_typed_one(
            "SELECT to_regclass('arcdb.migration_lock') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if exists {
        return Ok(());
    }
    // Concurrent first runs can collide on the catalog while creating it: retry a few times.
    let mut attempt = 0;
    loop {
        match client.batch_execute(LEASE_TABLE).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 && is_contention(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn read_lease(client: &tokio_postgres::Client) -> anyhow::Result<Option<LeaseRow>> {
    let row = client
        .query_typed_opt(
            "SELECT holder, acquired_at, expires_at, now() FROM arcdb.migration_lock WHERE id = $1",
            &[(&LEASE_ID, tokio_postgres::types::Type::TEXT)],
        )
        .await?;
    Ok(row.map(|r| LeaseRow {
        holder: r.get(0),
        acquired_at: r.get(1),
        expires_at: r.get(2),
        now: r.get(3),
    }))
}

/// One attempt: insert the row, or take it over if its lease expired. True when we hold it.
async fn try_take(
    client: &tokio_postgres::Client,
    holder: &str,
    ttl: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let rows = client
        .query_typed(
            "INSERT INTO arcdb.migration_lock AS l (id, holder, acquired_at, expires_at)
             VALUES ($1, $2, now(), now() + $3::float8 * INTERVAL '1 second')
             ON CONFLICT (id) DO UPDATE
                SET holder = excluded.holder, acquired_at = excluded.acquired_at,
                    expires_at = excluded.expires_at
              WHERE l.expires_at < now()
             RETURNING l.holder",
            &[
                (&LEASE_ID, tokio_postgres::types::Type::TEXT),
                (&holder, tokio_postgres::types::Type::TEXT),
                (&ttl.as_secs_f64(), tokio_postgres::types::Type::FLOAT8),
            ],
        )
        .await?;
    Ok(rows
        .first()
        .is_some_and(|r| r.get::<_, String>(0) == holder))
}

async fn acquire_lease(
    db: &Db,
    wait: Duration,
    ttl: Duration,
    interrupt: &Interrupt,
) -> anyhow::Result<HeldLease> {
    ensure_lease_table(&db.client).await?;
    let holder = holder_id();
    let deadline = Instant::now() + wait;
    let mut announced: Option<String> = None;
    loop {
        let before = read_lease(&db.client).await?;
        match try_take(&db.client, &holder, ttl).await {
            Ok(true) => {
                if let Some(stale) = before.filter(|b| b.holder != holder && b.expired()) {
                    notice(format!(
                        "took over the migration lock from {}: its holder stopped renewing it (it died or lost its connection); a migration it left incomplete is re-run from the start",
                        stale.describe()
                    ));
                }
                break;
            }
            Ok(false) => {}
            Err(e) if is_contention(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let current = read_lease(&db.client).await?;
        let who = current
            .as_ref()
            .map(LeaseRow::describe)
            .unwrap_or_else(|| "another arcdb run".into());
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(anyhow!(
                "timed out after {}s waiting for the migration lock held by {who}: another arcdb run is still migrating; retry later or raise --lock-timeout",
                wait.as_secs()
            ));
        }
        let holder_now = current.as_ref().map(|c| c.holder.clone());
        if holder_now.is_some() && holder_now != announced {
            notice(format!(
                "waiting up to {}s for the migration lock held by {who}",
                remaining.as_secs()
            ));
            announced = holder_now;
        }
        pause(remaining.min(Duration::from_secs(1)), interrupt).await?;
    }
    start_heartbeat(db, holder, ttl).await
}

/// Renew the lease every third of its lifetime, on a connection of its own (the migrating one
/// is busy with long statements).
async fn start_heartbeat(db: &Db, holder: String, ttl: Duration) -> anyhow::Result<HeldLease> {
    let mut conn = match db.reconnect().await {
        Ok(conn) => conn,
        Err(e) => {
            // Without a heartbeat the lease would expire under us: give it back and fail.
            let _ = delete_lease(&db.client, &holder).await;
            return Err(e.context("cannot open the connection that renews the migration lock"));
        }
    };
    let (stop, mut stopped) = watch::channel(false);
    let lost = Arc::new(AtomicBool::new(false));
    let lost_flag = Arc::clone(&lost);
    let me = holder.clone();
    let every = (ttl / 3).max(Duration::from_millis(200));
    let heartbeat = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => return Some(conn),
                _ = tokio::time::sleep(every) => {}
            }
            let renewed = conn
                .client
                .execute_typed(
                    "UPDATE arcdb.migration_lock
                        SET expires_at = now() + $3::float8 * INTERVAL '1 second'
                      WHERE id = $1 AND holder = $2",
                    &[
                        (&LEASE_ID, tokio_postgres::types::Type::TEXT),
                        (&me, tokio_postgres::types::Type::TEXT),
                        (&ttl.as_secs_f64(), tokio_postgres::types::Type::FLOAT8),
                    ],
                )
                .await;
            match renewed {
                Ok(1) => {}
                Ok(_) => {
                    lost_flag.store(true, Ordering::SeqCst);
                    notice(
                        "the migration lock lease was taken over by another run after it expired; this run's remaining work may overlap with it",
                    );
                    return Some(conn);
                }
                Err(e) => {
                    notice(format!(
                        "could not renew the migration lock lease ({e}); retrying"
                    ));
                    if conn.client.is_closed() {
                        if let Ok(fresh) = conn.reconnect().await {
                            conn = fresh;
                        }
                    }
                }
            }
        }
    });
    Ok(HeldLease {
        holder,
        stop,
        heartbeat,
        lost,
    })
}

async fn delete_lease(
    client: &tokio_postgres::Client,
    holder: &str,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute_typed(
            "DELETE FROM arcdb.migration_lock WHERE id = $1 AND holder = $2",
            &[
                (&LEASE_ID, tokio_postgres::types::Type::TEXT),
                (&holder, tokio_postgres::types::Type::TEXT),
            ],
        )
        .await
}

impl HeldLease {
    /// Stop renewing and delete the own row (on the migrating connection, or the heartbeat's if
    /// that one broke). Fails if the lease was lost while held.
    async fn release(self, db: &Db) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let conn = self.heartbeat.await.ok().flatten();
        let deleted = match delete_lease(&db.client, &self.holder).await {
            Ok(n) => Ok(n),
            Err(e) => match &conn {
                Some(conn) => delete_lease(&conn.client, &self.holder).await,
                None => Err(e),
            },
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(anyhow!(
                "the migration lock lease expired and was taken over by another run while this one was migrating; check `arcdb status`"
            ));
        }
        deleted.map_err(|e| {
            anyhow!("could not release the migration lock ({e}); it expires on its own")
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_chooses_the_lock_unless_asked() {
        let pg = Engine::detect("PostgreSQL 15.18 on x86_64").unwrap();
        let crdb = Engine::detect("CockroachDB CCL v25.3.1 (x86_64-pc-linux-gnu)").unwrap();
        let choose = |e: &Engine, r| MigrationLock::choose(e, r).unwrap();
        assert_eq!(choose(&pg, None), MigrationLock::Advisory);
        assert_eq!(choose(&crdb, None), MigrationLock::Lease);
        assert_eq!(
            choose(&pg, Some(MigrationLock::Lease)),
            MigrationLock::Lease
        );
        let refused = MigrationLock::choose(&crdb, Some(MigrationLock::Advisory)).unwrap_err();
        assert!(
            refused.to_string().contains("use --lock lease"),
            "{refused}"
        );
    }

    #[test]
    fn holder_ids_are_unique_and_readable() {
        let a = holder_id();
        let b = holder_id();
        assert_ne!(a, b);
        assert!(a.contains(&format!(" pid {} #", std::process::id())), "{a}");
    }

    #[test]
    fn lease_rows_describe_their_state() {
        let now = Utc::now();
        let row = LeaseRow {
            holder: "h pid 1 #abc".into(),
            acquired_at: now,
            expires_at: now + chrono::Duration::seconds(20),
            now,
        };
        assert!(!row.expired());
        assert!(
            row.describe().contains("expires in 20s"),
            "{}",
            row.describe()
        );
        let stale = LeaseRow {
            expires_at: now - chrono::Duration::seconds(5),
            ..row
        };
        assert!(stale.expired());
        assert!(
            stale.describe().contains("expired 5s ago"),
            "{}",
            stale.describe()
        );
    }
}
