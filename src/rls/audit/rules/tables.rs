//! Tables: row-level security on, the tenant column present, and no ownership that lets the tenant
//! switch RLS off or bypass it.

use super::super::*;
use crate::rls::Severity;

pub const RLS_DISABLED: &str = "rls-disabled";
pub const TENANT_COLUMN_MISSING: &str = "tenant-column-missing";
pub const TABLE_OWNED_BY_TENANT: &str = "table-owned-by-tenant";
pub const OWNER_NOT_FORCED: &str = "owner-not-forced";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: RLS_DISABLED,
        severity: Severity::Error,
        finds: "a table of the tenant schemas (or a partition/child) without row-level security, unless tagged arcdb:global:",
    },
    Rule {
        id: TENANT_COLUMN_MISSING,
        severity: Severity::Error,
        finds: "a table other than the root without the tenant column, unless tagged arcdb:global:",
    },
    Rule {
        id: TABLE_OWNED_BY_TENANT,
        severity: Severity::Error,
        finds: "the tenant (or a role it reaches) owns a tenant table, or is a member of its owner: it can disable RLS even with FORCE",
    },
    Rule {
        id: OWNER_NOT_FORCED,
        severity: Severity::Error,
        finds: "a tenant table owned by the tenant without FORCE ROW LEVEL SECURITY: the owner bypasses every policy",
    },
];

impl Audit<'_> {
    pub(in crate::rls::audit) fn tables(&mut self) {
        if let Err(reason) = &self.cat.tables {
            let reason = reason.clone();
            self.skip(
                &[
                    rule::RLS_DISABLED,
                    rule::TENANT_COLUMN_MISSING,
                    rule::TABLE_OWNED_BY_TENANT,
                    rule::OWNER_NOT_FORCED,
                ],
                &reason,
            );
            return;
        }
        let rls_unsupported = self.cat.rls_unsupported.clone();
        let tenant = self.tenant_name().to_string();
        for t in self.tables.clone() {
            let of = t
                .parent
                .as_ref()
                .map(|p| format!(" (a partition or child of {p}, queried directly with its own RLS settings)"))
                .unwrap_or_default();
            if let Some(reason) = global_reason(t) {
                self.checks.push(Check::pass(
                    Suite::Audit,
                    format!(
                        "{} {} (tagged global: {reason})",
                        rule::RLS_DISABLED,
                        t.qname
                    ),
                ));
                continue;
            }
            match &rls_unsupported {
                Some(reason) => self.checks.push(Check::skipped(
                    Suite::Audit,
                    format!("{} {}", rule::RLS_DISABLED, t.qname),
                    reason.clone(),
                )),
                None => {
                    let v = if t.rls {
                        Verdict::Pass
                    } else {
                        Verdict::Fail {
                            risk: format!(
                                "row-level security is off on {}{of}: its policies are not applied, a tenant with a privilege on it reads or writes every organization's rows",
                                t.qname
                            ),
                            fix: format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY; -- and a policy scoped by {}", t.qname, self.key_column(t)),
                        }
                    };
                    self.record(rule::RLS_DISABLED, &t.qname, None, v);
                }
            }
            if !self.is_root(t) {
                let v = if t.has_tenant_column {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{} has no {} column{of}: no policy can tell whose rows it holds, so whatever it holds is shared by every organization",
                            t.qname, self.opts.tenant_column
                        ),
                        fix: format!(
                            "ALTER TABLE {} ADD COLUMN {} uuid NOT NULL REFERENCES {} (id); -- or, if it is meant to be shared: COMMENT ON TABLE {} IS '{GLOBAL_TAG} <reason>';",
                            t.qname,
                            sql_ident(&self.opts.tenant_column),
                            self.root_qname(),
                            t.qname
                        ),
                    }
                };
                self.record(rule::TENANT_COLUMN_MISSING, &t.qname, None, v);
            }
            let owned = self.is_tenant(t.owner);
            let v = if owned {
                Verdict::Fail {
                    risk: format!(
                        "{} is owned by {}: the owner (and every member of it) can ALTER TABLE … DISABLE ROW LEVEL SECURITY or drop the policies even with FORCE on, and TRUNCATE it",
                        t.qname,
                        self.who(t.owner)
                    ),
                    fix: format!(
                        "ALTER TABLE {} OWNER TO <the migration role>; -- a role {tenant} is not a member of",
                        t.qname
                    ),
                }
            } else {
                Verdict::Pass
            };
            self.record(rule::TABLE_OWNED_BY_TENANT, &t.qname, None, v);
            if owned && rls_unsupported.is_none() {
                let v = if t.force_rls {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{} is owned by {} without FORCE ROW LEVEL SECURITY: as its owner the tenant bypasses every policy and reads and writes every organization's rows",
                            t.qname, t.owner_name
                        ),
                        fix: format!(
                            "ALTER TABLE {} FORCE ROW LEVEL SECURITY; -- and give the table to another owner",
                            t.qname
                        ),
                    }
                };
                self.record(rule::OWNER_NOT_FORCED, &t.qname, None, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn rls_off_ownership_and_force() {
        let mut cat = baseline();
        if let Ok(t) = &mut cat.tables {
            t[1].rls = false;
            t[1].owner = TENANT;
            t[1].owner_name = "arcdesk_tenant".into();
        }
        has(&cat, rule::RLS_DISABLED, "public.tasks");
        has(&cat, rule::TABLE_OWNED_BY_TENANT, "public.tasks");
        has(&cat, rule::OWNER_NOT_FORCED, "public.tasks");
    }

    #[test]
    fn global_tag_exempts_a_table() {
        let mut cat = baseline();
        if let Ok(t) = &mut cat.tables {
            let mut g = table(3, "currencies");
            g.rls = false;
            g.has_tenant_column = false;
            g.comment = Some("arcdb:global: ISO currency codes".into());
            t.push(g);
            let mut n = table(4, "notes");
            n.has_tenant_column = false;
            t.push(n);
        }
        let f = findings(&cat);
        assert!(!f.iter().any(|(_, o)| o == "public.currencies"), "{f:?}");
        has(&cat, rule::TENANT_COLUMN_MISSING, "public.notes");
    }
}
