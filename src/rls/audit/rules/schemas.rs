//! CREATE on schemas: on one holding tenant tables, or one names are resolved in at run time
//! (`public`, a session's or a function's search_path), a tenant can shadow what policies, views,
//! triggers and functions call; on any other schema it can still create objects nobody audits.

use super::super::*;
use crate::rls::Severity;

pub const SCHEMA_CREATE: &str = "schema-create";
pub const SCHEMA_CREATE_UNRESOLVED: &str = "schema-create-unresolved";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: SCHEMA_CREATE,
        severity: Severity::Error,
        finds: "CREATE granted to the tenant or PUBLIC on a schema holding tenant tables, or on one names are resolved in at run time (public, or on a session's or a function's search_path)",
    },
    Rule {
        id: SCHEMA_CREATE_UNRESOLVED,
        severity: Severity::Warning,
        finds: "CREATE granted to the tenant or PUBLIC on a schema that holds no tenant table and is on no search_path: it can create objects outside the audit, shadowing nothing",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("schemas.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn schemas(&mut self) {
        let schemas: Vec<&SchemaRow> = match &self.cat.schemas {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(
                    &[rule::SCHEMA_CREATE, rule::SCHEMA_CREATE_UNRESOLVED],
                    &reason,
                );
                return;
            }
        };
        let holding: BTreeSet<u32> = self.tenant_tables.values().map(|t| t.namespace).collect();
        for s in schemas {
            let holds_tenant_tables = holding.contains(&s.oid);
            let rule = if holds_tenant_tables || s.resolved {
                rule::SCHEMA_CREATE
            } else {
                rule::SCHEMA_CREATE_UNRESOLVED
            };
            let creators: Vec<u32> = s
                .create_by
                .iter()
                .copied()
                .filter(|r| *r == 0 || self.is_tenant(*r))
                .collect();
            let object = format!("schema {}", s.qname);
            let who = creators
                .iter()
                .map(|r| self.who(*r))
                .collect::<Vec<_>>()
                .join(", ");
            let risk = if holds_tenant_tables {
                format!(
                    "{who} can CREATE in {}, which holds tenant tables: a tenant can create functions and tables there that shadow the ones policies, views and unpinned functions call (search_path), or own a table it then controls",
                    s.qname
                )
            } else if s.resolved {
                format!(
                    "{who} can CREATE in {}, where names are resolved at run time (public, or on a session's or a function's search_path): a tenant can create a function or table there that a policy, view, trigger or function without a pinned search_path then calls instead of the intended one, with the caller's (or a SECURITY DEFINER owner's) rights",
                    s.qname
                )
            } else {
                format!(
                    "{who} can CREATE in {}: no search_path names it, so nothing resolves into it, but the tenant can create tables and functions there that neither the audit nor the probes look at",
                    s.qname
                )
            };
            let v = if creators.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk,
                    fix: format!(
                        "REVOKE CREATE ON SCHEMA {} FROM {};",
                        s.qname,
                        creators
                            .iter()
                            .map(|r| self.grantee_sql(*r))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            };
            self.record(rule, &object, Some("CREATE"), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn create_on_a_tenant_schema_for_public() {
        let mut cat = baseline();
        if let Ok(s) = &mut cat.schemas {
            s[0].create_by = vec![0];
        }
        has(&cat, rule::SCHEMA_CREATE, "schema public");
    }

    fn other_schema(resolved: bool) -> SchemaRow {
        SchemaRow {
            oid: 9000,
            qname: "scratch".into(),
            create_by: vec![TENANT],
            resolved,
        }
    }

    #[test]
    fn create_on_a_schema_names_resolve_in_is_an_error_elsewhere_a_warning() {
        let mut cat = baseline();
        if let Ok(s) = &mut cat.schemas {
            s.push(other_schema(true));
        }
        has(&cat, rule::SCHEMA_CREATE, "schema scratch");
        let mut cat = baseline();
        if let Ok(s) = &mut cat.schemas {
            s.push(other_schema(false));
        }
        has(&cat, rule::SCHEMA_CREATE_UNRESOLVED, "schema scratch");
        let e = evaluate(&cat, &VerifyOptions::default());
        let f = e.findings().find(|f| f.object == "schema scratch").unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.fix,
            "REVOKE CREATE ON SCHEMA scratch FROM arcdesk_tenant;"
        );
    }
}
