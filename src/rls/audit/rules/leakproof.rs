//! LEAKPROOF functions outside pg_catalog.

use super::super::*;
use crate::rls::Severity;

pub const LEAKPROOF_FUNCTION: &str = "leakproof-function";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[Rule {
    id: LEAKPROOF_FUNCTION,
    severity: Severity::Warning,
    finds: "a LEAKPROOF function outside pg_catalog (runs before the RLS filter)",
}];

pub(in crate::rls::audit) const SQL: &str = include_str!("leakproof.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn leakproof(&mut self) {
        let rows: Vec<&LeakproofRow> = match &self.cat.leakproof {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::LEAKPROOF_FUNCTION], &reason);
                return;
            }
        };
        if rows.is_empty() {
            self.checks.push(Check::pass(
                Suite::Audit,
                format!("{} (none outside pg_catalog)", rule::LEAKPROOF_FUNCTION),
            ));
        }
        for f in rows {
            self.record(
                rule::LEAKPROOF_FUNCTION,
                &f.signature,
                None,
                Verdict::Fail {
                    risk: format!(
                        "{} is marked LEAKPROOF, so the planner may run it on rows before the row-level security filter (and inside security_barrier views): if it can raise an error or a notice that shows its argument, a tenant reads other organizations' values through it",
                        f.signature
                    ),
                    fix: format!("ALTER FUNCTION {} NOT LEAKPROOF;", f.qname),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn leakproof_function_outside_pg_catalog() {
        let mut cat = baseline();
        cat.leakproof = Ok(vec![LeakproofRow {
            signature: "function public.f(text)".into(),
            qname: "public.f(text)".into(),
        }]);
        has(&cat, rule::LEAKPROOF_FUNCTION, "function public.f(text)");
    }
}
