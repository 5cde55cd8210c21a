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
pub mod plan;
pub mod recognize;

use crate::catalog::{self, Change, Difference, ObjectKind, Schema};
use crate::db::Db;
use crate::error::{ExitStatus, Refusal};
use crate::lock::MigrationLock;
use crate::migrate::catalog::MigrationSet;
use crate::output::{notice, table, Report};
use anyhow::anyhow;
use checks::Check;
use plan::{bare, qualified, Gap, TableCopy, OLD_SCHEMA};
use recognize::Recognition;
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;

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
    let released = guard.release(db).await;
    outcome?;
    released?;
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
                    "SELECT count(*), pg_total_relation_size('{}') FROM {}",
                    qualified(t).replace('\'', "''"),
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

/// The tables; the materialized views (LOCK TABLE refuses them) are locked by their move.
fn lock_sql(replaced: &[String]) -> String {
    let all: Vec<String> = replaced.iter().map(|t| qualified(t)).collect();
    format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", all.join(", "))
}

/// The deployed enum types and trigger functions of 001, moved with the tables.
const DEPLOYED_TYPES: [&str; 7] = [
    "roletype",
    "taskstatus",
    "taskpriority",
    "qastagestatus",
    "llmprovider",
    "subscriptiontier",
    "auditaction",
];
const DEPLOYED_FUNCTIONS: [&str; 3] = [
    "update_updated_at_column()",
    "update_desk_hierarchy_path()",
    "set_billing_month()",
];

fn move_aside_sql(expected_views: &[String], replaced: &[String]) -> Vec<String> {
    let mut sql = vec![format!("CREATE SCHEMA {OLD_SCHEMA}")];
    for v in expected_views {
        sql.push(format!(
            "ALTER MATERIALIZED VIEW {} SET SCHEMA {OLD_SCHEMA}",
            qualified(v)
        ));
    }
    for t in replaced {
        sql.push(format!(
            "ALTER TABLE {} SET SCHEMA {OLD_SCHEMA}",
            qualified(t)
        ));
    }
    for t in DEPLOYED_TYPES {
        sql.push(format!("ALTER TYPE public.{t} SET SCHEMA {OLD_SCHEMA}"));
    }
    for f in DEPLOYED_FUNCTIONS {
        sql.push(format!("ALTER FUNCTION public.{f} SET SCHEMA {OLD_SCHEMA}"));
    }
    sql
}

