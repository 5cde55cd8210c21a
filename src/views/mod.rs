//! `arcdb refresh` and `arcdb views`: the analytics materialized views.
//!
//! **Managed views** are every materialized view in schema `public`, the application schema the
//! migrations create their objects in, read from the catalog on every run: a materialized view
//! added by a later migration is managed without a code change. (The catalog does not record
//! which migration created an object, so "created by arcdb's migrations" cannot be told apart
//! reliably; a materialized view a DBA creates by hand in `public` is managed too, and those in
//! other schemas never are.)
//!
//! **Refresh.** Each view is refreshed in a transaction of its own, bounded by `SET LOCAL
//! lock_timeout` / `statement_timeout`: `REFRESH MATERIALIZED VIEW CONCURRENTLY` when the view
//! is populated and has a unique index PostgreSQL can use for it (readers are never blocked),
//! a plain `REFRESH` otherwise (which locks readers out until it commits), with the reason in
//! the report. CONCURRENTLY may run inside a transaction block, unlike CREATE INDEX
//! CONCURRENTLY. On engines where CONCURRENTLY means nothing (CockroachDB), every refresh is
//! plain and runs outside an explicit transaction, the timeouts set for the session around it.
//! A view that fails is reported with a one-line reason, its transaction rolled back (nothing
//! stays locked) and the next view refreshed; the report then exits 5.
//!
//! **Record.** Every attempt, failed or not, is a row of `arcdb.refresh_log` (created on first
//! use), written after the attempt's transaction ended, in a transaction of its own.

use crate::db::{server_message, Db};
use crate::error::{ExitStatus, Refusal};
use crate::output::{notice, table, Report};
use anyhow::Context;
use serde::Serialize;
use std::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use catalog::{managed_views, select, MatView};
use log::{ensure_log, record, unrecorded};
use mode::{decide, refresh_order, Mode};

mod catalog;
mod listing;
mod log;
mod mode;
mod tenant_tables;
pub use listing::{human_age, human_bytes, views, LastRefresh, RowsSource, ViewEntry, ViewsReport};
pub use tenant_tables::{TableSync, TenantTable};

/// The schema whose materialized views arcdb manages.
pub const MANAGED_SCHEMA: &str = "public";
/// PostgreSQL's limit for lock_timeout / statement_timeout (INT_MAX milliseconds).
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

// -------------------------------------------------------------------------------------------
// Options
// -------------------------------------------------------------------------------------------

/// A lock or statement timeout: `None` means no limit (PostgreSQL's 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeout(Option<u64>);

impl Timeout {
    pub const NONE: Timeout = Timeout(None);

    pub fn from_millis(ms: u64) -> Timeout {
        Timeout((ms > 0).then_some(ms))
    }

    /// Seconds as given on the command line (`30`, `0.5`; `0` = no limit). Anything else is a
    /// one-line usage error naming the flag.
    pub fn parse(flag: &str, text: &str) -> Result<Timeout, Refusal> {
        let bad = |why: &str| {
            Refusal::usage(format!(
                "{flag} '{text}' {why}: give seconds, such as 30 or 0.5 (0 = no limit); nothing was refreshed"
            ))
        };
        let secs: f64 = text
            .trim()
            .parse()
            .map_err(|_| bad("is not a number of seconds"))?;
        if !secs.is_finite() {
            return Err(bad("is not a number of seconds"));
        }
        if secs < 0.0 {
            return Err(bad("is negative"));
        }
        let ms = (secs * 1000.0).ceil();
        if ms > MAX_TIMEOUT_MS as f64 {
            return Err(bad(&format!(
                "is above PostgreSQL's limit of {} seconds",
                MAX_TIMEOUT_MS / 1000
            )));
        }
        Ok(Timeout::from_millis(ms as u64))
    }

    pub fn millis(self) -> Option<u64> {
        self.0
    }

    /// The value for `set_config` / `SET`: milliseconds, 0 for no limit.
    fn setting(self) -> String {
        format!("{}ms", self.0.unwrap_or(0))
    }

    /// "1 s", "0.5 s", "none".
    pub fn describe(self) -> String {
        match self.0 {
            None => "none".into(),
            Some(ms) if ms % 1000 == 0 => format!("{} s", ms / 1000),
            Some(ms) => format!("{} s", ms as f64 / 1000.0),
        }
    }
}

