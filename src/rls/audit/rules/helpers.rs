//! Organization helpers: the argument-less functions policies and views compare the tenant column
//! with, which must be an accepted form the tenant does not own.

use super::super::*;
use crate::rls::Severity;

pub const ORG_HELPER_UNSAFE: &str = "org-helper-unsafe";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: ORG_HELPER_UNSAFE,
        severity: Severity::Error,
        finds: "a function without arguments that policies or views compare the tenant column with, reading the setting, whose body is not an accepted form or which the tenant owns",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("helpers.sql");

impl Audit<'_> {
    /// Helpers that policies or views call, which read the setting but are not accepted.
    pub(in crate::rls::audit) fn helpers(&mut self) {
        let rows: Vec<&HelperRow> = match &self.cat.helpers {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::ORG_HELPER_UNSAFE], &reason);
                return;
            }
        };
        let mut called: BTreeSet<(Option<String>, String)> = BTreeSet::new();
        for p in self.cat.policies.iter().flatten() {
            for e in [&p.using, &p.check].into_iter().flatten() {
                called.extend(predicate::zero_arg_calls(e));
            }
        }
        for v in self.cat.views.iter().flatten() {
            if let Some(d) = &v.definition {
                called.extend(predicate::zero_arg_calls(d));
            }
        }
        let reach: BTreeSet<u32> = self.reach.keys().copied().collect();
        for h in rows {
            let is_called = called.iter().any(|(schema, name)| {
                *name == h.name && schema.as_ref().is_none_or(|s| *s == h.schema)
            });
            if !is_called || !h.source.contains(self.opts.setting.as_str()) {
                continue;
            }
            let owned = reach.contains(&h.owner);
            let set_helper = self.members.as_ref().is_some_and(|m| {
                m.set_helpers
                    .iter()
                    .any(|(s, n)| *s == h.schema && *n == h.name)
            });
            let body_ok = predicate::helper_body_ok(&h.language, &h.source, &self.opts.setting)
                || (self.opts.tenancy.is_supabase() && is_supabase_uid(h))
                || set_helper;
            let object = format!("function {}", h.qname);
            let v = if body_ok && !owned {
                Verdict::Pass
            } else {
                let why = if owned {
                    format!(
                        "the tenant owns it ({}), so it can redefine it to return any organization",
                        self.who(h.owner)
                    )
                } else {
                    format!(
                        "its body ({}) is not one of the accepted readings of {} (current_setting, NULLIF(…, ''), casts): a fallback or NULL test there decides what an unset or empty setting sees",
                        h.source.trim(),
                        self.opts.setting
                    )
                };
                Verdict::Fail {
                    risk: format!(
                        "policies and views compare the tenant column with {}(), but {why}; every one of them is then reported as not scoping",
                        h.name
                    ),
                    fix: format!(
                        // No SET clause: a SQL function with one is never inlined, and this
                        // one is called by every tenant statement (migration 0006).
                        "CREATE OR REPLACE FUNCTION {}() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULLIF(pg_catalog.current_setting({}, true), '')::uuid $$;{}",
                        h.qname.trim_end_matches("()"),
                        literal(&self.opts.setting),
                        if owned { " -- and ALTER FUNCTION … OWNER TO the migration role" } else { "" }
                    ),
                }
            };
            self.record(rule::ORG_HELPER_UNSAFE, &object, None, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn unsafe_helper_is_reported_and_not_accepted() {
        let mut cat = baseline();
        if let Ok(h) = &mut cat.helpers {
            h[0].source = " SELECT COALESCE(NULLIF(current_setting('app.current_org_id', true), ''), '00000000-0000-0000-0000-000000000000')::uuid".into();
        }
        has(
            &cat,
            rule::ORG_HELPER_UNSAFE,
            "function public.current_org_id()",
        );
        has(
            &cat,
            rule::POLICY_UNSCOPED,
            "policy tasks_iso on public.tasks",
        );
    }
}
