//! A live schema read into a normalized, comparable model, and the differences between two.
//!
//! How to use it (adopt does exactly this; drift/baseline/repair can too):
//! ```ignore
//! let actual = catalog::read(&db.client, &["public"]).await?;           // what is there
//! let expected = catalog::scratch::from_sql(&db, sql, &["public"]).await?; // what SQL builds
//! for d in catalog::diff(&expected, &actual) { println!("{d}"); }
//! ```
//! - [`read`] reads one database's schemas (default: `public`) into a [`Schema`]: enum types,
//!   tables (owner, RLS flags, grants), columns (type, nullability, default, identity,
//!   generated), constraints (definition, validated), indexes (definition, validity), triggers,
//!   functions (definition, security, owner, grants), policies, views and materialized views
//!   (definition, options, owner, grants), sequences (parameters, owner, grants, owning column),
//!   the schemas themselves and the extensions. Every value is plain data (text as the server
//!   deparses it), with no OIDs, so two databases compare. Extension members are left out.
//! - [`scratch`] builds the *expected* schema: it runs SQL (a fixture, or a migration set) in a
//!   temporary database on the same server, reads it back the same way inside the transaction,
//!   rolls back (so cluster-wide roles it creates do not survive) and drops the database.
//! - [`diff`] compares two [`Schema`]s object by object: every [`Difference`] names the object
//!   (`column public.tasks.title`), the attribute for a change, and the expected and actual
//!   values; kind [`Change::Missing`], [`Change::Extra`] or [`Change::Changed`].

mod fingerprint;
mod read;
pub mod scratch;

pub use fingerprint::fingerprint;
pub use read::read;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The kinds of object the model holds, in the order a report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Extension,
    Schema,
    Enum,
    Table,
    Column,
    Constraint,
    Index,
    Trigger,
    Function,
    Policy,
    View,
    MaterializedView,
    Sequence,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::Extension => "extension",
            ObjectKind::Schema => "schema",
            ObjectKind::Enum => "enum",
            ObjectKind::Table => "table",
            ObjectKind::Column => "column",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Index => "index",
            ObjectKind::Trigger => "trigger",
            ObjectKind::Function => "function",
            ObjectKind::Policy => "policy",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Sequence => "sequence",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    pub schema: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaInfo {
    pub name: String,
    pub owner: String,
    /// `aclitem`s as text, sorted, comma-separated ("" = default privileges).
    pub acl: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    /// `schema.name`.
    pub name: String,
    /// Labels in sort order.
    pub values: Vec<String>,
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// `schema.name`.
    pub name: String,
    pub owner: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    /// `p` partitioned, `r` plain.
    pub relkind: String,
    /// `p` permanent, `u` unlogged.
    pub persistence: String,
    pub acl: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// `schema.table`.
    pub table: String,
    pub name: String,
    /// `format_type`, e.g. `character varying(255)`, `public.roletype`, `uuid`.
    pub data_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// `a` always / `d` by default / "" none.
    pub identity: String,
    /// `s` stored generated column / "" none.
    pub generated: String,
    /// Position in the table (attnum); not compared: a column added later sits at the end.
    pub position: i32,
    pub comment: Option<String>,
}

impl Column {
    /// `schema.table.column`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.table, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub table: String,
    pub name: String,
    /// `p` primary key, `u` unique, `f` foreign key, `c` check, `x` exclusion, `t` trigger.
    pub kind: String,
    /// `pg_get_constraintdef`.
    pub definition: String,
    pub validated: bool,
    /// Columns of the constraint (for `f`: the referencing ones), in key order.
    pub columns: Vec<String>,
    /// For foreign keys: `schema.table` referenced and its columns.
    pub references: Option<(String, Vec<String>)>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// `schema.index_name`.
    pub name: String,
    pub table: String,
    /// `pg_get_indexdef`.
    pub definition: String,
    /// False for an index a failed `CREATE INDEX CONCURRENTLY` left behind.
    pub valid: bool,
    pub unique: bool,
    /// Whether a constraint (primary key, unique, exclusion) owns it.
    pub constraint: Option<String>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub table: String,
    pub name: String,
    /// `pg_get_triggerdef`.
    pub definition: String,
    /// `O` enabled, `D` disabled, `R` replica, `A` always.
    pub enabled: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// `schema.name(identity arguments)`.
    pub signature: String,
    /// `pg_get_functiondef` (empty for aggregates).
    pub definition: String,
    pub security_definer: bool,
    pub owner: String,
    pub acl: String,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub table: String,
    pub name: String,
    /// ALL, SELECT, INSERT, UPDATE, DELETE.
    pub command: String,
    pub permissive: bool,
    /// Role names, sorted (`public` for PUBLIC).
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub materialized: bool,
    /// `pg_get_viewdef`.
    pub definition: String,
    /// reloptions, sorted, comma-separated (`security_barrier=true`).
    pub options: String,
    pub owner: String,
    pub acl: String,
    /// Materialized views: whether they hold data (not compared by [`diff`]).
    pub populated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub name: String,
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cycle: bool,
    pub owner: String,
    pub acl: String,
    /// `schema.table.column` of a serial/identity column that owns it.
    pub owned_by: Option<String>,
}

