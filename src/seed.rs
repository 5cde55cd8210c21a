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

use crate::db::{server_message, Db};
use crate::embedded::SEEDS;
use crate::engine::EngineKind;
use crate::error::Refusal;
use crate::migrate::catalog::MigrationSet;
use crate::migrate::{history, plan};
use crate::output::{notice, table, Report};
use crate::progress::Progress;
use anyhow::{anyhow, Context};
use bytes::Bytes;
use futures_util::SinkExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

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
        .map(|n| format!("SELECT count(*) FROM public.\"{}\"", n.replace('"', "\"\"")))
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

// =============================================================================================
// Scale: the load
// =============================================================================================

/// Generate and load scale data (see the module documentation).
pub async fn scale(db: &mut Db, opts: ScaleOptions) -> anyhow::Result<ScaleReport> {
    let committed = AtomicBool::new(false);
    tokio::select! {
        report = scale_load(db, opts, &committed) => report,
        _ = tokio::signal::ctrl_c() => Err(crate::error::Refusal::interrupted(
            if committed.load(Ordering::SeqCst) {
                "seed --scale interrupted (Ctrl-C) during ANALYZE: the rows are loaded and committed; run ANALYZE on the loaded tables"
            } else {
                "seed --scale interrupted (Ctrl-C): its single transaction was rolled back, nothing was loaded"
            },
        )
        .into()),
    }
}

async fn scale_load(
    db: &mut Db,
    opts: ScaleOptions,
    committed: &AtomicBool,
) -> anyhow::Result<ScaleReport> {
    if opts.orgs == 0 {
        return Err(Refusal::usage("--orgs must be at least 1").into());
    }
    if !opts.skew.is_finite() || !(0.0..=10.0).contains(&opts.skew) {
        return Err(Refusal::usage("--skew must be between 0 (uniform) and 10").into());
    }
    if opts.tasks > 1_000_000_000 {
        return Err(Refusal::usage("--tasks is limited to 1000000000").into());
    }
    if db.engine.kind != EngineKind::Postgres {
        return Err(Refusal::usage(format!(
            "seed --scale loads through PostgreSQL's COPY and DISABLE TRIGGER, which {} does not offer",
            db.engine.describe()
        ))
        .into());
    }
    require_latest_schema(db).await?;
    check_load_role(db).await?;
    let target = db.target();

    let started = Instant::now();
    let tx = db.client.transaction().await?;
    tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
    let toggle = |verb: &str| {
        TABLES
            .iter()
            .map(|t| format!("ALTER TABLE public.{} {verb} TRIGGER USER;", t.name))
            .collect::<String>()
    };
    // Also takes the table locks that serialize concurrent scale loads: read the runs after.
    tx.batch_execute(&toggle("DISABLE"))
        .await
        .context("cannot disable the user triggers of the tables to load")?;
    let row = tx
        .query_one(
            "SELECT count(*), coalesce(max((settings #>> '{arcdb_scale,run}')::int) + 1, 0)
               FROM public.organizations WHERE settings ? 'arcdb_scale'",
            &[],
        )
        .await?;
    let (existing, run): (i64, i32) = (row.get(0), row.get(1));
    if existing > 0 && !opts.append {
        return Err(Refusal::usage(format!(
            "the database already holds scale data ({existing} organizations from {run} run(s)); pass --append to load another run with new organizations, or seed a fresh database"
        ))
        .into());
    }
    let plan = Arc::new(Plan::new(
        opts.seed, run as u32, opts.orgs, opts.tasks, opts.skew,
    ));
    let deferred = if opts.keep_indexes {
        Deferred::default()
    } else {
        Deferred::prepare(&tx, &plan).await?
    };
    for statement in &deferred.drop {
        tx.batch_execute(statement)
            .await
            .with_context(|| format!("cannot drop before the load: {statement}"))?;
    }

    let mut progress = Progress::new("seed --scale");
    progress.phase("COPY", plan.estimated_rows(), "rows");
    let (sender, mut receiver) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let generator = {
        let plan = Arc::clone(&plan);
        let format = opts.copy_format;
        std::thread::Builder::new()
            .name("arcdb-seed-gen".into())
            .spawn(move || match format {
                CopyFormat::Binary => Gen::<true>::new(&plan, sender).run(),
                CopyFormat::Text => Gen::<false>::new(&plan, sender).run(),
            })
            .context("cannot start the row generator thread")?
    };

    let mut loaded = Vec::with_capacity(TABLES.len());
    let streamed = async {
        for (i, spec) in TABLES.iter().enumerate() {
            progress.detail(spec.name);
            let copy_started = Instant::now();
            let statement = format!(
                "COPY public.{} ({}) FROM STDIN (FORMAT {})",
                spec.name,
                spec.columns.join(", "),
                opts.copy_format.sql()
            );
            let sink = tx
                .copy_in::<_, Bytes>(&statement)
                .await
                .map_err(|e| load_error(&format!("COPY into {}", spec.name), &e))?;
            futures_util::pin_mut!(sink);
            let mut sent = 0u64;
            loop {
                match receiver.recv().await {
                    Some(Chunk::Data(data, rows)) => {
                        sink.send(data)
                            .await
                            .map_err(|e| load_error(&format!("COPY into {}", spec.name), &e))?;
                        sent += rows;
                        progress.inc(rows);
                    }
                    Some(Chunk::End) => break,
                    None => return Err(anyhow!("the row generator stopped unexpectedly")),
                }
            }
            let rows = sink
                .as_mut()
                .finish()
                .await
                .map_err(|e| load_error(&format!("COPY into {}", spec.name), &e))?;
            if rows != sent {
                return Err(anyhow!(
                    "COPY into {} stored {rows} rows, {sent} were sent",
                    spec.name
                ));
            }
            let estimate = plan.estimate(i);
            progress.set_length((progress.length() + rows).saturating_sub(estimate));
            loaded.push(TableRows {
                table: spec.name.to_string(),
                rows,
                copy_seconds: copy_started.elapsed().as_secs_f64(),
            });
        }
        anyhow::Ok(())
    }
    .await;
    // Stop the generator (its sends fail once the receiver is gone) before reporting anything.
    drop(receiver);
    let joined = generator.join();
    streamed?;
    if joined.is_err() {
        return Err(anyhow!("the row generator failed; nothing was loaded"));
    }

    progress.phase(
        "rebuilding keys, indexes and foreign keys",
        deferred.build.len() as u64,
        "statements",
    );
    let rebuild_started = Instant::now();
    for statement in &deferred.build {
        let what = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        progress.detail(what.chars().take(60).collect::<String>());
        tx.batch_execute(statement)
            .await
            .map_err(|e| load_error(&format!("after the COPYs, {what}"), &e))?;
        progress.inc(1);
    }
    let mut rebuilt = deferred.report;
    rebuilt.seconds = rebuild_started.elapsed().as_secs_f64();
    progress.phase("COMMIT", 0, "");
    tx.batch_execute(&toggle("ENABLE"))
        .await
        .context("cannot enable the user triggers again")?;
    tx.commit().await.context("cannot commit the scale load")?;
    committed.store(true, Ordering::SeqCst);
    let load_seconds = started.elapsed().as_secs_f64();

    let analyzed = Instant::now();
    progress.phase("ANALYZE", TABLES.len() as u64, "tables");
    for table in TABLES {
        progress.detail(table.name);
        db.client
            .batch_execute(&format!("ANALYZE public.{}", table.name))
            .await
            .context("the data is loaded, but ANALYZE failed")?;
        progress.inc(1);
    }
    let analyze_seconds = analyzed.elapsed().as_secs_f64();

    let total_rows: u64 = loaded.iter().map(|t| t.rows).sum();
    progress.finish(&format!(
        "loaded {total_rows} rows into {} tables",
        loaded.len()
    ));
    let mut sizes: Vec<u64> = plan.orgs.iter().map(|o| o.tasks).collect();
    sizes.sort_unstable();
    Ok(ScaleReport {
        target,
        seed: opts.seed,
        run: plan.run,
        copy_format: opts.copy_format,
        organizations: opts.orgs,
        tasks: opts.tasks,
        skew: opts.skew,
        largest_org_tasks: sizes.last().copied().unwrap_or(0),
        median_org_tasks: sizes[sizes.len() / 2],
        tables: loaded,
        total_rows,
        rebuilt,
        load_seconds,
        rows_per_second: total_rows as f64 / load_seconds.max(1e-9),
        analyze_seconds,
    })
}

