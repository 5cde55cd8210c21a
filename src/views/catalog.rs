//! The managed materialized views as the catalog describes them, and the names a user gives
//! resolved against them.

use super::tenant_tables::{self, TenantTable};
use super::MANAGED_SCHEMA;
use crate::db::{quoted_name, Db};
use crate::error::Refusal;
use anyhow::Context;
use futures_util::future::try_join;
use futures_util::TryFutureExt;
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

const CATALOG: &str = include_str!("catalog.sql");
const CATALOG_COCKROACH: &str = include_str!("catalog_cockroach.sql");

/// A UNIQUE index of a materialized view, with what PostgreSQL checks before it uses one for
/// REFRESH … CONCURRENTLY (matview.c, `is_usable_unique_index`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UniqueIndex {
    pub name: String,
    pub valid: bool,
    pub immediate: bool,
    pub btree: bool,
    pub partial: bool,
    /// Only plain user columns: no expression, no system column.
    pub plain_columns: bool,
}

impl UniqueIndex {
    /// Why PostgreSQL would not use it for a concurrent refresh; `None` when it would.
    pub fn unusable_because(&self) -> Option<&'static str> {
        if !self.valid {
            Some("is not valid")
        } else if self.partial {
            Some("is partial (has a WHERE clause)")
        } else if !self.plain_columns {
            Some("is on an expression, not only on columns")
        } else if !self.btree {
            Some("is not a btree index")
        } else if !self.immediate {
            Some("is deferrable")
        } else {
            None
        }
    }
}

/// A view that reads a materialized view: the path tenants are meant to read it through.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct TenantView {
    pub schema: String,
    pub name: String,
    pub security_barrier: bool,
    pub security_invoker: bool,
    /// Whether its definition calls `current_org_id()` or `current_setting()` (a heuristic;
    /// `verify-rls` probes it).
    pub filters_by_current_org: bool,
    /// Whether `arcdesk_tenant` may SELECT it (`None` when the role does not exist).
    pub granted_to_tenant: Option<bool>,
}

/// A managed materialized view as the catalog describes it.
#[derive(Debug, Clone)]
pub struct MatView {
    pub oid: i64,
    pub schema: String,
    pub name: String,
    pub owner: String,
    pub populated: bool,
    pub reltuples: Option<f64>,
    pub can_select: bool,
    pub unique_indexes: Vec<UniqueIndex>,
    /// Other materialized views it reads (oids): refreshed before it.
    pub reads_matviews: Vec<i64>,
    pub tenant_views: Vec<TenantView>,
    /// Whether `arcdesk_tenant` may read the materialized view itself (it must not).
    pub tenant_can_read: Option<bool>,
    /// Tables it reads under FORCE ROW LEVEL SECURITY while its owner is subject to policies.
    pub forced_rls_tables: Vec<String>,
    /// Tables `arcdb refresh` keeps equal to it (their comment names it): the tenant-facing path.
    pub tenant_tables: Vec<TenantTable>,
}

impl MatView {
    fn from_row(row: &Row) -> anyhow::Result<MatView> {
        let json = |col: &str| -> anyhow::Result<serde_json::Value> {
            Ok(row
                .try_get::<_, Option<serde_json::Value>>(col)?
                .unwrap_or(serde_json::Value::Array(Vec::new())))
        };
        Ok(MatView {
            oid: row.try_get("oid")?,
            schema: row.try_get("schema")?,
            name: row.try_get("name")?,
            owner: row.try_get("owner")?,
            populated: row.try_get("populated")?,
            reltuples: row.try_get("reltuples")?,
            can_select: row.try_get("can_select")?,
            unique_indexes: serde_json::from_value(json("unique_indexes")?)
                .context("reading the unique indexes of a materialized view")?,
            reads_matviews: row.try_get("reads_matviews")?,
            tenant_views: serde_json::from_value(json("tenant_views")?)
                .context("reading the views over a materialized view")?,
            tenant_can_read: row.try_get("tenant_can_read")?,
            forced_rls_tables: row.try_get("forced_rls_tables")?,
            tenant_tables: Vec::new(),
        })
    }

