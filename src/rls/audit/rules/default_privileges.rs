//! Default privileges that would grant the tenant or PUBLIC privileges on objects created later.

use super::super::*;
use crate::rls::Severity;

pub const DEFAULT_PRIVILEGES: &str = "default-privileges";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: DEFAULT_PRIVILEGES,
        severity: Severity::Warning,
        finds: "default privileges that grant the tenant or PUBLIC privileges on tables or sequences created later",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("default_acl.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn default_privileges(&mut self) {
        let rows: Vec<&DefaultAclRow> = match &self.cat.default_acls {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::DEFAULT_PRIVILEGES], &reason);
                return;
            }
        };
        let rows: Vec<&DefaultAclRow> = rows
            .into_iter()
            .filter(|d| d.grantee == 0 || self.is_tenant(d.grantee))
            .collect();
        if rows.is_empty() {
            self.checks.push(Check::pass(
                Suite::Audit,
                format!(
                    "{} (none grant the tenant or PUBLIC)",
                    rule::DEFAULT_PRIVILEGES
                ),
            ));
        }
        for d in rows {
            let what = if d.objtype == "S" {
                "sequences"
            } else {
                "tables"
            };
            let object = match &d.schema {
                Some(s) => format!(
                    "default privileges of role {} in schema {} on {what}",
                    d.owner_name, s
                ),
                None => format!("default privileges of role {} on {what}", d.owner_name),
            };
            let in_schema = d
                .schema
                .as_ref()
                .map(|s| format!(" IN SCHEMA {}", sql_ident(s)))
                .unwrap_or_default();
            self.record(
                rule::DEFAULT_PRIVILEGES,
                &object,
                Some(&d.privileges.join(", ")),
                Verdict::Fail {
                    risk: format!(
                        "every {} that {} creates later{} is granted {} to {} at once, before anyone enables row-level security or writes a policy on it: a new table is readable or writable by tenants for every organization from its first row",
                        &what[..what.len() - 1],
                        d.owner_name,
                        d.schema.as_ref().map(|s| format!(" in schema {s}")).unwrap_or_default(),
                        d.privileges.join(", "),
                        self.who(d.grantee)
                    ),
                    fix: format!(
                        "ALTER DEFAULT PRIVILEGES FOR ROLE {}{in_schema} REVOKE ALL ON {} FROM {};",
                        sql_ident(&d.owner_name),
                        what.to_uppercase(),
                        self.grantee_sql(d.grantee)
                    ),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn default_privileges_granting_the_tenant() {
        let mut cat = baseline();
        cat.default_acls = Ok(vec![DefaultAclRow {
            owner_name: "postgres".into(),
            schema: Some("public".into()),
            objtype: "r".into(),
            grantee: TENANT,
            privileges: vec!["SELECT".into()],
        }]);
        has(
            &cat,
            rule::DEFAULT_PRIVILEGES,
            "default privileges of role postgres in schema public on tables",
        );
    }
}
