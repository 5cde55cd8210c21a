//! The catalog as the probes need it: which tables and views hold tenant rows, their
//! columns, keys and the tenant's privileges, and the foreign keys between them.

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) name: String,
    /// `format_type` of the column.
    pub(super) ty: String,
    /// `pg_type.typcategory`: S string, N numeric, U user (uuid), …
    pub(super) category: char,
    /// Not generated and not GENERATED ALWAYS AS IDENTITY.
    pub(super) writable: bool,
    pub(super) tenant_may_insert: bool,
    pub(super) tenant_may_update: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Table {
    /// `schema.name`, for people.
    pub(super) name: String,
    /// `"schema"."name"`, for SQL.
    pub(super) sql: String,
    /// `schema.name` quoted where needed (`quote_ident`), as the audit's findings and the fixes
    /// name it.
    pub(super) qname: String,
    /// `r`, `p` (tables), `v` (view), `m` (materialized view).
    pub(super) kind: char,
    pub(super) rls_enabled: bool,
    /// Tagged `arcdb:global:` (intentionally shared by every organization).
    pub(super) global: bool,
    /// The connecting role is itself subject to RLS here (FORCE, or not the owner), so it
    /// cannot count the true rows.
    pub(super) filtered_for_owner: bool,
    pub(super) is_root: bool,
    pub(super) tc: String,
    pub(super) tc_ty: String,
    pub(super) columns: Vec<Column>,
    pub(super) pk: Vec<String>,
    pub(super) unique_columns: BTreeSet<String>,
    /// Boolean columns named in the predicate of a partial unique index (`… WHERE is_default`):
    /// flipping them is another way to make a copied row unique.
    pub(super) partial_bools: BTreeSet<String>,
    pub(super) fk_columns: BTreeSet<String>,
    pub(super) can_select: bool,
    pub(super) can_insert: bool,
    pub(super) can_update: bool,
    pub(super) can_delete: bool,
}

impl Table {
    pub(super) fn is_table(&self) -> bool {
        matches!(self.kind, 'r' | 'p')
    }
    /// Not shared on purpose, and (for tables) countable by the connecting role.
    pub(super) fn probed(&self) -> bool {
        if self.global {
            return false;
        }
        !self.is_table() || !self.filtered_for_owner
    }
    pub(super) fn tc_sql(&self) -> String {
        quoted_ident(&self.tc)
    }
    /// `"tc" = $n::text::type`
    pub(super) fn tc_is(&self, param: usize) -> String {
        format!("{} = ${param}::text::{}", self.tc_sql(), self.tc_ty)
    }
    /// `'<org>'::text::type`
    pub(super) fn tc_value(&self, org: &str) -> String {
        format!("{}::text::{}", lit(org), self.tc_ty)
    }
    pub(super) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// The scoped predicate every tenant policy of this table should have.
    pub(super) fn scoped(&self, tenancy: &crate::rls::tenancy::Tenancy, setting: &str) -> String {
        crate::rls::fix::scope_predicate(tenancy, &self.tc, &self.tc_ty, setting)
    }
    /// `(a, b) IN (SELECT a, b FROM jsonb_populate_recordset(NULL::t, '<keys>'::jsonb))`
    pub(super) fn pk_in(&self, keys: &Value) -> String {
        self.pk_in_json(&format!("{}::jsonb", lit(&keys.to_string())))
    }
    /// Like [`Table::pk_in`], with the keys given by a jsonb expression.
    pub(super) fn pk_in_json(&self, keys: &str) -> String {
        let cols: Vec<String> = self.pk.iter().map(|c| quoted_ident(c)).collect();
        let cols = cols.join(", ");
        format!(
            "({cols}) IN (SELECT {cols} FROM jsonb_populate_recordset(NULL::{}, {keys}))",
            self.sql
        )
    }
    pub(super) fn pk_of(&self, row: &Map<String, Value>) -> Value {
        let mut key = Map::new();
        for col in &self.pk {
            key.insert(col.clone(), row.get(col).cloned().unwrap_or(Value::Null));
        }
        Value::Object(key)
    }
}

