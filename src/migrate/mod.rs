//! `arcdb up`, `status` and `rollback`: read the history, plan (pure, in `plan`), then apply
//! under the migration lock, one transaction per migration.

pub mod catalog;
pub mod history;
pub mod plan;
pub mod statements;

use crate::db::Db;
use crate::error::ExitStatus;
use crate::lock::MigrationLock;
use crate::output::{table, Report};
use anyhow::anyhow;
use catalog::{MigrationSet, Resolved, Script};
use futures_util::future::{BoxFuture, FutureExt};
use plan::{Entry, State};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `status`: every migration and its state.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub target: String,
    pub engine: String,
    pub current_version: u32,
    pub latest_version: u32,
    pub migrations: Vec<Entry>,
}

impl StatusReport {
    fn count(&self, state: State) -> usize {
        self.migrations.iter().filter(|m| m.state == state).count()
    }
}

impl Report for StatusReport {
    fn render_table(&self) -> String {
        let rows = self.migrations.iter().map(|m| {
            vec![
                format!("{:04}", m.version),
                m.name.clone(),
                format!("{:?}", m.state).to_lowercase(),
                m.applied_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default(),
            ]
        });
        let verdict = match self.exit_status() {
            ExitStatus::Ok => "up to date".to_string(),
            ExitStatus::Pending => format!(
                "{} pending — run `arcdb up`",
                self.count(State::Pending) + self.count(State::Incomplete)
            ),
            _ => format!(
                "{} drifted, {} unknown — `arcdb up` refuses until this is resolved",
                self.count(State::Drifted),
                self.count(State::Unknown)
            ),
        };
        format!(
            "{}\n{} ({}) at version {} of {}: {verdict}",
            table(&["version", "name", "state", "applied at"], rows),
            self.target,
            self.engine,
            self.current_version,
            self.latest_version
        )
    }

    fn exit_status(&self) -> ExitStatus {
        if self.count(State::Drifted) + self.count(State::Unknown) > 0 {
            ExitStatus::Drift
        } else if self.count(State::Pending) + self.count(State::Incomplete) > 0 {
            ExitStatus::Pending
        } else {
            ExitStatus::Ok
        }
    }
}

/// One migration applied or undone.
#[derive(Debug, Serialize)]
pub struct Step {
    pub version: u32,
    pub name: String,
    pub file: String,
    /// Absent in a dry run.
    pub duration_ms: Option<u64>,
}

/// `up` and `rollback`.
#[derive(Debug, Serialize)]
pub struct ChangeReport {
    pub command: &'static str,
    pub target: String,
    pub engine: String,
    pub dry_run: bool,
    pub from_version: u32,
    pub to_version: u32,
    pub steps: Vec<Step>,
}

impl Report for ChangeReport {
    fn render_table(&self) -> String {
        let verb = match (self.command, self.dry_run) {
            ("up", false) => "applied",
            ("up", true) => "would apply",
            (_, false) => "rolled back",
            (_, true) => "would roll back",
        };
        if self.steps.is_empty() {
            return format!(
                "{} ({}) is at version {}: nothing to do",
                self.target, self.engine, self.from_version
            );
        }
        let rows = self.steps.iter().map(|s| {
            vec![
                format!("{:04}", s.version),
                s.name.clone(),
                s.file.clone(),
                s.duration_ms
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_else(|| "-".into()),
            ]
        });
        format!(
            "{}\n{} ({}): {verb} {} migration(s), version {} → {}",
            table(&["version", "name", "script", "took"], rows),
            self.target,
            self.engine,
            self.steps.len(),
            self.from_version,
            self.to_version
        )
    }
}

pub struct UpOptions {
    pub to: Option<u32>,
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub source: Option<PathBuf>,
}

pub struct RollbackOptions {
    pub to: u32,
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub source: Option<PathBuf>,
}

/// What a rollback is about to do, shown to the person who confirms it.
pub struct RollbackPlan<'a> {
    pub target: String,
    pub migrations: Vec<&'a Resolved>,
    /// Rows (estimated from statistics) in the application's tables now.
    pub estimated_rows: i64,
}

async fn entries(db: &Db, resolved: &[Resolved]) -> anyhow::Result<Vec<Entry>> {
    let applied = history::load(&db.client).await?;
    Ok(plan::compare(resolved, &applied))
}