    /// The quoted, schema-qualified name for SQL.
    pub(super) fn sql_name(&self) -> String {
        quoted_name(&self.schema, &self.name)
    }

    /// The name for people: unqualified in the managed schema.
    pub fn display_name(&self) -> String {
        if self.schema == MANAGED_SCHEMA {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }

    /// What a person should know before trusting this view (empty when all is well).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.tenant_can_read == Some(true) {
            warnings.push(format!(
                "arcdesk_tenant can read {} itself: a materialized view has no row-level security, so every tenant sees every organization's rows; revoke the grant and let tenants read it through a table under row-level security that arcdb refresh keeps up to date (a comment tag arcdb:refreshed-from, as in migration 0009)",
                self.display_name()
            ));
        }
        if !self.forced_rls_tables.is_empty() {
            warnings.push(format!(
                "{} reads {} under FORCE ROW LEVEL SECURITY and its owner {} is neither superuser nor BYPASSRLS: REFRESH runs as the owner, so it stores only the rows the policies show the owner (none when app.current_org_id is unset)",
                self.display_name(),
                self.forced_rls_tables.join(", "),
                self.owner
            ));
        }
        for ix in self.unique_indexes.iter().filter(|ix| !ix.valid) {
            warnings.push(format!(
                "unique index {} of {} is not valid (left by a failed CREATE UNIQUE INDEX CONCURRENTLY?): every refresh rebuilds it and fails if the rows are not unique; drop it or REINDEX it",
                ix.name,
                self.display_name()
            ));
        }
        for t in &self.tenant_tables {
            warnings.extend(t.warnings());
        }
        for v in &self.tenant_views {
            if v.granted_to_tenant == Some(true) && v.security_invoker {
                warnings.push(format!(
                    "{} (granted to arcdesk_tenant) is security_invoker: tenants would need SELECT on the unprotected {}",
                    v.name,
                    self.display_name()
                ));
            } else if v.granted_to_tenant == Some(true) && !v.security_barrier {
                warnings.push(format!(
                    "{} (granted to arcdesk_tenant) is not a security_barrier view: a tenant's own WHERE clauses may run before its organization filter",
                    v.name
                ));
            }
        }
        warnings
    }
}

/// Every managed materialized view, by name, with its tenant tables; and a warning for each
/// tenant table whose tag names no managed materialized view (nothing keeps it up to date).
pub async fn managed_views(db: &Db) -> anyhow::Result<(Vec<MatView>, Vec<String>)> {
    let sql = if db.engine.supports_concurrent_refresh() {
        CATALOG
    } else {
        CATALOG_COCKROACH
    };
    // Both catalog reads in one round trip, each unprepared (no statement to describe first).
    let (rows, tables) = try_join(
        db.client.query_typed(sql, &[]).map_err(|e| {
            anyhow::Error::new(e).context("cannot read the materialized views from the catalog")
        }),
        tenant_tables::tenant_tables(&db.client).map_err(|e| {
            anyhow::Error::new(e)
                .context("cannot read the tenant tables (arcdb:refreshed-from) from the catalog")
        }),
    )
    .await?;
    let mut views = rows
        .iter()
        .map(MatView::from_row)
        .collect::<anyhow::Result<Vec<MatView>>>()?;
    let mut unlinked = Vec::new();
    for table in tables {
        let (schema, name) = table.source();
        match views
            .iter_mut()
            .find(|v| v.schema == schema && v.name == name)
        {
            Some(mv) => mv.tenant_tables.push(table),
            None => unlinked.push(format!(
                "{} is tagged arcdb:refreshed-from: {schema}.{name}, which is not a managed materialized view: arcdb refresh does not update it; correct the tag in its comment",
                table.name
            )),
        }
    }
    Ok((views, unlinked))
}

// -------------------------------------------------------------------------------------------
// Resolving names
// -------------------------------------------------------------------------------------------

