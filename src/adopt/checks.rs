//! Rows that cannot be carried over as they are, found before anything changes: references into
//! another organization (the deployed foreign keys are on `id` alone), values arcdb's types or
//! CHECK constraints reject, NULLs where arcdb's column is NOT NULL without a default, and
//! duplicates under arcdb's organization-scoped keys. Each check is a query over the deployed
//! tables (in `public`) that lists the rows, and SQL that would fix them; the DBA runs them.

use super::plan::{bare, needs_cast, org_expr, org_link, qualified, OrgLink, TableCopy};
use crate::catalog::{Column, Schema};
use crate::db::sql_ident;
use serde::Serialize;

#[cfg(test)]
mod tests {
    #[test]
    fn widening_casts_are_not_checked_narrowing_ones_are() {
        use super::always_valid;
        assert!(always_valid("integer", "bigint"));
        assert!(always_valid("numeric(10,6)", "numeric(14,6)"));
        assert!(!always_valid("numeric(10,6)", "numeric(8,6)"));
        assert!(always_valid("character varying(45)", "text"));
        assert!(always_valid("character varying[]", "text[]"));
        assert!(!always_valid("character varying(45)", "inet"));
        assert!(!always_valid(
            "character varying(100)",
            "character varying(50)"
        ));
        assert!(!always_valid("bigint", "integer"));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    CrossOrganizationReference,
    InvalidValue,
    CheckConstraint,
    NullInNotNull,
    DuplicateKey,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub kind: CheckKind,
    /// `public.audit_logs.ip_address`, `public.tasks.assigned_to_id`, …
    pub object: String,
    pub description: String,
    /// Lists the offending rows.
    pub query: String,
    /// What would fix them (review before running).
    pub fix: String,
    /// Rows found (set when the check ran).
    pub rows: Option<i64>,
}

/// For servers before PostgreSQL 16 (no `pg_input_is_valid`): whether text `v` converts to
/// type `t`. Created in `pg_temp`, so it lasts only as long as the session.
pub const CASTABLE_HELPER: &str =
    "CREATE OR REPLACE FUNCTION pg_temp.arcdb_castable(v text, t text) RETURNS boolean
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %L::%s', v, t);
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END $$";

/// The predicate "text `expr` is a valid value of arcdb's type `ty`". arcdb's enum types do not
/// exist yet (a deployed enum of the same name may, with other labels): their labels are listed.
fn valid(expr: &str, ty: &str, has_input_is_valid: bool, target: &Schema) -> String {
    if let Some(e) = target
        .enums
        .iter()
        .find(|e| bare(&e.name) == ty || e.name == ty)
    {
        let labels: Vec<String> = e.values.iter().map(|v| crate::db::literal(v)).collect();
        return format!("{expr} = ANY (ARRAY[{}]::text[])", labels.join(", "));
    }
    let lit = crate::db::literal(ty);
    let base = if has_input_is_valid {
        format!("pg_input_is_valid({expr}, {lit})")
    } else {
        format!("pg_temp.arcdb_castable({expr}, {lit})")
    };
    // An explicit cast to varchar(n) would truncate silently; the copy must not.
    match varchar_length(ty) {
        Some(n) => format!("({base} AND length({expr}) <= {n})"),
        None => base,
    }
}

fn varchar_length(ty: &str) -> Option<u32> {
    let rest = ty
        .strip_prefix("character varying(")
        .or_else(|| ty.strip_prefix("character("))?;
    rest.strip_suffix(')')?.parse().ok()
}

fn text_like(ty: &str) -> bool {
    ty == "text" || ty == "citext" || ty.starts_with("character varying")
}

/// Every check for the replaced tables.
pub fn checks(
    deployed: &Schema,
    target: &Schema,
    copies: &[TableCopy],
    has_input_is_valid: bool,
) -> Vec<Check> {
    let mut out = Vec::new();
    for copy in copies {
        let table = &copy.table;
        let t = qualified(table);
        cross_organization(deployed, table, &mut out);
        for (name, ty) in &copy.casts {
            let Some(dc) = deployed.column(table, name) else {
                continue;
            };
            if is_citext(ty) || always_valid(&dc.data_type, ty) {
                continue; // any text is a valid citext; widening casts cannot fail
            }
            let col = sql_ident(name);
            let v = format!("o.{col}::text");
            let bad = format!(
                "o.{col} IS NOT NULL AND NOT {}",
                valid(&v, ty, has_input_is_valid, target)
            );
            out.push(Check {
                kind: CheckKind::InvalidValue,
                object: dc.qualified(),
                description: format!(
                    "values of {} ({}) that are not valid {ty}",
                    dc.qualified(),
                    dc.data_type
                ),
                query: format!("SELECT o.id, o.{col} FROM {t} o WHERE {bad}"),
                fix: if dc.not_null {
                    format!("-- correct each value, e.g.: UPDATE {t} o SET {col} = <a valid {ty}> WHERE {bad}")
                } else {
                    format!("UPDATE {t} o SET {col} = NULL WHERE {bad}")
                },
                rows: None,
            });
        }
        for tc in target.columns_of(table) {
            let Some(dc) = deployed.column(table, &tc.name) else {
                continue;
            };
            if tc.not_null && !dc.not_null && tc.default.is_none() {
                let col = sql_ident(&tc.name);
                out.push(Check {
                    kind: CheckKind::NullInNotNull,
                    object: dc.qualified(),
                    description: format!(
                        "NULLs in {}, which arcdb declares NOT NULL without a default",
                        dc.qualified()
                    ),
                    query: format!("SELECT o.id FROM {t} o WHERE o.{col} IS NULL"),
                    fix: format!(
                        "-- choose a value: UPDATE {t} SET {col} = <value> WHERE {col} IS NULL"
                    ),
                    rows: None,
                });
            }
        }
        check_constraints(deployed, target, copy, has_input_is_valid, &mut out);
        duplicates(deployed, target, copy, &mut out);
    }
    out
}

/// Deployed foreign keys on `id` alone accept a row of another organization; arcdb's composite
/// keys do not.
fn cross_organization(deployed: &Schema, table: &str, out: &mut Vec<Check>) {
    let Some(own) = org_expr(deployed, table, "o", "public") else {
        return;
    };
    let link = org_link(deployed, table);
    let t = qualified(table);
    for c in deployed.constraints_of(table) {
        let Some((parent, cols)) = &c.references else {
            continue;
        };
        if c.kind != "f" || c.columns.len() != 1 || cols != &["id".to_string()] {
            continue;
        }
        let column = &c.columns[0];
        if column == "organization_id"
            || link
                == Some(OrgLink::Via {
                    column: column.clone(),
                    parent: parent.clone(),
                })
        {
            continue;
        }
        let Some(theirs) = org_expr(deployed, parent, "p", "public") else {
            continue;
        };
        let col = sql_ident(column);
        let cond = format!("p.id = o.{col} AND ({own}) IS DISTINCT FROM ({theirs})");
        let nullable = deployed.column(table, column).is_some_and(|x| !x.not_null);
        out.push(Check {
            kind: CheckKind::CrossOrganizationReference,
            object: format!("{table}.{column}"),
            description: format!(
                "rows of {table} whose {column} points to a row of {parent} in another organization"
            ),
            query: format!(
                "SELECT o.id, o.{col}, {own} AS organization_id, {theirs} AS referenced_organization_id FROM {t} o JOIN {} p ON {cond}",
                qualified(parent)
            ),
            fix: if nullable {
                format!(
                    "UPDATE {t} o SET {col} = NULL FROM {} p WHERE {cond}",
                    qualified(parent)
                )
            } else {
                format!(
                    "-- point {column} to a row of the same organization, or: DELETE FROM {t} o USING {} p WHERE {cond}",
                    qualified(parent)
                )
            },
            rows: None,
        });
    }
}

/// `citext` (arcdb's case-insensitive columns) does not exist before the migrations run: the
/// checks compare its values lower-cased as text, which is how citext compares them.
fn is_citext(ty: &str) -> bool {
    ty == "citext" || ty == "citext[]"
}

/// Casts no value can fail: to text, widening integers, numerics with room for every digit,
/// longer varchars. Their checks would cost a function call per row and find nothing.
fn always_valid(from: &str, to: &str) -> bool {
    let character = |t: &str| t == "text" || t.starts_with("character varying");
    if to == "text" || to == "citext" {
        return character(from);
    }
    if to == "text[]" || to == "citext[]" {
        return from == "text[]" || from == "character varying[]";
    }
    if matches!(
        (from, to),
        ("smallint", "integer" | "bigint") | ("integer", "bigint")
    ) {
        return true;
    }
    let numeric = |t: &str| -> Option<(u32, u32)> {
        let (p, s) = t
            .strip_prefix("numeric(")?
            .strip_suffix(')')?
            .split_once(',')?;
        Some((p.trim().parse().ok()?, s.trim().parse().ok()?))
    };
    if let (Some((p, s)), Some((p2, s2))) = (numeric(from), numeric(to)) {
        return p2 - s2.min(p2) >= p - s.min(p) && s2 >= s;
    }
    if from.starts_with("numeric") && to == "numeric" {
        return true;
    }
    match (varchar_length(from), varchar_length(to)) {
        (Some(n), Some(m)) => m >= n,
        (Some(_), None) => to == "character varying",
        _ => false,
    }
}

fn cast_for_check(expr: &str, ty: &str) -> String {
    match ty {
        "citext" => format!("lower({expr}::text)"),
        "citext[]" => format!("lower({expr}::text)::text[]"),
        _ => format!("{expr}::text::{ty}"),
    }
}

/// The arcdb column `name` of `copy`'s table as a value computed from deployed row `o`, when
/// the deployed row has it.
fn value_of(deployed: &Schema, table: &str, tc: &Column) -> Option<String> {
    if let Some(dc) = deployed.column(table, &tc.name) {
        let e = format!("o.{}", sql_ident(&dc.name));
        return Some(if needs_cast(deployed, dc, tc) {
            cast_for_check(&e, &tc.data_type)
        } else {
            e
        });
    }
    if tc.name == "organization_id" {
        return org_expr(deployed, table, "o", "public");
    }
    None
}

/// Rows whose casts all succeed (so that an expression over the cast values can be evaluated).
fn castable_guard(
    deployed: &Schema,
    target: &Schema,
    copy: &TableCopy,
    columns: &[String],
    has_input_is_valid: bool,
) -> String {
    let guards: Vec<String> = copy
        .casts
        .iter()
        .filter(|(n, ty)| {
            columns.contains(n)
                && deployed
                    .column(&copy.table, n)
                    .is_some_and(|dc| !is_citext(ty) && !always_valid(&dc.data_type, ty))
        })
        .map(|(n, ty)| {
            let v = format!("o.{}::text", sql_ident(n));
            format!(
                "(o.{} IS NULL OR {})",
                sql_ident(n),
                valid(&v, ty, has_input_is_valid, target)
            )
        })
        .collect();
    if guards.is_empty() {
        "true".into()
    } else {
        guards.join(" AND ")
    }
}

/// Columns a BEFORE INSERT trigger function of `table` assigns (`NEW.col :=` or `NEW.col =`).
pub fn trigger_assigned_columns(target: &Schema, table: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in target
        .triggers
        .iter()
        .filter(|t| t.table == table && t.definition.contains("BEFORE INSERT"))
    {
        let Some(call) = t.definition.split("EXECUTE FUNCTION ").nth(1) else {
            continue;
        };
        let fname = bare(call.split('(').next().unwrap_or("").trim());
        for f in target
            .functions
            .iter()
            .filter(|f| bare(f.signature.split('(').next().unwrap_or("")) == fname)
        {
            let body = f.definition.to_ascii_lowercase();
            for col in target.columns_of(table) {
                let n = col.name.to_ascii_lowercase();
                if body.contains(&format!("new.{n} :=")) || body.contains(&format!("new.{n} =")) {
                    out.push(col.name.clone());
                }
            }
        }
    }
    out
}

fn check_constraints(
    deployed: &Schema,
    target: &Schema,
    copy: &TableCopy,
    has_input_is_valid: bool,
    out: &mut Vec<Check>,
) {
    let table = &copy.table;
    let derived = trigger_assigned_columns(target, table);
    for c in target
        .constraints_of(table)
        .into_iter()
        .filter(|c| c.kind == "c")
    {
        // A BEFORE INSERT trigger recomputes these columns (desks' hierarchy): the deployed
        // values are not what is checked; the copy itself is, and fails if the result does not.
        if c.columns.iter().any(|col| derived.contains(col)) {
            continue;
        }
        let Some(expr) = c
            .definition
            .strip_prefix("CHECK ")
            .map(|e| e.trim_end_matches(" NOT VALID"))
        else {
            continue;
        };
        let mut values = vec!["o.id AS id".to_string()];
        let mut ok = true;
        for name in &c.columns {
            match target
                .column(table, name)
                .and_then(|tc| value_of(deployed, table, tc))
            {
                Some(v) if name != "id" => values.push(format!("{v} AS {}", sql_ident(name))),
                Some(_) => {}
                None => ok = false,
            }
        }
        if !ok || c.columns.is_empty() {
            continue;
        }
        let guard = castable_guard(deployed, target, copy, &c.columns, has_input_is_valid);
        let query = format!(
            "SELECT s.* FROM (SELECT {} FROM {} o WHERE {guard} OFFSET 0) s WHERE ({expr}) IS FALSE",
            values.join(", "),
            qualified(table)
        );
        out.push(Check {
            kind: CheckKind::CheckConstraint,
            object: format!("{table}.{}", c.name),
            description: format!(
                "rows of {table} that arcdb's constraint {} ({}) rejects",
                c.name, c.definition
            ),
            fix: format!(
                "-- correct the rows this lists (columns {}) so that {expr} holds",
                c.columns.join(", ")
            ),
            query,
            rows: None,
        });
    }
}

fn duplicates(deployed: &Schema, target: &Schema, copy: &TableCopy, out: &mut Vec<Check>) {
    let table = &copy.table;
    let t = qualified(table);
    for c in target
        .constraints_of(table)
        .into_iter()
        .filter(|c| c.kind == "p" || c.kind == "u")
    {
        // A deployed key on a subset of these columns already rules duplicates out.
        let covered = deployed.constraints_of(table).into_iter().any(|d| {
            (d.kind == "p" || d.kind == "u") && d.columns.iter().all(|x| c.columns.contains(x))
        });
        if covered {
            continue;
        }
        let mut keys = Vec::new();
        let mut ok = true;
        for name in &c.columns {
            match target
                .column(table, name)
                .and_then(|tc| value_of(deployed, table, tc))
            {
                Some(v) => keys.push((name.clone(), v)),
                None => ok = false,
            }
        }
        if !ok {
            continue;
        }
        let key_list: Vec<String> = keys.iter().map(|(_, v)| v.clone()).collect();
        let not_null: Vec<String> = key_list
            .iter()
            .map(|v| format!("{v} IS NOT NULL"))
            .collect();
        let names: Vec<String> = keys
            .iter()
            .map(|(n, v)| format!("{v} AS {}", sql_ident(n)))
            .collect();
        let query = format!(
            "SELECT {}, count(*) AS rows FROM {t} o WHERE {} GROUP BY {} HAVING count(*) > 1",
            names.join(", "),
            not_null.join(" AND "),
            key_list.join(", ")
        );
        let last = c.columns.last().cloned().unwrap_or_default();
        let last_is_text = target
            .column(table, &last)
            .is_some_and(|x| text_like(&x.data_type))
            && deployed.column(table, &last).is_some();
        let fix = if last_is_text {
            format!(
                "UPDATE {t} u SET {col} = u.{col} || '-' || left(u.id::text, 8) FROM (SELECT o.id, row_number() OVER (PARTITION BY {} ORDER BY o.id) AS n FROM {t} o) d WHERE d.id = u.id AND d.n > 1",
                key_list.join(", "),
                col = sql_ident(&last)
            )
        } else {
            format!(
                "-- make the rows this lists distinct in ({})",
                c.columns.join(", ")
            )
        };
        out.push(Check {
            kind: CheckKind::DuplicateKey,
            object: format!("{table}.{}", c.name),
            description: format!(
                "rows of {table} that share ({}), which arcdb's key {} makes unique",
                c.columns.join(", "),
                c.name
            ),
            query,
            fix,
            rows: None,
        });
    }
    let _ = bare(table);
}
