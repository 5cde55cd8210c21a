//! Roles: the tenant role exists, and neither it nor a role it reaches is a superuser or has
//! BYPASSRLS.

use super::super::*;
use crate::rls::Severity;

pub const TENANT_ROLE_MISSING: &str = "tenant-role-missing";
pub const ROLE_SUPERUSER: &str = "role-superuser";
pub const ROLE_BYPASSRLS: &str = "role-bypassrls";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: TENANT_ROLE_MISSING,
        severity: Severity::Error,
        finds: "the tenant role does not exist (nothing else can be audited)",
    },
    Rule {
        id: ROLE_SUPERUSER,
        severity: Severity::Error,
        finds: "the tenant role, or a role it reaches through membership, is a superuser",
    },
    Rule {
        id: ROLE_BYPASSRLS,
        severity: Severity::Error,
        finds: "the tenant role, or a role it reaches through membership, has BYPASSRLS",
    },
];

/// The only finding when the tenant role does not exist: no other rule can be decided.
pub(in crate::rls::audit) fn tenant_role_missing(opts: &VerifyOptions) -> Check {
    Check::fail(
        Suite::Audit,
        format!("{} role {}", rule::TENANT_ROLE_MISSING, opts.tenant_role),
        Finding {
            rule: rule::TENANT_ROLE_MISSING.into(),
            object: format!("role {}", opts.tenant_role),
            command: None,
            message: format!(
                "nothing can be proven: no role {} exists, so the sessions of tenants run as some other role that no policy was written for (migrate first, or pass the tenant role)",
                opts.tenant_role
            ),
            fix: format!(
                "CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS; -- or run arcdb up",
                sql_ident(&opts.tenant_role)
            ),
            severity: Severity::Error,
            detail: None,
            location: None,
        },
    )
}

impl Audit<'_> {
    pub(in crate::rls::audit) fn roles(&mut self) {
        if let Err(reason) = &self.cat.memberships {
            let reason = format!("roles reached through membership not audited: {reason}");
            self.skip(&[rule::ROLE_SUPERUSER, rule::ROLE_BYPASSRLS], &reason);
        }
        let reached: Vec<Reached> = self.reach.values().cloned().collect();
        let tenant = self.tenant_name().to_string();
        for r in reached {
            let object = format!("role {}", r.role.name);
            let direct = r.role.oid == self.tenant.oid;
            let how = if direct {
                format!("every session of {tenant}")
            } else {
                format!(
                    "{tenant} is a member of {} ({}), so a tenant session can SET ROLE {} and",
                    r.role.name,
                    r.path.join(" → "),
                    r.role.name
                )
            };
            let revoke = if direct {
                String::new()
            } else {
                format!(
                    "; or cut the membership: REVOKE {} FROM {};",
                    sql_ident(&r.path[1]),
                    sql_ident(&r.path[0])
                )
            };
            let v = if r.role.superuser {
                Verdict::Fail {
                    risk: format!(
                        "{how} {} a superuser: it bypasses every policy and can read, change or drop every organization's rows (and disable RLS)",
                        if direct { "is" } else { "become" }
                    ),
                    fix: format!("ALTER ROLE {} NOSUPERUSER;{revoke}", sql_ident(&r.role.name)),
                }
            } else {
                Verdict::Pass
            };
            self.record(rule::ROLE_SUPERUSER, &object, None, v);
            let v = if r.role.bypassrls {
                Verdict::Fail {
                    risk: format!(
                        "{how} {} with BYPASSRLS: no policy applies, every organization's rows are readable and writable",
                        if direct { "runs" } else { "run" }
                    ),
                    fix: format!("ALTER ROLE {} NOBYPASSRLS;{revoke}", sql_ident(&r.role.name)),
                }
            } else {
                Verdict::Pass
            };
            self.record(rule::ROLE_BYPASSRLS, &object, None, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn missing_tenant_role() {
        let mut cat = Catalog::unavailable("the tenant role does not exist");
        cat.tenant = Ok(None);
        assert_eq!(
            findings(&cat),
            vec![(
                rule::TENANT_ROLE_MISSING.into(),
                "role arcdesk_tenant".into()
            )]
        );
    }

    #[test]
    fn membership_reaches_bypassrls_and_superuser() {
        let mut cat = baseline();
        let mut admin = role(200, "ops");
        admin.bypassrls = true;
        let mut root = role(300, "dba");
        root.superuser = true;
        cat.memberships = Ok(vec![
            MembershipRow {
                member: TENANT,
                role: admin,
            },
            MembershipRow {
                member: 200,
                role: root,
            },
        ]);
        has(&cat, rule::ROLE_BYPASSRLS, "role ops");
        has(&cat, rule::ROLE_SUPERUSER, "role dba");
        let e = evaluate(&cat, &VerifyOptions::default());
        let f = e.findings().find(|f| f.object == "role dba").unwrap();
        assert!(
            f.message.contains("arcdesk_tenant → ops → dba"),
            "{}",
            f.message
        );
        assert!(
            f.fix.contains("REVOKE ops FROM arcdesk_tenant"),
            "{}",
            f.fix
        );
    }
}
