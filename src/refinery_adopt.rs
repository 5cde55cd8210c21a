//! `arcdb adopt --from refinery`: take over a database an application migrated with refinery
//! (from files `arcdb export --layout refinery` wrote). Every row of `refinery_schema_history`
//! must be one of arcdb's migrations with the checksum refinery computes for arcdb's file, the
//! versions must be arcdb's 1..N without a gap, and the live schema must be version N's; only
//! then is arcdb's history recorded (none of the migrations is run). refinery's table is left as
//! it is (and not counted as drift), so the application's embedded runner still finds its
//! history; otherwise nothing is touched and every problem is listed.

use crate::db::{quoted_ident, Db};
use crate::drift::{self, LiveCheck};
use crate::error::{ExitStatus, Refusal};
use crate::lock::MigrationLock;
use crate::migrate::catalog::{MigrationSet, Resolved};
use crate::migrate::history;
use crate::output::{table, Report};
use crate::refinery_files;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// refinery's default history table (`Runner::set_migration_table_name` can change it).
pub const DEFAULT_TABLE: &str = "refinery_schema_history";

pub struct RefineryAdoptOptions {
    pub table: String,
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub source: Option<PathBuf>,
}

/// One row of refinery's history, checked against arcdb's migration of that version.
#[derive(Debug, Serialize)]
pub struct RefineryRow {
    pub version: i32,
    pub name: String,
    pub applied_on: Option<String>,
    pub checksum: Option<String>,
    /// refinery's checksum of arcdb's file for this version and name (absent: no such version).
    pub expected_checksum: Option<String>,
    /// What is wrong with the row (absent: it is arcdb's migration, unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RefineryAdoptReport {
    pub target: String,
    pub engine: String,
    pub table: String,
    pub dry_run: bool,
    pub rows: Vec<RefineryRow>,
    /// Problems with the history as a whole (a version missing between two applied ones).
    pub problems: Vec<String>,
    /// The live schema against the highest applied version's (absent when the history failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveCheck>,
    /// arcdb's history recorded (or, in a dry run, that would be).
    pub migrations: Vec<String>,
    pub adopted: bool,
}

impl RefineryAdoptReport {
    fn history_ok(&self) -> bool {
        self.problems.is_empty() && self.rows.iter().all(|r| r.problem.is_none())
    }
}

impl Report for RefineryAdoptReport {
    fn render_table(&self) -> String {
        let rows = self.rows.iter().map(|r| {
            vec![
                r.version.to_string(),
                r.name.clone(),
                r.checksum.clone().unwrap_or_default(),
                r.problem
                    .clone()
                    .unwrap_or_else(|| "arcdb's, unchanged".into()),
            ]
        });
        let mut out = table(&["version", "name", "refinery checksum", "check"], rows);
        for p in &self.problems {
            out.push_str(&format!("\nproblem: {p}"));
        }
        if let Some(live) = self.live.as_ref().filter(|l| !l.is_clean()) {
            out.push('\n');
            out.push_str(&drift::differences_table(&live.differences));
        }
        let verdict = if !self.history_ok() {
            format!(
                "{}'s history is not arcdb's migrations as they are; nothing was changed",
                self.table
            )
        } else if let Some(live) = self.live.as_ref().filter(|l| !l.is_clean()) {
            format!(
                "the live schema differs from version {}'s in {} place(s); nothing was changed",
                live.version,
                live.differences.len()
            )
        } else if self.adopted {
            format!(
                "adopted: {} migration(s) recorded in arcdb.schema_history, none run; {} left as it is",
                self.migrations.len(),
                self.table
            )
        } else {
            format!(
                "would record {} migration(s) in arcdb.schema_history (dry run); nothing was changed",
                self.migrations.len()
            )
        };
        format!("{out}\n{} ({}): {verdict}", self.target, self.engine)
    }

    fn exit_status(&self) -> ExitStatus {
        if self.history_ok() && self.live.as_ref().is_some_and(LiveCheck::is_clean) {
            ExitStatus::Ok
        } else {
            ExitStatus::Drift
        }
    }
}

