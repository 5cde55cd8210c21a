//! `arcdb adopt`: take over the ArcDesk database that Alembic revision `001_multi_tenant`
//! deployed and bring it to arcdb's latest schema, keeping every row.
//!
//! 1. Recognize it by its catalog ([`recognize`]): the live schema against the embedded copy of
//!    the deployed schema (`adopt/001_multi_tenant.sql`) built in a scratch database. Columns and
//!    indexes added by hand are kept; any other difference is refused (exit 2, nothing touched).
//! 2. Plan ([`plan`]): arcdb's latest schema, built in a scratch database, matched by column
//!    name; the INSERT … SELECT of every table in foreign-key order.
//! 3. Check ([`checks`]): rows that cannot be carried over as they are, each with the query
//!    that lists them and SQL that fixes them. A real run with such rows refuses.
//! 4. Convert, in ONE transaction under the migration lock, with bounded lock waits: lock the
//!    deployed tables, check again, move the deployed objects to schema `arcdb_adopt_old`, run
//!    the embedded migrations (recorded in `arcdb.schema_history`), copy the rows (arcdb's
//!    foreign keys and plain indexes dropped before and rebuilt after: [`plan::deferred_build`]),
//!    re-create kept objects, make the application roles members of `arcdesk_tenant`, verify (row counts
//!    and the catalog against arcdb's), drop the old objects, refresh the materialized views,
//!    commit. Interrupted anywhere (error, SIGKILL, server restart), nothing of it remains.

pub mod checks;
mod convert;
pub mod plan;
pub mod recognize;
mod steps;

use crate::catalog::{self, Change, Difference, ObjectKind, Schema};
use crate::db::{literal, Db};
use crate::error::{ExitStatus, Refusal};
use crate::lock::MigrationLock;
use crate::migrate::catalog::MigrationSet;
use crate::output::{notice, table, Report};
use anyhow::anyhow;
use checks::Check;
use convert::{convert, progress};
use plan::{bare, qualified, Gap, TableCopy, OLD_SCHEMA};
use recognize::Recognition;
use serde::Serialize;
use std::time::{Duration, Instant};
use steps::{application_changes, plan_steps};

/// The deployed schema adopt recognizes (a copy of ../shared/fixtures/arcdesk-001/schema.sql).
pub const DEPLOYED_001: &str = include_str!("../../adopt/001_multi_tenant.sql");
/// The Alembic revision of that schema.
pub const ALEMBIC_REVISION: &str = "001_multi_tenant";
/// The role tenants run as (created by migration 0004).
const TENANT_ROLE: &str = "arcdesk_tenant";
/// alembic_version stays (its row untouched); tagged as the one table that is not tenant data,
/// which is what `verify-rls` takes as its allowlist.
const ALEMBIC_COMMENT: &str = "COMMENT ON TABLE public.alembic_version IS 'arcdb:global: Alembic''s revision of the schema before arcdb adopted it (001_multi_tenant); not tenant data, not granted to tenants'";
/// Rows per second the estimate assumes for the copy, with arcdb's triggers per row and its
/// foreign keys and plain indexes rebuilt after it: bench/adopt.sh measured 64k rows/s for the
/// copy and 97k rows/s for the rebuild (2.5M rows, 1M tasks, 2 cores, bench/RESULTS.md); the
/// estimate assumes half of that, for a busier server. The other steps are scaled from the same
/// run.
const ROWS_PER_SECOND: f64 = 30_000.0;

/// Step names, in order; `ARCDB_ADOPT_FAIL_AFTER=<step>` (test hook) fails the run right after
/// that step, `ARCDB_ADOPT_PAUSE_AFTER=<step>` waits there 60 s (to be killed).
pub const STEPS: [&str; 12] = [
    "lock",
    "check",
    "move_aside",
    "migrate",
    "copy",
    "rebuild",
    "kept_objects",
    "grant_tenant",
    "verify",
    "drop_old",
    "refresh",
    "commit",
];

