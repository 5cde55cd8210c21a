//! `arcdb up`, `status` and `rollback`: read the history, plan (pure, in `plan`), then apply
//! under the migration lock, one transaction per migration.

pub mod catalog;
pub mod history;
pub mod interrupt;
pub mod new;
pub mod plan;
pub mod roles;
pub mod runner;
pub mod statements;
pub mod txmode;

use crate::db::Db;
use crate::error::ExitStatus;
use crate::lock::MigrationLock;
use crate::output::{table, Report};
use anyhow::anyhow;
use catalog::{MigrationSet, ReadingSet, Resolved, Script};
use futures_util::future::{BoxFuture, FutureExt};
use interrupt::Interrupt;
use plan::{AppliedRecord, Entry, State};
pub use runner::{parse_duration, LiveOptions};
use runner::{Direction, Runner};
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
    /// How the script runs: in one transaction, or statement by statement.
    pub transaction: txmode::TxMode,
    /// The SQL the step runs, in a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
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
        // A dry run shows what each step would run, and how.
        let sql: String = self
            .steps
            .iter()
            .filter_map(|s| {
                s.sql.as_ref().map(|sql| {
                    format!(
                        "-- {:04}_{}: {}, {}\n{}\n\n",
                        s.version,
                        s.name,
                        s.file,
                        s.transaction.describe(),
                        sql.trim_end()
                    )
                })
            })
            .collect();
        format!(
            "{sql}{}\n{} ({}): {verb} {} migration(s), version {} → {}",
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
    /// The migrations of `--source` (or the embedded ones), being read while the caller connects.
    pub set: ReadingSet,
    pub live: LiveOptions,
    /// `--lock`; None: the engine's default.
    pub lock: Option<MigrationLock>,
    /// Refuse error-level safety findings instead of printing them.
    pub strict: bool,
    /// Asked under the migration lock, before anything is applied, when something is pending:
    /// `drift::refuse_drift` unless `--allow-drift`.
    pub before_apply: Option<BeforeApply>,
}

/// A check `up` makes under the migration lock once it knows what is pending, before it
/// applies anything: it sees the migrations the engine runs and the history compared with
/// them, read under that lock (so nothing lands between the check and the first migration).
pub type BeforeApply =
    for<'a> fn(&'a Db, &'a [Resolved], &'a [Entry]) -> BoxFuture<'a, anyhow::Result<()>>;

pub struct RollbackOptions {
    pub to: u32,
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub source: Option<PathBuf>,
    pub live: LiveOptions,
    /// `--lock`; None: the engine's default.
    pub lock: Option<MigrationLock>,
}

/// What a rollback is about to do, shown to the person who confirms it.
pub struct RollbackPlan<'a> {
    pub target: String,
    pub migrations: Vec<&'a Resolved>,
    /// The tables the down scripts drop that exist now, with their exact row counts.
    pub dropped_tables: Vec<(String, i64)>,
}

async fn entries(db: &Db, resolved: &[Resolved]) -> anyhow::Result<Vec<Entry>> {
    let applied = history::load(&db.client).await?;
    Ok(plan::compare(resolved, &applied))
}

/// The history compared with the set (every migration of it, oldest first): the history is
/// read while the set still is.
pub async fn status(db: &Db, set: ReadingSet) -> anyhow::Result<StatusReport> {
    let (applied, set) = set.finish_alongside(history::load(&db.client)).await?;
    Ok(status_of(db, &set.resolve(&db.engine), &applied))
}

/// The history `applied` compared with `resolved` (`arcdb status` reads the history in the live
/// check's snapshot).
pub fn status_of(db: &Db, resolved: &[Resolved], applied: &[AppliedRecord]) -> StatusReport {
    let migrations = plan::compare(resolved, applied);
    StatusReport {
        target: db.target(),
        engine: db.engine.describe(),
        current_version: plan::current_version(&migrations),
        latest_version: resolved.last().map(|m| m.version).unwrap_or(0),
        migrations,
    }
}

