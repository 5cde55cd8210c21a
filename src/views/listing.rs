//! `arcdb views`: every managed materialized view with its size, rows, refresh mode, tenant
//! path and latest refresh.

use super::catalog::{managed_views, MatView, TenantView};
use super::log::last_refreshes;
use super::mode::{decide, Mode};
use super::{lock_holders, TenantTable, MANAGED_SCHEMA};
use crate::db::{server_message, Db};
use crate::output::{table, Report};
use chrono::{DateTime, Utc};
use futures_util::future::try_join;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

/// `arcdb views` counts the rows of a view whose heap is at most this big; above, it shows the
/// planner's estimate (`pg_class.reltuples`).
const EXACT_COUNT_MAX_BYTES: i64 = 8 * 1024 * 1024;
/// How long `arcdb views` waits to measure a view (its size and rows need ACCESS SHARE, which a
/// plain refresh in progress holds up) before it reports it as locked instead.
const MEASURE_LOCK_TIMEOUT: &str = "1s";

/// Where a row count comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowsSource {
    /// `count(*)`: the view is small enough.
    Count,
    /// `pg_class.reltuples`: the planner's estimate from the last ANALYZE/VACUUM or plain refresh.
    Estimate,
    /// Not populated, or no estimate yet.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastRefresh {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub rows: Option<i64>,
    pub mode: String,
    pub outcome: String,
    pub error: Option<String>,
    /// Seconds since it finished (server clock).
    pub age_seconds: f64,
    /// When the latest successful refresh finished (the age of the data).
    pub last_ok_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct ViewEntry {
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub rows: Option<i64>,
    pub rows_source: RowsSource,
    /// pg_total_relation_size: heap, indexes and TOAST (null when not measured).
    pub size_bytes: Option<i64>,
    /// Why size and rows could not be measured (the view was locked), if so.
    pub not_measured: Option<String>,
    pub populated: bool,
    /// Whether `arcdb refresh` would refresh it CONCURRENTLY now.
    pub concurrent_refresh: bool,
    pub refresh_mode: Mode,
    pub mode_reason: String,
    pub unique_indexes: Vec<String>,
    /// Tables `arcdb refresh` keeps equal to it: the tenant-facing path since migration 0009
    /// (granted to arcdesk_tenant, under the tenant policy).
    pub tenant_tables: Vec<TenantTable>,
    /// Views reading it (a tenant-facing path too when granted to arcdesk_tenant and filtered
    /// by current_org_id()).
    pub tenant_views: Vec<TenantView>,
    /// Whether arcdesk_tenant can read the materialized view itself (must be false; null when
    /// the role does not exist).
    pub tenant_can_read: Option<bool>,
    pub warnings: Vec<String>,
    /// The latest attempt in arcdb.refresh_log; null when never refreshed by arcdb.
    pub last_refresh: Option<LastRefresh>,
}

#[derive(Debug, Serialize)]
pub struct ViewsReport {
    pub target: String,
    pub engine: String,
    /// What "managed" means.
    pub managed: String,
    pub views: Vec<ViewEntry>,
    /// Tenant tables whose tag names no managed materialized view.
    pub warnings: Vec<String>,
}