pub async fn status(db: &Db, source: Option<PathBuf>) -> anyhow::Result<StatusReport> {
    let set = MigrationSet::load(source.as_deref())?;
    let resolved = set.resolve(&db.engine);
    let migrations = entries(db, &resolved).await?;
    Ok(StatusReport {
        target: db.target(),
        engine: db.engine.describe(),
        current_version: plan::current_version(&migrations),
        latest_version: set.latest_version(),
        migrations,
    })
}

pub async fn up(db: &mut Db, opts: UpOptions) -> anyhow::Result<ChangeReport> {
    // A server without what the schema needs is refused before anything is touched or locked.
    db.engine.require_schema_support()?;
    let set = MigrationSet::load(opts.source.as_deref())?;
    let resolved = set.resolve(&db.engine);
    require_extensions(db, &resolved).await?;
    let mut report = ChangeReport {
        command: "up",
        target: db.target(),
        engine: db.engine.describe(),
        dry_run: opts.dry_run,
        from_version: 0,
        to_version: 0,
        steps: Vec::new(),
    };
    if opts.dry_run {
        let entries = entries(db, &resolved).await?;
        let planned = plan::plan_up(&entries, opts.to)?;
        report.from_version = plan::current_version(&entries);
        report.to_version = planned.last().copied().unwrap_or(report.from_version);
        report.steps = steps(&resolved, &planned, |m| &m.up);
        return Ok(report);
    }
    with_migration_lock(db, opts.lock_wait, move |db| {
        async move {
            apply_pending(db, &resolved, opts.to, &mut report).await?;
            Ok(report)
        }
        .boxed()
    })
    .await
}

/// Take the migration lock, run `body` under it and give the lock back whatever happened:
/// the body's error comes first, else the release's. `body` gets the connection back for the
/// duration of its future; it owns whatever else it uses (moved in), since a borrow of the
/// caller's locals could not be promised to every `'a`.
async fn with_migration_lock<T>(
    db: &mut Db,
    wait: Duration,
    body: impl for<'a> FnOnce(&'a mut Db) -> BoxFuture<'a, anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let guard = MigrationLock::for_engine(&db.engine)
        .acquire(db, wait)
        .await?;
    let outcome = body(db).await;
    let released = guard.release(db).await;
    let value = outcome?;
    released?;
    Ok(value)
}

