//! Privileges no policy governs: TRUNCATE, TRIGGER and REFERENCES on tenant tables.

use super::super::*;
use crate::rls::Severity;

pub const GRANT_TRUNCATE: &str = "grant-truncate";
pub const GRANT_TRIGGER: &str = "grant-trigger";
pub const GRANT_REFERENCES: &str = "grant-references";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: GRANT_TRUNCATE,
        severity: Severity::Error,
        finds: "TRUNCATE on a tenant table granted to the tenant (TRUNCATE ignores RLS)",
    },
    Rule {
        id: GRANT_TRIGGER,
        severity: Severity::Error,
        finds: "TRIGGER on a tenant table granted to the tenant (a trigger sees every organization's writes)",
    },
    Rule {
        id: GRANT_REFERENCES,
        severity: Severity::Error,
        finds: "REFERENCES on a tenant table granted to the tenant (foreign-key checks ignore RLS)",
    },
];

impl Audit<'_> {
    pub(in crate::rls::audit) fn grants_not_governed(&mut self) {
        if let Err(reason) = &self.cat.grants {
            let reason = reason.clone();
            self.skip(
                &[
                    rule::GRANT_TRUNCATE,
                    rule::GRANT_TRIGGER,
                    rule::GRANT_REFERENCES,
                ],
                &reason,
            );
            return;
        }
        let tables: Vec<&TableRow> = self.tenant_tables.values().copied().collect();
        for t in tables {
            for (rule, privilege, any_column, what) in [
                (
                    rule::GRANT_TRUNCATE,
                    "TRUNCATE",
                    false,
                    "TRUNCATE ignores row-level security: a tenant can empty the table for every organization",
                ),
                (
                    rule::GRANT_TRIGGER,
                    "TRIGGER",
                    false,
                    "a tenant can attach a trigger whose function sees (and can copy or change) every organization's rows as they are written",
                ),
                (
                    rule::GRANT_REFERENCES,
                    "REFERENCES",
                    true,
                    "foreign-key checks ignore row-level security: a tenant can create a table referencing this one and probe which keys exist in other organizations (and block their deletes)",
                ),
            ] {
                // The owner's implicit privileges are the ownership finding's business.
                let holders: Vec<u32> = self
                    .holders(t.oid, privilege, any_column)
                    .into_iter()
                    .filter(|h| *h != t.owner)
                    .collect();
                let v = if holders.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{} holds {privilege} on {}: {what}",
                            holders.iter().map(|h| self.who(*h)).collect::<Vec<_>>().join(", "),
                            t.qname
                        ),
                        fix: format!(
                            "REVOKE {privilege} ON {} FROM {};",
                            t.qname,
                            holders.iter().map(|h| self.grantee_sql(*h)).collect::<Vec<_>>().join(", ")
                        ),
                    }
                };
                self.record(rule, &t.qname, Some(privilege), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn truncate_trigger_and_references_grants() {
        let mut cat = baseline();
        if let Ok(g) = &mut cat.grants {
            g.extend([
                grant(2, "TRUNCATE"),
                grant(2, "TRIGGER"),
                grant(2, "REFERENCES"),
            ]);
        }
        has(&cat, rule::GRANT_TRUNCATE, "public.tasks");
        has(&cat, rule::GRANT_TRIGGER, "public.tasks");
        has(&cat, rule::GRANT_REFERENCES, "public.tasks");
    }
}
