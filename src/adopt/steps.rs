//! The conversion's steps, each with its SQL: what `--dry-run` shows and what the report lists,
//! and the statements `convert` runs from them.

use super::plan::{bare, qualified, TableCopy, OLD_SCHEMA};
use super::{
    plan, AdoptReport, PlanStep, ALEMBIC_COMMENT, ALEMBIC_REVISION, ROWS_PER_SECOND, TENANT_ROLE,
};
use crate::catalog::Schema;
use crate::db::sql_ident;
use anyhow::anyhow;

/// The tables; the materialized views (LOCK TABLE refuses them) are locked by their move.
pub(super) fn lock_sql(replaced: &[String]) -> String {
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

pub(super) fn move_aside_sql(expected_views: &[String], replaced: &[String]) -> Vec<String> {
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

pub(super) fn plan_steps(
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
                .map(|r| format!("GRANT {TENANT_ROLE} TO {}", sql_ident(r)))
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
pub(super) fn refresh_statements(target: &Schema) -> anyhow::Result<Vec<String>> {
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
pub(super) fn task_counter_sql() -> &'static str {
    "UPDATE public.organizations n SET last_task_number = m.top FROM (SELECT organization_id, max(task_number) AS top FROM arcdb_adopt_old.tasks GROUP BY organization_id) m WHERE n.id = m.organization_id"
}

pub(super) fn application_changes(
    deployed: &Schema,
    target: &Schema,
    replaced: &[String],
) -> Vec<String> {
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