/// One database's schemas as plain values, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub extensions: Vec<Extension>,
    pub schemas: Vec<SchemaInfo>,
    pub enums: Vec<EnumType>,
    pub tables: Vec<Table>,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    pub triggers: Vec<Trigger>,
    pub functions: Vec<Function>,
    pub policies: Vec<Policy>,
    pub views: Vec<View>,
    pub sequences: Vec<Sequence>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
    /// The columns of `table` (`schema.name`) in position order.
    pub fn columns_of(&self, table: &str) -> Vec<&Column> {
        let mut cols: Vec<&Column> = self.columns.iter().filter(|c| c.table == table).collect();
        cols.sort_by_key(|c| c.position);
        cols
    }
    pub fn column(&self, table: &str, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.table == table && c.name == name)
    }
    pub fn constraints_of(&self, table: &str) -> Vec<&Constraint> {
        self.constraints
            .iter()
            .filter(|c| c.table == table)
            .collect()
    }
    pub fn indexes_of(&self, table: &str) -> Vec<&Index> {
        self.indexes.iter().filter(|i| i.table == table).collect()
    }

    /// Every object as (kind, name) → its compared attributes. What [`diff`] compares.
    pub fn objects(&self) -> BTreeMap<(ObjectKind, String), BTreeMap<&'static str, String>> {
        let mut out = BTreeMap::new();
        let mut put = |kind, name: String, facts: Vec<(&'static str, String)>| {
            out.insert((kind, name), facts.into_iter().collect::<BTreeMap<_, _>>());
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        for e in &self.extensions {
            put(
                ObjectKind::Extension,
                e.name.clone(),
                vec![("schema", e.schema.clone())],
            );
        }
        for s in &self.schemas {
            put(
                ObjectKind::Schema,
                s.name.clone(),
                vec![("owner", s.owner.clone()), ("grants", s.acl.clone())],
            );
        }
        for e in &self.enums {
            put(
                ObjectKind::Enum,
                e.name.clone(),
                vec![("values", e.values.join(", ")), ("owner", e.owner.clone())],
            );
        }
        for t in &self.tables {
            put(
                ObjectKind::Table,
                t.name.clone(),
                vec![
                    ("owner", t.owner.clone()),
                    ("row level security", t.rls_enabled.to_string()),
                    ("forced row level security", t.rls_forced.to_string()),
                    ("kind", t.relkind.clone()),
                    ("persistence", t.persistence.clone()),
                    ("grants", t.acl.clone()),
                    ("comment", opt(&t.comment)),
                ],
            );
        }
        for c in &self.columns {
            put(
                ObjectKind::Column,
                c.qualified(),
                vec![
                    ("type", c.data_type.clone()),
                    ("not null", c.not_null.to_string()),
                    ("default", opt(&c.default)),
                    ("identity", c.identity.clone()),
                    ("generated", c.generated.clone()),
                    ("comment", opt(&c.comment)),
                ],
            );
        }
        for c in &self.constraints {
            put(
                ObjectKind::Constraint,
                format!("{}.{}", c.table, c.name),
                vec![
                    ("definition", c.definition.clone()),
                    ("validated", c.validated.to_string()),
                    ("comment", opt(&c.comment)),
                ],
            );
        }
        for i in &self.indexes {
            put(
                ObjectKind::Index,
                i.name.clone(),
                vec![
                    ("definition", i.definition.clone()),
                    ("valid", i.valid.to_string()),
                    ("comment", opt(&i.comment)),
                ],
            );
        }
        for t in &self.triggers {
            put(
                ObjectKind::Trigger,
                format!("{}.{}", t.table, t.name),
                vec![
                    ("definition", t.definition.clone()),
                    ("enabled", t.enabled.clone()),
                ],
            );
        }
        for f in &self.functions {
            put(
                ObjectKind::Function,
                f.signature.clone(),
                vec![
                    ("definition", f.definition.clone()),
                    ("security definer", f.security_definer.to_string()),
                    ("owner", f.owner.clone()),
                    ("grants", f.acl.clone()),
                    ("comment", opt(&f.comment)),
                ],
            );
        }
        for p in &self.policies {
            put(
                ObjectKind::Policy,
                format!("{}.{}", p.table, p.name),
                vec![
                    ("command", p.command.clone()),
                    ("permissive", p.permissive.to_string()),
                    ("roles", p.roles.join(", ")),
                    ("using", opt(&p.using)),
                    ("with check", opt(&p.with_check)),
                ],
            );
        }
        for v in &self.views {
            put(
                if v.materialized {
                    ObjectKind::MaterializedView
                } else {
                    ObjectKind::View
                },
                v.name.clone(),
                vec![
                    ("definition", v.definition.clone()),
                    ("options", v.options.clone()),
                    ("owner", v.owner.clone()),
                    ("grants", v.acl.clone()),
                ],
            );
        }
        for s in &self.sequences {
            put(
                ObjectKind::Sequence,
                s.name.clone(),
                vec![
                    ("type", s.data_type.clone()),
                    (
                        "parameters",
                        format!(
                            "start {} increment {} min {} max {} cycle {}",
                            s.start, s.increment, s.min, s.max, s.cycle
                        ),
                    ),
                    ("owner", s.owner.clone()),
                    ("grants", s.acl.clone()),
                    ("owned by", opt(&s.owned_by)),
                ],
            );
        }
        out
    }
}

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Expected, not there.
    Missing,
    /// There, not expected.
    Extra,
    /// There, with another value of `attribute`.
    Changed,
}

