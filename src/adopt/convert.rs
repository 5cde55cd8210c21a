//! Step 4, the conversion: one transaction under the migration lock, with bounded lock waits
//! that say what they wait for, a check after each step, and nothing left when it stops.

use super::plan::{bare, qualified, OLD_SCHEMA};
use super::recognize::Recognition;
use super::steps::{lock_sql, move_aside_sql, refresh_statements, task_counter_sql};
use super::{count_bad_rows, plan, refuse_if_blocked, Prepared, ALEMBIC_COMMENT, TENANT_ROLE};
use crate::catalog::{self, Change, Difference, ObjectKind};
use crate::db::{sql_ident, Db};
use crate::output::notice;
use anyhow::anyhow;
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;

pub(super) fn progress(what: &str) {
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

pub(super) async fn convert(
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
        let sql = format!("GRANT {TENANT_ROLE} TO {}", sql_ident(role));
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
