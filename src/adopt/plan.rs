//! The conversion as SQL, computed from two catalogs without a server: the deployed schema
//! (live) and arcdb's latest (built in a scratch database). Columns are matched by name: a
//! column on both sides is copied (cast through text where the type differs, or is one of the
//! deployed enum types, which are replaced by arcdb's own); an arcdb column the deployed table
//! lacks takes its default, except `organization_id`, which comes from the parent row the
//! deployed table reaches through its first NOT NULL foreign key; a deployed column arcdb has no
//! column for, and was not added by hand, is a [`Gap`] that stops the adoption.

use crate::catalog::{Column, Index, Schema};
use crate::db::{literal, sql_ident};
use crate::migrate::catalog::Resolved;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where the deployed objects wait while arcdb's schema is built next to them, in the same
/// transaction; dropped before it commits.
pub const OLD_SCHEMA: &str = "arcdb_adopt_old";

/// Something the name-based mapping cannot carry over.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gap {
    pub object: String,
    pub problem: String,
}

/// How a table's rows are copied.
#[derive(Debug, Clone, Serialize)]
pub struct TableCopy {
    /// `public.tasks`.
    pub table: String,
    /// The INSERT … SELECT that copies every row.
    pub sql: String,
    /// Columns copied through a cast (name, arcdb type).
    pub casts: Vec<(String, String)>,
}

/// How the organization of a deployed row is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgLink {
    /// `organizations` itself: its `id`.
    Root,
    /// Its own `organization_id`.
    Direct,
    /// Through a NOT NULL foreign key `column` to `parent`'s `id`.
    Via { column: String, parent: String },
}

/// `public.tasks` → `public.tasks` quoted part by part.
pub fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, rel)) => format!("{}.{}", sql_ident(schema), sql_ident(rel)),
        None => sql_ident(name),
    }
}

/// `public.tasks` → `tasks`.
pub fn bare(name: &str) -> &str {
    name.split_once('.').map(|(_, r)| r).unwrap_or(name)
}

/// The table in the moved-aside schema.
pub fn old_table(name: &str) -> String {
    format!("{OLD_SCHEMA}.{}", sql_ident(bare(name)))
}

pub fn org_link(deployed: &Schema, table: &str) -> Option<OrgLink> {
    org_link_depth(deployed, table, 0)
}

fn org_link_depth(deployed: &Schema, table: &str, depth: usize) -> Option<OrgLink> {
    if depth > 8 {
        return None;
    }
    if bare(table) == "organizations" {
        return Some(OrgLink::Root);
    }
    if deployed.column(table, "organization_id").is_some() {
        return Some(OrgLink::Direct);
    }
    let columns = deployed.columns_of(table);
    let mut fks: Vec<(i32, String, String)> = deployed
        .constraints_of(table)
        .into_iter()
        .filter(|c| c.kind == "f" && c.columns.len() == 1)
        .filter_map(|c| {
            let (parent, cols) = c.references.as_ref()?;
            let col = columns.iter().find(|x| x.name == c.columns[0])?;
            (cols == &["id".to_string()] && col.not_null && parent != table)
                .then(|| (col.position, col.name.clone(), parent.clone()))
        })
        .collect();
    fks.sort();
    fks.into_iter()
        .find(|(_, _, parent)| org_link_depth(deployed, parent, depth + 1).is_some())
        .map(|(_, column, parent)| OrgLink::Via { column, parent })
}

/// The organization of row `alias` of deployed `table` as an SQL expression over schema
/// `schema` (where the deployed tables are at that moment).
pub fn org_expr(deployed: &Schema, table: &str, alias: &str, schema: &str) -> Option<String> {
    org_expr_depth(deployed, table, alias, schema, 0)
}