pub async fn up(db: &mut Db, opts: UpOptions) -> anyhow::Result<ChangeReport> {
    // A server without what the schema needs is refused before anything is touched or locked.
    db.engine.require_schema_support()?;
    let (applied, set) = opts.set.finish_alongside(history::load(&db.client)).await?;
    let resolved = set.resolve(&db.engine);
    let mut report = ChangeReport {
        command: "up",
        target: db.target(),
        engine: db.engine.describe(),
        dry_run: opts.dry_run,
        from_version: 0,
        to_version: 0,
        steps: Vec::new(),
    };
    let entries = plan::compare(&resolved, &applied);
    if opts.dry_run {
        require_extensions(db, &resolved).await?;
        let planned = plan::plan_up(&entries, opts.to)?;
        report.from_version = plan::current_version(&entries);
        report.to_version = planned.last().copied().unwrap_or(report.from_version);
        report.steps = steps(&resolved, &planned, &db.engine, |m| &m.up);
        return Ok(report);
    }
    // Every migration applied, as committed now: nothing to do, and no lock to take or wait
    // for. A run that is applying has not committed its migration (or has recorded it as not
    // complete), so this run sees it pending and waits for the lock as before; anything else
    // (a refusal, say) is decided again under the lock, from the history read there.
    if plan::plan_up(&entries, opts.to).is_ok_and(|planned| planned.is_empty()) {
        report.from_version = plan::current_version(&entries);
        report.to_version = report.from_version;
        return Ok(report);
    }
    let interrupt = Interrupt::listen();
    with_migration_lock(
        db,
        opts.lock_wait,
        opts.lock,
        &interrupt.clone(),
        move |db| {
            async move {
                let pending = Pending {
                    to: opts.to,
                    live: opts.live,
                    strict: opts.strict,
                    before_apply: opts.before_apply,
                };
                apply_pending(db, &resolved, pending, interrupt, &mut report).await?;
                Ok(report)
            }
            .boxed()
        },
    )
    .await
}

/// Take the migration lock, run `body` under it and give the lock back whatever happened:
/// the body's error comes first, else the release's. `body` gets the connection back for the
/// duration of its future; it owns whatever else it uses (moved in), since a borrow of the
/// caller's locals could not be promised to every `'a`.
async fn with_migration_lock<T>(
    db: &mut Db,
    wait: Duration,
    lock: Option<MigrationLock>,
    interrupt: &Interrupt,
    body: impl for<'a> FnOnce(&'a mut Db) -> BoxFuture<'a, anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let guard = MigrationLock::choose(&db.engine, lock)?
        .acquire(db, wait, interrupt)
        .await?;
    let outcome = body(db).await;
    guard.release_after(db, outcome).await
}