pub struct RefreshOptions {
    /// Views named on the command line (all managed views when empty).
    pub views: Vec<String>,
    pub dry_run: bool,
    pub lock_timeout: Timeout,
    pub statement_timeout: Timeout,
    /// A line per view on stderr as it starts (set when stderr is a terminal).
    pub progress: bool,
}

// -------------------------------------------------------------------------------------------
// `arcdb refresh`
// -------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Refreshed,
    Failed,
    /// `--dry-run`: nothing was done.
    WouldRefresh,
}

#[derive(Debug, Serialize)]
pub struct RefreshEntry {
    pub schema: String,
    pub name: String,
    pub mode: Mode,
    pub mode_reason: String,
    /// Whether it ran in a transaction of its own (SET LOCAL timeouts); false on CockroachDB.
    pub in_transaction: bool,
    pub outcome: Outcome,
    /// The attempt, from BEGIN to COMMIT or ROLLBACK; absent in a dry run.
    pub duration_ms: Option<u64>,
    /// Rows in the view after the refresh.
    pub rows: Option<i64>,
    /// Why it failed, in one line.
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// The statements of the attempt, in order: the REFRESH, then per tenant table the DELETE
    /// of rows gone and the upsert of new and changed rows (what `--dry-run` shows).
    pub statements: Vec<String>,
    /// The tenant tables brought up to date with it (counts absent in a dry run or a failure).
    pub tenant_tables: Vec<TableSync>,
}

