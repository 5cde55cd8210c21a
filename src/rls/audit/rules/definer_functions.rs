//! SECURITY DEFINER functions the tenant can run (EXECUTE, or a trigger on its writes).

use super::super::*;
use crate::rls::Severity;

pub const DEFINER_FUNCTION_UNSCOPED: &str = "definer-function-unscoped";
pub const DEFINER_SEARCH_PATH: &str = "definer-search-path";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: DEFINER_FUNCTION_UNSCOPED,
        severity: Severity::Error,
        finds: "a SECURITY DEFINER function the tenant can run (EXECUTE, or a trigger on its writes) whose owner bypasses RLS, reading tenant tables without filtering by organization",
    },
    Rule {
        id: DEFINER_SEARCH_PATH,
        severity: Severity::Warning,
        finds: "a SECURITY DEFINER function the tenant can run without a pinned search_path",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("definer_functions.sql");
pub(in crate::rls::audit) const SQL_TRIGGERS: &str = include_str!("triggers.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn definer_functions(&mut self) {
        let functions: Vec<&FunctionRow> = match &self.cat.functions {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(
                    &[rule::DEFINER_FUNCTION_UNSCOPED, rule::DEFINER_SEARCH_PATH],
                    &reason,
                );
                return;
            }
        };
        let tenant_rels = self.tenant_relations();
        let names = self.relation_names();
        // Relation names to look for in function sources (bodies other than SQL-standard ones
        // record no dependencies).
        let mut rel_words: Vec<(u32, String)> = self
            .tenant_tables
            .values()
            .map(|t| (t.oid, t.name.to_lowercase()))
            .collect();
        for v in self.cat.views.iter().flatten() {
            if tenant_rels.contains(&v.oid) {
                rel_words.push((v.oid, v.name.to_lowercase()));
            }
        }
        let views: HashMap<u32, &ViewRow> = self
            .cat
            .views
            .iter()
            .flatten()
            .map(|v| (v.oid, v))
            .collect();
        for f in functions {
            // Reachable: EXECUTE for one of the tenant's roles or PUBLIC, or fired by a trigger
            // on a tenant table the tenant writes to.
            let fired_on: Vec<String> = self
                .cat
                .triggers
                .iter()
                .flatten()
                .filter(|tr| tr.function == f.oid)
                .filter(|tr| {
                    self.tenant_tables.contains_key(&tr.table)
                        && (self.cat.grants.is_err()
                            || [Cmd::Insert, Cmd::Update, Cmd::Delete]
                                .iter()
                                .any(|c| !self.holds(tr.table, *c).is_empty()))
                })
                .map(|tr| {
                    format!(
                        "trigger {} on {}",
                        tr.name,
                        names.get(&tr.table).cloned().unwrap_or_default()
                    )
                })
                .collect();
            let executors: Vec<u32> = f
                .executable_by
                .iter()
                .copied()
                .filter(|r| *r == 0 || self.is_tenant(*r))
                .collect();
            if executors.is_empty() && fired_on.is_empty() {
                continue;
            }
            let mut reach_text = Vec::new();
            if !executors.is_empty() {
                reach_text.push(format!(
                    "EXECUTE is granted to {}",
                    executors
                        .iter()
                        .map(|r| self.who(*r))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !fired_on.is_empty() {
                reach_text.push(format!(
                    "it fires on tenant writes ({})",
                    fired_on.join(", ")
                ));
            }
            let reach_text = reach_text.join("; ");
            let revoke = if executors.is_empty() {
                String::new()
            } else {
                format!(
                    "REVOKE EXECUTE ON {} FROM {}; ",
                    f.signature,
                    executors
                        .iter()
                        .map(|r| self.grantee_sql(*r))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            // search_path
            let pinned = f.config.iter().any(|c| c.starts_with("search_path="));
            let v = if pinned {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk: format!(
                        "{} runs with the rights of {} and {reach_text}, but its search_path is the caller's: a tenant can shadow the tables or functions it names (a temporary table in pg_temp, or an object in a schema it can create in) and make it act on what the tenant chooses with its owner's rights",
                        f.signature, f.owner_name
                    ),
                    fix: format!(
                        "ALTER {} SET search_path = pg_catalog, {}, pg_temp;",
                        f.signature,
                        self.opts.schemas.iter().map(|s| sql_ident(s)).collect::<Vec<_>>().join(", ")
                    ),
                }
            };
            self.record(rule::DEFINER_SEARCH_PATH, &f.signature, None, v);
            // reads tenant relations?
            let source = f.source.to_lowercase();
            let mut touched: BTreeSet<u32> = f
                .refs
                .iter()
                .copied()
                .filter(|r| tenant_rels.contains(r))
                .collect();
            for (oid, word) in &rel_words {
                if contains_word(&source, word) {
                    touched.insert(*oid);
                }
            }
            if touched.is_empty() {
                self.record(
                    rule::DEFINER_FUNCTION_UNSCOPED,
                    &f.signature,
                    None,
                    Verdict::Pass,
                );
                continue;
            }
            let bypass_on: Vec<String> = touched
                .iter()
                .filter(|oid| {
                    if f.owner_superuser || f.owner_bypassrls {
                        return true;
                    }
                    if let Some(t) = self.tenant_tables.get(oid) {
                        return f.owner_of.contains(&t.owner) && !t.force_rls;
                    }
                    // A view runs as its owner and a materialized view has no RLS.
                    !views
                        .get(oid)
                        .is_some_and(|v| reloption(&v.options, "security_invoker"))
                })
                .filter_map(|oid| names.get(oid).cloned())
                .collect();
            if bypass_on.is_empty() {
                self.record(
                    rule::DEFINER_FUNCTION_UNSCOPED,
                    &f.signature,
                    None,
                    Verdict::Pass,
                );
                continue;
            }
            let column = self.opts.tenant_column.to_lowercase();
            let filters = contains_word(&source, &column)
                && (source.contains(&self.opts.setting.to_lowercase())
                    || self
                        .helpers
                        .accepted_names()
                        .iter()
                        .any(|(_, n)| contains_word(&source, &n.to_lowercase())));
            let owner_why = if f.owner_superuser {
                "a superuser".to_string()
            } else if f.owner_bypassrls {
                "a BYPASSRLS role".to_string()
            } else {
                "the owner (or a member of the owner) of tables without FORCE ROW LEVEL SECURITY, or of views".to_string()
            };
            let v = if filters {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk: format!(
                        "{} is SECURITY DEFINER, owned by {} ({owner_why}), and reads {} without filtering by {} = the current organization; {reach_text}: a tenant gets rows of every organization through it",
                        f.signature,
                        f.owner_name,
                        bypass_on.join(", "),
                        self.opts.tenant_column
                    ),
                    fix: format!(
                        "{revoke}ALTER {} SECURITY INVOKER; -- or filter every query in it by {} = (SELECT {})",
                        f.signature,
                        sql_ident(&self.opts.tenant_column),
                        self.helper_call()
                    ),
                }
            };
            self.record(rule::DEFINER_FUNCTION_UNSCOPED, &f.signature, None, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn definer_function_bypassing_rls_needs_a_filter_and_a_search_path() {
        let mut cat = baseline();
        cat.functions = Ok(vec![FunctionRow {
            oid: 50,
            signature: "function public.all_tasks()".into(),
            owner_name: "postgres".into(),
            owner_superuser: true,
            owner_bypassrls: true,
            language: "sql".into(),
            is_trigger: false,
            source: "SELECT count(*) FROM public.tasks".into(),
            config: vec![],
            executable_by: vec![0],
            refs: vec![],
            owner_of: vec![OWNER],
        }]);
        has(
            &cat,
            rule::DEFINER_FUNCTION_UNSCOPED,
            "function public.all_tasks()",
        );
        has(
            &cat,
            rule::DEFINER_SEARCH_PATH,
            "function public.all_tasks()",
        );
        if let Ok(f) = &mut cat.functions {
            f[0].source =
                "SELECT count(*) FROM public.tasks WHERE organization_id = current_org_id()".into();
            f[0].config = vec!["search_path=public, pg_temp".into()];
        }
        assert_eq!(findings(&cat), vec![]);
    }
}
