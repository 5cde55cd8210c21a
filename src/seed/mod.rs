//! `arcdb seed`: the sample organizations and the scale generator.
//!
//! * `sample`: runs the embedded `seeds/*.sql` files (idempotent: fixed ids, `ON CONFLICT DO
//!   NOTHING`) in one transaction and reports the rows of every table before and after.
//! * `scale`: generates tenant volume and loads it through COPY, in one transaction, so that a
//!   failed or interrupted load leaves nothing behind.
//!
//! How a scale load works:
//! * Every row is a pure function of (seed, run, table, organization, row index): its id and its
//!   random stream are derived by hashing those coordinates. So one seed gives the same rows on
//!   every machine and every day (timestamps lie in the 180 days before 2026-01-01), any table can
//!   reference a row of another by index without keeping ids in memory, and the generator needs
//!   no more memory than one organization's desk paths.
//! * Tasks are spread over the organizations by a Zipf law (`--skew`, exponent 1 by default: with
//!   100 organizations the largest holds ~19% of the tasks, the median ~1%); every other table is
//!   proportional to its organization's tasks. Every reference stays inside its organization (the
//!   foreign keys are composite, so the database checks it too).
//! * One thread generates COPY data (binary by default, text with `--copy-format text`) into
//!   256 KiB chunks while the connection streams the previous ones (bounded channel).
//! * The transaction disables the user triggers of the loaded tables (`DISABLE TRIGGER USER`,
//!   owner only) and writes what they would compute: desks.hierarchy_path and hierarchy_level,
//!   tasks.task_number 1..n per organization with organizations.last_task_number = n,
//!   cost_tracking.billing_month and total_tokens, audit_logs.actor_type.
//! * Per-row index maintenance and foreign-key checks cost far more than the COPY itself
//!   (1M tasks and 1.5M proportional rows: 407 s with them, 32 s rebuilt after the COPY). So, like pg_restore, the load drops the keys,
//!   indexes and foreign keys of the tables it fills (those holding at most twice the rows it
//!   adds, and only objects nothing else depends on), COPYs, then builds them again from their
//!   catalog definitions (with their comments) and adds the foreign keys back, which validates
//!   every row. `--keep-indexes` keeps them all in place instead. Triggers are enabled again
//!   before COMMIT; the loaded tables are ANALYZEd after it. The ALTERs lock the tables for the
//!   duration of the load (when indexes are rebuilt, readers too), which also serializes
//!   concurrent scale loads.
//! * Scale organizations carry `{"arcdb_scale": {"seed": S, "run": R, "rank": K}}` in
//!   `settings` and the slug `scale-s<S>-r<R>-<K>`. A database that already holds scale data is
//!   refused unless `--append`, which loads another run (R + 1): new ids, new slugs, never a
//!   collision with earlier runs or with the sample seed.
//! * COPY needs a role that bypasses row-level security: the owner of the tables does (the
//!   schema has no FORCE); the load says so on stderr.

use crate::db::{quoted_ident, Db};
use crate::embedded::SEEDS;
use crate::error::Refusal;
use crate::migrate::catalog::MigrationSet;
use crate::migrate::{history, plan};
use crate::output::{table, Report};
use anyhow::anyhow;
use serde::Serialize;
use spec::TABLES;

mod copy;
mod generate;
mod layout;
mod load;
mod spec;

pub use load::scale;

// =============================================================================================
// Shared: schema version check and row counts
// =============================================================================================

/// Refuse unless every embedded migration is applied (exit 2 when some are pending, 4 on drift).
async fn require_latest_schema(db: &Db) -> anyhow::Result<()> {
    let set = MigrationSet::embedded()?;
    let resolved = set.resolve(&db.engine);
    let applied = history::load(&db.client).await?;
    let entries = plan::compare(&resolved, &applied);
    plan::check_drift(&entries)?;
    let pending = entries
        .iter()
        .filter(|e| matches!(e.state, plan::State::Pending | plan::State::Incomplete))
        .count();
    if pending > 0 {
        return Err(Refusal::usage(format!(
            "the database schema is at version {} but this arcdb's latest is {} ({pending} migration(s) pending): run `arcdb up` first, then `arcdb seed`",
            plan::current_version(&entries),
            set.latest_version()
        ))
        .into());
    }
    Ok(())
}

