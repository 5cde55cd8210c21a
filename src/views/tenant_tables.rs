//! Tenant tables: plain tables under row-level security that `arcdb refresh` keeps equal to a
//! materialized view, so that tenants read analytics at the cost of the materialized view
//! itself (a security_barrier view over it cost ~48 µs more per statement; migration 0009).
//!
//! Which table follows which materialized view is data, not code: the table's comment carries
//! `arcdb:refreshed-from: <materialized view>`, a column named otherwise in the materialized
//! view carries `arcdb:refreshed-from: <column>`, and rows are matched on the table's primary
//! key. After each refresh, in the same transaction where the engine allows it, the difference
//! is applied (DELETE of the rows gone, INSERT … ON CONFLICT DO UPDATE of the new and changed
//! ones), which takes only ROW EXCLUSIVE on the table: no reader ever waits, and readers see
//! the new contents when the refresh commits.

use crate::catalog::Schema;
use crate::db::{quoted_ident, quoted_name};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

const CATALOG: &str = include_str!("tenant_tables.sql");
const DELETE_GONE: &str = include_str!("tenant_table_delete.sql");
const UPSERT_CHANGED: &str = include_str!("tenant_table_upsert.sql");

/// A table `arcdb refresh` keeps equal to a materialized view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantTable {
    pub schema: String,
    pub name: String,
    /// The materialized view, as its comment names it (unqualified = the table's schema).
    #[serde(skip)]
    source: String,
    /// The table's columns in order, each with the materialized view's column it is filled from.
    #[serde(skip)]
    columns: Vec<(String, String)>,
    /// Its primary key columns, in key order: what rows are matched on.
    pub key: Vec<String>,
    pub rls_enabled: bool,
    /// Whether `arcdesk_tenant` may SELECT it (`None` when the role does not exist).
    pub granted_to_tenant: Option<bool>,
}

impl TenantTable {
    fn from_row(row: &Row) -> Result<TenantTable, tokio_postgres::Error> {
        let columns: Vec<String> = row.try_get("columns")?;
        let sources: Vec<String> = row.try_get("source_columns")?;
        Ok(TenantTable {
            schema: row.try_get("schema")?,
            name: row.try_get("name")?,
            source: row.try_get("source")?,
            columns: columns.into_iter().zip(sources).collect(),
            key: row.try_get("key")?,
            rls_enabled: row.try_get("rls_enabled")?,
            granted_to_tenant: row.try_get("granted_to_tenant")?,
        })
    }

    /// The (schema, name) of the materialized view it follows.
    pub fn source(&self) -> (&str, &str) {
        match self.source.split_once('.') {
            Some((schema, name)) => (schema, name),
            None => (&self.schema, &self.source),
        }
    }

    /// The quoted, schema-qualified name for SQL.
    pub fn sql_name(&self) -> String {
        quoted_name(&self.schema, &self.name)
    }