fn org_expr_depth(
    deployed: &Schema,
    table: &str,
    alias: &str,
    schema: &str,
    depth: usize,
) -> Option<String> {
    Some(match org_link(deployed, table)? {
        OrgLink::Root => format!("{alias}.id"),
        OrgLink::Direct => format!("{alias}.organization_id"),
        OrgLink::Via { column, parent } => {
            let a = format!("o{}", depth + 1);
            let inner = org_expr_depth(deployed, &parent, &a, schema, depth + 1)?;
            format!(
                "(SELECT {inner} FROM {}.{} {a} WHERE {a}.id = {alias}.{})",
                sql_ident(schema),
                sql_ident(bare(&parent)),
                sql_ident(&column)
            )
        }
    })
}

/// Whether a deployed column's values must go through text to reach arcdb's type: the types
/// differ, or it is a deployed enum (arcdb creates its own type of that name).
pub fn needs_cast(deployed: &Schema, from: &Column, to: &Column) -> bool {
    // Character types reach text by assignment, unchanged.
    let character = from.data_type.starts_with("character varying") || from.data_type == "text";
    if to.data_type == "text" && character {
        return false;
    }
    from.data_type != to.data_type
        || deployed
            .enums
            .iter()
            .any(|e| bare(&e.name) == from.data_type || e.name == from.data_type)
}

/// Tables of `target` in foreign-key order (parents first), then by name.
pub fn fk_order(target: &Schema) -> Vec<String> {
    let mut deps: BTreeMap<String, BTreeSet<String>> = target
        .tables
        .iter()
        .map(|t| (t.name.clone(), BTreeSet::new()))
        .collect();
    for c in &target.constraints {
        if let (Some((parent, _)), true) = (&c.references, c.kind == "f") {
            if parent != &c.table && deps.contains_key(parent) {
                deps.entry(c.table.clone())
                    .or_default()
                    .insert(parent.clone());
            }
        }
    }
    let mut order = Vec::new();
    while !deps.is_empty() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(_, d)| d.iter().all(|p| !deps.contains_key(p) || order.contains(p)))
            .map(|(t, _)| t.clone())
            .collect();
        // A cycle between tables (none in arcdb's schema): take the rest by name.
        let ready = if ready.is_empty() {
            deps.keys().cloned().collect()
        } else {
            ready
        };
        for t in ready {
            deps.remove(&t);
            order.push(t);
        }
    }
    order
}

/// The deployed tables adopt replaces: every table of 001 but Alembic's own.
pub fn replaced_tables(expected_001: &Schema) -> Vec<String> {
    expected_001
        .tables
        .iter()
        .map(|t| t.name.clone())
        .filter(|t| bare(t) != "alembic_version")
        .collect()
}