fn plan_steps(
    report: &AdoptReport,
    copies: &[TableCopy],
    deferred: &plan::DeferredBuild,
    replaced: &[String],
    views: &[String],
    target: &Schema,
    resolved: &[crate::migrate::catalog::Resolved],
) -> anyhow::Result<Vec<PlanStep>> {
    let rows_of = |t: &str| {
        report
            .tables
            .iter()
            .find(|s| s.table == t)
            .map(|s| s.rows)
            .unwrap_or(0)
    };
    let total_rows: i64 = report.tables.iter().map(|t| t.rows).sum();
    let estimate = |rows: i64| Some((rows as f64 / ROWS_PER_SECOND * 1000.0) as u64);
    let deployed_objects = format!(
        "{} deployed tables and {} materialized views",
        replaced.len(),
        views.len()
    );
    let mut copy_sql: Vec<String> = deferred.drop.clone();
    for c in copies {
        if bare(&c.table) == "tasks" {
            copy_sql.push(task_counter_sql().to_string());
        }
        copy_sql.push(c.sql.clone());
    }
    let mut kept_sql: Vec<String> = report
        .recognition
        .kept_indexes
        .iter()
        .map(plan::kept_index_sql)
        .collect();
    if report.alembic_version.is_some() {
        kept_sql.insert(0, ALEMBIC_COMMENT.to_string());
    }
    kept_sql.splice(
        0..0,
        report
            .recognition
            .kept_columns
            .iter()
            .map(plan::add_column_sql),
    );
    Ok(vec![
        PlanStep {
            step: "lock",
            what: format!("lock the {deployed_objects} (bounded by --lock-timeout)"),
            sql: vec![lock_sql(replaced)],
            locks: vec![format!("ACCESS EXCLUSIVE on {}", replaced.iter().map(|t| bare(t)).collect::<Vec<_>>().join(", "))],
            estimate_ms: Some(0),
            duration_ms: None,
        },
        PlanStep {
            step: "check",
            what: format!("{} row checks again, under the locks", report.checks.len()),
            sql: report.checks.iter().map(|c| c.query.clone()).collect(),
            locks: vec![],
            estimate_ms: estimate(total_rows / 30),
            duration_ms: None,
        },
        PlanStep {
            step: "move_aside",
            what: format!("move the deployed tables, materialized views, 7 enum types and 3 functions to schema {OLD_SCHEMA}"),
            sql: move_aside_sql(views, replaced),
            locks: vec![format!("ACCESS EXCLUSIVE on {} (the tables are already locked)", views.iter().map(|t| bare(t)).collect::<Vec<_>>().join(", "))],
            estimate_ms: Some(50),
            duration_ms: None,
        },
        PlanStep {
            step: "migrate",
            what: format!(
                "the embedded migrations {} (as `arcdb up`), recorded in arcdb.schema_history",
                resolved.iter().map(|m| m.label()).collect::<Vec<_>>().join(", ")
            ),
            sql: resolved
                .iter()
                .zip(plan::fold_enum_labels(resolved, target))
                .map(|(m, folded)| folded.unwrap_or_else(|| m.up.sql.clone()))
                .collect(),
            locks: vec!["ACCESS EXCLUSIVE on arcdb's new tables (nobody sees them before the commit)".into()],
            estimate_ms: Some(500),
            duration_ms: None,
        },
        PlanStep {
            step: "copy",
            what: format!("drop the {} index(es) and {} foreign key(s) of arcdb's tables, then copy {total_rows} rows, table by table in foreign-key order (task numbers kept, each organization's counter set to its highest)", deferred.indexes, deferred.foreign_keys),
            sql: copy_sql,
            locks: vec!["ROW EXCLUSIVE on arcdb's tables, ACCESS SHARE on the old ones".into()],
            estimate_ms: estimate(total_rows),
            duration_ms: None,
        },
        PlanStep {
            step: "rebuild",
            what: format!(
                "build the {} index(es) and validate the {} foreign key(s) dropped before the copy (one sorted build and one join each, instead of per-row maintenance)",
                deferred.indexes, deferred.foreign_keys
            ),
            sql: deferred.build.clone(),
            locks: vec!["ACCESS EXCLUSIVE on arcdb's new tables (nobody sees them before the commit)".into()],
            estimate_ms: estimate(total_rows / 4),
            duration_ms: None,
        },
        PlanStep {
            step: "kept_objects",
            what: format!(
                "carry over {} column(s) and {} index(es) added by hand; tag alembic_version as not tenant data",
                report.recognition.kept_columns.len(),
                report.recognition.kept_indexes.len()
            ),
            sql: kept_sql,
            locks: vec!["SHARE (index builds) on arcdb's tables".into()],
            estimate_ms: estimate(
                report
                    .recognition
                    .kept_indexes
                    .iter()
                    .map(|i| rows_of(&i.table))
                    .sum::<i64>()
                    / 4,
            ),
            duration_ms: None,
        },
        PlanStep {
            step: "grant_tenant",
            what: format!("make {} member(s) of {TENANT_ROLE}", report.application_roles.join(", ")),
            sql: report
                .application_roles
                .iter()
                .map(|r| format!("GRANT {TENANT_ROLE} TO {}", plan::ident(r)))
                .collect(),
            locks: vec![],
            estimate_ms: Some(0),
            duration_ms: None,
        },
        PlanStep {
            step: "verify",
            what: "row counts of every table against the old one; the catalog of public against arcdb's schema (only kept objects may differ)".into(),
            sql: vec![],
            locks: vec![],
            estimate_ms: estimate(total_rows / 1000),
            duration_ms: None,
        },
        PlanStep {
            step: "drop_old",
            what: format!("drop schema {OLD_SCHEMA} with the deployed objects"),
            sql: vec![format!("DROP SCHEMA {OLD_SCHEMA} CASCADE")],
            locks: vec![],
            estimate_ms: Some(100),
            duration_ms: None,
        },
        PlanStep {
            step: "refresh",
            what: "refresh arcdb's materialized views and bring their tenant tables up to date"
                .into(),
            sql: refresh_statements(target)?,
            locks: vec![
                "ACCESS EXCLUSIVE on the materialized views".into(),
                "ROW EXCLUSIVE on their tenant tables".into(),
            ],
            estimate_ms: estimate(total_rows / 1500),
            duration_ms: None,
        },
        PlanStep {
            step: "commit",
            what: "commit: everything above becomes visible at once, every lock is released".into(),
            sql: vec!["COMMIT".into()],
            locks: vec![],
            estimate_ms: Some(0),
            duration_ms: None,
        },
    ])
}