/// Refuse, before anything is touched, a server that lacks an extension the migrations create
/// (a PostgreSQL built without contrib, say), naming each one.
async fn require_extensions(db: &Db, resolved: &[Resolved]) -> anyhow::Result<()> {
    if db.engine.kind != crate::engine::EngineKind::Postgres {
        return Ok(());
    }
    let wanted = catalog::required_extensions(resolved);
    if wanted.is_empty() {
        return Ok(());
    }
    let rows = db
        .client
        .query(
            "SELECT name FROM pg_available_extensions WHERE name = ANY($1)",
            &[&wanted],
        )
        .await?;
    let available: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let missing: Vec<&String> = wanted.iter().filter(|w| !available.contains(w)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
    Err(crate::error::Refusal::usage(format!(
        "{} lacks the extension(s) {} that the migrations create: install the server's contrib package (e.g. postgresql-contrib); nothing was changed",
        db.engine.describe(),
        names.join(", ")
    ))
    .into())
}

/// Under the lock: read the history afresh (a concurrent run may just have applied
/// everything), then apply what is still pending.
async fn apply_pending(
    db: &mut Db,
    resolved: &[Resolved],
    to: Option<u32>,
    report: &mut ChangeReport,
) -> anyhow::Result<()> {
    history::ensure(&db.client).await?;
    let entries = entries(db, resolved).await?;
    let planned = plan::plan_up(&entries, to)?;
    report.from_version = plan::current_version(&entries);
    report.to_version = report.from_version;
    let record = if planned.is_empty() || db.engine.runs_stepwise() {
        None
    } else {
        Some(history::prepare_applied(&db.client).await?)
    };
    let last = planned.last().copied();
    let by_version: std::collections::HashMap<u32, &Resolved> =
        resolved.iter().map(|m| (m.version, m)).collect();
    for version in planned {
        let m = by_version[&version];
        let started = Instant::now();
        if db.engine.runs_stepwise() {
            // DDL is not transactional here: recorded as incomplete first, marked complete
            // after its last statement; an interrupted run is re-run from the start by `up`.
            history::record(&db.client, m, false, 0).await?;
            let state = format!(
                "{} stays recorded as incomplete (the statements before this one were applied); fix the cause and run `arcdb up` again, which re-runs it from its first statement",
                m.label()
            );
            run_statements(db, &m.up, &state).await?;
            history::record(&db.client, m, true, started.elapsed().as_millis() as i64).await?;
        } else {
            let record = record.as_ref().expect("prepared for a transactional run");
            let durable = Some(version) == last;
            if let Err(err) =
                apply_atomically(&db.client, m, record, durable, report.to_version).await
            {
                if report.to_version != report.from_version {
                    // What committed before this one may still wait for its WAL flush. The
                    // migration's own error is the one to report, whatever this gives.
                    flush_commits(&db.client).await.ok();
                }
                return Err(err);
            }
        }
        report.to_version = version;
        report.steps.push(Step {
            version,
            name: m.name.clone(),
            file: m.up.file.clone(),
            duration_ms: Some(started.elapsed().as_millis() as u64),
        });
    }
    Ok(())
}

/// One migration in one transaction, in one round trip: BEGIN, the script, its history record
/// and COMMIT are sent together (tokio-postgres pipelines requests that are polled together) and
/// the server runs them in order. After a failure it refuses the rest of the transaction, and
/// the COMMIT ends it as a rollback: nothing of the migration stays.
///
/// Every migration of the run but the last commits with `synchronous_commit = off`: one WAL
/// flush per run instead of one per migration. The WAL is flushed in order, so the last
/// commit, made with the server's own setting, makes every earlier one as durable as itself;
/// each commit is atomic either way. Should the server crash before that, the database is at an
/// earlier version, consistent, and the next `up` applies the rest; a failed run flushes what it
/// committed before reporting (see `flush_commits`).
async fn apply_atomically(
    client: &tokio_postgres::Client,
    m: &Resolved,
    record: &tokio_postgres::Statement,
    durable: bool,
    stays_at: u32,
) -> anyhow::Result<()> {
    let begin = if durable {
        "BEGIN"
    } else {
        "BEGIN; SET LOCAL synchronous_commit = off"
    };
    // join4 polls its futures in argument order, so the requests go out in that order.
    let (began, script, recorded, committed) = futures_util::future::join4(
        client.batch_execute(begin),
        client.batch_execute(&m.up.sql),
        history::record_applied(client, record, m),
        client.batch_execute("COMMIT"),
    )
    .await;
    began?;
    script.map_err(|e| script_error(&m.up, &e, stays_at))?;
    recorded?;
    committed?;
    Ok(())
}

/// Make the commits made with `synchronous_commit = off` durable: a transaction with an xid
/// commits with the server's setting, which flushes the WAL up to it, and so everything before.
async fn flush_commits(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    client
        .batch_execute("BEGIN; SELECT txid_current(); COMMIT")
        .await?;
    Ok(())
}

pub async fn rollback(
    db: &mut Db,
    opts: RollbackOptions,
    confirm: impl FnOnce(&RollbackPlan) -> anyhow::Result<bool>,
) -> anyhow::Result<ChangeReport> {
    let set = MigrationSet::load(opts.source.as_deref())?;
    let resolved = set.resolve(&db.engine);
    let entries = entries(db, &resolved).await?;
    let planned = plan::plan_rollback(&entries, opts.to)?;
    let mut report = ChangeReport {
        command: "rollback",
        target: db.target(),
        engine: db.engine.describe(),
        dry_run: opts.dry_run,
        from_version: plan::current_version(&entries),
        to_version: opts.to,
        steps: Vec::new(),
    };
    if opts.dry_run || planned.is_empty() {
        report.steps = steps(&resolved, &planned, |m| &m.down);
        if planned.is_empty() {
            report.to_version = report.from_version;
        }
        return Ok(report);
    }
    let rollback_plan = RollbackPlan {
        target: db.target(),
        migrations: planned
            .iter()
            .filter_map(|v| resolved.iter().find(|m| m.version == *v))
            .collect(),
        estimated_rows: estimated_rows(db).await?,
    };
    if !confirm(&rollback_plan)? {
        return Err(crate::error::Refusal::usage("rollback cancelled; nothing was changed").into());
    }
    with_migration_lock(db, opts.lock_wait, move |db| {
        async move {
            undo(db, &resolved, &planned, &mut report).await?;
            Ok(report)
        }
        .boxed()
    })
    .await
}

async fn undo(
    db: &mut Db,
    resolved: &[Resolved],
    confirmed: &[u32],
    report: &mut ChangeReport,
) -> anyhow::Result<()> {
    // Another run may have moved the database while we asked: only go ahead if the plan holds.
    let now = plan::plan_rollback(&entries(db, resolved).await?, report.to_version)?;
    if now != confirmed {
        return Err(anyhow!(
            "the database changed while waiting for confirmation or the lock; nothing was rolled back, run the command again"
        ));
    }
    let mut at = report.from_version;
    for &version in confirmed {
        let m = resolved
            .iter()
            .find(|m| m.version == version)
            .expect("planned from this set");
        let started = Instant::now();
        if db.engine.runs_stepwise() {
            history::record(&db.client, m, false, 0).await?;
            let state = format!(
                "{} stays recorded as incomplete (the statements before this one were undone); fix the cause and run the rollback again, or `arcdb up` to re-apply it",
                m.label()
            );
            run_statements(db, &m.down, &state).await?;
            history::remove(&db.client, version).await?;
        } else {
            let tx = db.client.transaction().await?;
            tx.batch_execute(&m.down.sql)
                .await
                .map_err(|e| script_error(&m.down, &e, at))?;
            history::remove(&tx, version).await?;
            tx.commit().await?;
        }
        at = resolved
            .iter()
            .map(|r| r.version)
            .filter(|v| *v < version)
            .max()
            .unwrap_or(0);
        report.steps.push(Step {
            version,
            name: m.name.clone(),
            file: m.down.file.clone(),
            duration_ms: Some(started.elapsed().as_millis() as u64),
        });
    }
    Ok(())
}

fn steps(
    resolved: &[Resolved],
    versions: &[u32],
    script: impl Fn(&Resolved) -> &Script,
) -> Vec<Step> {
    versions
        .iter()
        .filter_map(|v| resolved.iter().find(|m| m.version == *v))
        .map(|m| Step {
            version: m.version,
            name: m.name.clone(),
            file: script(m).file.clone(),
            duration_ms: None,
        })
        .collect()
}

async fn estimated_rows(db: &Db) -> anyhow::Result<i64> {
    let row = db
        .client
        .query_one(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// "migrations/0003_x/up.sql, line 12, column 5: <server message> (SQLSTATE …); the database
/// stays at version 2" — everything a person needs to find and fix the statement.
fn script_error(script: &Script, err: &tokio_postgres::Error, stays_at: u32) -> anyhow::Error {
    let state = format!("nothing of it was applied; the database stays at version {stays_at}");
    let Some(db) = err.as_db_error() else {
        return anyhow!("{} failed: {err}; {state}", script.file);
    };
    let position = match db.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
            let (line, column) = line_column(&script.sql, *p as usize);
            format!(", line {line}, column {column}")
        }
        _ => String::new(),
    };
    let context = db
        .where_()
        .map(|w| format!(" (in {})", w.lines().next().unwrap_or(w)))
        .unwrap_or_default();
    anyhow!(
        "{}{position}: {} (SQLSTATE {}){context}; {state}",
        script.file,
        db.message(),
        db.code().code()
    )
}

/// Run `script` one statement at a time (engines without transactional DDL). A failure names
/// the file, the line of the statement, its first words and the server's message, then `state`.
async fn run_statements(db: &Db, script: &Script, state: &str) -> anyhow::Result<()> {
    for statement in statements::split(&script.sql) {
        if let Err(err) = db.client.batch_execute(&statement.text).await {
            let mut line = statement.line;
            let words: Vec<&str> = statement.text.split_whitespace().take(6).collect();
            let what = format!("`{} …`", words.join(" "));
            let Some(dberr) = err.as_db_error() else {
                return Err(anyhow!(
                    "{}, line {line} ({what}) failed: {err}; {state}",
                    script.file
                ));
            };
            if let Some(tokio_postgres::error::ErrorPosition::Original(p)) = dberr.position() {
                line += line_column(&statement.text, *p as usize).0 - 1;
            }
            return Err(anyhow!(
                "{}, line {line} ({what}): {} (SQLSTATE {}); {state}",
                script.file,
                dberr.message(),
                dberr.code().code()
            ));
        }
    }
    Ok(())
}

/// 1-based line and column of the 1-based character `position` in `sql`.
fn line_column(sql: &str, position: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in sql.chars().take(position.saturating_sub(1)) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_column_counts_characters_not_bytes() {
        let sql = "SELECT 1;\nSELECT 'é' FROM nope;";
        let pos = sql.chars().position(|c| c == 'n').unwrap() + 1;
        assert_eq!(super::line_column(sql, pos), (2, 17));
        assert_eq!(super::line_column(sql, 1), (1, 1));
    }
}
