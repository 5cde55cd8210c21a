//! `arcdb repair`: the way out of checksum drift. When applied migrations' files changed since
//! they ran (a comment fixed, a statement reformatted) but the live schema still matches what
//! the current files build, the new checksums are recorded (each one named); when the schema
//! does not match, every difference is listed and nothing is changed.

use crate::db::Db;
use crate::drift::{self, LiveCheck};
use crate::error::{ExitStatus, Refusal};
use crate::lock::MigrationLock;
use crate::migrate::catalog::{MigrationSet, Resolved};
use crate::migrate::history;
use crate::migrate::plan::{self, Entry, State};
use crate::output::{table, Report};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

pub struct RepairOptions {
    pub dry_run: bool,
    pub lock_wait: Duration,
    pub source: Option<PathBuf>,
}

/// One applied migration whose file changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rechecksum {
    pub version: u32,
    pub name: String,
    pub file: String,
    /// What the history holds (the file as it ran).
    pub recorded_checksum: String,
    /// The file now.
    pub file_checksum: String,
}

#[derive(Debug, Serialize)]
pub struct RepairReport {
    pub target: String,
    pub engine: String,
    pub dry_run: bool,
    pub drifted: Vec<Rechecksum>,
    /// Whether the new checksums were recorded.
    pub repaired: bool,
    /// The live schema compared with what the current files build (absent when nothing drifted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveCheck>,
}

impl Report for RepairReport {
    fn render_table(&self) -> String {
        if self.drifted.is_empty() {
            return format!(
                "{} ({}): every applied migration matches its file: nothing to repair",
                self.target, self.engine
            );
        }
        if let Some(live) = self.live.as_ref().filter(|l| !l.is_clean()) {
            return format!(
                "{}\n{}: the live schema differs from what the current files of versions up to {} build, in {} place(s); checksums not re-recorded, nothing was changed — restore the objects or the files",
                drift::differences_table(&live.differences),
                self.target,
                live.version,
                live.differences.len()
            );
        }
        let rows = self.drifted.iter().map(|d| {
            vec![
                format!("{:04}", d.version),
                d.name.clone(),
                d.file.clone(),
                short(&d.recorded_checksum),
                short(&d.file_checksum),
            ]
        });
        let verb = if self.repaired {
            "re-recorded"
        } else {
            "would be re-recorded (dry run)"
        };
        format!(
            "{}\n{} ({}): the live schema matches the current files; {} checksum(s) {verb}",
            table(&["version", "name", "file", "recorded", "now"], rows),
            self.target,
            self.engine,
            self.drifted.len()
        )
    }

    fn exit_status(&self) -> ExitStatus {
        if self.live.as_ref().is_some_and(|l| !l.is_clean()) {
            ExitStatus::Drift
        } else {
            ExitStatus::Ok
        }
    }
}

fn short(checksum: &str) -> String {
    checksum.chars().take(12).collect()
}

/// `confirm` is asked (with the migrations about to be re-recorded) before anything changes.
pub async fn repair(
    db: &mut Db,
    opts: RepairOptions,
    confirm: impl FnOnce(&[Rechecksum]) -> anyhow::Result<bool>,
) -> anyhow::Result<RepairReport> {
    let set = MigrationSet::load(opts.source.as_deref())?;
    let resolved = set.resolve(&db.engine);
    let entries = plan::compare(&resolved, &history::load(&db.client).await?);
    refuse_unknown(&entries)?;
    let drifted = drifted(&resolved, &entries);
    let mut report = RepairReport {
        target: db.target(),
        engine: db.engine.describe(),
        dry_run: opts.dry_run,
        drifted: drifted.clone(),
        repaired: false,
        live: None,
    };
    if drifted.is_empty() {
        return Ok(report);
    }
    drift::require_comparable_engine(db, "repair")?;
    let live = drift::check(
        db,
        &drift::recorded(&resolved, &entries),
        drift::Cache::ReadWrite,
    )
    .await?;
    let clean = live.is_clean();
    report.live = Some(live);
    if !clean || opts.dry_run {
        return Ok(report);
    }
    if !confirm(&drifted)? {
        return Err(Refusal::usage("repair cancelled; nothing was changed").into());
    }
    let guard = MigrationLock::for_engine(&db.engine)
        .acquire(
            db,
            opts.lock_wait,
            &crate::migrate::interrupt::Interrupt::listen(),
        )
        .await?;
    let outcome = rerecord(db, &resolved, &drifted).await;
    guard.release_after(db, outcome).await?;
    report.repaired = true;
    Ok(report)
}

fn refuse_unknown(entries: &[Entry]) -> anyhow::Result<()> {
    let unknown: Vec<String> = entries
        .iter()
        .filter(|e| e.state == State::Unknown)
        .map(|e| format!("{:04}_{}", e.version, e.name))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Refusal::drift(format!(
        "the database has versions this binary does not know: {} — repair cannot tell what they should contain (use the arcdb that applied them); nothing was changed",
        unknown.join(", ")
    ))
    .into())
}

fn drifted(resolved: &[Resolved], entries: &[Entry]) -> Vec<Rechecksum> {
    entries
        .iter()
        .filter(|e| e.state == State::Drifted)
        .filter_map(|e| {
            let m = resolved.iter().find(|m| m.version == e.version)?;
            Some(Rechecksum {
                version: e.version,
                name: e.name.clone(),
                file: m.up.file.clone(),
                recorded_checksum: e.applied_checksum.clone().unwrap_or_default(),
                file_checksum: m.checksum.clone(),
            })
        })
        .collect()
}

/// Under the lock, in one transaction: only if the history still holds what was compared (and
/// confirmed), record the files' checksums; `applied_at` and the rest stay as they were.
async fn rerecord(
    db: &mut Db,
    resolved: &[Resolved],
    confirmed: &[Rechecksum],
) -> anyhow::Result<()> {
    let entries = plan::compare(resolved, &history::load(&db.client).await?);
    if drifted(resolved, &entries) != confirmed {
        return Err(anyhow::anyhow!(
            "the history changed while comparing or waiting for confirmation or the lock; nothing was repaired, run the command again"
        ));
    }
    let tx = db.client.transaction().await?;
    for d in confirmed {
        let script = d.file.rsplit('/').next().unwrap_or(&d.file).to_string();
        tx.execute(
            "UPDATE arcdb.schema_history SET checksum = $2, script = $3 WHERE version = $1 AND checksum = $4",
            &[&(d.version as i32), &d.file_checksum, &script, &d.recorded_checksum],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
