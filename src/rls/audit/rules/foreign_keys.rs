//! Foreign keys between tenant tables, which must include the tenant column.

use super::super::*;
use crate::rls::Severity;

pub const FK_UNSCOPED: &str = "fk-unscoped";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[Rule {
    id: FK_UNSCOPED,
    severity: Severity::Error,
    finds: "a foreign key between tenant tables that leaves out the tenant column",
}];

pub(in crate::rls::audit) const SQL: &str = include_str!("foreign_keys.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn foreign_keys(&mut self) {
        let fks: Vec<&ForeignKeyRow> = match &self.cat.foreign_keys {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::FK_UNSCOPED], &reason);
                return;
            }
        };
        for fk in fks {
            let (Some(child), Some(parent)) = (
                self.tenant_tables.get(&fk.table).copied(),
                self.tenant_tables.get(&fk.ref_table).copied(),
            ) else {
                continue;
            };
            let (ck, pk) = (self.key_column(child), self.key_column(parent));
            let scoped = fk
                .columns
                .iter()
                .zip(&fk.ref_columns)
                .any(|(c, p)| c == ck && p == pk);
            let object = format!("constraint {} on {}", sql_ident(&fk.name), child.qname);
            let v = if scoped {
                Verdict::Pass
            } else {
                let cols: Vec<String> = fk.columns.iter().map(|c| sql_ident(c)).collect();
                let refs: Vec<String> = fk.ref_columns.iter().map(|c| sql_ident(c)).collect();
                Verdict::Fail {
                    risk: format!(
                        "({}) → {} ({}) leaves out {}: foreign-key checks ignore row-level security, so a tenant can point its rows of {} at rows of {} in another organization (corrupting that organization's data and aggregates) and learn from the error whether an id exists there",
                        fk.columns.join(", "),
                        parent.qname,
                        fk.ref_columns.join(", "),
                        ck,
                        child.qname,
                        parent.qname
                    ),
                    fix: format!(
                        "ALTER TABLE {} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} FOREIGN KEY ({}, {}) REFERENCES {} ({}, {}); -- needs UNIQUE ({}, {}) on {}",
                        child.qname,
                        sql_ident(ck),
                        cols.join(", "),
                        parent.qname,
                        sql_ident(pk),
                        refs.join(", "),
                        sql_ident(pk),
                        refs.join(", "),
                        parent.qname,
                        c = sql_ident(&fk.name)
                    ),
                }
            };
            self.record(rule::FK_UNSCOPED, &object, None, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn foreign_key_without_the_tenant_column() {
        let mut cat = baseline();
        if let Ok(fk) = &mut cat.foreign_keys {
            fk.push(ForeignKeyRow {
                name: "tasks_parent_fkey".into(),
                table: 2,
                ref_table: 2,
                columns: vec!["parent_id".into()],
                ref_columns: vec!["id".into()],
            });
        }
        has(
            &cat,
            rule::FK_UNSCOPED,
            "constraint tasks_parent_fkey on public.tasks",
        );
        let f = findings(&cat);
        assert!(
            !f.iter().any(|(_, o)| o.contains("tasks_org_fkey")),
            "{f:?}"
        );
    }
}