/// REFRESH of each of arcdb's materialized views, each followed by the statements that bring
/// its tenant tables (0009) up to date, as `arcdb refresh` does.
fn refresh_statements(target: &Schema) -> anyhow::Result<Vec<String>> {
    let tables = crate::views::TenantTable::from_schema(target);
    let mut sql = Vec::new();
    for v in target.views.iter().filter(|v| v.materialized) {
        let source = qualified(&v.name);
        sql.push(format!("REFRESH MATERIALIZED VIEW {source}"));
        let (schema, name) = v.name.split_once('.').unwrap_or(("public", &v.name));
        for t in tables.iter().filter(|t| t.source() == (schema, name)) {
            sql.extend(
                t.sync_statements(&source)
                    .map_err(|why| anyhow!("{why}; nothing was changed"))?,
            );
        }
    }
    Ok(sql)
}

/// Each organization's task counter continues from its highest deployed task number.
fn task_counter_sql() -> &'static str {
    "UPDATE public.organizations n SET last_task_number = m.top FROM (SELECT organization_id, max(task_number) AS top FROM arcdb_adopt_old.tasks GROUP BY organization_id) m WHERE n.id = m.organization_id"
}

fn application_changes(deployed: &Schema, target: &Schema, replaced: &[String]) -> Vec<String> {
    let mut out = vec![
        format!("connect as a login role that is a member of {TENANT_ROLE} (the application roles found are made members), not as the tables' owner: the owner bypasses row-level security"),
        "in every transaction, SELECT set_config('app.current_org_id', '<organization uuid>', true) (that is SET LOCAL): a plain SET outlives the transaction and, behind a pooler, leaks to the next client; with the setting unset or empty a tenant sees no rows".into(),
    ];
    let without: Vec<&str> = replaced
        .iter()
        .filter(|t| {
            deployed.column(t, "organization_id").is_none()
                && target.column(t, "organization_id").is_some()
        })
        .map(|t| bare(t))
        .collect();
    if !without.is_empty() {
        out.push(format!(
            "{} now carry organization_id, taken from the parent row when the application does not write it",
            without.join(", ")
        ));
    }
    let tenant_views: Vec<String> = target
        .views
        .iter()
        .filter(|v| !v.materialized)
        .map(|v| bare(&v.name).to_string())
        .chain(
            crate::views::TenantTable::from_schema(target)
                .into_iter()
                .map(|t| t.name),
        )
        .collect();
    if !tenant_views.is_empty() {
        out.push(format!(
            "read analytics through {} (the materialized views are not granted to tenants: they carry no row-level security)",
            tenant_views.join(", ")
        ));
    }
    out.push(format!(
        "alembic_version stays at {ALEMBIC_REVISION}: arcdb owns the schema now (arcdb status); do not run the application's Alembic upgrade or downgrade against this database"
    ));
    out
}

fn progress(what: &str) {
    notice(format!("adopt: {what}"));
}