/// Refuse, before anything is touched, a server that lacks an extension the migrations create
/// (a PostgreSQL built without contrib, say), naming each one. Asked only when something is to
/// be applied (or shown by `--dry-run`): an `up` with nothing pending needs no extension.
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
        .query_typed(
            "SELECT name FROM pg_available_extensions WHERE name = ANY($1)",
            &[(&wanted, tokio_postgres::types::Type::TEXT_ARRAY)],
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
/// everything), refuse scripts with transaction control before anything runs, then apply what
/// is still pending.
struct Pending {
    to: Option<u32>,
    live: LiveOptions,
    strict: bool,
    before_apply: Option<BeforeApply>,
}

async fn apply_pending(
    db: &mut Db,
    resolved: &[Resolved],
    Pending {
        to,
        live,
        strict,
        before_apply,
    }: Pending,
    interrupt: Interrupt,
    report: &mut ChangeReport,
) -> anyhow::Result<()> {
    let entries = entries(db, resolved).await?;
    let planned = plan::plan_up(&entries, to)?;
    report.from_version = plan::current_version(&entries);
    report.to_version = report.from_version;
    // Nothing to apply: nothing is checked, created or written.
    if planned.is_empty() {
        return Ok(());
    }
    require_extensions(db, resolved).await?;
    if let Some(check) = before_apply {
        check(db, resolved, &entries).await?;
    }
    let migrations: Vec<&Resolved> = planned.iter().map(|v| find(resolved, *v)).collect();
    for m in &migrations {
        txmode::refuse_transaction_control(&m.up)?;
    }
    safety_check(db, &migrations, strict).await?;
    history::ensure(&db.client).await?;
    let runner = Runner::start(db, live, interrupt).await?;
    let count = migrations.len();
    for (i, m) in migrations.into_iter().enumerate() {
        let at = report.to_version;
        let started = Instant::now();
        runner.defer_flush(i + 1 < count);
        let ran = async {
            runner.interrupt().check(&format!(
                "{} was not started; the database stays at version {at}",
                m.label()
            ))?;
            runner.run(db, m, Direction::Up, at).await
        }
        .await;
        if let Err(err) = ran {
            if at != report.from_version {
                // What committed before may still wait for its WAL flush. The migration's own
                // error is the one to report, whatever this gives.
                runner::flush_commits(db).await.ok();
            }
            return Err(err);
        }
        report.to_version = m.version;
        report.steps.push(Step {
            version: m.version,
            name: m.name.clone(),
            file: m.up.file.clone(),
            transaction: txmode::TxMode::of(&m.up, &db.engine),
            sql: None,
            duration_ms: Some(started.elapsed().as_millis() as u64),
        });
    }
    Ok(())
}

/// Apply every migration of `resolved`, oldest first, inside the caller's transaction, each
/// recorded in `arcdb.schema_history` (created if needed): `adopt` builds the schema and moves
/// the rows in one transaction, with the same statements and records as `up`.
/// `sql[i]`, when given, is what runs for `resolved[i]` (an equivalent form of its script, see
/// `adopt`); the history records the migration's own script and checksum either way.
pub async fn apply_in_transaction(
    tx: &tokio_postgres::Transaction<'_>,
    resolved: &[Resolved],
    sql: &[Option<String>],
) -> anyhow::Result<Vec<Step>> {
    history::ensure(tx).await?;
    let mut steps = Vec::new();
    for (i, m) in resolved.iter().enumerate() {
        let started = Instant::now();
        let script = match sql.get(i).cloned().flatten() {
            Some(text) => Script {
                file: m.up.file.clone(),
                sql: text,
            },
            None => m.up.clone(),
        };
        tx.batch_execute(&script.sql).await.map_err(|e| {
            anyhow!(
                "{}: {}; nothing of it was applied",
                script.file,
                crate::db::server_message(&e)
            )
        })?;
        history::record(tx, m, true, started.elapsed().as_millis() as i64).await?;
        steps.push(Step {
            version: m.version,
            name: m.name.clone(),
            file: m.up.file.clone(),
            transaction: txmode::TxMode::Transaction,
            sql: None,
            duration_ms: Some(started.elapsed().as_millis() as u64),
        });
    }
    Ok(steps)
}

/// Print the error-level safety findings of the migrations about to run (after the released
/// ones) that concern tables existing now (a table created in this run holds no traffic yet); `--strict` refuses them.
async fn safety_check(db: &Db, migrations: &[&Resolved], strict: bool) -> anyhow::Result<()> {
    if db.engine.kind != crate::engine::EngineKind::Postgres {
        return Ok(());
    }
    let mut errors = Vec::new();
    // The released migrations are reviewed and documented (0006's header states its index
    // build blocks writes): like `arcdb lint`, only the ones after them are checked.
    let new = migrations
        .iter()
        .filter(|m| m.version > crate::lint::safety::RELEASED_BEFORE_SAFETY_LINT);
    for m in new {
        for hazard in crate::lint::safety::check(&m.up) {
            if hazard.severity != crate::lint::safety::Severity::Error {
                continue;
            }
            let exists: bool = db
                .client
                .query_typed_one(
                    "SELECT to_regclass($1) IS NOT NULL",
                    &[(&hazard.table, tokio_postgres::types::Type::TEXT)],
                )
                .await?
                .get(0);
            if exists {
                errors.push(hazard);
            }
        }
    }
    // Accepted hazards are said once per file and rule, with the author's reason; the rest one
    // by one. Only the unaccepted ones are refused by --strict.
    let (accepted, errors): (Vec<_>, Vec<_>) =
        errors.into_iter().partition(|h| h.accepted.is_some());
    let mut said: Vec<(&str, &str)> = Vec::new();
    for h in &accepted {
        if said.contains(&(h.file.as_str(), h.rule)) {
            continue;
        }
        said.push((h.file.as_str(), h.rule));
        let count = accepted
            .iter()
            .filter(|o| o.file == h.file && o.rule == h.rule)
            .count();
        crate::output::notice(format!(
            "safety: {} [{}]: {count} statement(s) on existing tables, accepted by the migration: {}",
            h.file,
            h.rule,
            h.accepted.as_deref().unwrap_or_default()
        ));
    }
    for h in &errors {
        crate::output::notice(format!(
            "safety: {}:{}: {} [{}]: {}; safe form: {}",
            h.file, h.line, h.statement, h.rule, h.message, h.help
        ));
    }
    if strict && !errors.is_empty() {
        return Err(crate::error::Refusal {
            status: ExitStatus::Findings,
            message: format!(
                "--strict: {} error-level safety finding(s) on existing tables (above); nothing was applied",
                errors.len()
            ),
        }
        .into());
    }
    Ok(())
}

fn find(resolved: &[Resolved], version: u32) -> &Resolved {
    resolved
        .iter()
        .find(|m| m.version == version)
        .expect("planned from this set")
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
    for version in &planned {
        txmode::refuse_transaction_control(find(&resolved, *version).down_script())?;
    }
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
        report.steps = steps(&resolved, &planned, &db.engine, Resolved::down_script);
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
        dropped_tables: dropped_tables(db, &planned, &resolved).await?,
    };
    if !confirm(&rollback_plan)? {
        return Err(crate::error::Refusal::usage("rollback cancelled; nothing was changed").into());
    }
    let (live, interrupt) = (opts.live, Interrupt::listen());
    with_migration_lock(
        db,
        opts.lock_wait,
        opts.lock,
        &interrupt.clone(),
        move |db| {
            async move {
                undo(db, &resolved, &planned, live, interrupt, &mut report).await?;
                Ok(report)
            }
            .boxed()
        },
    )
    .await
}