/// One difference between an expected and an actual schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Difference {
    pub object_kind: ObjectKind,
    /// `public.tasks.title` (column), `public.idx_task_org` (index), …
    pub object: String,
    pub change: Change,
    /// For [`Change::Changed`]: which attribute (`type`, `definition`, `grants`, …).
    pub attribute: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| match v.as_deref() {
            None | Some("") => "(none)".to_string(),
            Some(s) => s.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        match self.change {
            Change::Missing => write!(f, "{} {} is missing", self.object_kind, self.object),
            Change::Extra => write!(f, "{} {} is not expected", self.object_kind, self.object),
            Change::Changed => write!(
                f,
                "{} {}: {} is {} (expected {})",
                self.object_kind,
                self.object,
                self.attribute.as_deref().unwrap_or("value"),
                show(&self.actual),
                show(&self.expected)
            ),
        }
    }
}

/// Every difference from `expected` to `actual`, sorted by object kind and name.
/// Missing and extra objects are reported once (not per attribute).
pub fn diff(expected: &Schema, actual: &Schema) -> Vec<Difference> {
    let want = expected.objects();
    let have = actual.objects();
    let mut out = Vec::new();
    for ((kind, name), facts) in &want {
        match have.get(&(*kind, name.clone())) {
            None => out.push(Difference {
                object_kind: *kind,
                object: name.clone(),
                change: Change::Missing,
                attribute: None,
                expected: Some(summary(facts)),
                actual: None,
            }),
            Some(got) => {
                for (attr, value) in facts {
                    let other = got.get(attr).cloned().unwrap_or_default();
                    if &other != value {
                        out.push(Difference {
                            object_kind: *kind,
                            object: name.clone(),
                            change: Change::Changed,
                            attribute: Some(attr.to_string()),
                            expected: Some(value.clone()),
                            actual: Some(other),
                        });
                    }
                }
            }
        }
    }
    for ((kind, name), facts) in &have {
        if !want.contains_key(&(*kind, name.clone())) {
            out.push(Difference {
                object_kind: *kind,
                object: name.clone(),
                change: Change::Extra,
                attribute: None,
                expected: None,
                actual: Some(summary(facts)),
            });
        }
    }
    out.sort();
    out
}

/// The main attribute of an object, for a missing/extra line.
fn summary(facts: &BTreeMap<&'static str, String>) -> String {
    for key in ["definition", "type", "values", "command"] {
        if let Some(v) = facts.get(key) {
            return v.clone();
        }
    }
    facts
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(table: &str, name: &str, ty: &str) -> Column {
        Column {
            table: table.into(),
            name: name.into(),
            data_type: ty.into(),
            not_null: false,
            default: None,
            identity: String::new(),
            generated: String::new(),
            position: 1,
            comment: None,
        }
    }

    #[test]
    fn diff_names_missing_extra_and_changed_objects() {
        let expected = Schema {
            columns: vec![
                column("public.t", "a", "integer"),
                column("public.t", "b", "text"),
            ],
            ..Default::default()
        };
        let actual = Schema {
            columns: vec![
                column("public.t", "a", "bigint"),
                column("public.t", "c", "text"),
            ],
            ..Default::default()
        };
        let d = diff(&expected, &actual);
        assert_eq!(d.len(), 3, "{d:?}");
        assert_eq!(d[0].object, "public.t.a");
        assert_eq!(d[0].change, Change::Changed);
        assert_eq!(d[0].attribute.as_deref(), Some("type"));
        assert_eq!(d[0].expected.as_deref(), Some("integer"));
        assert_eq!(d[0].actual.as_deref(), Some("bigint"));
        assert_eq!(
            (d[1].object.as_str(), d[1].change),
            ("public.t.b", Change::Missing)
        );
        assert_eq!(
            (d[2].object.as_str(), d[2].change),
            ("public.t.c", Change::Extra)
        );
        assert_eq!(
            d[0].to_string(),
            "column public.t.a: type is bigint (expected integer)"
        );
    }

    #[test]
    fn equal_schemas_have_no_difference_and_position_is_not_compared() {
        let a = Schema {
            columns: vec![column("public.t", "a", "integer")],
            ..Default::default()
        };
        let mut b = a.clone();
        b.columns[0].position = 7;
        assert!(diff(&a, &b).is_empty());
    }
}