    /// The statements that bring it up to date with `source_sql` (the quoted materialized
    /// view): the DELETE of rows gone, then the upsert of new and changed rows. Refused when
    /// the table has no primary key to match rows on.
    pub fn sync_statements(&self, source_sql: &str) -> Result<[String; 2], String> {
        if self.key.is_empty() {
            return Err(format!(
                "{} (refreshed from {}) has no primary key, so its rows cannot be matched to the materialized view's: add one, such as its unique key led by organization_id",
                self.name, self.source
            ));
        }
        let source_of = |column: &String| -> String {
            self.columns
                .iter()
                .find(|(c, _)| c == column)
                .map_or_else(|| column.clone(), |(_, s)| s.clone())
        };
        let list = |items: Vec<String>| items.join(", ");
        let key_match = self
            .key
            .iter()
            .map(|k| format!("s.{} = t.{}", quoted_ident(&source_of(k)), quoted_ident(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let non_key: Vec<&String> = self
            .columns
            .iter()
            .map(|(c, _)| c)
            .filter(|c| !self.key.contains(c))
            .collect();
        // A table of key columns only has nothing to update: the key itself is "updated" to
        // the same value, and the IS DISTINCT FROM test keeps that from writing anything.
        let update: Vec<&String> = if non_key.is_empty() {
            self.key.iter().collect()
        } else {
            non_key
        };
        let replacements = [
            ("{table}", self.sql_name()),
            ("{source}", source_sql.to_string()),
            ("{key_match}", key_match),
            (
                "{columns}",
                list(self.columns.iter().map(|(c, _)| quoted_ident(c)).collect()),
            ),
            (
                "{source_columns}",
                list(
                    self.columns
                        .iter()
                        .map(|(_, s)| format!("s.{}", quoted_ident(s)))
                        .collect(),
                ),
            ),
            (
                "{key}",
                list(self.key.iter().map(|k| quoted_ident(k)).collect()),
            ),
            (
                "{update_columns}",
                list(update.iter().map(|c| quoted_ident(c)).collect()),
            ),
            (
                "{excluded_update_columns}",
                list(
                    update
                        .iter()
                        .map(|c| format!("EXCLUDED.{}", quoted_ident(c)))
                        .collect(),
                ),
            ),
            (
                "{table_update_columns}",
                list(
                    update
                        .iter()
                        .map(|c| format!("t.{}", quoted_ident(c)))
                        .collect(),
                ),
            ),
        ];
        let fill = |template: &str| {
            let mut sql = statement_text(template);
            for (placeholder, value) in &replacements {
                sql = sql.replace(placeholder, value);
            }
            sql
        };
        Ok([fill(DELETE_GONE), fill(UPSERT_CHANGED)])
    }

    /// What a person should know before trusting it (empty when all is well).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.granted_to_tenant == Some(true) && !self.rls_enabled {
            warnings.push(format!(
                "{} (granted to arcdesk_tenant, refreshed from {}) has row-level security disabled: every tenant reads every organization's rows; ALTER TABLE {} ENABLE ROW LEVEL SECURITY with the tenant policy",
                self.name, self.source, self.name
            ));
        }
        warnings
    }
}

/// A template without its comment lines, trimmed: the statement as sent and as `--dry-run`
/// shows it.
fn statement_text(template: &str) -> String {
    template
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Every tagged table in the managed schema.
pub async fn tenant_tables(
    client: &impl GenericClient,
) -> Result<Vec<TenantTable>, tokio_postgres::Error> {
    let rows = client.query_typed(CATALOG, &[]).await?;
    rows.iter().map(TenantTable::from_row).collect()
}

/// The relation a comment's `arcdb:refreshed-from:` tag names (`schema.name` or `name`), as
/// tenant_tables.sql reads it.
fn tag(comment: &str) -> Option<&str> {
    let (_, after) = comment.split_once("arcdb:refreshed-from:")?;
    let after = after.trim_start();
    let end = after
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.'))
        .unwrap_or(after.len());
    let name = after[..end].trim_end_matches('.');
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well.then_some(name)
}

impl TenantTable {
    /// The tenant tables of a catalog snapshot (the schema `arcdb adopt` builds), from the
    /// same tags tenant_tables.sql reads in a live database.
    pub fn from_schema(schema: &Schema) -> Vec<TenantTable> {
        schema
            .tables
            .iter()
            .filter_map(|t| {
                let source = tag(t.comment.as_deref()?)?.to_string();
                let (table_schema, name) = t.name.split_once('.')?;
                let columns = schema
                    .columns_of(&t.name)
                    .into_iter()
                    .map(|c| {
                        let from = c.comment.as_deref().and_then(tag).unwrap_or(&c.name);
                        (c.name.clone(), from.to_string())
                    })
                    .collect();
                let key = schema
                    .constraints_of(&t.name)
                    .into_iter()
                    .find(|c| c.kind == "p")
                    .map(|c| c.columns.clone())
                    .unwrap_or_default();
                let granted_to_tenant = t.acl.split(',').any(|item| {
                    item.strip_prefix("arcdesk_tenant=")
                        .is_some_and(|rights| rights.split('/').next().unwrap_or("").contains('r'))
                });
                Some(TenantTable {
                    schema: table_schema.to_string(),
                    name: name.to_string(),
                    source,
                    columns,
                    key,
                    rls_enabled: t.rls_enabled,
                    granted_to_tenant: Some(granted_to_tenant),
                })
            })
            .collect()
    }
}

/// How one tenant table was brought up to date.
#[derive(Debug, Clone, Serialize)]
pub struct TableSync {
    pub schema: String,
    pub name: String,
    /// Rows deleted (gone from the materialized view); absent in a dry run.
    pub deleted: Option<u64>,
    /// Rows inserted or updated (new or changed); absent in a dry run.
    pub upserted: Option<u64>,
}

/// Apply the statements of [`TenantTable::sync_statements`] and count what they changed.
pub async fn apply(
    client: &impl GenericClient,
    table: &TenantTable,
    statements: &[String; 2],
) -> Result<TableSync, tokio_postgres::Error> {
    let deleted = client.execute(statements[0].as_str(), &[]).await?;
    let upserted = client.execute(statements[1].as_str(), &[]).await?;
    Ok(TableSync {
        schema: table.schema.clone(),
        name: table.name.clone(),
        deleted: Some(deleted),
        upserted: Some(upserted),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[(&str, &str)], key: &[&str]) -> TenantTable {
        TenantTable {
            schema: "public".into(),
            name: "mv_desk_performance".into(),
            source: "desk_performance_mv".into(),
            columns: columns
                .iter()
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect(),
            key: key.iter().map(|k| k.to_string()).collect(),
            rls_enabled: true,
            granted_to_tenant: Some(true),
        }
    }

    #[test]
    fn sync_matches_on_the_key_and_fills_renamed_columns_from_their_source() {
        let t = table(
            &[
                ("organization_id", "organization_id"),
                ("desk_id", "desk_id"),
                ("desk_identifier", "desk_code"),
            ],
            &["organization_id", "desk_id"],
        );
        let [delete, upsert] = t
            .sync_statements("\"public\".\"desk_performance_mv\"")
            .unwrap();
        assert_eq!(
            delete,
            "DELETE FROM \"public\".\"mv_desk_performance\" AS t\n \
             WHERE NOT EXISTS (SELECT 1 FROM \"public\".\"desk_performance_mv\" AS s WHERE s.\"organization_id\" = t.\"organization_id\" AND s.\"desk_id\" = t.\"desk_id\")"
        );
        assert_eq!(
            upsert,
            "INSERT INTO \"public\".\"mv_desk_performance\" AS t (\"organization_id\", \"desk_id\", \"desk_identifier\")\n\
             SELECT s.\"organization_id\", s.\"desk_id\", s.\"desk_code\" FROM \"public\".\"desk_performance_mv\" AS s\n    \
             ON CONFLICT (\"organization_id\", \"desk_id\") DO UPDATE SET (\"desk_identifier\") = ROW(EXCLUDED.\"desk_identifier\")\n \
             WHERE ROW(t.\"desk_identifier\") IS DISTINCT FROM ROW(EXCLUDED.\"desk_identifier\")"
        );
    }

    #[test]
    fn a_table_without_primary_key_is_refused_naming_it() {
        let t = table(&[("organization_id", "organization_id")], &[]);
        let err = t.sync_statements("mv").unwrap_err();
        assert!(err.contains("mv_desk_performance"), "{err}");
        assert!(err.contains("no primary key"), "{err}");
    }

    #[test]
    fn the_source_is_in_the_tables_schema_unless_qualified() {
        let mut t = table(
            &[("organization_id", "organization_id")],
            &["organization_id"],
        );
        assert_eq!(t.source(), ("public", "desk_performance_mv"));
        t.source = "reporting.mv_x".into();
        assert_eq!(t.source(), ("reporting", "mv_x"));
    }

    #[test]
    fn the_tag_is_the_name_after_it_without_a_closing_period() {
        assert_eq!(
            tag("Rows for tenants. arcdb:refreshed-from: desk_performance_mv"),
            Some("desk_performance_mv")
        );
        assert_eq!(
            tag("arcdb:refreshed-from:reporting.mv_x. More text"),
            Some("reporting.mv_x")
        );
        assert_eq!(tag("no tag here"), None);
        assert_eq!(tag("arcdb:refreshed-from: 1abc"), None);
    }

    #[test]
    fn a_granted_table_without_rls_is_a_warning() {
        let mut t = table(
            &[("organization_id", "organization_id")],
            &["organization_id"],
        );
        assert!(t.warnings().is_empty());
        t.rls_enabled = false;
        assert!(t.warnings()[0].contains("row-level security disabled"));
    }
}