/// The mapping of every replaced table, or the gaps that prevent it.
pub fn copies(
    deployed: &Schema,
    target: &Schema,
    replaced: &[String],
    kept_columns: &[Column],
) -> (Vec<TableCopy>, Vec<Gap>) {
    let mut gaps = Vec::new();
    for table in replaced {
        if target.table(table).is_none() {
            gaps.push(Gap {
                object: format!("table {table}"),
                problem: "arcdb's schema has no table of this name to take its rows".into(),
            });
            continue;
        }
        for col in deployed.columns_of(table) {
            let kept = kept_columns
                .iter()
                .any(|k| k.qualified() == col.qualified());
            let mapped = target.column(table, &col.name).is_some();
            if kept && mapped {
                gaps.push(Gap {
                    object: format!("column {}", col.qualified()),
                    problem: "added by hand, but arcdb's schema has a column of that name: rename it first".into(),
                });
            } else if !kept && !mapped {
                gaps.push(Gap {
                    object: format!("column {}", col.qualified()),
                    problem: format!(
                        "the deployed column ({}) has no column of that name in arcdb's table",
                        col.data_type
                    ),
                });
            }
        }
    }
    let mut out = Vec::new();
    for table in fk_order(target) {
        if !replaced.contains(&table) {
            continue;
        }
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        let mut casts = Vec::new();
        let mut join = None;
        let mut overriding = false;
        let mut target_columns: Vec<Column> =
            target.columns_of(&table).into_iter().cloned().collect();
        target_columns.extend(kept_columns.iter().filter(|k| k.table == table).cloned());
        for tc in &target_columns {
            if !tc.generated.is_empty() {
                continue;
            }
            let expr = match deployed.column(&table, &tc.name) {
                Some(dc) => {
                    let mut e = format!("o.{}", sql_ident(&dc.name));
                    if needs_cast(deployed, dc, tc) {
                        e = format!("{e}::text::{}", tc.data_type);
                        casts.push((tc.name.clone(), tc.data_type.clone()));
                    }
                    if tc.not_null && !dc.not_null {
                        if let Some(default) = &tc.default {
                            e = format!("COALESCE({e}, {default})");
                        }
                    }
                    e
                }
                None if tc.name == "organization_id" => match org_link(deployed, &table) {
                    Some(OrgLink::Via { column, parent }) => {
                        join = Some(format!(
                            "JOIN {} p ON p.id = o.{}",
                            qualified(&parent),
                            sql_ident(&column)
                        ));
                        "p.organization_id".to_string()
                    }
                    _ => {
                        gaps.push(Gap {
                            object: format!("column {}", tc.qualified()),
                            problem: "no NOT NULL foreign key of the deployed table leads to an organization to fill it from".into(),
                        });
                        continue;
                    }
                },
                None => match numbered(deployed, &table, &tc.name) {
                    Some(expr) => expr,
                    None => {
                        // A BEFORE INSERT trigger may fill it (desks.path); if not, the copy fails
                        // with the server's error and everything is rolled back.
                        let filled_by_trigger = target
                            .triggers
                            .iter()
                            .any(|t| t.table == table && t.definition.contains("BEFORE INSERT"));
                        if tc.not_null
                            && tc.default.is_none()
                            && tc.identity.is_empty()
                            && !filled_by_trigger
                        {
                            gaps.push(Gap {
                                object: format!("column {}", tc.qualified()),
                                problem: "arcdb's column is NOT NULL without a default, and the deployed table has nothing to fill it".into(),
                            });
                        }
                        continue;
                    }
                },
            };
            overriding |= tc.identity == "a";
            names.push(sql_ident(&tc.name));
            exprs.push(expr);
        }
        // Parents first within a self-referencing table (a BEFORE INSERT trigger may read the
        // parent, as the desks hierarchy does); foreign keys are checked at the statement's end.
        let self_fk = deployed
            .constraints_of(&table)
            .into_iter()
            .find(|c| {
                c.kind == "f"
                    && c.columns.len() == 1
                    && c.references.as_ref().is_some_and(|(p, _)| p == &table)
            })
            .map(|c| c.columns[0].clone());
        let old = old_table(&table);
        let (with, from, order) = match &self_fk {
            Some(fk) => (
                format!(
                    "WITH RECURSIVE lvl AS (SELECT id, 0 AS depth FROM {old} WHERE {fk} IS NULL UNION ALL SELECT c.id, l.depth + 1 FROM {old} c JOIN lvl l ON c.{fk} = l.id WHERE l.depth < 10000)\n",
                    fk = sql_ident(fk)
                ),
                format!("{old} o LEFT JOIN lvl ON lvl.id = o.id"),
                "\n ORDER BY lvl.depth NULLS LAST".to_string(),
            ),
            None => (String::new(), format!("{old} o"), String::new()),
        };
        let sql = format!(
            "{with}INSERT INTO {} ({}){}\nSELECT {}\n  FROM {from}{}{order}",
            qualified(&table),
            names.join(", "),
            if overriding {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            },
            exprs.join(", "),
            join.map(|j| format!(" {j}")).unwrap_or_default()
        );
        out.push(TableCopy { table, sql, casts });
    }
    (out, gaps)
}

/// Columns arcdb's BEFORE INSERT triggers number within a parent when the writer leaves them
/// NULL (0007: messages.sequence_number per session, qa_reviews.iteration per task and stage) and
/// the deployed schema does not have: (table, column, numbered within, in the order of).
const NUMBERED: [(&str, &str, &[&str], &[&str]); 2] = [
    (
        "public.messages",
        "sequence_number",
        &["session_id"],
        &["created_at", "id"],
    ),
    (
        "public.qa_reviews",
        "iteration",
        &["task_id", "stage_name"],
        &["created_at", "id"],
    ),
];

