//! The scale load: one transaction that defers keys, indexes and foreign keys, streams the
//! generated COPY data and builds them again.

use super::copy::{Chunk, CHANNEL_CHUNKS};
use super::generate::Gen;
use super::layout::Plan;
use super::spec::TABLES;
use super::{require_latest_schema, CopyFormat, Rebuilt, ScaleOptions, ScaleReport, TableRows};
use crate::db::{server_message, Db};
use crate::engine::EngineKind;
use crate::error::Refusal;
use crate::output::notice;
use crate::progress::Progress;
use anyhow::{anyhow, Context};
use bytes::Bytes;
use futures_util::SinkExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Generate and load scale data (how: the documentation of [`crate::seed`]).
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