/// The managed views the command line names (all when none), or a one-line usage error naming
/// every name that is not a managed materialized view.
pub(super) async fn select(
    db: &Db,
    all: Vec<MatView>,
    names: &[String],
) -> anyhow::Result<Vec<MatView>> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut chosen: Vec<MatView> = Vec::new();
    let mut problems = Vec::new();
    for given in names {
        let (schema, name) = match given.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, given.as_str()),
        };
        // Exactly as stored, else as PostgreSQL folds an unquoted identifier (lower case).
        let find = |fold: bool| {
            let fold = |text: &str| {
                if fold {
                    text.to_lowercase()
                } else {
                    text.to_string()
                }
            };
            all.iter()
                .find(|v| schema.is_none_or(|s| v.schema == fold(s)) && v.name == fold(name))
        };
        match find(false).or_else(|| find(true)) {
            Some(v) => {
                if !chosen.iter().any(|c| c.oid == v.oid) {
                    chosen.push(v.clone());
                }
            }
            None => problems.push(explain_unknown(db, schema, name, given).await?),
        }
    }
    if problems.is_empty() {
        return Ok(chosen);
    }
    let known = if all.is_empty() {
        format!("there is no materialized view in schema {MANAGED_SCHEMA}")
    } else {
        let names: Vec<String> = all.iter().map(MatView::display_name).collect();
        format!("the managed materialized views are {}", names.join(", "))
    };
    Err(Refusal::usage(format!(
        "{} ({known}); nothing was refreshed",
        problems.join("; ")
    ))
    .into())
}

/// Why `given` is not a managed materialized view, in a few words.
async fn explain_unknown(
    db: &Db,
    schema: Option<&str>,
    name: &str,
    given: &str,
) -> anyhow::Result<String> {
    let found = db
        .client
        .query_opt(
            "SELECT n.nspname::text, c.relkind::text,
                    ARRAY(SELECT DISTINCT m.relname::text
                            FROM pg_rewrite AS r
                            JOIN pg_depend AS d
                              ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                             AND d.refclassid = 'pg_class'::regclass
                            JOIN pg_class AS m ON m.oid = d.refobjid AND m.relkind = 'm'
                           WHERE r.ev_class = c.oid AND m.oid <> c.oid
                           ORDER BY 1),
                    substring(obj_description(c.oid, 'pg_class')
                              FROM 'arcdb:refreshed-from:\\s*([A-Za-z_][A-Za-z0-9_$.]*[A-Za-z0-9_$])')
               FROM pg_class AS c
               JOIN pg_namespace AS n ON n.oid = c.relnamespace
              WHERE c.relname::text IN ($2::text, lower($2::text))
                AND ($1::text IS NULL OR n.nspname::text IN ($1::text, lower($1::text)))
                AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              ORDER BY n.nspname = 'public' DESC, c.relname::text = $2::text DESC, n.nspname
              LIMIT 1",
            &[&schema, &name],
        )
        .await
        .with_context(|| format!("cannot look up '{given}' in the catalog"))?;
    let Some(row) = found else {
        return Ok(format!("unknown materialized view '{given}'"));
    };
    let found_schema: String = row.get(0);
    let kind: String = row.get(1);
    let reads: Vec<String> = row.get(2);
    let refreshed_from: Option<String> = row.get(3);
    Ok(match kind.as_str() {
        "m" => format!(
            "{found_schema}.{name} is a materialized view outside schema {MANAGED_SCHEMA}, which arcdb does not manage"
        ),
        "v" if reads.is_empty() => {
            format!("{given} is a view, not materialized: there is nothing to refresh")
        }
        "v" => format!(
            "{given} is a view, not materialized: there is nothing to refresh (it reads {}: refresh that)",
            reads.join(", ")
        ),
        "r" | "p" => match refreshed_from {
            Some(mv) => format!(
                "{given} is a table, not a materialized view (arcdb refresh keeps it up to date from {mv}: refresh that)"
            ),
            None => format!("{given} is a table, not a materialized view"),
        },
        _ => format!("{given} is not a materialized view"),
    })
}
