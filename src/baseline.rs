//! `arcdb baseline --to N`: take in a database whose schema is version N's but that has no
//! arcdb history (restored from a dump without the `arcdb` schema, built by hand or by another
//! runner). The live schema is compared with what migrations 1..N build; the history is
//! recorded only when they match, otherwise every difference is listed and nothing is touched.

use crate::catalog::Difference;
use crate::db::Db;
use crate::drift::{self, LiveCheck};
use crate::error::{ExitStatus, Refusal};
use crate::lock::MigrationLock;
use crate::migrate::catalog::{MigrationSet, Resolved};
use crate::migrate::history;
use crate::output::{table, Report};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

pub struct BaselineOptions {
    pub to: u32,
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub source: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct BaselineReport {
    pub target: String,
    pub engine: String,
    pub version: u32,
    pub dry_run: bool,
    /// The versions recorded (or, in a dry run or on a mismatch, that would have been).
    pub migrations: Vec<String>,
    /// Whether the history was written.
    pub recorded: bool,
    pub live: LiveCheck,
}

impl BaselineReport {
    pub fn differences(&self) -> &[Difference] {
        &self.live.differences
    }
}

impl Report for BaselineReport {
    fn render_table(&self) -> String {
        if !self.live.is_clean() {
            return format!(
                "{}\n{}: the live schema differs from version {}'s in {} place(s); no history was recorded, nothing was changed",
                drift::differences_table(self.differences()),
                self.target,
                self.version,
                self.differences().len()
            );
        }
        let rows = self.migrations.iter().map(|m| vec![m.clone()]);
        let verb = if self.recorded {
            "recorded as applied"
        } else {
            "would be recorded as applied (dry run)"
        };
        format!(
            "{}\n{} ({}): the live schema matches version {}; {} migration(s) {verb}, none of them run",
            table(&["migration"], rows),
            self.target,
            self.engine,
            self.version,
            self.migrations.len()
        )
    }

    fn exit_status(&self) -> ExitStatus {
        if self.live.is_clean() {
            ExitStatus::Ok
        } else {
            ExitStatus::Drift
        }
    }
}

pub async fn baseline(db: &mut Db, opts: BaselineOptions) -> anyhow::Result<BaselineReport> {
    drift::require_comparable_engine(db, "baseline")?;
    let set = MigrationSet::load(opts.source.as_deref())?;
    let latest = set.latest_version();
    if opts.to == 0 || opts.to > latest {
        return Err(Refusal::usage(format!(
            "--to {}: the migrations go from 1 to {latest}; give the version the database's schema is at; nothing was changed",
            opts.to
        ))
        .into());
    }
    history::refuse_existing(&db.client, HAS_HISTORY).await?;
    let migrations: Vec<Resolved> = set
        .resolve(&db.engine)
        .into_iter()
        .filter(|m| m.version <= opts.to)
        .collect();
    let live = drift::check(db, &migrations, drift::Cache::ReadOnly).await?;
    let mut report = BaselineReport {
        target: db.target(),
        engine: db.engine.describe(),
        version: opts.to,
        dry_run: opts.dry_run,
        migrations: migrations.iter().map(Resolved::label).collect(),
        recorded: false,
        live,
    };
    if !report.live.is_clean() || opts.dry_run {
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
    report.recorded = true;
    Ok(report)
}

/// What to do instead when the database already has arcdb history.
const HAS_HISTORY: &str = "baseline is for databases without it; see `arcdb status` (and `arcdb repair` for changed checksums)";
