//! Sequences numbering tenant tables, whose values tell one tenant about the others' activity.

use super::super::*;
use crate::rls::Severity;

pub const SEQUENCE_SHARED: &str = "sequence-shared";

/// The rules of this family: id, severity, what a finding means.
pub const RULES: &[Rule] = &[
    Rule {
        id: SEQUENCE_SHARED,
        severity: Severity::Warning,
        finds: "a sequence numbering a tenant table that the tenant can use (USAGE/SELECT/UPDATE) or whose values it reads in its rows",
    },
];

pub(in crate::rls::audit) const SQL: &str = include_str!("sequences.sql");

impl Audit<'_> {
    pub(in crate::rls::audit) fn sequences(&mut self) {
        let feeds: Vec<&SequenceRow> = match (&self.cat.sequences, &self.cat.grants) {
            (Ok(rows), Ok(_)) => rows.iter().collect(),
            (Err(reason), _) | (_, Err(reason)) => {
                let reason = reason.clone();
                self.skip(&[rule::SEQUENCE_SHARED], &reason);
                return;
            }
        };
        for s in feeds {
            let Some(t) = self.tenant_tables.get(&s.table).copied() else {
                continue;
            };
            let object = format!("sequence {}", s.seq_qname);
            let mut users: Vec<(u32, String)> = Vec::new();
            for privilege in ["USAGE", "SELECT", "UPDATE"] {
                for h in self.holders(s.seq, privilege, false) {
                    users.push((h, privilege.to_string()));
                }
            }
            let readers: Vec<u32> = {
                let mut r: Vec<u32> = self
                    .grants
                    .get(&t.oid)
                    .into_iter()
                    .flatten()
                    .filter(|g| {
                        g.privilege == "SELECT" && g.column.as_ref().is_none_or(|c| *c == s.column)
                    })
                    .map(|g| g.grantee)
                    .collect();
                r.sort_unstable();
                r.dedup();
                r
            };
            let feeding = format!(
                "{} numbers {}.{} ({}) for every organization",
                s.seq_qname,
                t.qname,
                sql_ident(&s.column),
                match s.how.as_str() {
                    "identity" => "identity column",
                    "owned" => "serial column",
                    _ => "column default nextval()",
                }
            );
            let v = if users.is_empty() && readers.is_empty() {
                Verdict::Pass
            } else {
                let mut risk = vec![feeding];
                if !users.is_empty() {
                    risk.push(format!(
                        "{} can use it ({}): currval/nextval/last_value tell a tenant how many rows all organizations created, and setval (UPDATE) lets it disturb everyone's numbering",
                        users.iter().map(|(h, _)| self.who(*h)).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", "),
                        users.iter().map(|(_, p)| p.as_str()).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
                    ));
                }
                if !readers.is_empty() {
                    risk.push(format!(
                        "{} can read the numbers in its own rows: the gap between two of them counts the rows other organizations created in between",
                        readers.iter().map(|h| self.who(*h)).collect::<Vec<_>>().join(", ")
                    ));
                }
                let mut grantees: Vec<u32> = users.iter().map(|(h, _)| *h).collect();
                grantees.sort_unstable();
                grantees.dedup();
                let revoke = if grantees.is_empty() {
                    String::new()
                } else {
                    format!(
                        " and REVOKE USAGE, SELECT, UPDATE ON SEQUENCE {} FROM {};",
                        s.seq_qname,
                        grantees
                            .iter()
                            .map(|h| self.grantee_sql(*h))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                Verdict::Fail {
                    risk: risk.join("; "),
                    fix: format!(
                        "number {} per organization (a counter on {} bumped by a trigger, as tasks.task_number) or use gen_random_uuid(){revoke}",
                        s.column,
                        self.root_qname()
                    ),
                }
            };
            self.record(rule::SEQUENCE_SHARED, &object, None, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing::*;
    use super::super::super::*;

    #[test]
    fn sequence_numbering_a_tenant_table() {
        let mut cat = baseline();
        cat.sequences = Ok(vec![SequenceRow {
            seq: 60,
            seq_qname: "public.tasks_number_seq".into(),
            table: 2,
            column: "number".into(),
            how: "default".into(),
        }]);
        has(
            &cat,
            rule::SEQUENCE_SHARED,
            "sequence public.tasks_number_seq",
        );
    }
}
