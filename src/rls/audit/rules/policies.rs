//! Policies: every command the tenant holds is governed by policies, and every permissive policy
//! reaching the tenant scopes its USING and WITH CHECK by organization (restrictive scoping
//! policies act as a floor).

use super::super::*;
use crate::rls::fix::{self, Clause};
use crate::rls::Severity;

pub const COMMAND_WITHOUT_POLICY: &str = "command-without-policy";
pub const POLICY_UNSCOPED: &str = "policy-unscoped";
pub const POLICY_GROUP_UNSCOPED: &str = "policy-group-unscoped";
pub const POLICY_CHECK_UNSCOPED: &str = "policy-check-unscoped";
pub const POLICY_CHECK_MISSING: &str = "policy-check-missing";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    // With RLS on, a command no policy governs is denied: the application breaks, nothing leaks.
    Rule {
        id: COMMAND_WITHOUT_POLICY,
        severity: Severity::Warning,
        finds: "a SELECT/INSERT/UPDATE/DELETE privilege of the tenant on a table that no policy applying to it governs",
    },
    Rule {
        id: POLICY_UNSCOPED,
        severity: Severity::Error,
        finds: "a permissive policy applying to the tenant (directly or through PUBLIC) whose USING does not scope by organization",
    },
    Rule {
        id: POLICY_GROUP_UNSCOPED,
        severity: Severity::Error,
        finds: "a permissive policy reaching the tenant through a group role it belongs to whose USING does not scope by organization",
    },
    Rule {
        id: POLICY_CHECK_UNSCOPED,
        severity: Severity::Error,
        finds: "a permissive INSERT/UPDATE/ALL policy applying to the tenant whose WITH CHECK (or the USING standing in for it) does not scope by organization",
    },
    // PostgreSQL admits no row through an INSERT policy without WITH CHECK: denied, not leaked.
    Rule {
        id: POLICY_CHECK_MISSING,
        severity: Severity::Warning,
        finds: "an INSERT policy applying to the tenant without WITH CHECK (PostgreSQL admits no row through it; the organization check is missing)",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("policies.sql");

fn covers(policy_cmd: &str, cmd: Cmd) -> bool {
    policy_cmd == "*" || policy_cmd == cmd.code()
}

/// The commands whose visible rows a policy's USING decides.
fn read_cmds(policy_cmd: &str) -> Vec<Cmd> {
    [Cmd::Select, Cmd::Update, Cmd::Delete]
        .into_iter()
        .filter(|c| covers(policy_cmd, *c))
        .collect()
}

/// The commands whose new rows a policy's WITH CHECK (or USING standing in) decides.
fn write_cmds(policy_cmd: &str) -> Vec<Cmd> {
    [Cmd::Insert, Cmd::Update]
        .into_iter()
        .filter(|c| covers(policy_cmd, *c))
        .collect()
}

/// The expression PostgreSQL checks new rows with (`QUAL_FOR_WCO` in rowsecurity.c): WITH
/// CHECK, else USING. INSERT policies cannot have a USING.
fn effective_check(p: &PolicyRow) -> Option<&str> {
    p.check.as_deref().or(p.using.as_deref())
}

/// How a policy reaches the tenant.
enum Applies {
    Direct,
    Public,
    Group(u32),
}

impl Audit<'_> {
    fn applies(&self, p: &PolicyRow) -> Option<Applies> {
        if p.roles.contains(&self.tenant.oid) {
            return Some(Applies::Direct);
        }
        if p.roles.contains(&0) {
            return Some(Applies::Public);
        }
        p.roles
            .iter()
            .filter(|r| self.is_tenant(**r))
            .min_by_key(|r| self.reach[r].path.len())
            .map(|r| Applies::Group(*r))
    }

    fn describe_applies(&self, a: &Applies) -> String {
        match a {
            Applies::Direct => format!("applies to {}", self.tenant.name),
            Applies::Public => format!(
                "applies to PUBLIC, hence to {} (a policy without TO is a policy TO PUBLIC)",
                self.tenant.name
            ),
            Applies::Group(r) => {
                let reached = &self.reach[r];
                format!(
                    "is written TO {} and reaches {} through membership ({})",
                    reached.role.name,
                    self.tenant.name,
                    reached.path.join(" → ")
                )
            }
        }
    }

    fn scope_for<'s>(&'s self, t: &'s TableRow) -> predicate::Scope<'s> {
        predicate::Scope {
            column: self.key_column(t),
            qualifier: Some(&t.name),
            setting: &self.opts.setting,
            helpers: &self.helpers,
            members: self.members.as_ref(),
        }
    }

    /// For the membership table: its rows keyed by the user column (a member sees its own
    /// memberships, which are exactly the rows of its tenants). Reads may scope by that; new
    /// rows must still scope by tenant (else a user joins any tenant).
    fn own_rows_scope<'s>(&'s self, t: &'s TableRow) -> Option<predicate::Scope<'s>> {
        let m = self.opts.tenancy.membership()?;
        let is_members = t.name == m.table && m.schema.as_ref().is_none_or(|s| *s == t.schema);
        is_members.then(|| predicate::Scope {
            column: &m.user_col,
            ..self.scope_for(t)
        })
    }

    pub(in crate::rls::audit) fn policies(&mut self) {
        let policy_rules = [
            rule::POLICY_UNSCOPED,
            rule::POLICY_GROUP_UNSCOPED,
            rule::POLICY_CHECK_UNSCOPED,
            rule::POLICY_CHECK_MISSING,
            rule::COMMAND_WITHOUT_POLICY,
        ];
        let policies: Vec<&PolicyRow> = match &self.cat.policies {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&policy_rules, &reason);
                return;
            }
        };
        let tables: Vec<&TableRow> = self.tenant_tables.values().copied().collect();
        for t in tables {
            let scope = self.scope_for(t);
            let own_rows = self.own_rows_scope(t);
            let reads_scoped = |e: &str| {
                predicate::scoped(e, &scope)
                    || own_rows.as_ref().is_some_and(|o| predicate::scoped(e, o))
            };
            let mine: Vec<(&PolicyRow, Applies)> = policies
                .iter()
                .filter(|p| p.table == t.oid)
                .filter_map(|p| self.applies(p).map(|a| (*p, a)))
                .collect();
            // Restrictive policies that scope are a floor for the commands they cover.
            let mut floor_read = BTreeSet::new();
            let mut floor_write = BTreeSet::new();
            for (p, _) in mine.iter().filter(|(p, _)| !p.permissive) {
                if p.using.as_deref().is_some_and(reads_scoped) {
                    floor_read.extend(read_cmds(&p.cmd));
                }
                if effective_check(p).is_some_and(|e| predicate::scoped(e, &scope)) {
                    floor_write.extend(write_cmds(&p.cmd));
                }
            }
            let mut results = Vec::new();
            for (p, applies) in mine.iter().filter(|(p, _)| p.permissive) {
                let object = format!("policy {} on {}", sql_ident(&p.name), t.qname);
                let how = self.describe_applies(applies);
                let reads = read_cmds(&p.cmd);
                if !reads.is_empty() {
                    let open: Vec<Cmd> = reads
                        .iter()
                        .copied()
                        .filter(|c| !floor_read.contains(c))
                        .collect();
                    let rule = match applies {
                        Applies::Group(_) => rule::POLICY_GROUP_UNSCOPED,
                        _ => rule::POLICY_UNSCOPED,
                    };
                    let v = match p.using.as_deref() {
                        Some(e) if !reads_scoped(e) && !open.is_empty() => {
                            Verdict::Fail {
                                risk: format!(
                                    "this permissive policy {how}, and its USING ({e}) does not limit rows to the current organization: {}; permissive policies are OR-ed, so a tenant can {} rows of every organization",
                                    predicate::diagnose(e, &scope),
                                    read_verbs(&open)
                                ),
                                fix: fix::unscoped_policy(
                                    &sql_ident(&p.name),
                                    &t.qname,
                                    &self.tenant.name,
                                    &self.key_predicate(t),
                                    Clause::Using,
                                ),
                            }
                        }
                        _ => Verdict::Pass,
                    };
                    results.push((rule, object.clone(), cmd_list(&reads), v));
                }
                let writes = write_cmds(&p.cmd);
                if !writes.is_empty() {
                    let open: Vec<Cmd> = writes
                        .iter()
                        .copied()
                        .filter(|c| !floor_write.contains(c))
                        .collect();
                    match effective_check(p) {
                        None => {
                            let v = Verdict::Fail {
                                risk: format!(
                                    "this {} policy {how} and has neither WITH CHECK nor USING for its new rows: PostgreSQL then checks them against false, so nothing can be inserted through it — the organization check it was meant to carry is missing (the application's inserts fail, and a later \"fix\" of WITH CHECK (true) would open the table)",
                                    cmd_list(&writes)
                                ),
                                fix: format!(
                                    "ALTER POLICY {} ON {} WITH CHECK ({});",
                                    sql_ident(&p.name),
                                    t.qname,
                                    self.key_predicate(t)
                                ),
                            };
                            results.push((
                                rule::POLICY_CHECK_MISSING,
                                object.clone(),
                                cmd_list(&writes),
                                v,
                            ));
                        }
                        Some(e) => {
                            let stand_in = if p.check.is_none() {
                                " (it has no WITH CHECK, so its USING checks new rows)"
                            } else {
                                ""
                            };
                            let v = if !predicate::scoped(e, &scope) && !open.is_empty() {
                                Verdict::Fail {
                                    risk: format!(
                                        "this permissive policy {how}, and the check of its new rows ({e}){stand_in} does not limit them to the current organization: {}; a tenant can {}",
                                        predicate::diagnose(e, &scope),
                                        write_verbs(&open)
                                    ),
                                    fix: fix::unscoped_policy(
                                        &sql_ident(&p.name),
                                        &t.qname,
                                        &self.tenant.name,
                                        &self.key_predicate(t),
                                        Clause::WithCheck,
                                    ),
                                }
                            } else {
                                Verdict::Pass
                            };
                            results.push((
                                rule::POLICY_CHECK_UNSCOPED,
                                object.clone(),
                                cmd_list(&writes),
                                v,
                            ));
                        }
                    }
                }
            }
            let restrictive: Vec<String> = mine
                .iter()
                .filter(|(p, _)| !p.permissive)
                .map(|(p, _)| {
                    format!(
                        "{} policy {} on {} (restrictive: narrows only)",
                        rule::POLICY_UNSCOPED,
                        sql_ident(&p.name),
                        t.qname
                    )
                })
                .collect();
            // Each command the tenant holds must be governed by a permissive policy.
            let mut governed_results = Vec::new();
            for cmd in Cmd::ALL {
                let holders = self.holds(t.oid, cmd);
                if holders.is_empty() {
                    continue;
                }
                let governed = mine.iter().any(|(p, _)| {
                    p.permissive
                        && covers(&p.cmd, cmd)
                        && match cmd {
                            Cmd::Insert => effective_check(p).is_some(),
                            _ => p.using.is_some(),
                        }
                });
                let v = if governed {
                    Verdict::Pass
                } else {
                    let grantees: Vec<String> = holders.iter().map(|h| self.who(*h)).collect();
                    Verdict::Fail {
                        risk: format!(
                            "{} holds {} on {} but no permissive policy that applies to the tenant governs {}: PostgreSQL then admits no row (default deny), so the grant is either dead or a policy meant to scope it is missing or written for another role",
                            grantees.join(", "),
                            cmd.sql(),
                            t.qname,
                            cmd.sql()
                        ),
                        fix: format!(
                            "CREATE POLICY {}_{}_tenant ON {} FOR {} TO {} {}; -- or REVOKE {} ON {} FROM {};",
                            t.name,
                            cmd.sql().to_lowercase(),
                            t.qname,
                            cmd.sql(),
                            sql_ident(&self.tenant.name),
                            match cmd {
                                Cmd::Insert => format!("WITH CHECK ({})", self.key_predicate(t)),
                                Cmd::Update => format!("USING ({p}) WITH CHECK ({p})", p = self.key_predicate(t)),
                                _ => format!("USING ({})", self.key_predicate(t)),
                            },
                            cmd.sql(),
                            t.qname,
                            holders.iter().map(|h| self.grantee_sql(*h)).collect::<Vec<_>>().join(", ")
                        ),
                    }
                };
                governed_results.push((cmd, v));
            }
            for name in restrictive {
                self.checks.push(Check::pass(Suite::Audit, name));
            }
            for (rule, object, cmds, v) in results {
                self.record(rule, &object, Some(&cmds), v);
            }
            if let Err(reason) = &self.cat.grants {
                self.checks.push(Check::skipped(
                    Suite::Audit,
                    format!("{} {}", rule::COMMAND_WITHOUT_POLICY, t.qname),
                    format!("the privileges could not be read: {reason}"),
                ));
                continue;
            }
            for (cmd, v) in governed_results {
                if !t.rls {
                    self.checks.push(Check::skipped(
                        Suite::Audit,
                        format!(
                            "{} {} [{}]",
                            rule::COMMAND_WITHOUT_POLICY,
                            t.qname,
                            cmd.sql()
                        ),
                        format!(
                            "row-level security is off on {} (see {})",
                            t.qname,
                            rule::RLS_DISABLED
                        ),
                    ));
                } else {
                    self.record(rule::COMMAND_WITHOUT_POLICY, &t.qname, Some(cmd.sql()), v);
                }
            }
        }
    }
}