impl RefreshEntry {
    fn display_name(&self) -> String {
        if self.schema == MANAGED_SCHEMA {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RefreshReport {
    pub target: String,
    pub engine: String,
    pub dry_run: bool,
    /// Milliseconds; absent = no limit.
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    pub views: Vec<RefreshEntry>,
    /// Tenant tables whose tag names no managed materialized view.
    pub warnings: Vec<String>,
}

impl RefreshReport {
    fn count(&self, outcome: Outcome) -> usize {
        self.views.iter().filter(|v| v.outcome == outcome).count()
    }
}

impl Report for RefreshReport {
    fn render_table(&self) -> String {
        let settings = format!(
            "lock timeout {}, statement timeout {}",
            Timeout(self.lock_timeout_ms).describe(),
            Timeout(self.statement_timeout_ms).describe()
        );
        if self.views.is_empty() {
            return format!(
                "{} ({}): no materialized views in schema {MANAGED_SCHEMA}, nothing to refresh",
                self.target, self.engine
            );
        }
        let rows = self.views.iter().map(|v| {
            let mode = if v.in_transaction {
                v.mode.as_str().to_string()
            } else {
                format!("{} (no transaction)", v.mode.as_str())
            };
            vec![
                v.display_name(),
                mode,
                match v.outcome {
                    Outcome::Refreshed => "refreshed".into(),
                    Outcome::Failed => "FAILED".into(),
                    Outcome::WouldRefresh => "would refresh".into(),
                },
                v.duration_ms
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_else(|| "-".into()),
                v.rows.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                v.mode_reason.clone(),
            ]
        });
        let mut text = table(
            &["view", "mode", "outcome", "took", "rows", "why this mode"],
            rows,
        );
        for v in &self.views {
            if let Some(error) = &v.error {
                text.push_str(&format!("\n{} failed: {error}", v.display_name()));
            }
            for w in &v.warnings {
                text.push_str(&format!("\nwarning: {w}"));
            }
            if self.dry_run {
                text.push_str(&format!("\n{} would run:", v.display_name()));
                for statement in &v.statements {
                    text.push_str(&format!("\n  {};", statement.replace('\n', "\n  ")));
                }
            } else {
                for t in &v.tenant_tables {
                    if let (Some(deleted), Some(upserted)) = (t.deleted, t.upserted) {
                        text.push_str(&format!(
                            "\n{}: tenant table {} brought up to date ({deleted} deleted, {upserted} inserted or changed)",
                            v.display_name(),
                            t.name
                        ));
                    }
                }
            }
        }
        let summary = if self.dry_run {
            format!(
                "dry run: would refresh {} view(s), {} concurrently; nothing was changed",
                self.views.len(),
                self.views
                    .iter()
                    .filter(|v| v.mode == Mode::Concurrent)
                    .count()
            )
        } else {
            let concurrent = self
                .views
                .iter()
                .filter(|v| v.outcome == Outcome::Refreshed && v.mode == Mode::Concurrent)
                .count();
            format!(
                "{} refreshed ({concurrent} concurrently), {} failed",
                self.count(Outcome::Refreshed),
                self.count(Outcome::Failed)
            )
        };
        for w in &self.warnings {
            text.push_str(&format!("\nwarning: {w}"));
        }
        text.push_str(&format!(
            "\n{} ({}): {summary}; {settings}",
            self.target, self.engine
        ));
        text
    }

    fn exit_status(&self) -> ExitStatus {
        if self.count(Outcome::Failed) > 0 {
            ExitStatus::Findings
        } else {
            ExitStatus::Ok
        }
    }
}

/// Refresh the named managed views (all when none), each in its own transaction, recording
/// every attempt. Bad names are refused before anything is touched.
pub async fn refresh(db: &mut Db, opts: RefreshOptions) -> anyhow::Result<RefreshReport> {
    // --lock-timeout bounds every lock wait of the run, not only the refreshes: reading the
    // catalog and creating arcdb.refresh_log never queue forever either.
    db.client
        .batch_execute(&format!(
            "SET lock_timeout = '{}'",
            opts.lock_timeout.setting()
        ))
        .await
        .context("cannot set lock_timeout")?;
    let (all, unlinked) = managed_views(db).await?;
    let chosen = refresh_order(select(db, all, &opts.views).await?);
    let mut report = RefreshReport {
        target: db.target(),
        engine: db.engine.describe(),
        dry_run: opts.dry_run,
        lock_timeout_ms: opts.lock_timeout.millis(),
        statement_timeout_ms: opts.statement_timeout.millis(),
        views: Vec::new(),
        warnings: unlinked,
    };
    if !opts.dry_run && !chosen.is_empty() {
        ensure_log(db).await?;
    }
    let total = chosen.len();
    for (i, mv) in chosen.iter().enumerate() {
        let decision = decide(&db.engine, mv);
        let syncs: Result<Vec<(&TenantTable, [String; 2])>, String> = mv
            .tenant_tables
            .iter()
            .map(|t| Ok((t, t.sync_statements(&mv.sql_name())?)))
            .collect();
        let mut statements = vec![refresh_sql(mv, decision.mode)];
        if let Ok(syncs) = &syncs {
            statements.extend(syncs.iter().flat_map(|(_, s)| s.iter().cloned()));
        }
        let mut entry = RefreshEntry {
            schema: mv.schema.clone(),
            name: mv.name.clone(),
            mode: decision.mode,
            mode_reason: decision.reason.clone(),
            in_transaction: decision.in_transaction,
            outcome: Outcome::WouldRefresh,
            duration_ms: None,
            rows: None,
            error: None,
            warnings: mv.warnings(),
            statements,
            tenant_tables: mv
                .tenant_tables
                .iter()
                .map(|t| TableSync {
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    deleted: None,
                    upserted: None,
                })
                .collect(),
        };
        let syncs = match syncs {
            Ok(syncs) => syncs,
            Err(why) => {
                // Refused before anything is touched: the view keeps its contents.
                entry.outcome = Outcome::Failed;
                entry.error = Some(format!(
                    "{why}; nothing was refreshed, {} keeps its previous contents",
                    mv.display_name()
                ));
                if !opts.dry_run {
                    if let Err(err) = record(&db.client, mv, &entry).await {
                        return Err(unrecorded(&entry, true, &err));
                    }
                }
                report.views.push(entry);
                continue;
            }
        };
        if opts.dry_run {
            report.views.push(entry);
            continue;
        }
        if opts.progress {
            notice(format!(
                "[{}/{total}] refreshing {} ({})…",
                i + 1,
                mv.display_name(),
                decision.mode.as_str()
            ));
        }
        let started = Instant::now();
        let attempt = if decision.in_transaction {
            refresh_in_transaction(&mut db.client, mv, decision.mode, &syncs, &opts).await
        } else {
            refresh_in_session(&db.client, mv, decision.mode, &syncs, &opts).await
        };
        entry.duration_ms = Some(started.elapsed().as_millis() as u64);
        let mut view_unchanged = false;
        match attempt {
            Ok((rows, synced)) => {
                entry.outcome = Outcome::Refreshed;
                entry.rows = Some(rows);
                entry.tenant_tables = synced;
            }
            Err(failed) => {
                entry.outcome = Outcome::Failed;
                view_unchanged = failed.view_unchanged;
                entry.error = Some(failure_reason(db, mv, decision.mode, &failed.err, &opts).await);
            }
        }
        if let Err(err) = record(&db.client, mv, &entry).await {
            return Err(unrecorded(&entry, view_unchanged, &err));
        }
        report.views.push(entry);
    }
    Ok(report)
}

fn refresh_sql(mv: &MatView, mode: Mode) -> String {
    match mode {
        Mode::Concurrent => format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {}", mv.sql_name()),
        Mode::Plain => format!("REFRESH MATERIALIZED VIEW {}", mv.sql_name()),
    }
}

/// A failed attempt: why, and whether the view certainly kept its previous contents.
struct AttemptError {
    err: tokio_postgres::Error,
    /// False when the refresh may have taken effect: the connection broke while the statement
    /// that commits it (COMMIT, or a REFRESH outside a transaction) was in flight, or a
    /// statement after it failed.
    view_unchanged: bool,
}

impl AttemptError {
    /// Before the refresh could commit: the view is untouched.
    fn before_commit(err: tokio_postgres::Error) -> Self {
        AttemptError {
            err,
            view_unchanged: true,
        }
    }

    /// From the statement that commits the refresh: an error answer means it did not commit; no
    /// answer (the connection broke) leaves it unknown.
    fn at_commit(err: tokio_postgres::Error) -> Self {
        let view_unchanged = err.as_db_error().is_some();
        AttemptError {
            err,
            view_unchanged,
        }
    }

    /// After the refresh committed.
    fn after_commit(err: tokio_postgres::Error) -> Self {
        AttemptError {
            err,
            view_unchanged: false,
        }
    }
}

/// The tenant tables of a view with the statements that bring each up to date.
type Syncs<'a> = [(&'a TenantTable, [String; 2])];

/// BEGIN; SET LOCAL timeouts; REFRESH; the tenant tables' diffs; count; COMMIT. On any error
/// the transaction is rolled back before returning, so nothing stays locked, and the view and
/// its tenant tables keep their previous contents together.
async fn refresh_in_transaction(
    client: &mut Client,
    mv: &MatView,
    mode: Mode,
    syncs: &Syncs<'_>,
    opts: &RefreshOptions,
) -> Result<(i64, Vec<TableSync>), AttemptError> {
    let tx = client
        .transaction()
        .await
        .map_err(AttemptError::before_commit)?;
    let work = async {
        tx.execute(
            "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
            &[&opts.lock_timeout.setting(), &opts.statement_timeout.setting()],
        )
        .await?;
        tx.batch_execute(&refresh_sql(mv, mode)).await?;
        let mut synced = Vec::with_capacity(syncs.len());
        for (table, statements) in syncs {
            synced.push(tenant_tables::apply(&tx, table, statements).await?);
        }
        let rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {}", mv.sql_name()), &[])
            .await?
            .get(0);
        Ok::<_, tokio_postgres::Error>((rows, synced))
    }
    .await;
    match work {
        Ok(done) => {
            tx.commit().await.map_err(AttemptError::at_commit)?;
            Ok(done)
        }
        Err(err) => {
            // If the connection itself broke, the server has ended (rolled back) the
            // transaction anyway.
            let _ = tx.rollback().await;
            Err(AttemptError::before_commit(err))
        }
    }
}

/// Engines that cannot REFRESH in an explicit transaction: a single-statement REFRESH under the
/// session's lock_timeout (set for the whole run) and a statement_timeout set around it, reset
/// afterwards whatever happened; then the tenant tables' diffs in a transaction of their own
/// (tenants read the old analytics until it commits, never half of them).
async fn refresh_in_session(
    client: &Client,
    mv: &MatView,
    mode: Mode,
    syncs: &Syncs<'_>,
    opts: &RefreshOptions,
) -> Result<(i64, Vec<TableSync>), AttemptError> {
    client
        .batch_execute(&format!(
            "SET statement_timeout = '{}'",
            opts.statement_timeout.setting()
        ))
        .await
        .map_err(AttemptError::before_commit)?;
    let work = async {
        // A single statement commits by itself.
        client
            .batch_execute(&refresh_sql(mv, mode))
            .await
            .map_err(AttemptError::at_commit)?;
        let synced = sync_in_own_transaction(client, syncs)
            .await
            .map_err(AttemptError::after_commit)?;
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", mv.sql_name()), &[])
            .await
            .map_err(AttemptError::after_commit)?
            .get(0);
        Ok::<_, AttemptError>((rows, synced))
    }
    .await;
    let reset = client.batch_execute("RESET statement_timeout").await;
    let done = work?;
    reset.map_err(AttemptError::after_commit)?;
    Ok(done)
}

/// BEGIN; the tenant tables' diffs; COMMIT (ROLLBACK on an error). Nothing to do without
/// tenant tables.
async fn sync_in_own_transaction(
    client: &Client,
    syncs: &Syncs<'_>,
) -> Result<Vec<TableSync>, tokio_postgres::Error> {
    if syncs.is_empty() {
        return Ok(Vec::new());
    }
    client.batch_execute("BEGIN").await?;
    let work = async {
        let mut synced = Vec::with_capacity(syncs.len());
        for (table, statements) in syncs {
            synced.push(tenant_tables::apply(client, table, statements).await?);
        }
        Ok::<_, tokio_postgres::Error>(synced)
    }
    .await;
    match work {
        Ok(synced) => {
            client.batch_execute("COMMIT").await?;
            Ok(synced)
        }
        Err(err) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(err)
        }
    }
}