/// The copy numbers such a column itself, in the deployed rows' creation order: the trigger
/// would number them in whatever order the INSERT … SELECT happens to scan, with one max() lookup
/// and one parent row lock per row. None when the deployed table lacks a column it needs.
fn numbered(deployed: &Schema, table: &str, column: &str) -> Option<String> {
    let (_, _, within, order) = NUMBERED
        .iter()
        .find(|(t, c, _, _)| *t == table && *c == column)?;
    let all_there = within
        .iter()
        .chain(order.iter())
        .all(|c| deployed.column(table, c).is_some());
    let list = |cols: &[&str]| {
        cols.iter()
            .map(|c| format!("o.{}", sql_ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    all_there.then(|| {
        format!(
            "row_number() OVER (PARTITION BY {} ORDER BY {})",
            list(within),
            list(order)
        )
    })
}

/// The scripts to run instead of the migrations' own, where they differ: a label added by
/// `ALTER TYPE … ADD VALUE` cannot be used in the transaction that added it (SQLSTATE 55P04), and
/// adopt runs the whole set and the copy in one transaction. So each enum type the set creates is
/// created with its final labels (arcdb's latest schema, in order) and the later ADD VALUEs of
/// it are left out; the verify step proves the catalog is the same as the set's.
pub fn fold_enum_labels(resolved: &[Resolved], target: &Schema) -> Vec<Option<String>> {
    let mut created: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for m in resolved {
        let mut changed = false;
        let mut statements = Vec::new();
        for st in crate::migrate::statements::split(&m.up.sql) {
            let text = st.text.trim().trim_end_matches(';').trim().to_string();
            let words: Vec<String> = text
                .split_whitespace()
                .take(6)
                .map(|w| w.to_ascii_lowercase())
                .collect();
            let name = |i: usize| {
                words
                    .get(i)
                    .map(|w| {
                        w.trim_matches('"')
                            .trim_start_matches("public.")
                            .to_string()
                    })
                    .unwrap_or_default()
            };
            let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x == w);
            if is(0, "create")
                && is(1, "type")
                && is(3, "as")
                && words.get(4).is_some_and(|w| w.starts_with("enum"))
            {
                let ty = name(2);
                if let Some(e) = target.enums.iter().find(|e| bare(&e.name) == ty) {
                    let labels: Vec<String> = e.values.iter().map(|v| literal(v)).collect();
                    created.insert(ty.clone());
                    statements.push(format!(
                        "CREATE TYPE {} AS ENUM ({})",
                        sql_ident(&ty),
                        labels.join(", ")
                    ));
                    changed = true;
                    continue;
                }
            }
            if is(0, "alter")
                && is(1, "type")
                && is(3, "add")
                && is(4, "value")
                && created.contains(&name(2))
            {
                changed = true;
                continue;
            }
            statements.push(text);
        }
        out.push(changed.then(|| statements.join(";\n") + ";\n"));
    }
    out
}

/// `ALTER TABLE … ADD COLUMN` for a column added by hand, as it was declared.
pub fn add_column_sql(c: &Column) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {} {}{}{}",
        qualified(&c.table),
        sql_ident(&c.name),
        c.data_type,
        c.default
            .as_ref()
            .map(|d| format!(" DEFAULT {d}"))
            .unwrap_or_default(),
        if c.not_null { " NOT NULL" } else { "" }
    )
}

/// The definition of an index added by hand (it names `public.<table>`: after the move it is
/// created on arcdb's table).
pub fn kept_index_sql(i: &Index) -> String {
    i.definition.clone()
}

/// Statements around the copy: arcdb's foreign keys and plain indexes of the copied tables are
/// dropped before it and rebuilt after it. One sorted index build and one validating join per
/// foreign key beat maintaining every index and checking every key per row by far (bench/adopt.sh:
/// tasks' copy 6x faster). Primary keys and unique constraints stay: arcdb's BEFORE INSERT
/// triggers look rows up through them (parents of desks, the next message number).
#[derive(Debug, Default)]
pub struct DeferredBuild {
    /// Foreign keys first (they may need the indexes), then the indexes.
    pub drop: Vec<String>,
    /// Indexes first, then the foreign keys that validate against them; comments restored.
    pub build: Vec<String>,
    pub indexes: usize,
    pub foreign_keys: usize,
}