/// Exact row counts of every table of schema `public`: the ArcDesk tables in load order, then
/// any other table alphabetically. Not the tenant tables `arcdb refresh` keeps equal to a
/// materialized view (comment tag `arcdb:refreshed-from:`, migration 0009): the seed never
/// writes them, the refresh does.
async fn count_rows(
    client: &impl tokio_postgres::GenericClient,
) -> anyhow::Result<Vec<(String, i64)>> {
    let mut names: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
                    NOT LIKE '%arcdb:refreshed-from:%'
              ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    names.sort_by_key(|n| {
        TABLES
            .iter()
            .position(|t| t.name == n.as_str())
            .unwrap_or(TABLES.len())
    });
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let sql = names
        .iter()
        .map(|n| format!("SELECT count(*) FROM public.{}", quoted_ident(n)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    // UNION ALL of plain aggregates keeps the order of its branches.
    let counts = client.query(&sql, &[]).await?;
    Ok(names
        .into_iter()
        .zip(counts.iter().map(|r| r.get::<_, i64>(0)))
        .collect())
}

// =============================================================================================
// Sample data
// =============================================================================================

/// Rows of one table before and after the sample seed.
#[derive(Debug, Serialize)]
pub struct TableChange {
    pub table: String,
    pub before: i64,
    pub after: i64,
    pub added: i64,
}

/// `arcdb seed`.
#[derive(Debug, Serialize)]
pub struct SeedReport {
    pub target: String,
    /// The seed files that ran, in order.
    pub files: Vec<String>,
    pub tables: Vec<TableChange>,
    /// New rows over all tables (0 when the sample data was already there).
    pub added: i64,
}

impl Report for SeedReport {
    fn render_table(&self) -> String {
        let rows = self.tables.iter().map(|t| {
            vec![
                t.table.clone(),
                t.before.to_string(),
                t.after.to_string(),
                t.added.to_string(),
            ]
        });
        let verdict = if self.added == 0 {
            "already seeded, nothing added".to_string()
        } else {
            format!("{} new rows", self.added)
        };
        format!(
            "{}\n{}: ran {}: {verdict}",
            table(&["table", "before", "after", "added"], rows),
            self.target,
            self.files.join(", ")
        )
    }
}

/// Load the sample organizations: every embedded `seeds/*.sql`, in one transaction.
pub async fn sample(db: &mut Db) -> anyhow::Result<SeedReport> {
    require_latest_schema(db).await?;
    let files: Vec<_> = SEEDS.iter().filter(|f| f.path.ends_with(".sql")).collect();
    if files.is_empty() {
        return Err(anyhow!(
            "this arcdb embeds no sample seed (seeds/*.sql was empty when it was built)"
        ));
    }
    let target = db.target();
    let tx = db.client.transaction().await?;
    let before = count_rows(&tx).await?;
    for file in &files {
        tx.batch_execute(file.contents)
            .await
            .map_err(|e| seed_file_error(file.path, file.contents, &e))?;
    }
    let after = count_rows(&tx).await?;
    tx.commit().await?;
    let tables: Vec<TableChange> = after
        .into_iter()
        .map(|(table, after)| {
            let before = before
                .iter()
                .find(|(t, _)| *t == table)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            TableChange {
                table,
                before,
                after,
                added: after - before,
            }
        })
        .collect();
    Ok(SeedReport {
        target,
        files: files.iter().map(|f| format!("seeds/{}", f.path)).collect(),
        added: tables.iter().map(|t| t.added).sum(),
        tables,
    })
}

/// "seeds/001_sample.sql, line 12: <message> (SQLSTATE …); nothing was loaded".
fn seed_file_error(path: &str, sql: &str, err: &tokio_postgres::Error) -> anyhow::Error {
    let Some(db) = err.as_db_error() else {
        return anyhow!("seeds/{path} failed: {err}; nothing was loaded");
    };
    let line = match db.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
            let upto: String = sql.chars().take(*p as usize).collect();
            format!(", line {}", upto.matches('\n').count() + 1)
        }
        _ => String::new(),
    };
    anyhow!(
        "seeds/{path}{line}: {} (SQLSTATE {}); nothing was loaded",
        db.message(),
        db.code().code()
    )
}

