//! Unique constraints and indexes on tenant tables, which must include the tenant column unless
//! tagged platform-wide.

use super::super::*;
use crate::rls::Severity;

pub const UNIQUE_UNSCOPED: &str = "unique-unscoped";
pub const UNIQUE_SURROGATE_UNSCOPED: &str = "unique-surrogate-unscoped";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: UNIQUE_UNSCOPED,
        severity: Severity::Error,
        finds: "a unique constraint or index on a tenant table without the tenant column and without the arcdb:platform-unique: tag",
    },
    // A random surrogate key answers "exists elsewhere" only for a value nobody can guess.
    Rule {
        id: UNIQUE_SURROGATE_UNSCOPED,
        severity: Severity::Warning,
        finds: "the same for a key made only of uuid columns with a default (a random surrogate): defence in depth, a warning",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("unique_keys.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn unique_keys(&mut self) {
        let keys: Vec<&UniqueRow> = match &self.cat.unique_keys {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::UNIQUE_UNSCOPED], &reason);
                return;
            }
        };
        for u in keys {
            let Some(t) = self.tenant_tables.get(&u.table).copied() else {
                continue;
            };
            let key = self.key_column(t);
            let object = match &u.constraint_name {
                Some(c) => format!("constraint {} on {}", sql_ident(c), t.qname),
                None => format!("index {} on {}", u.index_qname, t.qname),
            };
            let tag = [&u.constraint_comment, &u.index_comment]
                .into_iter()
                .flatten()
                .find_map(|c| tag_reason(c, PLATFORM_UNIQUE_TAG));
            if u.columns.iter().any(|c| c == key) {
                self.record(rule::UNIQUE_UNSCOPED, &object, None, Verdict::Pass);
                continue;
            }
            if let Some(reason) = tag {
                self.checks.push(Check::pass(
                    Suite::Audit,
                    format!(
                        "{} {object} (tagged platform-unique: {reason})",
                        rule::UNIQUE_UNSCOPED
                    ),
                ));
                continue;
            }
            let kind = if u.is_primary {
                "primary key"
            } else if u.constraint_name.is_some() {
                "unique constraint"
            } else {
                "unique index"
            };
            let cols: Vec<String> = u.columns.iter().map(|c| sql_ident(c)).collect();
            let tag_sql = match &u.constraint_name {
                Some(c) => format!(
                    "COMMENT ON CONSTRAINT {} ON {} IS '{PLATFORM_UNIQUE_TAG} <why this must be unique across organizations>';",
                    sql_ident(c),
                    t.qname
                ),
                None => format!(
                    "COMMENT ON INDEX {} IS '{PLATFORM_UNIQUE_TAG} <why this must be unique across organizations>';",
                    u.index_qname
                ),
            };
            let scope_sql = match (&u.constraint_name, u.is_primary) {
                (Some(c), true) => format!(
                    "ALTER TABLE {} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} PRIMARY KEY ({}, {});",
                    t.qname,
                    sql_ident(key),
                    cols.join(", "),
                    c = sql_ident(c)
                ),
                (Some(c), false) => format!(
                    "ALTER TABLE {} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} UNIQUE ({}, {});",
                    t.qname,
                    sql_ident(key),
                    cols.join(", "),
                    c = sql_ident(c)
                ),
                (None, _) => format!(
                    "DROP INDEX {}; CREATE UNIQUE INDEX {} ON {} ({}, {}){};",
                    u.index_qname,
                    sql_ident(&u.index_name),
                    t.qname,
                    sql_ident(key),
                    cols.join(", "),
                    if u.partial {
                        " WHERE <same predicate>"
                    } else {
                        ""
                    }
                ),
            };
            let (rule, risk) = if u.surrogate {
                (
                    rule::UNIQUE_SURROGATE_UNSCOPED,
                    format!(
                        "the {kind} on {} ({}) spans every organization: its values are random surrogates no tenant can guess, so the duplicate-key side channel is theoretical, but the tenant column belongs in every key (defence in depth, and the table distributes by tenant)",
                        t.qname,
                        u.columns.join(", ")
                    ),
                )
            } else {
                (
                    rule::UNIQUE_UNSCOPED,
                    format!(
                        "the {kind} on {} ({}) spans every organization and unique checks ignore row-level security: a tenant that inserts a value another organization already uses gets a duplicate-key error, which tells it that the value exists there",
                        t.qname,
                        u.columns.join(", ")
                    ),
                )
            };
            let v = Verdict::Fail {
                risk,
                fix: format!("{scope_sql} -- or, if it must be platform-wide: {tag_sql}"),
            };
            self.record(rule, &object, None, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn unique_keys_need_the_tenant_column_or_a_reasoned_tag() {
        let mut cat = baseline();
        cat.unique_keys = Ok(vec![
            UniqueRow {
                table: 2,
                index_name: "tasks_pkey".into(),
                index_qname: "public.tasks_pkey".into(),
                is_primary: true,
                columns: vec!["organization_id".into(), "id".into()],
                partial: false,
                constraint_name: Some("tasks_pkey".into()),
                constraint_comment: None,
                index_comment: None,
                surrogate: false,
            },
            UniqueRow {
                table: 2,
                index_name: "tasks_code_key".into(),
                index_qname: "public.tasks_code_key".into(),
                is_primary: false,
                columns: vec!["code".into()],
                partial: false,
                constraint_name: None,
                constraint_comment: None,
                index_comment: Some("arcdb:platform-unique: codes are global".into()),
                surrogate: false,
            },
            UniqueRow {
                table: 2,
                index_name: "tasks_title_idx".into(),
                index_qname: "public.tasks_title_idx".into(),
                is_primary: false,
                columns: vec!["title".into()],
                partial: true,
                constraint_name: None,
                constraint_comment: None,
                index_comment: Some("arcdb:platform-unique:".into()),
                surrogate: false,
            },
        ]);
        has(
            &cat,
            rule::UNIQUE_UNSCOPED,
            "index public.tasks_title_idx on public.tasks",
        );
        let f = findings(&cat);
        assert!(
            !f.iter()
                .any(|(_, o)| o.contains("tasks_pkey") || o.contains("tasks_code_key")),
            "{f:?}"
        );
    }
}