pub fn deferred_build(target: &Schema, copies: &[TableCopy]) -> DeferredBuild {
    let copied: BTreeSet<&str> = copies.iter().map(|c| c.table.as_str()).collect();
    let mut out = DeferredBuild::default();
    let mut fk_builds = Vec::new();
    for k in target
        .constraints
        .iter()
        .filter(|k| k.kind == "f" && copied.contains(k.table.as_str()))
    {
        let table = qualified(&k.table);
        out.foreign_keys += 1;
        out.drop.push(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {}",
            sql_ident(&k.name)
        ));
        fk_builds.push(format!(
            "ALTER TABLE {table} ADD CONSTRAINT {} {}",
            sql_ident(&k.name),
            k.definition
        ));
        if let Some(comment) = &k.comment {
            fk_builds.push(format!(
                "COMMENT ON CONSTRAINT {} ON {table} IS {}",
                sql_ident(&k.name),
                literal(comment)
            ));
        }
    }
    for i in target
        .indexes
        .iter()
        .filter(|i| i.constraint.is_none() && copied.contains(i.table.as_str()))
    {
        out.indexes += 1;
        out.drop.push(format!("DROP INDEX {}", qualified(&i.name)));
        out.build.push(i.definition.clone());
        if let Some(comment) = &i.comment {
            out.build.push(format!(
                "COMMENT ON INDEX {} IS {}",
                qualified(&i.name),
                literal(comment)
            ));
        }
    }
    out.build.extend(fk_builds);
    out
}

