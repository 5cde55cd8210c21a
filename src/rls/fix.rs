//! One fix form for one problem: the statement that scopes a policy which lets other
//! organizations' rows through. The audit (a policy whose USING or WITH CHECK does not scope) and
//! the probes (a read or write that reached another organization's rows) both build it here, so
//! that they suggest the same SQL for the same policy: the tenant key compared with the setting
//! read inline (`NULLIF(current_setting(…, true), '')`, NULL when unset or empty, so no row),
//! cast to the key column's own type.

use super::audit::rule::{POLICY_CHECK_UNSCOPED, POLICY_GROUP_UNSCOPED, POLICY_UNSCOPED};
use super::tenancy::Tenancy;
use super::Check;
use crate::db::{literal, sql_ident};

/// The clause of a policy that lets other organizations' rows through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clause {
    /// The rows a command sees (SELECT, UPDATE, DELETE).
    Using,
    /// The new rows a command writes (INSERT, UPDATE).
    WithCheck,
}

impl Clause {
    fn sql(self) -> &'static str {
        match self {
            Clause::Using => "USING",
            Clause::WithCheck => "WITH CHECK",
        }
    }
}

/// `column = NULLIF(current_setting('setting', true), '')::type`: what scopes a row to the
/// current tenant (`column` unquoted, `ty` as `format_type` writes it).
pub fn tenant_predicate(column: &str, ty: &str, setting: &str) -> String {
    format!(
        "{} = NULLIF(current_setting({}, true), '')::{ty}",
        sql_ident(column),
        literal(setting)
    )
}

/// What scopes a row to the current tenant in `tenancy`: in the column model the key compared
/// with the setting ([`tenant_predicate`]); in the membership models the key among the tenants
/// of the current user (the setting's user id, or Supabase's `auth.uid()`, as a uuid); in the
/// Supabase model without a membership table the key is the user itself.
pub fn scope_predicate(tenancy: &Tenancy, column: &str, ty: &str, setting: &str) -> String {
    let user = || {
        if tenancy.is_supabase() {
            "(SELECT auth.uid())".to_string()
        } else {
            format!(
                "NULLIF(current_setting({}, true), '')::uuid",
                literal(setting)
            )
        }
    };
    match tenancy.membership() {
        Some(m) => format!(
            "{} IN (SELECT m.{} FROM {} AS m WHERE m.{} = {})",
            sql_ident(column),
            sql_ident(&m.tenant_col),
            m.sql_name(),
            sql_ident(&m.user_col),
            user()
        ),
        None if tenancy.is_supabase() => format!("{} = {}", sql_ident(column), user()),
        None => tenant_predicate(column, ty, setting),
    }
}

/// A restrictive policy limiting every command of `role` on `table` (as SQL writes it) to the
/// tenant's rows: a floor no permissive policy can widen.
pub fn tenant_floor(table: &str, role: &str, predicate: &str) -> String {
    format!(
        "CREATE POLICY tenant_floor ON {table} AS RESTRICTIVE FOR ALL TO {} USING ({predicate}) WITH CHECK ({predicate});",
        sql_ident(role)
    )
}

/// The fix of the permissive policy `policy` on `table` (both as SQL writes them) whose `clause`
/// does not scope.
pub fn unscoped_policy(
    policy: &str,
    table: &str,
    role: &str,
    predicate: &str,
    clause: Clause,
) -> String {
    format!(
        "DROP POLICY {policy} ON {table}; -- if it is not needed; otherwise: ALTER POLICY {policy} ON {table} {} ({predicate}); or add a floor: {}",
        clause.sql(),
        tenant_floor(table, role, predicate)
    )
}

/// The policies the audit found unscoped, for the probes to name in their fixes.
#[derive(Debug, Default, Clone)]
pub struct UnscopedPolicies {
    /// (table, policy — both as SQL writes them —, clause, commands it covers).
    found: Vec<(String, String, Clause, Vec<String>)>,
}

impl UnscopedPolicies {
    /// From the audit's findings (`policy <name> on <table>`, commands `SELECT, UPDATE`).
    pub fn from_checks(checks: &[Check]) -> UnscopedPolicies {
        let found = checks
            .iter()
            .filter_map(Check::finding)
            .filter_map(|f| {
                let clause = match f.rule.as_str() {
                    POLICY_UNSCOPED | POLICY_GROUP_UNSCOPED => Clause::Using,
                    POLICY_CHECK_UNSCOPED => Clause::WithCheck,
                    _ => return None,
                };
                let (policy, table) = f.object.strip_prefix("policy ")?.rsplit_once(" on ")?;
                let commands = f
                    .command
                    .as_deref()
                    .unwrap_or_default()
                    .split(", ")
                    .map(str::to_string)
                    .collect();
                Some((table.to_string(), policy.to_string(), clause, commands))
            })
            .collect();
        UnscopedPolicies { found }
    }

    /// The fix of a `command` on `table` that reached other organizations' rows through
    /// `clause`: the fix of each policy the audit found unscoped there, else `otherwise` and the
    /// floor.
    pub fn fix(
        &self,
        table: &str,
        role: &str,
        predicate: &str,
        command: &str,
        clause: Clause,
        otherwise: &str,
    ) -> String {
        let fixes: Vec<String> = self
            .found
            .iter()
            .filter(|(t, _, c, commands)| {
                t == table && *c == clause && commands.iter().any(|x| x == command)
            })
            .map(|(_, policy, _, _)| unscoped_policy(policy, table, role, predicate, clause))
            .collect();
        if fixes.is_empty() {
            format!(
                "{otherwise}; or add a floor: {}",
                tenant_floor(table, role, predicate)
            )
        } else {
            fixes.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicate_casts_to_the_columns_type_and_quotes_what_needs_it() {
        assert_eq!(
            tenant_predicate("tenant_id", "bigint", "app.tenant"),
            "tenant_id = NULLIF(current_setting('app.tenant', true), '')::bigint"
        );
        assert_eq!(
            tenant_predicate("Org", "uuid", "app.o'x"),
            "\"Org\" = NULLIF(current_setting('app.o''x', true), '')::uuid"
        );
    }

    #[test]
    fn without_an_audit_finding_the_probe_says_what_to_scope_and_offers_the_floor() {
        let fix = UnscopedPolicies::default().fix(
            "public.tasks",
            "arcdesk_tenant",
            "organization_id = x",
            "SELECT",
            Clause::Using,
            "scope every permissive policy",
        );
        assert_eq!(
            fix,
            "scope every permissive policy; or add a floor: CREATE POLICY tenant_floor ON public.tasks AS RESTRICTIVE FOR ALL TO arcdesk_tenant USING (organization_id = x) WITH CHECK (organization_id = x);"
        );
    }
}
