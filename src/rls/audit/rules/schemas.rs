//! CREATE on the schemas holding tenant tables.

use super::super::*;
use crate::rls::Severity;

pub const SCHEMA_CREATE: &str = "schema-create";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[Rule {
    id: SCHEMA_CREATE,
    severity: Severity::Error,
    finds: "CREATE on a schema holding tenant tables granted to the tenant or PUBLIC",
}];

pub(in crate::rls::audit) const SQL: &str = include_str!("schemas.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn schemas(&mut self) {
        let schemas: Vec<&SchemaRow> = match &self.cat.schemas {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::SCHEMA_CREATE], &reason);
                return;
            }
        };
        let holding: BTreeSet<u32> = self.tenant_tables.values().map(|t| t.namespace).collect();
        for s in schemas {
            if !holding.contains(&s.oid) {
                continue;
            }
            let creators: Vec<u32> = s
                .create_by
                .iter()
                .copied()
                .filter(|r| *r == 0 || self.is_tenant(*r))
                .collect();
            let object = format!("schema {}", s.qname);
            let v = if creators.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk: format!(
                        "{} can CREATE in {}, which holds tenant tables: a tenant can create functions and tables there that shadow the ones policies, views and unpinned functions call (search_path), or own a table it then controls",
                        creators.iter().map(|r| self.who(*r)).collect::<Vec<_>>().join(", "),
                        s.qname
                    ),
                    fix: format!(
                        "REVOKE CREATE ON SCHEMA {} FROM {};",
                        s.qname,
                        creators.iter().map(|r| self.grantee_sql(*r)).collect::<Vec<_>>().join(", ")
                    ),
                }
            };
            self.record(rule::SCHEMA_CREATE, &object, Some("CREATE"), v);
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
}