pub struct AdoptOptions {
    pub dry_run: bool,
    /// How long each lock may be waited for (the migration lock, then the deployed tables).
    pub lock_timeout: Duration,
    /// A migration directory instead of the embedded set (`--source`, as for `up`).
    pub source: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct TableSize {
    pub table: String,
    pub rows: i64,
    pub bytes: i64,
}

#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub step: &'static str,
    pub what: String,
    /// The SQL the step runs (in the one transaction).
    pub sql: Vec<String>,
    /// Locks the step takes and on which objects; every lock is held until the commit.
    pub locks: Vec<String>,
    pub estimate_ms: Option<u64>,
    /// Set after a real run.
    pub duration_ms: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct AdoptReport {
    pub target: String,
    pub dry_run: bool,
    /// Whether the catalog is 001_multi_tenant's, up to the kept and left-alone differences.
    pub recognized: bool,
    pub alembic_version: Option<String>,
    pub recognition: Recognition,
    /// What the name-based mapping cannot carry over (refused).
    pub gaps: Vec<Gap>,
    /// Rows that cannot be carried over as they are.
    pub checks: Vec<Check>,
    /// The CREATE FUNCTION the check queries need on servers before PostgreSQL 16.
    pub check_helper_sql: Option<String>,
    pub tables: Vec<TableSize>,
    /// Deployed columns that a BEFORE INSERT trigger of arcdb's assigns: their copied values may
    /// be replaced by what arcdb derives (desks.hierarchy_path as arcdb writes paths).
    pub recomputed_columns: Vec<String>,
    pub plan: Vec<PlanStep>,
    /// Roles made members of arcdesk_tenant.
    pub application_roles: Vec<String>,
    pub from_version: u32,
    pub to_version: u32,
    /// Real run: from the table locks to the commit (every lock is held that long).
    pub locks_held_ms: Option<u64>,
    pub total_ms: Option<u64>,
    pub application_changes: Vec<String>,
}

impl AdoptReport {
    fn bad_rows(&self) -> i64 {
        self.checks.iter().filter_map(|c| c.rows).sum()
    }
    fn blocked(&self) -> bool {
        !self.recognized || !self.gaps.is_empty()
    }
}

impl Report for AdoptReport {
    fn render_table(&self) -> String {
        let mut out = String::new();
        let r = &self.recognition;
        let mut diffs: Vec<Vec<String>> = Vec::new();
        for c in &r.kept_columns {
            diffs.push(vec![
                "kept".into(),
                format!("column {} ({})", c.qualified(), c.data_type),
            ]);
        }
        for i in &r.kept_indexes {
            diffs.push(vec!["kept".into(), format!("index {}", i.name)]);
        }
        for d in &r.left_alone {
            diffs.push(vec!["left alone".into(), d.to_string()]);
        }
        for d in &r.refused {
            diffs.push(vec![
                "refused".into(),
                format!("{d} — {}", recognize::advice(d)),
            ]);
        }
        for g in &self.gaps {
            diffs.push(vec![
                "refused".into(),
                format!("{}: {}", g.object, g.problem),
            ]);
        }
        if !diffs.is_empty() {
            out.push_str(&table(
                &["", "difference from 001_multi_tenant / arcdb's schema"],
                diffs,
            ));
            out.push('\n');
        }
        if !self.recomputed_columns.is_empty() {
            out.push_str(&format!(
                "Copied, then possibly recomputed on insert by arcdb's triggers: {}\n",
                self.recomputed_columns.join(", ")
            ));
        }
        let found: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.rows.unwrap_or(0) > 0)
            .collect();
        for c in &found {
            out.push_str(&format!(
                "{} row(s): {}\n  list: {}\n  fix:  {}\n",
                c.rows.unwrap_or(0),
                c.description,
                c.query,
                c.fix
            ));
        }
        if let (Some(helper), false) = (&self.check_helper_sql, found.is_empty()) {
            out.push_str(&format!(
                "  (the queries need, in the same session: {helper})\n"
            ));
        }
        let rows = self.plan.iter().map(|s| {
            vec![
                s.step.to_string(),
                s.what.clone(),
                s.locks.join("; "),
                match (s.duration_ms, s.estimate_ms) {
                    (Some(ms), _) => format!("{ms} ms"),
                    (None, Some(ms)) => format!("~{ms} ms"),
                    _ => "-".into(),
                },
            ]
        });
        out.push_str(&table(
            &[
                "step",
                "what",
                "locks (held until commit)",
                if self.dry_run { "estimate" } else { "took" },
            ],
            rows,
        ));
        out.push('\n');
        if self.dry_run {
            out.push_str("SQL of each step (one transaction):\n");
            for s in &self.plan {
                if s.step == "migrate" {
                    // The scripts are long: their files, as `up` runs them (in full in JSON).
                    out.push_str(&format!("-- migrate\n-- {}\n", s.what));
                    continue;
                }
                for sql in &s.sql {
                    out.push_str(&format!("-- {}\n{sql};\n", s.step));
                }
            }
        }
        let verdict = if self.blocked() {
            format!(
                "{}: cannot be adopted: {} refused difference(s) — nothing was changed",
                self.target,
                r.refused.len() + self.gaps.len()
            )
        } else if self.bad_rows() > 0 {
            format!(
                "{}: {} row(s) cannot be carried over as they are (fix them, then adopt) — nothing was changed",
                self.target,
                self.bad_rows()
            )
        } else if self.dry_run {
            format!(
                "{}: would be adopted, version 0 → {}",
                self.target, self.to_version
            )
        } else {
            format!(
                "{}: adopted, version {} → {} in {} ms (locks held {} ms)",
                self.target,
                self.from_version,
                self.to_version,
                self.total_ms.unwrap_or(0),
                self.locks_held_ms.unwrap_or(0)
            )
        };
        out.push_str(&verdict);
        if !self.blocked() {
            out.push_str("\nWhat the application must change:\n");
            for c in &self.application_changes {
                out.push_str(&format!("  - {c}\n"));
            }
        }
        out
    }