#[derive(Debug, Clone)]
pub(super) struct ForeignKey {
    pub(super) name: String,
    pub(super) child: usize,
    pub(super) parent: usize,
    /// (child column, parent column) pairs that are not the tenant column.
    pub(super) refs: Vec<(String, String)>,
    /// Whether the key includes the tenant column on both sides.
    pub(super) composite: bool,
}

pub(super) async fn read_catalog(
    tx: Tx<'_>,
    opts: &VerifyOptions,
) -> anyhow::Result<(Vec<Table>, Vec<ForeignKey>)> {
    let exists = tx
        .query(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&opts.tenant_role],
        )
        .await?;
    if exists.is_empty() {
        return Err(anyhow!(
            "the tenant role {} does not exist: apply the migrations (arcdb up) or name the role with --tenant-role",
            opts.tenant_role
        ));
    }
    let rows = tx
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relrowsecurity,
                    coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'arcdb:global:%',
                    CASE WHEN c.relkind IN ('r', 'p') THEN row_security_active(c.oid) ELSE false END,
                    c.relname = $3,
                    has_table_privilege($1, c.oid, 'SELECT'),
                    has_any_column_privilege($1, c.oid, 'INSERT'),
                    has_any_column_privilege($1, c.oid, 'UPDATE'),
                    has_table_privilege($1, c.oid, 'DELETE'),
                    quote_ident(n.nspname) || '.' || quote_ident(c.relname)
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = ANY($2)
                AND c.relkind IN ('r', 'p', 'v', 'm')
                AND NOT c.relispartition
                AND (c.relname = $3 OR EXISTS (
                        SELECT 1 FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attname = $4
                           AND a.attnum > 0 AND NOT a.attisdropped))
              ORDER BY array_position($2, n.nspname::text), c.relname",
            &[
                &opts.tenant_role,
                &opts.schemas,
                &opts.root_table,
                &opts.tenant_column,
            ],
        )
        .await?;
    let mut oids: Vec<u32> = Vec::new();
    let mut tables = Vec::new();
    let mut root_seen = false;
    for row in rows {
        let (schema, name): (String, String) = (row.get(1), row.get(2));
        let kind: String = row.get(3);
        let named_root: bool = row.get(7);
        // The tenant root is the first table of that name in the schema order.
        let is_root = named_root && !root_seen && matches!(kind.as_str(), "r" | "p");
        root_seen |= is_root;
        oids.push(row.get(0));
        tables.push(Table {
            name: format!("{schema}.{name}"),
            sql: quoted_name(&schema, &name),
            qname: row.get(12),
            kind: kind.chars().next().unwrap_or('r'),
            rls_enabled: row.get(4),
            global: row.get(5),
            filtered_for_owner: row.get(6),
            is_root,
            tc: if is_root {
                opts.root_key.clone()
            } else {
                opts.tenant_column.clone()
            },
            tc_ty: String::new(),
            columns: Vec::new(),
            pk: Vec::new(),
            unique_columns: BTreeSet::new(),
            partial_bools: BTreeSet::new(),
            fk_columns: BTreeSet::new(),
            can_select: row.get(8),
            can_insert: row.get(9),
            can_update: row.get(10),
            can_delete: row.get(11),
        });
    }
    let index: HashMap<u32, usize> = oids.iter().enumerate().map(|(i, o)| (*o, i)).collect();

    for row in tx
        .query(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    t.typcategory::text,
                    a.attgenerated = '' AND a.attidentity <> 'a',
                    has_column_privilege($2, a.attrelid, a.attnum, 'INSERT'),
                    has_column_privilege($2, a.attrelid, a.attnum, 'UPDATE')
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attrelid, a.attnum",
            &[&oids, &opts.tenant_role],
        )
        .await?
    {
        let Some(&i) = index.get(&row.get::<_, u32>(0)) else {
            continue;
        };
        let category: String = row.get(3);
        tables[i].columns.push(Column {
            name: row.get(1),
            ty: row.get(2),
            category: category.chars().next().unwrap_or('X'),
            writable: row.get(4),
            tenant_may_insert: row.get(5),
            tenant_may_update: row.get(6),
        });
    }
    for t in &mut tables {
        t.tc_ty = t
            .column(&t.tc)
            .map(|c| c.ty.clone())
            .unwrap_or_else(|| "uuid".into());
    }

    for row in tx
        .query(
            "SELECT i.indrelid, i.indisprimary,
                    ARRAY(SELECT a.attname::text
                            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o)
                            JOIN pg_catalog.pg_attribute a
                              ON a.attrelid = i.indrelid AND a.attnum = k.n
                           ORDER BY k.o)
               FROM pg_catalog.pg_index i
              WHERE i.indisunique AND i.indrelid = ANY($1)
              ORDER BY i.indrelid, NOT i.indisprimary, i.indexrelid",
            &[&oids],
        )
        .await?
    {
        let Some(&i) = index.get(&row.get::<_, u32>(0)) else {
            continue;
        };
        let primary: bool = row.get(1);
        let cols: Vec<String> = row.get(2);
        if primary {
            tables[i].pk = cols.clone();
        }
        tables[i].unique_columns.extend(cols);
    }

    for row in tx
        .query(
            "SELECT DISTINCT i.indrelid, a.attname::text
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE i.indisunique AND i.indpred IS NOT NULL AND i.indrelid = ANY($1)
                AND a.atttypid = 'boolean'::regtype
                AND position(a.attname::text IN pg_get_expr(i.indpred, i.indrelid)) > 0",
            &[&oids],
        )
        .await?
    {
        if let Some(&i) = index.get(&row.get::<_, u32>(0)) {
            tables[i].partial_bools.insert(row.get(1));
        }
    }

    let mut fks = Vec::new();
    for fk in foreign_keys_of(tx, &oids).await? {
        let CatalogFk {
            name,
            child,
            parent,
            child_cols,
            parent_cols,
        } = fk;
        let Some(&child) = index.get(&child) else {
            continue;
        };
        tables[child].fk_columns.extend(child_cols.iter().cloned());
        let Some(&parent) = index.get(&parent) else {
            continue;
        };
        // References to the tenant root are the tenant column's own key; the root's own keys
        // are not probed (it has no tenant column to combine with).
        if tables[parent].is_root || tables[child].is_root || !tables[parent].is_table() {
            continue;
        }
        let (child_tc, parent_tc) = (tables[child].tc.clone(), tables[parent].tc.clone());
        let composite = child_cols
            .iter()
            .zip(&parent_cols)
            .any(|(c, p)| *c == child_tc && *p == parent_tc);
        let refs: Vec<(String, String)> = child_cols
            .into_iter()
            .zip(parent_cols)
            .filter(|(c, _)| *c != child_tc)
            .collect();
        if refs.is_empty() {
            continue;
        }
        fks.push(ForeignKey {
            name,
            child,
            parent,
            refs,
            composite,
        });
    }
    Ok((tables, fks))
}

/// A foreign key of one of the relations `oids`, as the catalog has it: the columns of each
/// side in key order. Read for the reference probes ([`read_catalog`]) and for the parents the
/// fixtures must insert first (`fixtures`).
#[derive(Debug, Clone)]
pub(super) struct CatalogFk {
    pub(super) name: String,
    pub(super) child: u32,
    pub(super) parent: u32,
    pub(super) child_cols: Vec<String>,
    pub(super) parent_cols: Vec<String>,
}

pub(super) async fn foreign_keys_of(tx: Tx<'_>, oids: &[u32]) -> anyhow::Result<Vec<CatalogFk>> {
    let rows = tx
        .query(
            "SELECT con.conname::text, con.conrelid, con.confrelid,
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                           ORDER BY k.o),
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                           ORDER BY k.o)
               FROM pg_catalog.pg_constraint con
              WHERE con.contype = 'f' AND con.conrelid = ANY($1)
              ORDER BY con.conrelid, con.conname",
            &[&oids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| CatalogFk {
            name: row.get(0),
            child: row.get(1),
            parent: row.get(2),
            child_cols: row.get(3),
            parent_cols: row.get(4),
        })
        .collect())
}