/// The keys, indexes and foreign keys of the loaded tables, as read from the catalog: what a
/// load drops (foreign keys first) and builds again (keys, indexes, then foreign keys with
/// their comments) in its own transaction. An object anything else depends on (a view's
/// functional dependency on a primary key, a foreign key of a table that is not rebuilt, a
/// replica identity or cluster index) stays in place.
const DEFERRABLE_OBJECTS: &str = "
WITH loaded AS (
    SELECT c.oid FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relname = ANY($1)
), fks AS (
    SELECT k.oid FROM pg_catalog.pg_constraint k
     WHERE k.contype = 'f' AND k.conrelid IN (SELECT oid FROM loaded)
), idx AS (
    SELECT i.indexrelid, i.indrelid, k.oid AS conoid, k.conname
      FROM pg_catalog.pg_index i
      LEFT JOIN pg_catalog.pg_constraint k
        ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')
     WHERE i.indrelid IN (SELECT oid FROM loaded)
       AND NOT i.indisreplident AND NOT i.indisclustered
       AND NOT EXISTS (
             SELECT 1 FROM pg_catalog.pg_depend d
              WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = i.indexrelid
                AND NOT (d.classid = 'pg_catalog.pg_constraint'::regclass
                         AND d.objid IN (SELECT oid FROM fks)))
       AND (k.oid IS NULL OR NOT EXISTS (
             SELECT 1 FROM pg_catalog.pg_depend d
              WHERE d.refclassid = 'pg_catalog.pg_constraint'::regclass AND d.refobjid = k.oid
                AND NOT (d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = i.indexrelid)))
)
SELECT 'f', format('ALTER TABLE %s DROP CONSTRAINT %I', k.conrelid::regclass, k.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', k.conrelid::regclass, k.conname,
              pg_catalog.pg_get_constraintdef(k.oid)),
       format('COMMENT ON CONSTRAINT %I ON %s IS %L', k.conname, k.conrelid::regclass,
              pg_catalog.obj_description(k.oid, 'pg_constraint')),
       NULL
  FROM pg_catalog.pg_constraint k WHERE k.oid IN (SELECT oid FROM fks)
UNION ALL
SELECT 'k', format('ALTER TABLE %s DROP CONSTRAINT %I', x.indrelid::regclass, x.conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', x.indrelid::regclass, x.conname,
              pg_catalog.pg_get_constraintdef(x.conoid)),
       format('COMMENT ON CONSTRAINT %I ON %s IS %L', x.conname, x.indrelid::regclass,
              pg_catalog.obj_description(x.conoid, 'pg_constraint')),
       format('COMMENT ON INDEX %s IS %L', x.indexrelid::regclass,
              pg_catalog.obj_description(x.indexrelid, 'pg_class'))
  FROM idx x WHERE x.conoid IS NOT NULL
UNION ALL
SELECT 'i', format('DROP INDEX %s', x.indexrelid::regclass),
       pg_catalog.pg_get_indexdef(x.indexrelid),
       NULL,
       format('COMMENT ON INDEX %s IS %L', x.indexrelid::regclass,
              pg_catalog.obj_description(x.indexrelid, 'pg_class'))
  FROM idx x WHERE x.conoid IS NULL
ORDER BY 1, 2";

/// Statements around the COPYs of a load that rebuilds indexes and foreign keys.
#[derive(Default)]
struct Deferred {
    drop: Vec<String>,
    build: Vec<String>,
    report: Rebuilt,
}

impl Deferred {
    /// Rebuild the tables that hold at most twice as many rows as the load adds: for them a
    /// sorted index build and one validating join per foreign key beat per-row maintenance
    /// and checks by far.
    async fn prepare(
        tx: &tokio_postgres::Transaction<'_>,
        plan: &Plan,
    ) -> anyhow::Result<Deferred> {
        let mut tables = Vec::new();
        for (i, spec) in TABLES.iter().enumerate() {
            let limit = (plan.estimate(i).max(1) * 2) as i64;
            let held: i64 = tx
                .query_one(
                    &format!(
                        "SELECT count(*) FROM (SELECT 1 FROM public.{} LIMIT $1::bigint + 1) AS s",
                        spec.name
                    ),
                    &[&limit],
                )
                .await?
                .get(0);
            if held <= limit {
                tables.push(spec.name.to_string());
            }
        }
        let rows = tx.query(DEFERRABLE_OBJECTS, &[&tables]).await?;
        let mut deferred = Deferred {
            report: Rebuilt {
                tables,
                ..Rebuilt::default()
            },
            ..Deferred::default()
        };
        let mut builds: [Vec<String>; 3] = Default::default();
        let mut drops: [Vec<String>; 3] = Default::default();
        for row in &rows {
            let kind: &str = row.get(0);
            let slot = match kind {
                "f" => {
                    deferred.report.foreign_keys += 1;
                    0
                }
                "k" => {
                    deferred.report.keys += 1;
                    1
                }
                _ => {
                    deferred.report.indexes += 1;
                    2
                }
            };
            drops[slot].push(row.get(1));
            builds[slot].push(row.get(2));
            // format() of a NULL comment with %L gives "IS NULL": harmless, but skip it.
            for col in [3, 4] {
                if let Some(comment) = row.get::<_, Option<String>>(col) {
                    if !comment.ends_with(" IS NULL") {
                        builds[slot].push(comment);
                    }
                }
            }
        }
        // Drop foreign keys before the keys they reference; build keys and indexes before the
        // foreign keys that need them.
        let [fk_drops, key_drops, index_drops] = drops;
        let [fk_builds, key_builds, index_builds] = builds;
        deferred.drop = [fk_drops, key_drops, index_drops].concat();
        deferred.build = [key_builds, index_builds, fk_builds].concat();
        if !deferred.build.is_empty() {
            // Sorts of the index builds and validations; only raised, never lowered.
            deferred.build.insert(
                0,
                "SELECT pg_catalog.set_config('maintenance_work_mem', '256MB', true)
                   FROM pg_catalog.pg_settings
                  WHERE name = 'maintenance_work_mem' AND setting::bigint < 262144"
                    .to_string(),
            );
        }
        Ok(deferred)
    }
}

/// The load needs the tables' owner (ALTER TABLE … DISABLE TRIGGER) and a role that bypasses
/// row-level security (COPY into an RLS table fails otherwise). Say so before starting.
async fn check_load_role(db: &Db) -> anyhow::Result<()> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    let rows = db
        .client
        .query(
            "SELECT c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text,
                    pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE') AS owns,
                    c.relrowsecurity AND (c.relforcerowsecurity
                        OR NOT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'))
                        AND NOT r.rolsuper AND NOT r.rolbypassrls AS rls_applies,
                    current_user::text
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_roles r ON r.rolname = current_user
              WHERE n.nspname = 'public' AND c.relname = ANY($1)",
            &[&names],
        )
        .await?;
    let mut role = String::new();
    for row in &rows {
        let (table, owner, owns, rls): (String, String, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        role = row.get(4);
        if !owns {
            return Err(Refusal::usage(format!(
                "seed --scale must run as the owner of the ArcDesk tables ({owner}, the role that ran `arcdb up`): role {role} does not own {table}"
            ))
            .into());
        }
        if rls {
            return Err(Refusal::usage(format!(
                "row-level security applies to role {role} on {table} (FORCE ROW LEVEL SECURITY): COPY would fail; seed as a superuser or a BYPASSRLS role"
            ))
            .into());
        }
    }
    notice(format!(
        "seed --scale: loading with COPY as {role}, the tables' owner, which bypasses row-level security (no FORCE); user triggers are disabled inside the load transaction"
    ));
    Ok(())
}

/// "<step> failed: <server message>: <detail> (SQLSTATE …); nothing was loaded".
fn load_error(step: &str, err: &tokio_postgres::Error) -> anyhow::Error {
    anyhow!("{step} failed: {}; nothing was loaded", server_message(err))
}

// =============================================================================================
// Scale: what is generated
// =============================================================================================

/// A table of the load and the columns the generator fills, in load order (parents first).
struct TableSpec {
    name: &'static str,
    columns: &'static [&'static str],
}

const ORGANIZATIONS: usize = 0;
const USERS: usize = 1;
const DESKS: usize = 2;
const WORKFLOWS: usize = 3;
const TASKS: usize = 4;
const SESSIONS: usize = 5;
const MESSAGES: usize = 6;
const QA_REVIEWS: usize = 7;
const DELEGATIONS: usize = 8;
const KNOWLEDGE_BASES: usize = 9;
const DATA_SOURCES: usize = 10;
const COST_TRACKING: usize = 11;
const API_KEYS: usize = 12;
const AUDIT_LOGS: usize = 13;