/// One line saying why a refresh failed, naming the lock holders on a lock timeout.
async fn failure_reason(
    db: &Db,
    mv: &MatView,
    mode: Mode,
    err: &tokio_postgres::Error,
    opts: &RefreshOptions,
) -> String {
    let name = mv.display_name();
    let text = if err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
        let holders = lock_holders(db, mv, &conflicting_modes(mode), true).await;
        format!(
            "lock timeout: {name} (or a table it reads{}) stayed locked by another session for more than {}{}; the refresh was cancelled and {name} keeps its previous contents",
            if mv.tenant_tables.is_empty() {
                ""
            } else {
                ", or one of its tenant tables"
            },
            opts.lock_timeout.describe(),
            if holders.is_empty() {
                String::new()
            } else {
                format!(" ({})", holders.join(", "))
            }
        )
    } else if err.code() == Some(&SqlState::QUERY_CANCELED)
        && server_message(err).contains("statement timeout")
    {
        format!(
            "statement timeout: the refresh ran longer than {} and was cancelled; {name} keeps its previous contents",
            opts.statement_timeout.describe()
        )
    } else {
        server_message(err)
    };
    one_line(&text)
}

/// The lock modes that conflict with the one a refresh takes on the view (PostgreSQL's
/// conflict table): EXCLUSIVE for CONCURRENTLY, ACCESS EXCLUSIVE for a plain refresh.
fn conflicting_modes(mode: Mode) -> Vec<&'static str> {
    let mut modes = vec![
        "RowShareLock",
        "RowExclusiveLock",
        "ShareUpdateExclusiveLock",
        "ShareLock",
        "ShareRowExclusiveLock",
        "ExclusiveLock",
        "AccessExclusiveLock",
    ];
    if mode == Mode::Plain {
        modes.insert(0, "AccessShareLock");
    }
    modes
}

