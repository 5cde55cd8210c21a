//! Views and materialized views over tenant rows the tenant can read or write.

use super::super::*;
use crate::rls::Severity;

pub const VIEW_UNSCOPED: &str = "view-unscoped";
pub const VIEW_NOT_SECURITY_BARRIER: &str = "view-not-security-barrier";
pub const VIEW_WRITABLE: &str = "view-writable";
pub const MATVIEW_READABLE: &str = "matview-readable";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: VIEW_UNSCOPED,
        severity: Severity::Error,
        finds: "a view over tenant rows the tenant can read that runs as its owner (not security_invoker) and does not filter by organization",
    },
    Rule {
        id: VIEW_NOT_SECURITY_BARRIER,
        severity: Severity::Warning,
        finds: "a view over tenant rows the tenant can read that filters by organization but is neither security_invoker nor security_barrier",
    },
    Rule {
        id: VIEW_WRITABLE,
        severity: Severity::Error,
        finds: "a view over tenant rows, running as its owner, that the tenant can write through without an organization filter and WITH CHECK OPTION",
    },
    Rule {
        id: MATVIEW_READABLE,
        severity: Severity::Error,
        finds: "a materialized view over tenant rows the tenant can read (materialized views have no RLS)",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("views.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn views(&mut self) {
        let views: Vec<&ViewRow> = match &self.cat.views {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(
                    &[
                        rule::VIEW_UNSCOPED,
                        rule::VIEW_NOT_SECURITY_BARRIER,
                        rule::VIEW_WRITABLE,
                        rule::MATVIEW_READABLE,
                    ],
                    &reason,
                );
                return;
            }
        };
        if let Err(reason) = &self.cat.grants {
            let reason = reason.clone();
            self.skip(
                &[
                    rule::VIEW_UNSCOPED,
                    rule::VIEW_NOT_SECURITY_BARRIER,
                    rule::VIEW_WRITABLE,
                    rule::MATVIEW_READABLE,
                ],
                &reason,
            );
            return;
        }
        let tenant_rels = self.tenant_relations();
        let names = self.relation_names();
        for v in views {
            if !tenant_rels.contains(&v.oid) {
                continue;
            }
            let bases: Vec<String> = v
                .refs
                .iter()
                .filter(|r| tenant_rels.contains(r))
                .filter_map(|r| names.get(r).cloned())
                .collect();
            let bases = bases.join(", ");
            let readers = self.holds(v.oid, Cmd::Select);
            let readers_text = readers
                .iter()
                .map(|h| self.who(*h))
                .collect::<Vec<_>>()
                .join(", ");
            let revoke_select = format!(
                "REVOKE SELECT ON {} FROM {};",
                v.qname,
                readers
                    .iter()
                    .map(|h| self.grantee_sql(*h))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if v.kind == "m" {
                let object = format!("materialized view {}", v.qname);
                let verdict = if readers.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{readers_text} can SELECT {}, which materializes rows of {bases} for every organization: materialized views have no row-level security",
                            v.qname
                        ),
                        fix: format!(
                            "{revoke_select} -- let tenants read it through a security_barrier view WHERE {} = (SELECT {})",
                            sql_ident(&self.opts.tenant_column),
                            self.helper_call()
                        ),
                    }
                };
                self.record(rule::MATVIEW_READABLE, &object, Some("SELECT"), verdict);
                continue;
            }
            let object = format!("view {}", v.qname);
            let invoker = reloption(&v.options, "security_invoker");
            let barrier = reloption(&v.options, "security_barrier");
            let check_option = v.options.iter().any(|o| o.starts_with("check_option="));
            let scope = predicate::Scope {
                column: &self.opts.tenant_column,
                qualifier: None,
                setting: &self.opts.setting,
                helpers: &self.helpers,
                members: self.members.as_ref(),
            };
            let scoped = v
                .definition
                .as_deref()
                .is_some_and(|d| predicate::view_scoped(d, &scope));
            if invoker {
                self.record(rule::VIEW_UNSCOPED, &object, Some("SELECT"), Verdict::Pass);
                continue;
            }
            if !readers.is_empty() {
                let verdict = if !scoped {
                    Verdict::Fail {
                        risk: format!(
                            "{readers_text} can SELECT {}, which runs with the rights of its owner {} (not security_invoker) and does not filter by organization: a tenant reads the rows of {bases} of every organization",
                            v.qname, v.owner_name
                        ),
                        fix: format!(
                            "ALTER VIEW {} SET (security_invoker = true); -- PostgreSQL 15+; or add WHERE {} = (SELECT {}) with security_barrier, or {revoke_select}",
                            v.qname,
                            sql_ident(&self.opts.tenant_column),
                            self.helper_call()
                        ),
                    }
                } else {
                    Verdict::Pass
                };
                self.record(rule::VIEW_UNSCOPED, &object, Some("SELECT"), verdict);
                if scoped {
                    let verdict = if barrier {
                        Verdict::Pass
                    } else {
                        Verdict::Fail {
                            risk: format!(
                                "{} filters by organization but is not a security_barrier view and runs as its owner {}: a tenant's own WHERE clause with a leaky function (one it writes, raising a notice per row) can be evaluated before the organization filter and see the rows of {bases} of other organizations",
                                v.qname, v.owner_name
                            ),
                            fix: format!("ALTER VIEW {} SET (security_barrier = true);", v.qname),
                        }
                    };
                    self.record(
                        rule::VIEW_NOT_SECURITY_BARRIER,
                        &object,
                        Some("SELECT"),
                        verdict,
                    );
                }
            } else {
                self.record(rule::VIEW_UNSCOPED, &object, Some("SELECT"), Verdict::Pass);
            }
            let mut writes: Vec<(Cmd, Vec<u32>)> = Vec::new();
            for cmd in [Cmd::Insert, Cmd::Update, Cmd::Delete] {
                let h = self.holds(v.oid, cmd);
                if !h.is_empty() {
                    writes.push((cmd, h));
                }
            }
            if writes.is_empty() {
                continue;
            }
            let only_delete = writes.iter().all(|(c, _)| *c == Cmd::Delete);
            let ok = scoped && (only_delete || check_option);
            let cmds: Vec<Cmd> = writes.iter().map(|(c, _)| *c).collect();
            let verdict = if ok {
                Verdict::Pass
            } else {
                let mut holders: Vec<u32> = writes.iter().flat_map(|(_, h)| h.clone()).collect();
                holders.sort_unstable();
                holders.dedup();
                Verdict::Fail {
                    risk: format!(
                        "{} can {} through {}, which writes to {bases} with the rights of its owner {} (RLS of the owner, usually none): {}",
                        holders.iter().map(|h| self.who(*h)).collect::<Vec<_>>().join(", "),
                        cmd_list(&cmds),
                        v.qname,
                        v.owner_name,
                        if scoped {
                            "new rows are not checked against the view's organization filter (no WITH CHECK OPTION), so a tenant can write rows for another organization"
                        } else {
                            "the view does not filter by organization, so a tenant can change or write rows of every organization"
                        }
                    ),
                    fix: format!(
                        "REVOKE INSERT, UPDATE, DELETE ON {} FROM {}; -- or ALTER VIEW {} SET (security_invoker = true) / (check_option = cascaded) with an organization filter",
                        v.qname,
                        holders.iter().map(|h| self.grantee_sql(*h)).collect::<Vec<_>>().join(", "),
                        v.qname
                    ),
                }
            };
            self.record(
                rule::VIEW_WRITABLE,
                &object,
                Some(&cmd_list(&cmds)),
                verdict,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn views_matviews_over_tenant_rows() {
        let mut cat = baseline();
        cat.views = Ok(vec![
            view(10, "mv", "m", &[], None, &[2]),
            view(11, "v_ok", "v", &["security_barrier=true"], Some(" SELECT mv.organization_id FROM mv WHERE (mv.organization_id = ( SELECT current_org_id() AS current_org_id));"), &[10]),
            view(12, "v_all", "v", &[], Some(" SELECT tasks.organization_id FROM tasks;"), &[2]),
            view(13, "v_inv", "v", &["security_invoker=on"], Some(" SELECT tasks.organization_id FROM tasks;"), &[2]),
            view(14, "v_nobarrier", "v", &[], Some(" SELECT tasks.organization_id FROM tasks WHERE (tasks.organization_id = current_org_id());"), &[2]),
        ]);
        if let Ok(g) = &mut cat.grants {
            g.extend([grant(11, "SELECT"), grant(13, "SELECT")]);
        }
        assert_eq!(findings(&cat), vec![]);
        if let Ok(g) = &mut cat.grants {
            g.extend([
                grant(10, "SELECT"),
                grant(12, "SELECT"),
                grant(14, "SELECT"),
                grant(11, "INSERT"),
            ]);
        }
        has(&cat, rule::MATVIEW_READABLE, "materialized view public.mv");
        has(&cat, rule::VIEW_UNSCOPED, "view public.v_all");
        has(
            &cat,
            rule::VIEW_NOT_SECURITY_BARRIER,
            "view public.v_nobarrier",
        );
        has(&cat, rule::VIEW_WRITABLE, "view public.v_ok");
    }
}