impl Report for ViewsReport {
    fn render_table(&self) -> String {
        if self.views.is_empty() {
            return format!(
                "{} ({}): no materialized views in schema {MANAGED_SCHEMA}",
                self.target, self.engine
            );
        }
        let rows = self.views.iter().map(|v| {
            let rows = match (v.rows, v.rows_source) {
                (Some(n), RowsSource::Count) => n.to_string(),
                (Some(n), RowsSource::Estimate) => format!("~{n}"),
                _ if !v.populated => "not populated".into(),
                _ => "?".into(),
            };
            let (data_age, attempt) = refresh_columns(v.last_refresh.as_ref());
            vec![
                v.name.clone(),
                rows,
                v.size_bytes.map(human_bytes).unwrap_or_else(|| "?".into()),
                v.refresh_mode.as_str().into(),
                data_age,
                attempt,
            ]
        });
        // Six short columns so that it fits 100 columns (tenant views are listed below); timestamps and durations are in the
        // JSON, a rows estimate is marked "~".
        let mut text = table(
            &[
                "view",
                "rows",
                "size",
                "refresh",
                "data age",
                "last attempt",
            ],
            rows,
        );
        for v in &self.views {
            text.push_str(&format!(
                "\n{}: {} refresh — {}",
                v.name,
                v.refresh_mode.as_str(),
                v.mode_reason
            ));
            let tenant: Vec<String> = v
                .tenant_tables
                .iter()
                .filter(|t| t.granted_to_tenant == Some(true))
                .map(|t| format!("table {}", t.name))
                .chain(
                    v.tenant_views
                        .iter()
                        .filter(|t| t.granted_to_tenant == Some(true))
                        .map(|t| format!("view {}", t.name)),
                )
                .collect();
            text.push_str(&format!(
                "\n{}: tenants read it via {}",
                v.name,
                if tenant.is_empty() {
                    "nothing (no table or view granted to arcdesk_tenant)".to_string()
                } else {
                    tenant.join(", ")
                }
            ));
            if let Some(why) = &v.not_measured {
                text.push_str(&format!("\n{}: size and rows not measured: {why}", v.name));
            }
            if let Some(error) = v.last_refresh.as_ref().and_then(|l| l.error.as_ref()) {
                text.push_str(&format!("\n{}: last refresh failed: {error}", v.name));
            }
            for w in &v.warnings {
                text.push_str(&format!("\nwarning: {w}"));
            }
        }
        for w in &self.warnings {
            text.push_str(&format!("\nwarning: {w}"));
        }
        text.push_str(&format!(
            "\n{} ({}): {} managed view(s) ({})",
            self.target,
            self.engine,
            self.views.len(),
            self.managed
        ));
        text
    }
}

/// Every managed view with its size, rows, refresh mode, tenant path and latest refresh.
pub async fn views(db: &Db) -> anyhow::Result<ViewsReport> {
    // The catalog and the refresh log in one flight.
    let ((managed, unlinked), mut last) = try_join(managed_views(db), last_refreshes(db)).await?;
    let mut entries = Vec::with_capacity(managed.len());
    for mv in managed {
        let decision = decide(&db.engine, &mv);
        let measured = measure(db, &mv).await?;
        let last_refresh = last
            .iter()
            .position(|(s, n, _)| *s == mv.schema && *n == mv.name)
            .map(|i| last.remove(i).2);
        entries.push(ViewEntry {
            warnings: mv.warnings(),
            schema: mv.schema,
            name: mv.name,
            owner: mv.owner,
            rows: measured.rows,
            rows_source: measured.rows_source,
            size_bytes: measured.size_bytes,
            not_measured: measured.not_measured,
            populated: mv.populated,
            concurrent_refresh: decision.mode == Mode::Concurrent,
            refresh_mode: decision.mode,
            mode_reason: decision.reason,
            unique_indexes: mv.unique_indexes.into_iter().map(|ix| ix.name).collect(),
            tenant_tables: mv.tenant_tables,
            tenant_views: mv.tenant_views,
            tenant_can_read: mv.tenant_can_read,
            last_refresh,
        });
    }
    Ok(ViewsReport {
        target: db.target(),
        engine: db.engine.describe(),
        managed: format!(
            "every materialized view in schema {MANAGED_SCHEMA}; rows counted exactly up to {} MB of heap, estimated above",
            EXACT_COUNT_MAX_BYTES / (1024 * 1024)
        ),
        views: entries,
        warnings: unlinked,
    })
}

struct Measured {
    size_bytes: Option<i64>,
    rows: Option<i64>,
    rows_source: RowsSource,
    not_measured: Option<String>,
}