/// The test hooks after each step.
/// Also where Ctrl-C / SIGTERM stop the run (the statement of a step runs to its end first).
async fn after_step(
    step: &str,
    interrupt: &crate::migrate::interrupt::Interrupt,
) -> anyhow::Result<()> {
    interrupt.check("the adoption is rolled back, nothing was changed")?;
    if std::env::var("ARCDB_ADOPT_PAUSE_AFTER").is_ok_and(|v| v == step) {
        notice(format!(
            "adopt: paused after step {step} (ARCDB_ADOPT_PAUSE_AFTER)"
        ));
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    if std::env::var("ARCDB_ADOPT_FAIL_AFTER").is_ok_and(|v| v == step) {
        return Err(anyhow!(
            "failure injected after step {step} (ARCDB_ADOPT_FAIL_AFTER); the transaction is rolled back, nothing was changed"
        ));
    }
    Ok(())
}

/// Who holds locks on `relations` now (for the message when the wait times out).
async fn lock_holders(client: &impl tokio_postgres::GenericClient, relations: &[String]) -> String {
    let names: Vec<String> = relations.iter().map(|r| qualified(r)).collect();
    let rows = client
        .query(
            "SELECT DISTINCT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''),
                    coalesce(a.state, ''), l.mode, l.relation::regclass::text
               FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
              WHERE l.granted AND l.pid <> pg_backend_pid()
                AND l.relation = ANY (SELECT to_regclass(x)::oid FROM unnest($1::text[]) x)
              ORDER BY 1 LIMIT 10",
            &[&names],
        )
        .await;
    match rows {
        Ok(rows) if !rows.is_empty() => rows
            .iter()
            .map(|r| {
                format!(
                    "pid {} ({}, {}, {}) holds {} on {}",
                    r.get::<_, i32>(0),
                    r.get::<_, String>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3),
                    r.get::<_, String>(4),
                    r.get::<_, String>(5)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    }
}

async fn convert(
    db: &mut Db,
    p: &mut Prepared,
    lock_timeout: Duration,
    interrupt: &crate::migrate::interrupt::Interrupt,
) -> anyhow::Result<()> {
    let has_input_is_valid = db.engine.version.major >= 16;
    let relations: Vec<String> = p
        .replaced
        .iter()
        .chain(&p.deployed_views)
        .cloned()
        .collect();
    let holders = lock_holders(&db.client, &relations).await;
    if !holders.is_empty() {
        progress(&format!(
            "waiting up to {}s for ACCESS EXCLUSIVE locks on the deployed tables: {holders}",
            lock_timeout.as_secs()
        ));
    }
    let tx = db.client.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL search_path = public",
        lock_timeout.as_millis().max(1)
    ))
    .await?;
    let mut timings: Vec<(&'static str, u64)> = Vec::new();
    let mut step_started = Instant::now();
    let mut done = |step: &'static str, started: &mut Instant| {
        let ms = started.elapsed().as_millis() as u64;
        progress(&format!("step {step} done in {ms} ms"));
        timings.push((step, ms));
        *started = Instant::now();
    };

    // lock
    if let Err(e) = tx.batch_execute(&lock_sql(&p.replaced)).await {
        let timed_out = e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE);
        tx.rollback().await?;
        if timed_out {
            let holders = lock_holders(&db.client, &relations).await;
            return Err(anyhow!(
                "timed out after {}s waiting for ACCESS EXCLUSIVE locks on the deployed tables{}; nothing was changed: retry when they are free, or raise --lock-timeout",
                lock_timeout.as_secs(),
                if holders.is_empty() { String::new() } else { format!(" ({holders})") }
            ));
        }
        return Err(anyhow!(
            "could not lock the deployed tables: {}",
            crate::db::server_message(&e)
        ));
    }
    let locked_at = Instant::now();
    done("lock", &mut step_started);
    after_step("lock", interrupt).await?;

    // check, under the locks: the rows cannot change any more.
    count_bad_rows(&tx, &mut p.report.checks, has_input_is_valid).await?;
    if p.report.bad_rows() > 0 {
        tx.rollback().await?;
        return Err(refuse_if_blocked(&p.report)
            .err()
            .unwrap_or_else(|| anyhow!("rows cannot be carried over; nothing was changed")));
    }
    done("check", &mut step_started);
    after_step("check", interrupt).await?;

    for sql in move_aside_sql(&p.deployed_views, &p.replaced) {
        tx.batch_execute(&sql)
            .await
            .map_err(|e| step_error("move_aside", &sql, &e))?;
    }
    done("move_aside", &mut step_started);
    after_step("move_aside", interrupt).await?;

    let folded = plan::fold_enum_labels(&p.resolved, &p.target);
    let steps = crate::migrate::apply_in_transaction(&tx, &p.resolved, &folded)
        .await
        .map_err(|e| anyhow!("{e:#}; the adoption is rolled back, nothing was changed"))?;
    p.report.to_version = steps.last().map(|s| s.version).unwrap_or(0);
    done("migrate", &mut step_started);
    after_step("migrate", interrupt).await?;

    for c in &p.report.recognition.kept_columns {
        let sql = plan::add_column_sql(c);
        tx.batch_execute(&sql)
            .await
            .map_err(|e| step_error("kept_objects", &sql, &e))?;
    }
    for sql in &p.deferred.drop {
        tx.batch_execute(sql)
            .await
            .map_err(|e| step_error("copy", sql, &e))?;
    }
    for c in &p.copies {
        if bare(&c.table) == "tasks"
            && p.target
                .column("public.organizations", "last_task_number")
                .is_some()
        {
            tx.batch_execute(task_counter_sql())
                .await
                .map_err(|e| step_error("copy", task_counter_sql(), &e))?;
        }
        tx.batch_execute(&c.sql)
            .await
            .map_err(|e| step_error("copy", &c.sql, &e))?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})",
                    qualified(&c.table),
                    plan::old_table(&c.table)
                ),
                &[],
            )
            .await?;
        let (new, old): (i64, i64) = (row.get(0), row.get(1));
        if new != old {
            return Err(anyhow!(
                "{} received {new} rows of {old}; the adoption is rolled back, nothing was changed",
                c.table
            ));
        }
    }
    done("copy", &mut step_started);
    after_step("copy", interrupt).await?;

    for sql in &p.deferred.build {
        tx.batch_execute(sql)
            .await
            .map_err(|e| step_error("rebuild", sql, &e))?;
    }
    done("rebuild", &mut step_started);
    after_step("rebuild", interrupt).await?;

    if p.report.alembic_version.is_some() {
        tx.batch_execute(ALEMBIC_COMMENT)
            .await
            .map_err(|e| step_error("kept_objects", ALEMBIC_COMMENT, &e))?;
    }
    for i in &p.report.recognition.kept_indexes {
        let sql = plan::kept_index_sql(i);
        tx.batch_execute(&sql)
            .await
            .map_err(|e| step_error("kept_objects", &sql, &e))?;
    }
    done("kept_objects", &mut step_started);
    after_step("kept_objects", interrupt).await?;

    for role in &p.report.application_roles {
        let sql = format!("GRANT {TENANT_ROLE} TO {}", plan::ident(role));
        tx.batch_execute(&sql)
            .await
            .map_err(|e| step_error("grant_tenant", &sql, &e))?;
    }
    done("grant_tenant", &mut step_started);
    after_step("grant_tenant", interrupt).await?;

    let now = catalog::read(&tx, &["public"]).await?;
    let unexpected: Vec<String> = catalog::diff(&p.target, &now)
        .into_iter()
        .filter(|d| !explained(d, &p.report.recognition))
        .map(|d| d.to_string())
        .collect();
    if !unexpected.is_empty() {
        return Err(anyhow!(
            "after the conversion, schema public differs from arcdb's schema in {} way(s): {}; the adoption is rolled back, nothing was changed",
            unexpected.len(),
            unexpected.into_iter().take(5).collect::<Vec<_>>().join("; ")
        ));
    }
    done("verify", &mut step_started);
    after_step("verify", interrupt).await?;

    let drop = format!("DROP SCHEMA {OLD_SCHEMA} CASCADE");
    tx.batch_execute(&drop)
        .await
        .map_err(|e| step_error("drop_old", &drop, &e))?;
    done("drop_old", &mut step_started);
    after_step("drop_old", interrupt).await?;

    // The statements the plan shows (the same function of the same schema).
    for sql in &refresh_statements(&p.target)? {
        tx.batch_execute(sql)
            .await
            .map_err(|e| step_error("refresh", sql, &e))?;
    }
    done("refresh", &mut step_started);
    after_step("refresh", interrupt).await?;

    tx.commit().await?;
    let held = locked_at.elapsed().as_millis() as u64;
    done("commit", &mut step_started);
    for (step, ms) in timings {
        if let Some(s) = p.report.plan.iter_mut().find(|s| s.step == step) {
            s.duration_ms = Some(ms);
        }
    }
    p.report.dry_run = false;
    p.report.locks_held_ms = Some(held);
    Ok(())
}

/// Differences after the conversion that the report already names: kept objects, and what
/// adopt leaves as it is (Alembic's table, the schema's own grants).
fn explained(d: &Difference, r: &Recognition) -> bool {
    let alembic = d.object.starts_with("public.alembic_version");
    match (d.object_kind, d.change) {
        (ObjectKind::Column, Change::Extra) => {
            alembic || r.kept_columns.iter().any(|c| c.qualified() == d.object)
        }
        (ObjectKind::Index, Change::Extra) => {
            alembic || r.kept_indexes.iter().any(|i| i.name == d.object)
        }
        (ObjectKind::Table | ObjectKind::Constraint, Change::Extra) => alembic,
        (ObjectKind::Schema, _) | (ObjectKind::Extension, Change::Extra) => true,
        _ => false,
    }
}

fn step_error(step: &str, sql: &str, e: &tokio_postgres::Error) -> anyhow::Error {
    let head: String = sql.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
    anyhow!(
        "step {step} failed at `{head} …`: {}; the adoption is rolled back, nothing was changed",
        crate::db::server_message(e)
    )
}