#[rustfmt::skip]
const TABLES: [TableSpec; 14] = [
    TableSpec {
        name: "organizations",
        columns: &[
            "id", "name", "slug", "subscription_tier", "settings", "max_users", "max_desks",
            "max_llm_cost_per_month", "last_task_number", "is_active", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "users",
        columns: &[
            "id", "organization_id", "email", "username", "full_name", "is_admin", "is_active",
            "preferences", "last_login_at", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "desks",
        columns: &[
            "id", "organization_id", "desk_id", "title", "description", "role", "reports_to_id",
            "hierarchy_path", "hierarchy_level", "llm_provider", "llm_model", "temperature",
            "max_tokens", "llm_config",
            "monthly_budget_usd", "is_active", "created_by_id", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "workflows",
        columns: &[
            "id", "organization_id", "name", "description", "stages", "version", "is_default",
            "is_active", "created_by_id", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "tasks",
        columns: &[
            "id", "organization_id", "task_number", "title", "description", "status", "priority",
            "workflow_id", "current_stage", "parent_task_id", "created_by_id", "assigned_to_id",
            "context", "result", "error_message", "retry_count", "due_date", "started_at",
            "completed_at", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "agent_sessions",
        columns: &[
            "id", "organization_id", "desk_id", "user_id", "task_id", "status", "title", "context",
            "started_at", "last_activity_at", "completed_at", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "messages",
        columns: &[
            "id", "organization_id", "session_id", "sequence_number", "role", "content", "model",
            "input_tokens", "output_tokens", "meta_data", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "qa_reviews",
        columns: &[
            "id", "organization_id", "task_id", "stage_name", "iteration", "status",
            "reviewer_desk_id", "reviewer_user_id", "score", "feedback", "findings", "completed_at",
            "created_at",
            "updated_at",
        ],
    },
    TableSpec {
        name: "delegations",
        columns: &[
            "id", "organization_id", "task_id", "from_desk_id", "to_desk_id", "delegated_by_id",
            "status", "reason", "delegated_at", "responded_at", "completed_at", "created_at",
            "updated_at",
        ],
    },
    TableSpec {
        name: "knowledge_bases",
        columns: &[
            "id", "organization_id", "name", "description", "desk_id", "embedding_provider",
            "embedding_model", "chunk_size", "chunk_overlap", "status", "document_count",
            "total_chunks", "storage_bytes", "settings", "last_indexed_at", "created_by_id",
            "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "data_sources",
        columns: &[
            "id", "organization_id", "knowledge_base_id", "name", "source_type",
            "connection_config", "credentials_ref", "sync_status", "sync_interval_minutes",
            "last_synced_at", "last_error", "is_active", "created_by_id", "created_at",
            "updated_at",
        ],
    },
    TableSpec {
        name: "cost_tracking",
        columns: &[
            "id", "organization_id", "desk_id", "task_id", "session_id", "provider", "model",
            "operation", "input_tokens", "output_tokens", "total_tokens", "total_cost",
            "billing_month", "latency_ms", "request_id", "meta_data", "created_at",
        ],
    },
    TableSpec {
        name: "api_keys",
        columns: &[
            "id", "organization_id", "name", "key_prefix", "key_hash", "scopes", "user_id",
            "rate_limit_per_minute", "expires_at", "last_used_at", "revoked_at", "revoked_by_id",
            "revocation_reason", "is_active", "created_at", "updated_at",
        ],
    },
    TableSpec {
        name: "audit_logs",
        columns: &[
            "id", "organization_id", "action", "user_id", "desk_id", "api_key_id", "actor_type",
            "resource_type", "resource_id", "description", "changes", "meta_data", "ip_address",
            "user_agent",
            "request_id", "created_at",
        ],
    },
];

// Time: microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch, what binary COPY sends).
const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
/// Generated activity ends here (fixed, so that a seed always gives the same rows)…
const ANCHOR: i64 = (days_from_civil(2026, 1, 1) - PG_EPOCH_DAYS) * DAY;
/// …and spans this much before it.
const WINDOW: i64 = 180 * DAY;

const WORKFLOW_COUNT: u64 = 3;
const MAX_DESKS: u64 = 1000;
const DESK_FANOUT: u64 = 3;

#[rustfmt::skip]
const TASK_STATUSES: [&str; 7] = [
    "pending", "in_progress", "in_review", "blocked", "completed", "failed", "cancelled",
];
const TASK_STATUS_WEIGHTS: [u32; 7] = [20, 15, 10, 5, 40, 5, 5];
const PENDING: usize = 0;
const IN_REVIEW: usize = 2;
const BLOCKED: usize = 3;
const COMPLETED: usize = 4;
const FAILED: usize = 5;
const CANCELLED: usize = 6;
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const PRIORITY_WEIGHTS: [u32; 4] = [25, 45, 22, 8];

/// (provider, [(model, micro-dollars per input token, per output token)]).
type Models = &'static [(&'static str, i64, i64)];
const PROVIDERS: [(&str, Models); 6] = [
    (
        "anthropic",
        &[("claude-sonnet-4-5", 3, 15), ("claude-haiku-4-5", 1, 5)],
    ),
    ("openai", &[("gpt-4o", 3, 10), ("gpt-4o-mini", 1, 1)]),
    (
        "google",
        &[("gemini-2.5-pro", 2, 10), ("gemini-2.5-flash", 1, 3)],
    ),
    ("azure_openai", &[("gpt-4o", 3, 10)]),
    ("mistral", &[("mistral-large", 2, 6)]),
    ("aws_bedrock", &[("claude-3-5-sonnet", 3, 15)]),
];
const PROVIDER_WEIGHTS: [u32; 6] = [40, 25, 15, 8, 6, 6];

const LEAD_ROLES: [&str; 3] = ["manager", "product_manager", "architect"];
#[rustfmt::skip]
const TEAM_ROLES: [&str; 12] = [
    "senior_engineer", "engineer", "junior_engineer", "qa_engineer", "devops_engineer",
    "data_engineer", "security_engineer", "designer", "researcher", "analyst", "technical_writer",
    "support_agent",
];
#[rustfmt::skip]
const VERBS: [&str; 12] = [
    "Review", "Implement", "Fix", "Refactor", "Document", "Test", "Deploy", "Investigate",
    "Design", "Optimize", "Migrate", "Audit",
];
#[rustfmt::skip]
const NOUNS: [&str; 12] = [
    "the billing service", "the login flow", "the search index", "the onboarding email",
    "the API rate limiter", "the data pipeline", "the usage dashboard", "the payment webhook",
    "the cache layer", "the report export", "the access policy", "the mobile layout",
];
#[rustfmt::skip]
const PHRASES: [&str; 12] = [
    "Here is a summary of the current state.",
    "I checked the logs and found two failing requests.", "The change passes the existing tests.",
    "Could you look at the edge case with empty input?",
    "I propose splitting this into two smaller steps.",
    "The latency went down after the last deploy.", "Please confirm the expected output format.",
    "I updated the documentation accordingly.",
    "There is a conflict with the staging configuration.",
    "The customer reported this twice last week.", "I will retry with a smaller batch.",
    "Done: the result is attached below.",
];
const STAGES: [&str; 3] = ["draft", "review", "release"];
const WORKFLOW_NAMES: [&str; 3] = ["Standard", "Expedited", "Compliance review"];
const WORKFLOW_STAGES: [&str; 3] = [
    r#"[{"name":"draft","role":"engineer","requires_qa":false},{"name":"review","role":"qa_engineer","requires_qa":true},{"name":"release","role":"devops_engineer","requires_qa":false}]"#,
    r#"[{"name":"draft","role":"engineer","requires_qa":false},{"name":"release","role":"devops_engineer","requires_qa":false}]"#,
    r#"[{"name":"draft","role":"analyst","requires_qa":false},{"name":"review","role":"security_engineer","requires_qa":true},{"name":"release","role":"manager","requires_qa":true}]"#,
];
const SESSION_STATUSES: [&str; 5] = ["active", "idle", "completed", "failed", "expired"];
const SESSION_STATUS_WEIGHTS: [u32; 5] = [10, 10, 65, 5, 10];
#[rustfmt::skip]
const AUDIT_ACTIONS: [&str; 12] = [
    "create", "read", "update", "delete", "login", "logout", "assign", "delegate", "review",
    "approve", "reject", "export",
];
#[rustfmt::skip]
const AUDIT_ACTION_WEIGHTS: [u32; 12] = [15, 25, 20, 3, 10, 5, 6, 4, 5, 3, 2, 2];
#[rustfmt::skip]
const SOURCE_TYPES: [&str; 8] = [
    "github", "gitlab", "confluence", "notion", "google_drive", "slack", "jira", "s3",
];
const SYNC_STATUSES: [&str; 4] = ["pending", "synced", "syncing", "error"];
const SYNC_STATUS_WEIGHTS: [u32; 4] = [10, 75, 5, 10];
#[rustfmt::skip]
const USER_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)", "arcdesk-cli/2.3.1", "python-requests/2.32",
];

// ---------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------

/// The SplitMix64 finalizer: a bijection on u64 that mixes every bit.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: small, fast, and the same on every platform and every version of arcdb.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in 0..n (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in lo..hi.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as u64) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

type Id = [u8; 16];

/// A v4-shaped UUID from 64 bits of hash.
fn uuid_from(h: u64) -> Id {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&mix(h ^ 0x5555_5555_5555_5555).to_be_bytes());
    id[8..].copy_from_slice(&mix(h ^ 0xAAAA_AAAA_AAAA_AAAA).to_be_bytes());
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

// ---------------------------------------------------------------------------------------------
// The plan: organization sizes, and every row as a function of its coordinates
// ---------------------------------------------------------------------------------------------

struct Org {
    /// Rank by size, 0 = largest.
    idx: u32,
    tasks: u64,
    users: u64,
    desks: u64,
    knowledge_bases: u64,
    api_keys: u64,
    sessions: u64,
    audit_logs: u64,
    created: i64,
}

struct Plan {
    seed: u64,
    run: u32,
    key: u64,
    orgs: Vec<Org>,
}

struct Task {
    id: Id,
    created: i64,
    status: usize,
    desk: Option<u64>,
    started: Option<i64>,
    completed: Option<i64>,
    rng: Rng,
}

struct Session {
    id: Id,
    desk: u64,
    user: Option<u64>,
    task: Option<u64>,
    status: usize,
    started: i64,
    last: i64,
    ended: Option<i64>,
    messages: u64,
    costs: u64,
}

struct Desk {
    id: Id,
    provider: usize,
    model: usize,
    rng: Rng,
}

impl Plan {
    fn new(seed: u64, run: u32, orgs: u32, tasks: u64, skew: f64) -> Plan {
        let key = mix(mix(seed ^ 0x6172_6364_622d_7363) ^ run as u64);
        let sizes = allocate(tasks, orgs, skew);
        let mut rng = Rng(key);
        let orgs = sizes
            .into_iter()
            .enumerate()
            .map(|(i, tasks)| {
                let users = 2 + tasks / 50;
                let desks = (5 + tasks / 200).min(MAX_DESKS);
                Org {
                    idx: i as u32,
                    tasks,
                    users,
                    desks,
                    knowledge_bases: 1 + desks / 20,
                    api_keys: 1 + (users / 20).min(49),
                    sessions: tasks.div_ceil(10),
                    audit_logs: tasks * 3 / 10 + users,
                    created: ANCHOR - WINDOW - 30 * DAY + rng.between(0, 20 * DAY),
                }
            })
            .collect();
        Plan {
            seed,
            run,
            key,
            orgs,
        }
    }

    /// The id and the random stream of row `idx` of `table` in organization `org`. For a given
    /// table and organization, distinct indexes give distinct hashes (the mixing is bijective).
    fn row(&self, table: usize, org: u32, idx: u64) -> (Id, Rng) {
        let h = mix(mix(mix(self.key ^ table as u64) ^ org as u64) ^ idx);
        (uuid_from(h), Rng(mix(h ^ 0x0F0F_0F0F_0F0F_0F0F)))
    }

    fn id(&self, table: usize, org: u32, idx: u64) -> Id {
        self.row(table, org, idx).0
    }

    fn org_id(&self, org: &Org) -> Id {
        self.id(ORGANIZATIONS, 0, org.idx as u64)
    }

    fn task(&self, org: &Org, t: u64) -> Task {
        let (id, mut rng) = self.row(TASKS, org.idx, t);
        let step = (WINDOW / org.tasks.max(1) as i64).max(1);
        let created = ANCHOR - WINDOW + t as i64 * step + rng.between(0, step);
        let status = rng.weighted(&TASK_STATUS_WEIGHTS);
        let desk = if status == PENDING && rng.percent(30) {
            None
        } else {
            Some(rng.below(org.desks))
        };
        let started = (status != PENDING).then(|| created + rng.between(MINUTE, 2 * DAY));
        let completed = matches!(status, COMPLETED | FAILED | CANCELLED)
            .then(|| started.unwrap_or(created) + rng.between(10 * MINUTE, 5 * DAY));
        Task {
            id,
            created,
            status,
            desk,
            started,
            completed,
            rng,
        }
    }

    fn session(&self, org: &Org, s: u64) -> Session {
        let (id, mut rng) = self.row(SESSIONS, org.idx, s);
        let step = (WINDOW / org.sessions.max(1) as i64).max(1);
        let started = ANCHOR - WINDOW + s as i64 * step + rng.between(0, step);
        let task = (org.tasks > 0 && rng.percent(80)).then(|| rng.below(org.tasks));
        let desk = rng.below(org.desks);
        let user = rng.percent(70).then(|| rng.below(org.users));
        let status = rng.weighted(&SESSION_STATUS_WEIGHTS);
        let last = started + rng.between(MINUTE, 2 * HOUR);
        let ended = (status >= 2).then(|| last + rng.between(0, 10 * MINUTE));
        let messages = 2 + rng.below(5);
        let costs = 1 + rng.below(3);
        Session {
            id,
            desk,
            user,
            task,
            status,
            started,
            last,
            ended,
            messages,
            costs,
        }
    }

    fn desk(&self, org: &Org, d: u64) -> Desk {
        let (id, mut rng) = self.row(DESKS, org.idx, d);
        let provider = rng.weighted(&PROVIDER_WEIGHTS);
        let model = rng.below(PROVIDERS[provider].1.len() as u64) as usize;
        Desk {
            id,
            provider,
            model,
            rng,
        }
    }

    /// Expected rows of table `i` (for the progress bar; the real counts come from COPY).
    fn estimate(&self, i: usize) -> u64 {
        let sum = |f: fn(&Org) -> u64| self.orgs.iter().map(f).sum::<u64>();
        match i {
            ORGANIZATIONS => self.orgs.len() as u64,
            USERS => sum(|o| o.users),
            DESKS => sum(|o| o.desks),
            WORKFLOWS => self.orgs.len() as u64 * WORKFLOW_COUNT,
            TASKS => sum(|o| o.tasks),
            SESSIONS => sum(|o| o.sessions),
            MESSAGES => sum(|o| o.sessions * 4),
            QA_REVIEWS => sum(|o| o.tasks * 37 / 100),
            DELEGATIONS => sum(|o| o.tasks * 7 / 100),
            KNOWLEDGE_BASES => sum(|o| o.knowledge_bases),
            DATA_SOURCES => sum(|o| o.knowledge_bases * 2),
            COST_TRACKING => sum(|o| o.sessions * 2),
            API_KEYS => sum(|o| o.api_keys),
            _ => sum(|o| o.audit_logs),
        }
    }

    fn estimated_rows(&self) -> u64 {
        (0..TABLES.len()).map(|i| self.estimate(i)).sum()
    }
}

/// Split `total` tasks over `orgs` organizations: one each when there are enough, the rest
/// with Zipf weights 1/rank^skew (largest remainder, so the sum is exact).
fn allocate(total: u64, orgs: u32, skew: f64) -> Vec<u64> {
    let floor = u64::from(total >= orgs as u64);
    let spread = total - floor * orgs as u64;
    let weights: Vec<f64> = (1..=orgs as u64)
        .map(|rank| 1.0 / (rank as f64).powf(skew))
        .collect();
    let sum: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|w| w / sum * spread as f64).collect();
    let mut counts: Vec<u64> = shares.iter().map(|s| floor + s.floor() as u64).collect();
    let assigned: u64 = counts.iter().sum();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = shares[a] - shares[a].floor();
        let fb = shares[b] - shares[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().take(total.saturating_sub(assigned) as usize) {
        counts[i] += 1;
    }
    counts
}

fn desk_parent(d: u64) -> Option<u64> {
    (d > 0).then(|| (d - 1) / DESK_FANOUT)
}

// ---------------------------------------------------------------------------------------------
// COPY encoding: binary (B = true) or text (B = false), into chunks sent to the loader
// ---------------------------------------------------------------------------------------------

/// Bytes of COPY data per message to the loader.
const CHUNK: usize = 256 * 1024;
/// Chunks buffered between the generator and the connection.
const CHANNEL_CHUNKS: usize = 8;

enum Chunk {
    /// COPY data and the number of rows it completes.
    Data(Bytes, u64),
    /// The current table is complete.
    End,
}

/// Rows of one COPY stream being written.
struct Rows<const B: bool> {
    buf: Vec<u8>,
    /// Rows completed in `buf`.
    rows: u64,
    /// Text format: no field written yet in the current row.
    first: bool,
    out: mpsc::Sender<Chunk>,
    /// The loader is gone (an error, or it finished): stop generating.
    closed: bool,
}

impl<const B: bool> Rows<B> {
    fn new(out: mpsc::Sender<Chunk>) -> Self {
        Rows {
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            rows: 0,
            first: true,
            out,
            closed: false,
        }
    }

    fn start_table(&mut self) {
        if B {
            self.buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            self.buf.extend_from_slice(&0i32.to_be_bytes());
            self.buf.extend_from_slice(&0i32.to_be_bytes());
        }
    }

    fn end_table(&mut self) {
        if B {
            self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        }
        self.flush();
        if !self.closed && self.out.blocking_send(Chunk::End).is_err() {
            self.closed = true;
        }
    }

    fn flush(&mut self) {
        if self.closed || self.buf.is_empty() {
            return;
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 64 * 1024));
        let rows = std::mem::take(&mut self.rows);
        if self
            .out
            .blocking_send(Chunk::Data(Bytes::from(data), rows))
            .is_err()
        {
            self.closed = true;
        }
    }

    fn begin(&mut self, columns: usize) {
        if B {
            self.buf.extend_from_slice(&(columns as i16).to_be_bytes());
        } else {
            self.first = true;
        }
    }

    fn end(&mut self) {
        if !B {
            self.buf.push(b'\n');
        }
        self.rows += 1;
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    /// A binary field: length prefix patched after `write` wrote the value.
    fn binary(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        write(&mut self.buf);
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    fn fixed(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    fn null(&mut self) {
        if B {
            self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        } else {
            self.sep();
            self.buf.extend_from_slice(b"\\N");
        }
    }

    /// text, citext, enum labels: whatever `write` puts out, as UTF-8.
    fn text_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if B {
            self.binary(write);
        } else {
            self.sep();
            let start = self.buf.len();
            write(&mut self.buf);
            escape_text_tail(&mut self.buf, start);
        }
    }

    fn text(&mut self, s: &str) {
        self.text_with(|b| b.extend_from_slice(s.as_bytes()));
    }

    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    fn jsonb_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if B {
            self.binary(|b| {
                b.push(1);
                write(b);
            });
        } else {
            self.text_with(write);
        }
    }

    fn jsonb(&mut self, s: &str) {
        self.jsonb_with(|b| b.extend_from_slice(s.as_bytes()));
    }

    fn uuid(&mut self, id: &Id) {
        if B {
            self.fixed(id);
        } else {
            self.sep();
            write_uuid_text(&mut self.buf, id);
        }
    }

    fn opt_uuid(&mut self, id: Option<&Id>) {
        match id {
            Some(id) => self.uuid(id),
            None => self.null(),
        }
    }

    fn int4(&mut self, v: i32) {
        if B {
            self.fixed(&v.to_be_bytes());
        } else {
            self.sep();
            let _ = write!(self.buf, "{v}");
        }
    }

    fn int8(&mut self, v: i64) {
        if B {
            self.fixed(&v.to_be_bytes());
        } else {
            self.sep();
            let _ = write!(self.buf, "{v}");
        }
    }

    fn boolean(&mut self, v: bool) {
        if B {
            self.fixed(&[v as u8]);
        } else {
            self.sep();
            self.buf.push(if v { b't' } else { b'f' });
        }
    }

    /// timestamptz, as microseconds since 2000-01-01 UTC.
    fn ts(&mut self, micros: i64) {
        if B {
            self.fixed(&micros.to_be_bytes());
        } else {
            self.sep();
            write_timestamp_text(&mut self.buf, micros);
        }
    }

    fn opt_ts(&mut self, micros: Option<i64>) {
        match micros {
            Some(m) => self.ts(m),
            None => self.null(),
        }
    }

    /// numeric `value` × 10^-scale.
    fn numeric(&mut self, value: i64, scale: u32) {
        if B {
            self.binary(|b| write_numeric_binary(b, value, scale));
        } else {
            self.sep();
            let pow = 10u64.pow(scale);
            let abs = value.unsigned_abs();
            let sign = if value < 0 { "-" } else { "" };
            let _ = write!(self.buf, "{sign}{}", abs / pow);
            if scale > 0 {
                let _ = write!(self.buf, ".{:0width$}", abs % pow, width = scale as usize);
            }
        }
    }

    fn inet4(&mut self, a: [u8; 4]) {
        if B {
            // PGSQL_AF_INET (AF_INET + 0), 32 bits, not cidr, 4 address bytes.
            self.fixed(&[2, 32, 0, 4, a[0], a[1], a[2], a[3]]);
        } else {
            self.sep();
            let _ = write!(self.buf, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
    }

    /// text[] of plain words (no quotes or backslashes in them).
    fn text_array(&mut self, items: &[&str]) {
        if B {
            self.binary(|b| {
                b.extend_from_slice(&1i32.to_be_bytes()); // dimensions
                b.extend_from_slice(&0i32.to_be_bytes()); // no NULLs
                b.extend_from_slice(&25u32.to_be_bytes()); // element type: text
                b.extend_from_slice(&(items.len() as i32).to_be_bytes());
                b.extend_from_slice(&1i32.to_be_bytes()); // lower bound
                for item in items {
                    b.extend_from_slice(&(item.len() as i32).to_be_bytes());
                    b.extend_from_slice(item.as_bytes());
                }
            });
        } else {
            self.sep();
            self.buf.push(b'{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                self.buf.push(b'"');
                self.buf.extend_from_slice(item.as_bytes());
                self.buf.push(b'"');
            }
            self.buf.push(b'}');
        }
    }
}

/// COPY text escaping of what was written from `start` on (rarely needed: generated strings
/// hold no tabs, newlines or backslashes).
fn escape_text_tail(buf: &mut Vec<u8>, start: usize) {
    if !buf[start..]
        .iter()
        .any(|c| matches!(c, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        return;
    }
    let tail = buf.split_off(start);
    for c in tail {
        match c {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            c => buf.push(c),
        }
    }
}

fn write_uuid_text(buf: &mut Vec<u8>, id: &Id) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in id.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            buf.push(b'-');
        }
        buf.push(HEX[(byte >> 4) as usize]);
        buf.push(HEX[(byte & 0x0f) as usize]);
    }
}

fn write_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        buf.push(HEX[(byte >> 4) as usize]);
        buf.push(HEX[(byte & 0x0f) as usize]);
    }
}

fn write_timestamp_text(buf: &mut Vec<u8>, micros: i64) {
    let days = micros.div_euclid(DAY);
    let rest = micros.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days + PG_EPOCH_DAYS);
    let _ = write!(
        buf,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}+00",
        rest / HOUR,
        rest % HOUR / MINUTE,
        rest % MINUTE / SECOND,
        rest % SECOND
    );
}