pub async fn adopt(db: &mut Db, opts: RefineryAdoptOptions) -> anyhow::Result<RefineryAdoptReport> {
    drift::require_comparable_engine(db, "adopt")?;
    let set = MigrationSet::load(opts.source.as_deref())?;
    let rows = read_history(db, &opts.table).await?;
    history::refuse_existing(&db.client, HAS_HISTORY).await?;
    let mut report = RefineryAdoptReport {
        target: db.target(),
        engine: db.engine.describe(),
        table: opts.table.clone(),
        dry_run: opts.dry_run,
        rows: check_rows(&set, rows)?,
        problems: Vec::new(),
        live: None,
        migrations: Vec::new(),
        adopted: false,
    };
    let applied = report
        .rows
        .iter()
        .map(|r| r.version)
        .max()
        .unwrap_or(0)
        .max(0) as u32;
    if applied == 0 {
        report.problems.push(format!(
            "{} records no migration: nothing to adopt",
            opts.table
        ));
    }
    for m in set.migrations.iter().filter(|m| m.version <= applied) {
        if !report.rows.iter().any(|r| r.version == m.version as i32) {
            report.problems.push(format!(
                "{:04}_{} is not in {} although later versions are: refinery skipped it (out-of-order run?); apply it with refinery first",
                m.version, m.name, opts.table
            ));
        }
    }
    if !report.history_ok() {
        return Ok(report);
    }
    let migrations: Vec<Resolved> = set
        .resolve(&db.engine)
        .into_iter()
        .filter(|m| m.version <= applied)
        .collect();
    report.migrations = migrations.iter().map(Resolved::label).collect();
    let live = drift::check(db, &migrations, drift::Cache::ReadOnly).await?;
    let clean = live.is_clean();
    report.live = Some(live);
    if !clean || opts.dry_run {
        return Ok(report);
    }
    let guard = MigrationLock::for_engine(&db.engine)
        .acquire(
            db,
            opts.lock_wait,
            &crate::migrate::interrupt::Interrupt::listen(),
        )
        .await?;
    let outcome = history::record_existing_schema(&mut db.client, &migrations, HAS_HISTORY).await;
    guard.release_after(db, outcome).await?;
    report.adopted = true;
    Ok(report)
}

type HistoryRow = (i32, String, Option<String>, Option<String>);

async fn read_history(db: &Db, table: &str) -> anyhow::Result<Vec<HistoryRow>> {
    let exists: bool = db
        .client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .get(0);
    if !exists {
        return Err(Refusal::usage(format!(
            "{} has no table {table}: this is not a database refinery migrated (a custom table name goes in --refinery-table); nothing was changed",
            db.target()
        ))
        .into());
    }
    let rows = db
        .client
        .query(
            &format!(
                "SELECT version, name::text, applied_on::text, checksum::text FROM {} ORDER BY version",
                quoted(table)
            ),
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get::<_, Option<String>>(1).unwrap_or_default(),
                r.get(2),
                r.get(3),
            )
        })
        .collect())
}

/// `schema.table` or `table`, each part quoted as an identifier.
fn quoted(table: &str) -> String {
    table
        .split('.')
        .map(quoted_ident)
        .collect::<Vec<_>>()
        .join(".")
}

fn check_rows(set: &MigrationSet, rows: Vec<HistoryRow>) -> anyhow::Result<Vec<RefineryRow>> {
    let mut out = Vec::new();
    for (version, name, applied_on, checksum) in rows {
        let m = set
            .migrations
            .iter()
            .find(|m| version > 0 && m.version == version as u32);
        let (expected, problem) = match m {
            None => (
                None,
                Some(format!(
                    "arcdb has no version {version}: refinery ran a migration that is not arcdb's"
                )),
            ),
            Some(m) => {
                let expected =
                    refinery_files::checksum(m.version, &name, refinery_files::up_sql(m))?;
                let problem = if name != m.name {
                    Some(format!(
                        "named {name} in refinery, {} in arcdb: not the file arcdb exported",
                        m.name
                    ))
                } else if checksum.as_deref() != Some(expected.as_str()) {
                    Some(format!(
                        "checksum differs from arcdb's {}: the file refinery ran is not arcdb's",
                        refinery_files::file_name(m.version, &m.name)
                    ))
                } else {
                    None
                };
                (Some(expected), problem)
            }
        };
        out.push(RefineryRow {
            version,
            name,
            applied_on,
            checksum,
            expected_checksum: expected,
            problem,
        });
    }
    Ok(out)
}

/// What to do instead when the database already has arcdb history.
const HAS_HISTORY: &str = "it is arcdb's already, see `arcdb status`";