fn read_verbs(cmds: &[Cmd]) -> String {
    cmds.iter()
        .map(|c| match c {
            Cmd::Select => "read",
            Cmd::Update => "update",
            Cmd::Delete => "delete",
            Cmd::Insert => "insert",
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn write_verbs(cmds: &[Cmd]) -> String {
    cmds.iter()
        .map(|c| match c {
            Cmd::Insert => "insert rows for another organization",
            Cmd::Update => "move its rows to another organization",
            _ => "write",
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

impl Audit<'_> {
    /// What scopes `t`'s rows to the current tenant, in the one form the probes suggest too
    /// ([`fix::tenant_predicate`]), with the key column's own type.
    pub(in crate::rls::audit) fn key_predicate(&self, t: &TableRow) -> String {
        let column = self.key_column(t);
        let ty = t
            .columns
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, ty)| ty.as_str())
            .unwrap_or("uuid");
        fix::scope_predicate(&self.opts.tenancy, column, ty, &self.opts.setting)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    /// The audit's fix of an unscoped policy and the probe's fix of the leak through it are one
    /// statement: the probe asks [`UnscopedPolicies::fix`] with its own table name, role, key
    /// column and type (`Table::scoped`), exactly as `probe/read.rs` and `probe/write.rs` do.
    #[test]
    fn the_audit_and_the_probe_suggest_the_same_fix_for_one_policy() {
        use crate::rls::fix::{tenant_predicate, Clause, UnscopedPolicies};
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p.push(policy(2, "debug_all", "*", Some("true"), Some("true")));
        }
        let opts = VerifyOptions::default();
        let e = evaluate(&cat, &opts);
        let audit_fix = |rule: &str| {
            e.findings()
                .find(|f| f.rule == rule && f.object == "policy debug_all on public.tasks")
                .map(|f| f.fix.clone())
                .unwrap_or_else(|| panic!("no {rule}: {:?}", findings(&cat)))
        };
        let unscoped = UnscopedPolicies::from_checks(&e.checks);
        // As the probe builds it for public.tasks (organization_id uuid).
        let predicate = tenant_predicate("organization_id", "uuid", &opts.setting);
        let probe_fix = |command: &str, clause: Clause| {
            unscoped.fix(
                "public.tasks",
                "arcdesk_tenant",
                &predicate,
                command,
                clause,
                "unused: the audit found the policy",
            )
        };
        let read = audit_fix(rule::POLICY_UNSCOPED);
        assert_eq!(probe_fix("SELECT", Clause::Using), read);
        assert_eq!(probe_fix("DELETE", Clause::Using), read);
        let check = audit_fix(rule::POLICY_CHECK_UNSCOPED);
        assert_eq!(probe_fix("INSERT", Clause::WithCheck), check);
        assert_eq!(
            read,
            "DROP POLICY debug_all ON public.tasks; -- if it is not needed; otherwise: ALTER POLICY debug_all ON public.tasks USING (organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid); or add a floor: CREATE POLICY tenant_floor ON public.tasks AS RESTRICTIVE FOR ALL TO arcdesk_tenant USING (organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid) WITH CHECK (organization_id = NULLIF(current_setting('app.current_org_id', true), '')::uuid);"
        );
    }

    #[test]
    fn postgres_rules_for_checks() {
        // UPDATE with USING only: USING checks the new rows → fine.
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p[1] = policy(2, "tasks_read", "r", Some(SCOPED), None);
            p.push(policy(2, "tasks_upd", "w", Some(SCOPED), None));
            p.push(policy(2, "tasks_del", "d", Some(SCOPED), None));
            p.push(policy(2, "tasks_ins", "a", None, Some(SCOPED)));
        }
        assert_eq!(findings(&cat), vec![]);
        // UPDATE whose WITH CHECK is true: rows can move out.
        if let Ok(p) = &mut cat.policies {
            p[2].check = Some("true".into());
        }
        has(
            &cat,
            rule::POLICY_CHECK_UNSCOPED,
            "policy tasks_upd on public.tasks",
        );
        // INSERT policy without WITH CHECK.
        if let Ok(p) = &mut cat.policies {
            p[2].check = None;
            p[4].check = None;
        }
        has(
            &cat,
            rule::POLICY_CHECK_MISSING,
            "policy tasks_ins on public.tasks",
        );
        has(&cat, rule::COMMAND_WITHOUT_POLICY, "public.tasks");
    }

    #[test]
    fn restrictive_floor_narrows_permissive_holes() {
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p.push(policy(2, "debug", "r", Some("true"), None));
        }
        has(&cat, rule::POLICY_UNSCOPED, "policy debug on public.tasks");
        if let Ok(p) = &mut cat.policies {
            let mut floor = policy(2, "floor", "*", Some(SCOPED), Some(SCOPED));
            floor.permissive = false;
            p.push(floor);
        }
        assert_eq!(findings(&cat), vec![]);
    }

    #[test]
    fn group_and_public_policies() {
        let mut cat = baseline();
        cat.memberships = Ok(vec![MembershipRow {
            member: TENANT,
            role: role(200, "app_readers"),
        }]);
        if let Ok(p) = &mut cat.policies {
            let mut g = policy(
                2,
                "readers",
                "r",
                Some("(organization_id IS NOT NULL)"),
                None,
            );
            g.roles = vec![200];
            p.push(g);
            let mut other = policy(2, "auditors", "r", Some("true"), None);
            other.roles = vec![999];
            p.push(other);
            let mut public = policy(2, "everyone", "r", Some("true"), None);
            public.roles = vec![0];
            p.push(public);
        }
        has(
            &cat,
            rule::POLICY_GROUP_UNSCOPED,
            "policy readers on public.tasks",
        );
        has(
            &cat,
            rule::POLICY_UNSCOPED,
            "policy everyone on public.tasks",
        );
        assert!(!findings(&cat).iter().any(|(_, o)| o.contains("auditors")));
    }

    #[test]
    fn unknown_privileges_skip_rather_than_pass() {
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p.clear();
        }
        has(&cat, rule::COMMAND_WITHOUT_POLICY, "public.tasks");
        cat.grants =
            Err("CockroachDB 25.2.0 cannot answer the catalog query for privileges".into());
        let e = evaluate(&cat, &VerifyOptions::default());
        assert!(!e.findings().any(|f| f.rule == rule::COMMAND_WITHOUT_POLICY));
        assert!(e.checks.iter().any(|c| c.name
            == format!("{} public.tasks", rule::COMMAND_WITHOUT_POLICY)
            && matches!(c.outcome, crate::rls::Outcome::Skipped { .. })));
    }
}