/// numeric_send's layout: ndigits, weight, sign, dscale, then base-10000 digits, most
/// significant first, the decimal point on a digit boundary.
fn write_numeric_binary(buf: &mut Vec<u8>, value: i64, scale: u32) {
    let abs = value.unsigned_abs();
    let pow = 10u64.pow(scale);
    let (mut int, frac) = (abs / pow, abs % pow);
    let frac_groups = scale.div_ceil(4);
    let mut digits = [0u16; 12];
    let mut n = 0;
    let mut int_digits = [0u16; 5];
    let mut k = 0;
    while int > 0 {
        int_digits[k] = (int % 10_000) as u16;
        int /= 10_000;
        k += 1;
    }
    for i in (0..k).rev() {
        digits[n] = int_digits[i];
        n += 1;
    }
    let mut frac = frac * 10u64.pow(frac_groups * 4 - scale);
    let mut frac_digits = [0u16; 5];
    for i in (0..frac_groups as usize).rev() {
        frac_digits[i] = (frac % 10_000) as u16;
        frac /= 10_000;
    }
    for d in frac_digits.iter().take(frac_groups as usize) {
        digits[n] = *d;
        n += 1;
    }
    let weight = k as i16 - 1;
    let sign: u16 = if value < 0 { 0x4000 } else { 0 };
    buf.extend_from_slice(&(n as i16).to_be_bytes());
    buf.extend_from_slice(&weight.to_be_bytes());
    buf.extend_from_slice(&sign.to_be_bytes());
    buf.extend_from_slice(&(scale as u16).to_be_bytes());
    for d in &digits[..n] {
        buf.extend_from_slice(&d.to_be_bytes());
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// The UTC month of `micros` as 'YYYY-MM' (what the billing_month trigger computes:
/// `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM')`).
fn billing_month(micros: i64) -> String {
    let (y, m, _) = civil_from_days(micros.div_euclid(DAY) + PG_EPOCH_DAYS);
    format!("{y:04}-{m:02}")
}

// ---------------------------------------------------------------------------------------------
// The generator: one method per table, in load order
// ---------------------------------------------------------------------------------------------

struct Gen<'a, const B: bool> {
    plan: &'a Plan,
    w: Rows<B>,
    /// Desk paths of the current organization, concatenated (reused across organizations).
    paths: Vec<u8>,
    path_ends: Vec<usize>,
}

impl<'a, const B: bool> Gen<'a, B> {
    fn new(plan: &'a Plan, out: mpsc::Sender<Chunk>) -> Self {
        Gen {
            plan,
            w: Rows::new(out),
            paths: Vec::new(),
            path_ends: Vec::new(),
        }
    }

    fn run(mut self) {
        let tables: [fn(&mut Self, &Org); 14] = [
            Self::organization,
            Self::users,
            Self::desks,
            Self::workflows,
            Self::tasks,
            Self::sessions,
            Self::messages,
            Self::qa_reviews,
            Self::delegations,
            Self::knowledge_bases,
            Self::data_sources,
            Self::cost_tracking,
            Self::api_keys,
            Self::audit_logs,
        ];
        let plan = self.plan;
        for table in tables {
            self.w.start_table();
            for org in &plan.orgs {
                if self.w.closed {
                    return;
                }
                table(&mut self, org);
            }
            self.w.end_table();
        }
    }

    fn user_id(&self, org: &Org, u: u64) -> Id {
        self.plan.id(USERS, org.idx, u)
    }
    fn desk_id(&self, org: &Org, d: u64) -> Id {
        self.plan.id(DESKS, org.idx, d)
    }

    fn organization(&mut self, org: &Org) {
        let p = self.plan;
        let (id, mut rng) = p.row(ORGANIZATIONS, 0, org.idx as u64);
        let rank = org.idx + 1;
        let n = p.orgs.len() as u32;
        let tier = if rank * 100 <= n.max(100) {
            "enterprise"
        } else if rank * 10 <= n {
            "professional"
        } else if rank * 10 <= n * 4 {
            "starter"
        } else {
            "free"
        };
        let w = &mut self.w;
        w.begin(TABLES[ORGANIZATIONS].columns.len());
        w.uuid(&id);
        w.text_with(|b| {
            let _ = write!(b, "Scale Org {rank:05} (seed {}, run {})", p.seed, p.run);
        });
        w.text_with(|b| {
            let _ = write!(b, "scale-s{}-r{}-{rank:05}", p.seed, p.run);
        });
        w.text(tier);
        w.jsonb_with(|b| {
            let _ = write!(
                b,
                r#"{{"arcdb_scale": {{"seed": {}, "run": {}, "rank": {rank}}}}}"#,
                p.seed, p.run
            );
        });
        w.int4((org.users * 2).min(i32::MAX as u64) as i32);
        w.int4((org.desks * 2) as i32);
        w.numeric(10_000 * (1 + rng.below(50)) as i64, 2); // $100 steps, in cents
        w.int8(org.tasks as i64);
        w.boolean(true);
        w.ts(org.created);
        w.ts(org.created + rng.between(0, 10 * DAY));
        w.end();
    }

    fn users(&mut self, org: &Org) {
        let org_id = self.plan.org_id(org);
        for u in 0..org.users {
            let (id, mut rng) = self.plan.row(USERS, org.idx, u);
            let created =
                org.created + u as i64 * (WINDOW / org.users as i64) + rng.between(0, HOUR);
            let w = &mut self.w;
            w.begin(TABLES[USERS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "user{u}@org{}.scale.example", org.idx + 1);
            });
            w.text_with(|b| {
                let _ = write!(b, "user{u}");
            });
            w.text_with(|b| {
                let _ = write!(b, "Scale User {u}");
            });
            w.boolean(u == 0);
            w.boolean(!rng.percent(3));
            w.jsonb(if rng.percent(50) {
                r#"{"theme": "dark"}"#
            } else {
                "{}"
            });
            w.opt_ts(rng.percent(90).then(|| ANCHOR - rng.between(0, 30 * DAY)));
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    fn desks(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let creator = self.user_id(org, 0);
        self.paths.clear();
        self.path_ends.clear();
        for d in 0..org.desks {
            let Desk {
                id,
                provider,
                model,
                mut rng,
            } = p.desk(org, d);
            let parent = desk_parent(d);
            // hierarchy_path = parent's path || '/' || desk_id (the desk_id alone at a root),
            // depth = number of ancestors (hierarchy_level = depth + 1; the trigger of 0007).
            let (start, depth) = match parent {
                None => (self.paths.len(), 0),
                Some(q) => {
                    let from = if q == 0 {
                        0
                    } else {
                        self.path_ends[q as usize - 1]
                    };
                    let to = self.path_ends[q as usize];
                    let start = self.paths.len();
                    self.paths.extend_from_within(from..to);
                    self.paths.push(b'/');
                    let ancestors = self.paths[start..].iter().filter(|&&b| b == b'/').count();
                    (start, ancestors)
                }
            };
            let _ = write!(self.paths, "desk-{d}");
            self.path_ends.push(self.paths.len());
            let role = match depth {
                0 => "executive",
                1 => "director",
                2 => rng.pick(&LEAD_ROLES),
                _ => rng.pick(&TEAM_ROLES),
            };
            let created = org.created + rng.between(HOUR, 20 * DAY);
            let parent_id = parent.map(|q| self.desk_id(org, q));
            let w = &mut self.w;
            w.begin(TABLES[DESKS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "desk-{d}");
            });
            w.text_with(|b| {
                let _ = write!(b, "Desk {d} ({})", role.replace('_', " "));
            });
            if rng.percent(60) {
                w.text("Handles the work routed to this part of the organization.");
            } else {
                w.null();
            }
            w.text(role);
            w.opt_uuid(parent_id.as_ref());
            w.text_with(|b| b.extend_from_slice(&self.paths[start..]));
            w.int4(depth as i32 + 1);
            w.text(PROVIDERS[provider].0);
            w.text(PROVIDERS[provider].1[model].0);
            w.numeric(rng.between(0, 101), 2);
            w.int4(1024 * (1 + rng.below(8)) as i32);
            w.jsonb("{}");
            w.numeric(100 * rng.between(10, 2000), 2);
            w.boolean(!rng.percent(5));
            w.uuid(&creator);
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    fn workflows(&mut self, org: &Org) {
        let org_id = self.plan.org_id(org);
        let creator = self.user_id(org, 0);
        for k in 0..WORKFLOW_COUNT {
            let (id, mut rng) = self.plan.row(WORKFLOWS, org.idx, k);
            let created = org.created + rng.between(HOUR, 10 * DAY);
            let w = &mut self.w;
            w.begin(TABLES[WORKFLOWS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text(WORKFLOW_NAMES[k as usize]);
            w.text("Stages a task goes through before it is done.");
            w.jsonb(WORKFLOW_STAGES[k as usize]);
            w.int4(1 + rng.below(3) as i32);
            w.boolean(k == 0);
            w.boolean(true);
            w.uuid(&creator);
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    fn tasks(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for t in 0..org.tasks {
            let Task {
                id,
                created,
                status,
                desk,
                started,
                completed,
                mut rng,
            } = p.task(org, t);
            let priority = rng.weighted(&PRIORITY_WEIGHTS);
            let workflow = rng.percent(85).then(|| rng.below(WORKFLOW_COUNT));
            let parent = (t > 0 && rng.percent(10)).then(|| rng.below(t));
            let creator = rng.below(org.users);
            let verb = rng.pick(&VERBS);
            let noun = rng.pick(&NOUNS);
            let due = rng
                .percent(30)
                .then(|| created + rng.between(DAY, 30 * DAY));
            let retries = if status == FAILED {
                1 + rng.below(3)
            } else {
                0
            };
            let estimate = 1 + rng.below(40);
            let w = &mut self.w;
            w.begin(TABLES[TASKS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.int8(t as i64 + 1);
            w.text_with(|b| {
                let _ = write!(b, "{verb} {noun}");
            });
            if rng.percent(50) {
                w.text_with(|b| {
                    let _ = write!(b, "{verb} {noun} and report back. Ticket {}.", t + 1);
                });
            } else {
                w.null();
            }
            w.text(TASK_STATUSES[status]);
            w.text(PRIORITIES[priority]);
            match workflow {
                Some(k) => {
                    w.uuid(&p.id(WORKFLOWS, org.idx, k));
                    w.text(
                        STAGES[match status {
                            PENDING => 0,
                            IN_REVIEW | BLOCKED => 1,
                            COMPLETED => 2,
                            _ => rng.below(3) as usize,
                        }],
                    );
                }
                None => {
                    w.null();
                    w.null();
                }
            }
            w.opt_uuid(parent.map(|q| p.id(TASKS, org.idx, q)).as_ref());
            w.uuid(&p.id(USERS, org.idx, creator));
            w.opt_uuid(desk.map(|d| p.id(DESKS, org.idx, d)).as_ref());
            w.jsonb_with(|b| {
                let _ = write!(b, r#"{{"source": "scale", "estimate_hours": {estimate}}}"#);
            });
            if status == COMPLETED {
                w.jsonb(r#"{"result": "ok"}"#);
            } else {
                w.null();
            }
            w.opt_text((status == FAILED).then_some("Upstream service returned 503"));
            w.int4(retries as i32);
            w.opt_ts(due);
            w.opt_ts(started);
            w.opt_ts(completed);
            w.ts(created);
            w.ts(completed.or(started).unwrap_or(created));
            w.end();
        }
    }

    fn sessions(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for s in 0..org.sessions {
            let Session {
                id,
                desk,
                user,
                task,
                status,
                started,
                last,
                ended,
                ..
            } = p.session(org, s);
            let w = &mut self.w;
            w.begin(TABLES[SESSIONS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.uuid(&p.id(DESKS, org.idx, desk));
            w.opt_uuid(user.map(|u| p.id(USERS, org.idx, u)).as_ref());
            w.opt_uuid(task.map(|t| p.id(TASKS, org.idx, t)).as_ref());
            w.text(SESSION_STATUSES[status]);
            w.text_with(|b| {
                let _ = write!(b, "Session {}", s + 1);
            });
            w.jsonb("{}");
            w.ts(started);
            w.ts(last);
            w.opt_ts(ended);
            w.ts(started);
            w.ts(ended.unwrap_or(last));
            w.end();
        }
    }

    fn messages(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for s in 0..org.sessions {
            let session = p.session(org, s);
            let desk = p.desk(org, session.desk);
            let model = PROVIDERS[desk.provider].1[desk.model].0;
            let gap = (session.last - session.started) / session.messages as i64;
            for m in 0..session.messages {
                let (id, mut rng) = p.row(MESSAGES, org.idx, s * 8 + m);
                let role = match m {
                    0 => "system",
                    m if m % 2 == 1 => "user",
                    _ => "assistant",
                };
                let created = session.started + m as i64 * gap;
                let sentences = 1 + rng.below(3);
                let w = &mut self.w;
                w.begin(TABLES[MESSAGES].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&session.id);
                w.int4(m as i32 + 1);
                w.text(role);
                w.text_with(|b| {
                    for i in 0..sentences {
                        if i > 0 {
                            b.push(b' ');
                        }
                        b.extend_from_slice(rng.pick(&PHRASES).as_bytes());
                    }
                });
                if role == "assistant" {
                    w.text(model);
                    w.int4(rng.between(200, 4000) as i32);
                    w.int4(rng.between(50, 1500) as i32);
                } else {
                    w.null();
                    w.null();
                    w.null();
                }
                w.jsonb("{}");
                w.ts(created);
                w.ts(created);
                w.end();
            }
        }
    }

    fn qa_reviews(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for t in 0..org.tasks {
            let task = p.task(org, t);
            // Index t*4+3 is never a review row: its stream decides how many reviews there are.
            let (_, mut pick) = p.row(QA_REVIEWS, org.idx, t * 4 + 3);
            let reviews = match task.status {
                IN_REVIEW | FAILED => 1,
                COMPLETED if pick.percent(50) => 1 + pick.percent(10) as u64,
                _ => 0,
            };
            let base = task.started.unwrap_or(task.created);
            for k in 0..reviews {
                let (id, mut rng) = p.row(QA_REVIEWS, org.idx, t * 4 + k);
                let last = k + 1 == reviews;
                let status = match task.status {
                    IN_REVIEW => {
                        if rng.percent(50) {
                            "pending"
                        } else {
                            "in_progress"
                        }
                    }
                    FAILED => "failed",
                    _ if !last => "needs_revision",
                    _ => "passed",
                };
                let reviewed = matches!(status, "passed" | "failed" | "needs_revision");
                let created = base + (k as i64 + 1) * HOUR;
                let reviewed_at = reviewed.then(|| created + rng.between(MINUTE, 6 * HOUR));
                let w = &mut self.w;
                w.begin(TABLES[QA_REVIEWS].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&task.id);
                w.text("review");
                w.int4(k as i32 + 1);
                w.text(status);
                w.uuid(&p.id(DESKS, org.idx, rng.below(org.desks)));
                w.opt_uuid(
                    rng.percent(30)
                        .then(|| p.id(USERS, org.idx, rng.below(org.users)))
                        .as_ref(),
                );
                if reviewed {
                    w.numeric(rng.between(4000, 10_001), 2);
                    w.text(match status {
                        "passed" => "Looks good.",
                        "failed" => "Does not meet the acceptance criteria.",
                        _ => "Please address the comments and resubmit.",
                    });
                } else {
                    w.null();
                    w.null();
                }
                w.jsonb(if status == "needs_revision" {
                    r#"[{"severity": "minor", "note": "missing test"}]"#
                } else {
                    "[]"
                });
                w.opt_ts(reviewed_at);
                w.ts(created);
                w.ts(reviewed_at.unwrap_or(created));
                w.end();
            }
        }
    }

    fn delegations(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        if org.desks < 2 {
            return;
        }
        for t in 0..org.tasks {
            let task = p.task(org, t);
            let Some(to) = task.desk else { continue };
            let (id, mut rng) = p.row(DELEGATIONS, org.idx, t);
            if !rng.percent(8) {
                continue;
            }
            let from = match desk_parent(to) {
                _ if rng.percent(20) => None,
                Some(parent) => Some(parent),
                None => Some(1 + rng.below(org.desks - 1)),
            };
            let delegated = task.created + rng.between(MINUTE, HOUR);
            let status = match task.status {
                PENDING => "pending",
                COMPLETED => "completed",
                CANCELLED => "cancelled",
                _ if rng.percent(10) => "rejected",
                _ => "accepted",
            };
            let responded = (status != "pending").then(|| delegated + rng.between(MINUTE, DAY));
            let completed = (status == "completed").then(|| task.completed.unwrap_or(delegated));
            let w = &mut self.w;
            w.begin(TABLES[DELEGATIONS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.uuid(&task.id);
            w.opt_uuid(from.map(|d| p.id(DESKS, org.idx, d)).as_ref());
            w.uuid(&p.id(DESKS, org.idx, to));
            w.opt_uuid(
                rng.percent(60)
                    .then(|| p.id(USERS, org.idx, rng.below(org.users)))
                    .as_ref(),
            );
            w.text(status);
            w.text("Better suited to this desk's role.");
            w.ts(delegated);
            w.opt_ts(responded);
            w.opt_ts(completed.map(|c| c.max(responded.unwrap_or(c))));
            w.ts(delegated);
            w.ts(responded.unwrap_or(delegated));
            w.end();
        }
    }

    fn knowledge_bases(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let creator = self.user_id(org, 0);
        for k in 0..org.knowledge_bases {
            let (id, mut rng) = p.row(KNOWLEDGE_BASES, org.idx, k);
            let created = org.created + rng.between(DAY, 60 * DAY);
            let documents = rng.below(5000);
            let chunks = documents * (5 + rng.below(20));
            let w = &mut self.w;
            w.begin(TABLES[KNOWLEDGE_BASES].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "Knowledge base {}", k + 1);
            });
            w.text("Documents the desks retrieve from.");
            w.opt_uuid(
                (k > 0)
                    .then(|| p.id(DESKS, org.idx, rng.below(org.desks)))
                    .as_ref(),
            );
            w.text("openai");
            w.text("text-embedding-3-small");
            w.int4(1000);
            w.int4(200);
            w.text(if rng.percent(90) {
                "active"
            } else {
                "indexing"
            });
            w.int4(documents as i32);
            w.int8(chunks as i64);
            w.int8((chunks * 4096) as i64);
            w.jsonb("{}");
            w.ts(ANCHOR - rng.between(0, 7 * DAY));
            w.uuid(&creator);
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    fn data_sources(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let creator = self.user_id(org, 0);
        for k in 0..org.knowledge_bases {
            let kb = p.id(KNOWLEDGE_BASES, org.idx, k);
            for j in 0..2 {
                let (id, mut rng) = p.row(DATA_SOURCES, org.idx, k * 2 + j);
                let kind = rng.pick(&SOURCE_TYPES);
                let sync = SYNC_STATUSES[rng.weighted(&SYNC_STATUS_WEIGHTS)];
                let created = org.created + rng.between(DAY, 60 * DAY);
                let w = &mut self.w;
                w.begin(TABLES[DATA_SOURCES].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&kb);
                w.text_with(|b| {
                    let _ = write!(b, "Source {}-{}", k + 1, j + 1);
                });
                w.text(kind);
                w.jsonb_with(|b| {
                    let _ = write!(
                        b,
                        r#"{{"url": "https://{kind}.example.com/org{}"}}"#,
                        org.idx + 1
                    );
                });
                w.text_with(|b| {
                    let _ = write!(b, "secrets/{kind}-{}-{}", k + 1, j + 1);
                });
                w.text(sync);
                w.int4(60 * (1 + rng.below(24)) as i32);
                w.opt_ts((sync == "synced").then(|| ANCHOR - rng.between(0, DAY)));
                w.opt_text((sync == "error").then_some("401 Unauthorized: token expired"));
                w.boolean(true);
                w.uuid(&creator);
                w.ts(created);
                w.ts(created);
                w.end();
            }
        }
    }

    fn cost_tracking(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for s in 0..org.sessions {
            let session = p.session(org, s);
            let desk = p.desk(org, session.desk);
            let (provider, models) = PROVIDERS[desk.provider];
            let (model, input_price, output_price) = models[desk.model];
            for c in 0..session.costs {
                let (id, mut rng) = p.row(COST_TRACKING, org.idx, s * 4 + c);
                let created = session.started + rng.between(0, session.last - session.started + 1);
                let input = rng.between(100, 20_000);
                let output = rng.between(50, 4_000);
                let operation = if rng.percent(10) {
                    "embedding"
                } else {
                    "completion"
                };
                let w = &mut self.w;
                w.begin(TABLES[COST_TRACKING].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&desk.id);
                w.opt_uuid(session.task.map(|t| p.id(TASKS, org.idx, t)).as_ref());
                w.uuid(&session.id);
                w.text(provider);
                w.text(model);
                w.text(operation);
                w.int8(input);
                w.int8(output);
                w.int8(input + output);
                w.numeric(input * input_price + output * output_price, 6);
                w.text(&billing_month(created));
                w.int4(rng.between(200, 20_000) as i32);
                w.text_with(|b| {
                    b.extend_from_slice(b"req_");
                    write_hex(b, &id[..8]);
                });
                w.jsonb("{}");
                w.ts(created);
                w.end();
            }
        }
    }

    fn api_keys(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for k in 0..org.api_keys {
            let (id, mut rng) = p.row(API_KEYS, org.idx, k);
            // Only the SHA-256 of the (never stored) key; unique across runs and organizations.
            let hash = Sha256::new()
                .chain_update(b"arcdb-scale-key:")
                .chain_update(p.key.to_be_bytes())
                .chain_update(org.idx.to_be_bytes())
                .chain_update(k.to_be_bytes())
                .finalize();
            let created = org.created + rng.between(DAY, 90 * DAY);
            let revoked = rng
                .percent(10)
                .then(|| created + rng.between(DAY, 30 * DAY));
            let w = &mut self.w;
            w.begin(TABLES[API_KEYS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "key-{}", k + 1);
            });
            w.text_with(|b| {
                b.extend_from_slice(b"arc_");
                write_hex(b, &hash[..4]);
            });
            w.text_with(|b| write_hex(b, &hash));
            w.text_array(if k % 3 == 0 {
                &["tasks:read", "tasks:write", "desks:read"]
            } else {
                &["tasks:read"]
            });
            w.uuid(&p.id(USERS, org.idx, k % org.users));
            w.int4(60 * (1 + rng.below(10)) as i32);
            w.opt_ts(
                rng.percent(50)
                    .then(|| ANCHOR + rng.between(30 * DAY, 365 * DAY)),
            );
            w.opt_ts(rng.percent(80).then(|| ANCHOR - rng.between(0, 7 * DAY)));
            w.opt_ts(revoked);
            if revoked.is_some() {
                w.uuid(&p.id(USERS, org.idx, 0));
                w.text("Rotated");
            } else {
                w.null();
                w.null();
            }
            // A revoked key is never active (api_keys_revoked_inactive_check of 0007).
            w.boolean(revoked.is_none());
            w.ts(created);
            w.ts(revoked.unwrap_or(created));
            w.end();
        }
    }

    fn audit_logs(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let step = (WINDOW / org.audit_logs.max(1) as i64).max(1);
        for a in 0..org.audit_logs {
            let (id, mut rng) = p.row(AUDIT_LOGS, org.idx, a);
            let action = AUDIT_ACTIONS[rng.weighted(&AUDIT_ACTION_WEIGHTS)];
            let created = ANCHOR - WINDOW + a as i64 * step + rng.between(0, step);
            let user = rng.percent(85).then(|| rng.below(org.users));
            let desk = rng.percent(20).then(|| rng.below(org.desks));
            let key = rng.percent(10).then(|| rng.below(org.api_keys));
            let (resource, resource_id) =
                if org.tasks > 0 && action != "login" && action != "logout" {
                    ("task", p.id(TASKS, org.idx, rng.below(org.tasks)))
                } else {
                    ("user", p.id(USERS, org.idx, user.unwrap_or(0)))
                };
            let w = &mut self.w;
            w.begin(TABLES[AUDIT_LOGS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text(action);
            w.opt_uuid(user.map(|u| p.id(USERS, org.idx, u)).as_ref());
            w.opt_uuid(desk.map(|d| p.id(DESKS, org.idx, d)).as_ref());
            w.opt_uuid(key.map(|k| p.id(API_KEYS, org.idx, k)).as_ref());
            // What the audit_logs_set_actor_type trigger of 0007 derives.
            w.text(match (user, key, desk) {
                (Some(_), _, _) => "user",
                (None, Some(_), _) => "api_key",
                (None, None, Some(_)) => "desk",
                _ => "system",
            });
            w.text(resource);
            w.uuid(&resource_id);
            w.text_with(|b| {
                let _ = write!(b, "{action} {resource}");
            });
            if action == "update" {
                w.jsonb(r#"{"status": {"old": "pending", "new": "in_progress"}}"#);
            } else {
                w.null();
            }
            w.jsonb("{}");
            w.inet4([
                10,
                (org.idx % 256) as u8,
                rng.below(256) as u8,
                1 + rng.below(254) as u8,
            ]);
            w.text(rng.pick(&USER_AGENTS));
            w.text_with(|b| {
                b.extend_from_slice(b"req_");
                write_hex(b, &id[8..]);
            });
            w.ts(created);
            w.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        for z in [-1000, 0, 10_957, 11_016, 20_454, 20_513, 40_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        // 2025-03-15 12:00 UTC bills to 2025-03.
        let t = (days_from_civil(2025, 3, 15) - PG_EPOCH_DAYS) * DAY + 12 * HOUR;
        assert_eq!(billing_month(t), "2025-03");
        let mut buf = Vec::new();
        write_timestamp_text(&mut buf, t + 5 * MINUTE + 7 * SECOND + 42);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2025-03-15 12:05:07.000042+00"
        );
    }

    #[test]
    fn numeric_binary_layout() {
        let enc = |v, s| {
            let mut b = Vec::new();
            write_numeric_binary(&mut b, v, s);
            b.chunks(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>()
        };
        // 12.34 with scale 2: digits [12, 3400], weight 0.
        assert_eq!(enc(1234, 2), vec![2, 0, 0, 2, 12, 3400]);
        // 123456.789012 with scale 6: [12, 3456, 7890, 1200], weight 1.
        assert_eq!(
            enc(123_456_789_012, 6),
            vec![4, 1, 0, 6, 12, 3456, 7890, 1200]
        );
        // 0.05: [0, 500]? no integer digits: [500], weight -1.
        assert_eq!(enc(5, 2), vec![1, -1, 0, 2, 500]);
        assert_eq!(enc(0, 2), vec![1, -1, 0, 2, 0]);
    }

    #[test]
    fn allocation_is_exact_and_skewed() {
        let counts = allocate(5000, 20, 1.0);
        assert_eq!(counts.iter().sum::<u64>(), 5000);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]));
        assert!(counts[0] > 5 * counts[10]);
        let uniform = allocate(1000, 10, 0.0);
        assert!(uniform.iter().all(|c| *c == 100));
        let few = allocate(3, 10, 1.0);
        assert_eq!(few.iter().sum::<u64>(), 3);
        let all = allocate(100, 100, 2.0);
        assert!(all.iter().all(|c| *c == 1));
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = Plan::new(7, 0, 3, 100, 1.0);
        let b = Plan::new(7, 0, 3, 100, 1.0);
        let c = Plan::new(7, 1, 3, 100, 1.0);
        assert_eq!(a.id(TASKS, 1, 5), b.id(TASKS, 1, 5));
        assert_ne!(a.id(TASKS, 1, 5), c.id(TASKS, 1, 5));
        let mut ids: Vec<Id> = (0..10_000).map(|i| a.id(TASKS, 0, i)).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10_000);
        assert_eq!(a.id(TASKS, 0, 0)[6] >> 4, 4);
    }
}