/// Every role other than the owner that the deployed tables grant privileges to (`app_user`):
/// each becomes a member of the tenant role.
pub fn application_roles(deployed: &Schema, replaced: &[String]) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for t in deployed
        .tables
        .iter()
        .filter(|t| replaced.contains(&t.name))
    {
        for item in t.acl.split(',').filter(|s| !s.is_empty()) {
            if let Some((grantee, _)) = item.split_once('=') {
                let grantee = grantee.trim_matches('"');
                if !grantee.is_empty() && grantee != t.owner {
                    roles.insert(grantee.to_string());
                }
            }
        }
    }
    roles.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Constraint, Table};

    fn table(name: &str) -> Table {
        Table {
            name: name.into(),
            owner: "doadmin".into(),
            rls_enabled: true,
            rls_forced: false,
            relkind: "r".into(),
            persistence: "p".into(),
            acl: "app_user=arwd/doadmin,doadmin=arwdDxt/doadmin".into(),
            comment: None,
        }
    }
    fn col(table: &str, name: &str, ty: &str, not_null: bool, pos: i32) -> Column {
        Column {
            table: table.into(),
            name: name.into(),
            data_type: ty.into(),
            not_null,
            default: None,
            identity: String::new(),
            generated: String::new(),
            position: pos,
            comment: None,
        }
    }
    fn fk(table: &str, name: &str, column: &str, parent: &str) -> Constraint {
        Constraint {
            table: table.into(),
            name: name.into(),
            kind: "f".into(),
            definition: String::new(),
            validated: true,
            columns: vec![column.into()],
            references: Some((parent.into(), vec!["id".into()])),
            comment: None,
        }
    }

    /// organizations ← desks ← agent_sessions ← messages, the last two without organization_id.
    fn deployed() -> Schema {
        Schema {
            tables: ["organizations", "desks", "agent_sessions", "messages"]
                .iter()
                .map(|t| table(&format!("public.{t}")))
                .collect(),
            columns: vec![
                col("public.organizations", "id", "uuid", true, 1),
                col("public.desks", "id", "uuid", true, 1),
                col("public.desks", "organization_id", "uuid", true, 2),
                col("public.desks", "role", "roletype", true, 3),
                col("public.agent_sessions", "id", "uuid", true, 1),
                col("public.agent_sessions", "task_id", "uuid", false, 2),
                col("public.agent_sessions", "desk_id", "uuid", true, 3),
                col("public.messages", "id", "uuid", true, 1),
                col("public.messages", "session_id", "uuid", true, 2),
                col("public.messages", "ip", "character varying(45)", false, 3),
            ],
            constraints: vec![
                fk(
                    "public.desks",
                    "d_org",
                    "organization_id",
                    "public.organizations",
                ),
                fk("public.agent_sessions", "s_desk", "desk_id", "public.desks"),
                fk("public.agent_sessions", "s_task", "task_id", "public.tasks"),
                fk(
                    "public.messages",
                    "m_session",
                    "session_id",
                    "public.agent_sessions",
                ),
            ],
            enums: vec![crate::catalog::EnumType {
                name: "public.roletype".into(),
                values: vec!["a".into()],
                owner: "doadmin".into(),
            }],
            ..Default::default()
        }
    }

    fn migration(version: u32, sql: &str) -> Resolved {
        let script = crate::migrate::catalog::Script {
            file: format!("migrations/{version:04}_x/up.sql"),
            sql: sql.into(),
        };
        Resolved {
            version,
            name: "x".into(),
            up: script.clone(),
            down: Some(script),
            checksum: String::new(),
        }
    }

    #[test]
    fn enum_labels_added_later_are_folded_into_the_create_type() {
        let set = [
            migration(
                1,
                "CREATE TYPE roletype AS ENUM ('a', 'b');\nCREATE TABLE t (r roletype);",
            ),
            migration(2, "SELECT 1;"),
            migration(
                3,
                "ALTER TYPE roletype ADD VALUE 'c' AFTER 'b';\nALTER TYPE other ADD VALUE 'z';",
            ),
        ];
        let target = Schema {
            enums: vec![crate::catalog::EnumType {
                name: "public.roletype".into(),
                values: vec!["a".into(), "b".into(), "c".into()],
                owner: "o".into(),
            }],
            ..Default::default()
        };
        let folded = fold_enum_labels(&set, &target);
        assert_eq!(
            folded[0].as_deref(),
            Some("CREATE TYPE roletype AS ENUM ('a', 'b', 'c');\nCREATE TABLE t (r roletype);\n")
        );
        assert_eq!(folded[1], None, "unchanged scripts run as they are");
        // Only the labels of types created in this run are left out.
        assert_eq!(
            folded[2].as_deref(),
            Some("ALTER TYPE other ADD VALUE 'z';\n")
        );
    }

    #[test]
    fn numbers_the_deployed_schema_lacks_follow_creation_order_when_it_has_the_columns() {
        let mut d = deployed();
        // messages has session_id and id but no created_at yet: left to the trigger.
        assert_eq!(numbered(&d, "public.messages", "sequence_number"), None);
        d.columns.push(col(
            "public.messages",
            "created_at",
            "timestamp with time zone",
            false,
            4,
        ));
        assert_eq!(
            numbered(&d, "public.messages", "sequence_number").as_deref(),
            Some("row_number() OVER (PARTITION BY o.session_id ORDER BY o.created_at, o.id)")
        );
        assert_eq!(numbered(&d, "public.messages", "content"), None);
    }

    #[test]
    fn foreign_keys_and_plain_indexes_of_copied_tables_are_deferred_keys_stay() {
        let mut target = deployed();
        target.constraints[0].definition =
            "FOREIGN KEY (organization_id) REFERENCES organizations(id)".into();
        target.constraints[0].comment = Some("the desk's organization".into());
        let index = |name: &str, constraint: Option<&str>| Index {
            name: format!("public.{name}"),
            table: "public.desks".into(),
            definition: format!("CREATE INDEX {name} ON public.desks USING btree (role)"),
            valid: true,
            unique: constraint.is_some(),
            constraint: constraint.map(Into::into),
            comment: None,
        };
        target.indexes = vec![
            index("desks_role_idx", None),
            index("desks_pkey", Some("desks_pkey")),
        ];
        let copies = [TableCopy {
            table: "public.desks".into(),
            sql: String::new(),
            casts: vec![],
        }];
        let deferred = deferred_build(&target, &copies);
        assert_eq!((deferred.indexes, deferred.foreign_keys), (1, 1));
        assert_eq!(
            deferred.drop,
            [
                "ALTER TABLE public.desks DROP CONSTRAINT d_org",
                "DROP INDEX public.desks_role_idx"
            ]
        );
        assert_eq!(
            deferred.build,
            [
                "CREATE INDEX desks_role_idx ON public.desks USING btree (role)",
                "ALTER TABLE public.desks ADD CONSTRAINT d_org FOREIGN KEY (organization_id) REFERENCES organizations(id)",
                "COMMENT ON CONSTRAINT d_org ON public.desks IS 'the desk''s organization'",
            ]
        );
        // A table that is not copied keeps everything.
        assert!(deferred_build(&target, &[]).drop.is_empty());
    }

    #[test]
    fn organization_comes_through_the_first_not_null_foreign_key() {
        let d = deployed();
        assert_eq!(org_link(&d, "public.desks"), Some(OrgLink::Direct));
        assert_eq!(
            org_link(&d, "public.agent_sessions"),
            Some(OrgLink::Via {
                column: "desk_id".into(),
                parent: "public.desks".into()
            })
        );
        assert_eq!(
            org_expr(&d, "public.messages", "m", "public").unwrap(),
            "(SELECT (SELECT o2.organization_id FROM public.desks o2 WHERE o2.id = o1.desk_id) FROM public.agent_sessions o1 WHERE o1.id = m.session_id)"
        );
    }

    #[test]
    fn copies_cast_changed_types_and_enums_and_fill_the_organization_from_the_parent() {
        let d = deployed();
        let mut target = d.clone();
        target.columns.retain(|c| c.name != "ip");
        target
            .columns
            .push(col("public.messages", "ip", "inet", false, 3));
        target
            .columns
            .push(col("public.messages", "organization_id", "uuid", true, 4));
        target.constraints = vec![
            fk(
                "public.desks",
                "d_org",
                "organization_id",
                "public.organizations",
            ),
            fk(
                "public.messages",
                "m_s",
                "session_id",
                "public.agent_sessions",
            ),
            fk("public.agent_sessions", "s_d", "desk_id", "public.desks"),
        ];
        let replaced = replaced_tables(&d);
        let (copies, gaps) = copies(&d, &target, &replaced, &[]);
        assert!(gaps.is_empty(), "{gaps:?}");
        let order: Vec<&str> = copies.iter().map(|c| c.table.as_str()).collect();
        assert_eq!(
            order,
            [
                "public.organizations",
                "public.desks",
                "public.agent_sessions",
                "public.messages"
            ]
        );
        assert!(
            copies[1].sql.contains("o.role::text::roletype"),
            "{}",
            copies[1].sql
        );
        let m = &copies[3];
        assert!(m.sql.contains("o.ip::text::inet"), "{}", m.sql);
        assert!(
            m.sql
                .contains("JOIN public.agent_sessions p ON p.id = o.session_id"),
            "{}",
            m.sql
        );
        assert!(m.sql.contains("p.organization_id"), "{}", m.sql);
        assert_eq!(m.casts, vec![("ip".to_string(), "inet".to_string())]);
    }

    #[test]
    fn a_deployed_column_without_counterpart_is_a_gap_unless_kept() {
        let d = deployed();
        let mut target = d.clone();
        target.columns.retain(|c| c.name != "ip");
        let replaced = replaced_tables(&d);
        let (_, gaps) = copies(&d, &target, &replaced, &[]);
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert_eq!(gaps[0].object, "column public.messages.ip");
        let kept = vec![d.column("public.messages", "ip").unwrap().clone()];
        let (copies, gaps) = copies(&d, &target, &replaced, &kept);
        assert!(gaps.is_empty(), "{gaps:?}");
        assert!(copies[3].sql.contains("o.ip"));
        assert_eq!(
            application_roles(&d, &replaced),
            vec!["app_user".to_string()]
        );
    }
}