async fn undo(
    db: &mut Db,
    resolved: &[Resolved],
    confirmed: &[u32],
    live: LiveOptions,
    interrupt: Interrupt,
    report: &mut ChangeReport,
) -> anyhow::Result<()> {
    // Another run may have moved the database while we asked: only go ahead if the plan holds.
    let now = plan::plan_rollback(&entries(db, resolved).await?, report.to_version)?;
    if now != confirmed {
        return Err(anyhow!(
            "the database changed while waiting for confirmation or the lock; nothing was rolled back, run the command again"
        ));
    }
    history::ensure(&db.client).await?;
    let runner = Runner::start(db, live, interrupt).await?;
    let mut at = report.from_version;
    for &version in confirmed {
        let m = find(resolved, version);
        runner.interrupt().check(&format!(
            "{} was not undone; the database stays at version {at}",
            m.label()
        ))?;
        let started = Instant::now();
        runner.run(db, m, Direction::Down, at).await?;
        at = resolved
            .iter()
            .map(|r| r.version)
            .filter(|v| *v < version)
            .max()
            .unwrap_or(0);
        report.steps.push(Step {
            version,
            name: m.name.clone(),
            file: m.down_script().file.clone(),
            transaction: txmode::TxMode::of(m.down_script(), &db.engine),
            sql: None,
            duration_ms: Some(started.elapsed().as_millis() as u64),
        });
    }
    Ok(())
}

/// The steps of a dry run, with the SQL each would run on `engine`.
fn steps(
    resolved: &[Resolved],
    versions: &[u32],
    engine: &crate::engine::Engine,
    script: impl Fn(&Resolved) -> &Script,
) -> Vec<Step> {
    versions
        .iter()
        .filter_map(|v| resolved.iter().find(|m| m.version == *v))
        .map(|m| Step {
            version: m.version,
            name: m.name.clone(),
            file: script(m).file.clone(),
            transaction: txmode::TxMode::of(script(m), engine),
            sql: Some(script(m).sql.clone()),
            duration_ms: None,
        })
        .collect()
}

/// The tables the down scripts of `versions` drop (`DROP TABLE [IF EXISTS] a, b …`) that
/// exist now, each with its exact row count: it is the user's data, statistics can say 0 on a
/// table never analyzed.
async fn dropped_tables(
    db: &Db,
    versions: &[u32],
    resolved: &[Resolved],
) -> anyhow::Result<Vec<(String, i64)>> {
    let mut names: Vec<String> = Vec::new();
    for version in versions {
        let sql = &find(resolved, *version).down_script().sql;
        for (_, tokens) in statements::split_tokens(sql) {
            let word = |i: usize, w: &str| tokens.get(i).is_some_and(|t| t.is_word(sql, w));
            if !(word(0, "DROP") && word(1, "TABLE")) {
                continue;
            }
            let mut at = if word(2, "IF") && word(3, "EXISTS") {
                4
            } else {
                2
            };
            let mut name = String::new();
            while let Some(t) = tokens.get(at) {
                match t.kind {
                    statements::TokenKind::Punct(',') => {
                        names.push(std::mem::take(&mut name));
                    }
                    statements::TokenKind::Word
                        if t.is_word(sql, "CASCADE") || t.is_word(sql, "RESTRICT") =>
                    {
                        break
                    }
                    _ => name.push_str(t.text(sql)),
                }
                at += 1;
            }
            names.push(name);
        }
    }
    names.retain(|n| !n.is_empty());
    names.dedup();
    let mut counted = Vec::new();
    for name in names {
        let exists: bool = db
            .client
            .query_typed_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[(&name, tokio_postgres::types::Type::TEXT)],
            )
            .await?
            .get(0);
        if !exists {
            continue;
        }
        let rows = db
            .client
            .simple_query(&format!("SELECT count(*) FROM {name}"))
            .await?;
        let count = rows
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse::<i64>().ok(),
                _ => None,
            })
            .unwrap_or(0);
        counted.push((name, count));
    }
    Ok(counted)
}

/// 1-based line and column of the 1-based character `position` in `sql`.
pub(crate) fn line_column(sql: &str, position: usize) -> (usize, usize) {
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