// =============================================================================================
// Scale: options and report
// =============================================================================================

/// COPY wire format of a scale load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CopyFormat {
    /// PostgreSQL's binary COPY format (less parsing on the server).
    #[default]
    Binary,
    /// The text format psql's \copy uses.
    Text,
}

impl CopyFormat {
    fn sql(self) -> &'static str {
        match self {
            CopyFormat::Binary => "binary",
            CopyFormat::Text => "text",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScaleOptions {
    pub orgs: u32,
    pub tasks: u64,
    pub seed: u64,
    pub skew: f64,
    pub append: bool,
    pub copy_format: CopyFormat,
    /// Keep every index and foreign key in place during COPY (per-row maintenance and checks)
    /// instead of rebuilding them after it.
    pub keep_indexes: bool,
}

/// Rows loaded into one table.
#[derive(Debug, Serialize)]
pub struct TableRows {
    pub table: String,
    pub rows: u64,
    /// The COPY of this table (generation overlaps it).
    pub copy_seconds: f64,
}

/// What a load dropped before COPY and built again after it, in the same transaction.
#[derive(Debug, Default, Serialize)]
pub struct Rebuilt {
    /// Tables whose indexes and foreign keys were rebuilt: those that held few rows before the
    /// load (at most twice what it adds). The others kept them during COPY.
    pub tables: Vec<String>,
    /// Primary key, unique and exclusion constraints.
    pub keys: usize,
    /// Other indexes.
    pub indexes: usize,
    /// Foreign keys, validated against every row when they are added back.
    pub foreign_keys: usize,
    pub seconds: f64,
}

/// `arcdb seed --scale`.
#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub target: String,
    pub seed: u64,
    /// 0 for the first scale load of a database, then 1, 2… with `--append`.
    pub run: u32,
    pub copy_format: CopyFormat,
    pub organizations: u32,
    pub tasks: u64,
    pub skew: f64,
    pub largest_org_tasks: u64,
    pub median_org_tasks: u64,
    pub tables: Vec<TableRows>,
    pub total_rows: u64,
    pub rebuilt: Rebuilt,
    /// From BEGIN to COMMIT: COPY (with generation), rebuilding, trigger toggling, commit.
    pub load_seconds: f64,
    /// `total_rows / load_seconds`.
    pub rows_per_second: f64,
    /// ANALYZE of the loaded tables, after COMMIT.
    pub analyze_seconds: f64,
}

impl Report for ScaleReport {
    fn render_table(&self) -> String {
        let rows = self.tables.iter().map(|t| {
            vec![
                t.table.clone(),
                t.rows.to_string(),
                format!("{:.2}", t.copy_seconds),
            ]
        });
        let copy: f64 = self.tables.iter().map(|t| t.copy_seconds).sum();
        let rebuilt = if self.rebuilt.tables.is_empty() {
            "indexes and foreign keys kept during COPY".to_string()
        } else {
            format!(
                "rebuilt after COPY on {} tables: {} keys, {} indexes, {} foreign keys (validated) in {:.2} s",
                self.rebuilt.tables.len(),
                self.rebuilt.keys,
                self.rebuilt.indexes,
                self.rebuilt.foreign_keys,
                self.rebuilt.seconds
            )
        };
        format!(
            "{}\n{}: loaded {} rows in {:.2} s ({:.0} rows/s; COPY {} {:.2} s; {rebuilt}); ANALYZE {:.2} s\n\
             seed {} run {}: {} organizations, {} tasks (largest organization {}, median {})",
            table(&["table", "rows", "COPY s"], rows),
            self.target,
            self.total_rows,
            self.load_seconds,
            self.rows_per_second,
            self.copy_format.sql(),
            copy,
            self.analyze_seconds,
            self.seed,
            self.run,
            self.organizations,
            self.tasks,
            self.largest_org_tasks,
            self.median_org_tasks
        )
    }
}