/// Size and rows of one view. Both open the view (ACCESS SHARE), which waits behind a plain
/// refresh or DDL in progress: measured in a transaction with a short lock timeout, and on a
/// timeout reported as locked (with the holder) and estimated from the catalog instead.
async fn measure(db: &Db, mv: &MatView) -> anyhow::Result<Measured> {
    let estimate = || match mv.reltuples {
        Some(n) if n >= 0.0 && mv.populated => (Some(n.round() as i64), RowsSource::Estimate),
        _ => (None, RowsSource::Unknown),
    };
    let sizes = db.engine.supports_concurrent_refresh();
    let populated = mv.populated;
    let can_select = mv.can_select;
    let count_sql = format!("SELECT count(*) FROM {}", mv.sql_name());
    let client = &db.client;
    // Unprepared statements, and the lock timeout set with the BEGIN: one round trip each.
    let work = async {
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{MEASURE_LOCK_TIMEOUT}'"
            ))
            .await?;
        let (total, heap) = if sizes {
            let row = client
                .query_typed_one(
                    "SELECT pg_total_relation_size($1::int8::oid), pg_relation_size($1::int8::oid)",
                    &[(&mv.oid, Type::INT8)],
                )
                .await?;
            (Some(row.get::<_, i64>(0)), Some(row.get::<_, i64>(1)))
        } else {
            (None, None)
        };
        let small = heap.is_none_or(|b| b <= EXACT_COUNT_MAX_BYTES);
        let rows = if populated && can_select && small {
            Some(
                client
                    .query_typed_one(&count_sql, &[])
                    .await?
                    .get::<_, i64>(0),
            )
        } else {
            None
        };
        Ok::<_, tokio_postgres::Error>((total, rows))
    }
    .await;
    let _ = client.batch_execute("ROLLBACK").await;
    match work {
        Ok((size_bytes, Some(n))) => Ok(Measured {
            size_bytes,
            rows: Some(n),
            rows_source: RowsSource::Count,
            not_measured: None,
        }),
        Ok((size_bytes, None)) => {
            let (rows, rows_source) = estimate();
            Ok(Measured {
                size_bytes,
                rows,
                rows_source,
                not_measured: None,
            })
        }
        Err(err) if err.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
            let holders = lock_holders(db, mv, &["AccessExclusiveLock"], false).await;
            let (rows, rows_source) = estimate();
            Ok(Measured {
                size_bytes: None,
                rows,
                rows_source,
                not_measured: Some(format!(
                    "locked for more than {MEASURE_LOCK_TIMEOUT} (a plain refresh or DDL in progress?){}",
                    if holders.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", holders.join(", "))
                    }
                )),
            })
        }
        Err(err) => Err(anyhow::anyhow!(
            "cannot measure {}: {}",
            mv.display_name(),
            server_message(&err)
        )),
    }
}

/// Like `pg_size_pretty`: bytes below 10 kB, then kB, MB, GB, TB (rounded half up).
pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes.abs() < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    for (i, unit) in UNITS.iter().enumerate() {
        if value.abs() < 10.0 * 1024.0 || i == UNITS.len() - 1 {
            return format!("{} {unit}", value.round() as i64);
        }
        value /= 1024.0;
    }
    unreachable!("the last unit returns")
}

/// "42 s", "5 min", "3 h", "2 d".
/// The "data age" (since the last *successful* refresh: how old what readers see is) and
/// "last attempt" (outcome, duration or age when it failed) columns of `arcdb views`.
pub(super) fn refresh_columns(last: Option<&LastRefresh>) -> (String, String) {
    let Some(l) = last else {
        return ("never refreshed".into(), "-".into());
    };
    let ok_age = l.last_ok_at.map(|ok| {
        let since_attempt = (l.finished_at - ok).num_milliseconds() as f64 / 1000.0;
        l.age_seconds + since_attempt.max(0.0)
    });
    let data_age = match ok_age {
        Some(age) => human_age(age),
        None => "never refreshed".into(),
    };
    let attempt = if l.error.is_some() || l.outcome == "failed" {
        format!("failed {} ago", human_age(l.age_seconds))
    } else {
        format!("{} ({})", l.outcome, l.mode)
    };
    (data_age, attempt)
}

pub fn human_age(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 90 {
        format!("{s} s")
    } else if s < 90 * 60 {
        format!("{} min", (s + 30) / 60)
    } else if s < 36 * 3600 {
        format!("{} h", (s + 1800) / 3600)
    } else {
        format!("{} d", (s + 43_200) / 86_400)
    }
}