    fn exit_status(&self) -> ExitStatus {
        if self.blocked() {
            ExitStatus::Usage
        } else if self.bad_rows() > 0 {
            ExitStatus::Findings
        } else {
            ExitStatus::Ok
        }
    }
}

/// Everything known before the conversion.
struct Prepared {
    report: AdoptReport,
    target: Schema,
    copies: Vec<TableCopy>,
    replaced: Vec<String>,
    deployed_views: Vec<String>,
    resolved: Vec<crate::migrate::catalog::Resolved>,
    /// Dropped before the copy and rebuilt after it; the plan shows the same statements.
    deferred: plan::DeferredBuild,
}

pub async fn adopt(db: &mut Db, opts: AdoptOptions) -> anyhow::Result<AdoptReport> {
    if db.engine.kind != crate::engine::EngineKind::Postgres {
        return Err(Refusal::usage(format!(
            "adopt takes over a PostgreSQL database deployed by Alembic; {} is not one; nothing was changed",
            db.engine.describe()
        ))
        .into());
    }
    let applied = crate::migrate::history::load(&db.client).await?;
    if let Some(last) = applied.last() {
        return Err(Refusal::usage(format!(
            "{} is already managed by arcdb (arcdb.schema_history is at version {}): adopt is for a database arcdb never migrated; use `arcdb status` / `arcdb up`; nothing was changed",
            db.target(),
            last.version
        ))
        .into());
    }
    let can_create: (bool, String, String) = {
        let r = db
            .client
            .query_one(
                "SELECT has_database_privilege(current_database(), 'CREATE'), current_user::text, current_database()::text",
                &[],
            )
            .await?;
        (r.get(0), r.get(1), r.get(2))
    };
    if !can_create.0 {
        let (_, user, dbname) = can_create;
        return Err(Refusal::usage(format!(
            "role {user} cannot create schemas in database {dbname} (adopt creates arcdb's schema `arcdb` and moves the deployed objects to `{OLD_SCHEMA}`): GRANT CREATE ON DATABASE {dbname} TO {user} as the database owner or a superuser; nothing was changed"
        ))
        .into());
    }
    let started = Instant::now();
    let prepared = prepare(db, opts.source.as_deref()).await?;
    if opts.dry_run {
        return Ok(prepared.report);
    }
    refuse_if_blocked(&prepared.report)?;
    let mut prepared = prepared;
    let interrupt = crate::migrate::interrupt::Interrupt::listen();
    let guard = MigrationLock::for_engine(&db.engine)
        .acquire(db, opts.lock_timeout, &interrupt)
        .await?;
    let outcome = convert(db, &mut prepared, opts.lock_timeout, &interrupt).await;
    guard.release_after(db, outcome).await?;
    let mut report = prepared.report;
    report.total_ms = Some(started.elapsed().as_millis() as u64);
    notice(format!(
        "adopt: done: {} adopted at version {} in {} ms (locks held {} ms)",
        report.target,
        report.to_version,
        report.total_ms.unwrap_or(0),
        report.locks_held_ms.unwrap_or(0)
    ));
    Ok(report)
}