/// "held by pid 123 (psql): AccessExclusiveLock on mv_x": granted locks of other sessions in
/// one of `modes` on the view, or ACCESS EXCLUSIVE on a relation it reads, and with
/// `tenant_tables` a lock on one of its tenant tables that its diff (ROW EXCLUSIVE) waits
/// behind. Best effort (the holder may be gone by now); PostgreSQL only.
async fn lock_holders(db: &Db, mv: &MatView, modes: &[&str], tenant_tables: bool) -> Vec<String> {
    if !db.engine.supports_advisory_locks() {
        return Vec::new();
    }
    let modes: Vec<String> = modes.iter().map(|m| m.to_string()).collect();
    let tenant_tables: Vec<String> = if tenant_tables {
        mv.tenant_tables.iter().map(TenantTable::sql_name).collect()
    } else {
        Vec::new()
    };
    let rows = db
        .client
        .query(
            "SELECT DISTINCT ON (l.pid, c.relname)
                    l.pid, coalesce(nullif(a.application_name, ''), '?'), l.mode, c.relname::text
               FROM pg_locks AS l
               JOIN pg_class AS c ON c.oid = l.relation
               LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
              WHERE l.granted
                AND l.pid <> pg_backend_pid()
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND ((l.relation = $1::int8::oid AND l.mode = ANY ($2::text[]))
                     OR (l.mode = 'AccessExclusiveLock' AND l.relation IN (
                            SELECT d.refobjid
                              FROM pg_rewrite AS r
                              JOIN pg_depend AS d
                                ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               AND d.refclassid = 'pg_class'::regclass
                             WHERE r.ev_class = $1::int8::oid))
                     -- A tenant table: what conflicts with the ROW EXCLUSIVE of its diff.
                     OR (l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
                         AND l.relation IN (SELECT to_regclass(t) FROM unnest($3::text[]) AS t)))
              ORDER BY l.pid, c.relname, array_position(ARRAY['AccessExclusiveLock', 'ExclusiveLock',
                       'ShareRowExclusiveLock', 'ShareLock', 'ShareUpdateExclusiveLock',
                       'RowExclusiveLock', 'RowShareLock', 'AccessShareLock'], l.mode::text)
              LIMIT 3",
            &[&mv.oid, &modes, &tenant_tables],
        )
        .await;
    match rows {
        Ok(rows) => rows
            .iter()
            .map(|r| {
                format!(
                    "held by pid {} ({}): {} on {}",
                    r.get::<_, i32>(0),
                    r.get::<_, String>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3)
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::catalog::UniqueIndex;
    use super::listing::refresh_columns;
    use super::*;
    use crate::engine::Engine;
    use chrono::Utc;

    #[test]
    fn data_age_is_the_last_successful_refresh_not_the_failed_attempt() {
        let finished = Utc::now();
        let failed = LastRefresh {
            started_at: finished,
            finished_at: finished,
            duration_ms: 5000,
            rows: None,
            mode: "concurrent".into(),
            outcome: "failed".into(),
            error: Some("lock timeout: x".into()),
            age_seconds: 60.0,
            last_ok_at: Some(finished - chrono::Duration::hours(2)),
        };
        assert_eq!(
            refresh_columns(Some(&failed)),
            ("2 h".to_string(), "failed 60 s ago".to_string())
        );
        let never_ok = LastRefresh {
            last_ok_at: None,
            ..failed.clone()
        };
        assert_eq!(refresh_columns(Some(&never_ok)).0, "never refreshed");
        let ok = LastRefresh {
            outcome: "ok".into(),
            error: None,
            duration_ms: 12,
            last_ok_at: Some(finished),
            ..failed
        };
        assert_eq!(
            refresh_columns(Some(&ok)),
            ("60 s".to_string(), "ok (concurrent)".to_string())
        );
    }

    fn pg() -> Engine {
        Engine::detect("PostgreSQL 15.18 on x86_64").unwrap()
    }

    fn index(name: &str) -> UniqueIndex {
        UniqueIndex {
            name: name.into(),
            valid: true,
            immediate: true,
            btree: true,
            partial: false,
            plain_columns: true,
        }
    }

    fn mv(name: &str, oid: i64, populated: bool, indexes: Vec<UniqueIndex>) -> MatView {
        MatView {
            oid,
            schema: "public".into(),
            name: name.into(),
            owner: "owner".into(),
            populated,
            reltuples: None,
            can_select: true,
            unique_indexes: indexes,
            reads_matviews: Vec::new(),
            tenant_views: Vec::new(),
            tenant_can_read: Some(false),
            forced_rls_tables: Vec::new(),
            tenant_tables: Vec::new(),
        }
    }

    #[test]
    fn timeouts_parse_seconds_and_refuse_the_rest_in_one_line() {
        assert_eq!(
            Timeout::parse("--lock-timeout", "30").unwrap().millis(),
            Some(30_000)
        );
        assert_eq!(
            Timeout::parse("--lock-timeout", " 0.25 ").unwrap().millis(),
            Some(250)
        );
        assert_eq!(
            Timeout::parse("--lock-timeout", "0").unwrap(),
            Timeout::NONE
        );
        assert_eq!(
            Timeout::parse("--lock-timeout", "0.0001").unwrap().millis(),
            Some(1)
        );
        for bad in ["", "abc", "-1", "1s", "NaN", "inf", "99999999"] {
            let err = Timeout::parse("--statement-timeout", bad).unwrap_err();
            assert_eq!(err.status, ExitStatus::Usage, "{bad}");
            assert!(
                err.message.starts_with("--statement-timeout '"),
                "{}",
                err.message
            );
            assert!(!err.message.contains('\n'));
        }
        assert_eq!(Timeout::from_millis(1500).describe(), "1.5 s");
        assert_eq!(Timeout::from_millis(2000).describe(), "2 s");
        assert_eq!(Timeout::NONE.describe(), "none");
        assert_eq!(Timeout::NONE.setting(), "0ms");
    }

    #[test]
    fn concurrent_only_when_populated_with_a_usable_unique_index() {
        let engine = pg();
        let d = decide(&engine, &mv("a", 1, true, vec![index("a_key")]));
        assert_eq!(d.mode, Mode::Concurrent);
        assert!(d.reason.contains("a_key") && d.in_transaction);

        let d = decide(&engine, &mv("a", 1, false, vec![index("a_key")]));
        assert_eq!(d.mode, Mode::Plain);
        assert!(d.reason.contains("not populated"), "{}", d.reason);

        let d = decide(&engine, &mv("a", 1, true, vec![]));
        assert_eq!(d.mode, Mode::Plain);
        assert!(d.reason.starts_with("no unique index"), "{}", d.reason);

        let partial = UniqueIndex {
            partial: true,
            ..index("p")
        };
        let expr = UniqueIndex {
            plain_columns: false,
            ..index("e")
        };
        let invalid = UniqueIndex {
            valid: false,
            ..index("i")
        };
        let d = decide(
            &engine,
            &mv("a", 1, true, vec![partial.clone(), expr, invalid]),
        );
        assert_eq!(d.mode, Mode::Plain);
        assert!(d.reason.contains("p is partial"), "{}", d.reason);
        assert!(d.reason.contains("e is on an expression"), "{}", d.reason);
        assert!(d.reason.contains("i is not valid"), "{}", d.reason);

        // One usable index among unusable ones is enough.
        let d = decide(&engine, &mv("a", 1, true, vec![partial, index("ok")]));
        assert_eq!(d.mode, Mode::Concurrent);
        assert!(d.reason.contains("ok"));
    }

    #[test]
    fn cockroach_refreshes_plainly_outside_a_transaction() {
        let crdb = Engine::detect("CockroachDB CCL v25.3.0 (x86_64-pc-linux-gnu)").unwrap();
        let d = decide(&crdb, &mv("a", 1, true, vec![index("a_key")]));
        assert_eq!(d.mode, Mode::Plain);
        assert!(!d.in_transaction);
        assert!(d.reason.contains("CockroachDB"), "{}", d.reason);
    }

    #[test]
    fn views_come_after_the_materialized_views_they_read() {
        let mut top = mv("a_top", 3, true, vec![]);
        top.reads_matviews = vec![2, 3];
        let mut middle = mv("b_middle", 2, true, vec![]);
        middle.reads_matviews = vec![1];
        let base = mv("c_base", 1, true, vec![]);
        let other = mv("d_other", 4, true, vec![]);
        let order: Vec<String> = refresh_order(vec![other, top, base, middle])
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(order, ["c_base", "b_middle", "a_top", "d_other"]);
    }

    #[test]
    fn warnings_for_tenant_readable_views_and_forced_rls() {
        let mut v = mv("m", 1, true, vec![]);
        assert!(v.warnings().is_empty());
        v.tenant_can_read = Some(true);
        v.forced_rls_tables = vec!["public.tasks".into()];
        let w = v.warnings();
        assert_eq!(w.len(), 2);
        assert!(w[0].contains("arcdesk_tenant can read m"));
        assert!(w[1].contains("FORCE ROW LEVEL SECURITY"));
    }

    #[test]
    fn identifiers_are_always_quoted() {
        let mut v = mv("we\"ird", 1, true, vec![]);
        v.schema = "public".into();
        assert_eq!(v.sql_name(), "\"public\".\"we\"\"ird\"");
        assert_eq!(
            refresh_sql(&v, Mode::Concurrent),
            "REFRESH MATERIALIZED VIEW CONCURRENTLY \"public\".\"we\"\"ird\""
        );
    }

    #[test]
    fn sizes_and_ages_for_people() {
        assert_eq!(human_bytes(8192), "8192 bytes");
        assert_eq!(human_bytes(49_152), "48 kB");
        assert_eq!(human_bytes(50 * 1024 * 1024), "50 MB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024 * 1024), "3072 GB");
        assert_eq!(human_age(3.2), "3 s");
        assert_eq!(human_age(600.0), "10 min");
        assert_eq!(human_age(7200.0), "2 h");
        assert_eq!(human_age(3.0 * 86_400.0), "3 d");
    }
}