/// The one-line refusal of a real run (the dry run shows the full lists).
fn refuse_if_blocked(report: &AdoptReport) -> anyhow::Result<()> {
    let mut reasons: Vec<String> = report
        .recognition
        .refused
        .iter()
        .map(|d| d.to_string())
        .collect();
    reasons.extend(
        report
            .gaps
            .iter()
            .map(|g| format!("{}: {}", g.object, g.problem)),
    );
    if !reasons.is_empty() {
        let n = reasons.len();
        let shown: Vec<String> = reasons.into_iter().take(5).collect();
        return Err(Refusal::usage(format!(
            "{} is not a database adopt can carry over: {n} difference(s) it does not know how to carry over: {}{}; run `arcdb adopt --dry-run` for the full list; nothing was changed",
            report.target,
            shown.join("; "),
            if n > 5 { "; …" } else { "" }
        ))
        .into());
    }
    let bad: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.rows.unwrap_or(0) > 0)
        .map(|c| format!("{} ({} rows)", c.description, c.rows.unwrap_or(0)))
        .collect();
    if !bad.is_empty() {
        return Err(Refusal::usage(format!(
            "{} row(s) cannot be carried over as they are: {}; `arcdb adopt --dry-run` lists the queries that show them and SQL that fixes them; nothing was changed",
            report.bad_rows(),
            bad.join("; ")
        ))
        .into());
    }
    Ok(())
}

async fn prepare(db: &Db, source: Option<&std::path::Path>) -> anyhow::Result<Prepared> {
    progress("reading the catalog and building the expected schemas in scratch databases");
    let expected = catalog::scratch::from_sql(
        db,
        "the embedded 001_multi_tenant schema",
        DEPLOYED_001,
        &["public"],
    )
    .await?;
    let deployed = catalog::read(&db.client, &["public"]).await?;
    let set = MigrationSet::load(source)?;
    let resolved = set.resolve(&db.engine);
    let target = catalog::scratch::from_migrations(db, &resolved, &["public"]).await?;

    let mut recognition =
        recognize::recognize(&expected, &deployed, catalog::diff(&expected, &deployed));
    let alembic_version = alembic_version(db).await?;
    if alembic_version.as_deref() != Some(ALEMBIC_REVISION)
        && deployed.table("public.alembic_version").is_some()
    {
        recognition.refused.push(Difference {
            object_kind: ObjectKind::Table,
            object: "public.alembic_version".into(),
            change: Change::Changed,
            attribute: Some("version_num".into()),
            expected: Some(ALEMBIC_REVISION.into()),
            actual: alembic_version.clone(),
        });
    }
    let replaced = plan::replaced_tables(&expected);
    let (copies, mut gaps) = plan::copies(&deployed, &target, &replaced, &recognition.kept_columns);
    for i in &recognition.kept_indexes {
        if target
            .indexes
            .iter()
            .any(|t| bare(&t.name) == bare(&i.name))
        {
            gaps.push(Gap {
                object: format!("index {}", i.name),
                problem:
                    "added by hand, but arcdb's schema has an index of that name: rename it first"
                        .into(),
            });
        }
    }
    let recognized = recognition.refused.is_empty();
    let has_input_is_valid = db.engine.version.major >= 16;
    let mut checks = checks::checks(&deployed, &target, &copies, has_input_is_valid);
    // Only meaningful when every deployed table and column is where the checks expect it.
    if recognized {
        progress(&format!("checking the rows ({} checks)", checks.len()));
        count_bad_rows(&db.client, &mut checks, has_input_is_valid).await?;
    }
    let tables = table_sizes(db, &replaced).await?;
    let recomputed_columns: Vec<String> = copies
        .iter()
        .flat_map(|c| {
            checks::trigger_assigned_columns(&target, &c.table)
                .into_iter()
                .filter(|col| deployed.column(&c.table, col).is_some())
                .map(|col| format!("{}.{col}", c.table))
                .collect::<Vec<_>>()
        })
        .collect();
    let deployed_views: Vec<String> = expected.views.iter().map(|v| v.name.clone()).collect();
    let application_roles = plan::application_roles(&deployed, &replaced);
    let to_version = set.latest_version();
    let mut report = AdoptReport {
        target: db.target(),
        dry_run: true,
        recognized,
        alembic_version,
        recognition,
        gaps,
        checks,
        check_helper_sql: (!has_input_is_valid).then(|| checks::CASTABLE_HELPER.to_string()),
        tables,
        recomputed_columns,
        plan: Vec::new(),
        application_roles,
        from_version: 0,
        to_version,
        locks_held_ms: None,
        total_ms: None,
        application_changes: application_changes(&deployed, &target, &replaced),
    };
    let deferred = plan::deferred_build(&target, &copies);
    report.plan = plan_steps(
        &report,
        &copies,
        &deferred,
        &replaced,
        &deployed_views,
        &target,
        &resolved,
    )?;
    Ok(Prepared {
        report,
        target,
        copies,
        replaced,
        deployed_views,
        resolved,
        deferred,
    })
}

async fn alembic_version(db: &Db) -> anyhow::Result<Option<String>> {
    let exists: bool = db
        .client
        .query_one(
            "SELECT to_regclass('public.alembic_version') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = db
        .client
        .query_opt(
            "SELECT string_agg(version_num::text, ',') FROM public.alembic_version",
            &[],
        )
        .await?;
    Ok(row.and_then(|r| r.get(0)))
}

async fn count_bad_rows(
    client: &impl tokio_postgres::GenericClient,
    checks: &mut [Check],
    has_input_is_valid: bool,
) -> anyhow::Result<()> {
    if !has_input_is_valid {
        client.batch_execute(checks::CASTABLE_HELPER).await?;
    }
    for c in checks.iter_mut() {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM ({}) q", c.query), &[])
            .await
            .map_err(|e| {
                anyhow!(
                    "the check \"{}\" failed: {}",
                    c.description,
                    crate::db::server_message(&e)
                )
            })?
            .get(0);
        c.rows = Some(n);
    }
    Ok(())
}

async fn table_sizes(db: &Db, tables: &[String]) -> anyhow::Result<Vec<TableSize>> {
    let mut out = Vec::new();
    for t in tables {
        let row = db
            .client
            .query_one(
                &format!(
                    "SELECT count(*), pg_total_relation_size({}) FROM {}",
                    literal(&qualified(t)),
                    qualified(t)
                ),
                &[],
            )
            .await?;
        out.push(TableSize {
            table: t.clone(),
            rows: row.get(0),
            bytes: row.get(1),
        });
    }
    Ok(out)
}
