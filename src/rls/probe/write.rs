//! The write probes aimed at other organizations: `insert-other-org`, `update-other-org`,
//! `move-to-other-org`, `delete-other-org`.

use super::*;
use crate::rls::fix::Clause;

impl Probe<'_, '_> {
    /// `INSERT INTO t (writable columns the tenant may insert) SELECT … FROM
    /// jsonb_populate_record(NULL::t, $1)`.
    pub(super) fn insert_sql(&self, t: &Table, row: &Value) -> String {
        let cols: Vec<String> = t
            .columns
            .iter()
            .filter(|c| c.writable && c.tenant_may_insert)
            .map(|c| quoted_ident(&c.name))
            .collect();
        let cols = cols.join(", ");
        format!(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::{t}, {row}::jsonb)",
            t = t.sql,
            row = lit(&row.to_string())
        )
    }

    /// Inserting a row for another organization is rejected by row-level security.
    pub(super) async fn insert_other(&self, k: usize) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("insert-other-org", &t.name);
        if !t.can_insert {
            return Ok(Check::pass(Suite::Probe, name));
        }
        // Another organization: the next probed one, or an id no organization has.
        let (target, target_label) = match self.other {
            Some(o) => (o.id.clone(), o.label.clone()),
            None => (
                uuid::Uuid::new_v4().to_string(),
                "a made-up organization".to_string(),
            ),
        };
        let mut templates: Vec<&Map<String, Value>> =
            self.samples(k, &target).iter().take(TEMPLATES).collect();
        if templates.is_empty() {
            templates = self
                .samples(k, &self.org.id)
                .iter()
                .take(TEMPLATES)
                .collect();
        }
        if templates.is_empty() {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                format!(
                    "no row of {} to copy (neither {} nor {} has one)",
                    t.name, self.org.label, target_label
                ),
            ));
        }
        let rows: Vec<Value> = templates
            .iter()
            .enumerate()
            .map(|(n, tpl)| {
                Value::Object(self.build_row(t, tpl, &target, IntMode::Keep, None, n as u64))
            })
            .collect();
        let mut last = String::new();
        let mut attempts: Vec<(Vec<String>, &Value)> =
            rows.iter().map(|r| (Vec::new(), r)).collect();
        if self.ctx.may_disable_triggers {
            attempts.push((self.triggers_off(), &rows[0]));
        }
        for (setup, row) in attempts {
            let triggers = if setup.is_empty() {
                ""
            } else {
                " (with triggers off)"
            };
            let sql = self.insert_sql(t, row);
            match self.tx.try_execute(&setup, &sql).await? {
                Ok(_) => {
                    return Ok(self.insert_finding(t, name, &target_label, format!("the insert succeeded{triggers}")));
                }
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) => return Ok(Check::pass(Suite::Probe, name)),
                    Verdict::PastRls(why) => {
                        return Ok(self.insert_finding(
                            t,
                            name,
                            &target_label,
                            format!("the row passed the row-level security check{triggers} and was stopped only by a constraint: {why}"),
                        ))
                    }
                    Verdict::Inconclusive(why) => last = why,
                },
            }
        }
        Ok(Check::skipped(
            Suite::Probe,
            name,
            format!(
                "every attempt was rejected before the row-level security check could decide ({last}){}",
                if self.ctx.may_disable_triggers {
                    ""
                } else {
                    "; connect as a superuser to probe with triggers off"
                }
            ),
        ))
    }

    pub(super) fn insert_finding(
        &self,
        t: &Table,
        name: String,
        target: &str,
        how: String,
    ) -> Check {
        Check::fail(
            Suite::Probe,
            name,
            Finding {
                rule: "probe-cross-org-insert".into(),
                object: t.name.clone(),
                command: Some("INSERT".into()),
                message: format!(
                    "the tenant of {} can insert rows for {target} into {} ({how})",
                    self.org.label, t.name
                ),
                fix: self.ctx.unscoped.fix(
                    &t.qname,
                    self.role(),
                    &t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting),
                    "INSERT",
                    Clause::WithCheck,
                    &format!(
                        "give the INSERT (or ALL) policies on {} for {} a WITH CHECK ({})",
                        t.qname,
                        self.role(),
                        t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting)
                    ),
                ),
                severity: Severity::Error,
                detail: None,
                location: None,
            },
        )
    }

    /// Keys of the sampled rows of table `k` of the organizations this one aims its
    /// cross-organization UPDATE and DELETE at ([`cross_org_targets`]): at most
    /// 3 × [`SAMPLE_ROWS`], however many organizations are probed.
    pub(super) fn other_keys(&self, k: usize) -> Vec<Value> {
        let t = &self.ctx.tables[k];
        cross_org_targets(self.index, self.ctx.orgs.len())
            .into_iter()
            .map(|j| &self.ctx.orgs[j])
            .flat_map(|o| self.samples(k, &o.id).iter().map(|r| t.pk_of(r)))
            .collect()
    }

    /// A column the tenant may update: the tenant column (an attempt to take rows over) if it
    /// may, else the first other one.
    pub(super) fn update_column<'t>(&self, t: &'t Table) -> Option<&'t Column> {
        if !t.can_update {
            return None;
        }
        t.column(&t.tc)
            .filter(|c| c.tenant_may_update && c.writable)
            .or_else(|| t.columns.iter().find(|c| c.tenant_may_update && c.writable))
    }

    /// UPDATE of other organizations' rows affects none: aimed at sampled keys (WHERE, as an
    /// application writes it; PostgreSQL then also applies the SELECT policies), and, for a
    /// tenant of at most [`BLANKET_MAX`] rows, without WHERE (only the UPDATE policies apply),
    /// where exactly the tenant's own rows may be affected.
    pub(super) async fn update_other(&self, k: usize, truth: Option<i64>) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("update-other-org", &t.name);
        let Some(col) = self.update_column(t) else {
            return Ok(Check::pass(Suite::Probe, name));
        };
        let takeover = col.name == t.tc;
        let set = if takeover {
            format!("{} = {}", quoted_ident(&col.name), t.tc_value(&self.org.id))
        } else {
            format!("{c} = {c}", c = quoted_ident(&col.name))
        };
        let what = if takeover {
            format!(
                "take other organizations' rows of {} over (SET {} = its own id)",
                t.name, t.tc
            )
        } else {
            format!(
                "change other organizations' rows of {} (SET {})",
                t.name, col.name
            )
        };
        let finding = |how: String| {
            self.write_finding(
                t,
                &name,
                "probe-cross-org-update",
                "UPDATE",
                Clause::Using,
                format!("the tenant of {} can {what}: {how}", self.org.label),
            )
        };

        // 1. Aimed at other organizations' rows.
        let update = format!("UPDATE {} SET {set}", t.sql);
        if let Some(decided) = self
            .aimed_at_other_rows(k, &name, Aimed::Update(&update), &finding)
            .await?
        {
            return Ok(decided);
        }

        // 2. Without WHERE: every row the UPDATE policies admit.
        let Some(own) = truth.filter(|n| *n <= BLANKET_MAX && self.runs_blanket(k)) else {
            return Ok(Check::pass(Suite::Probe, name));
        };
        let sql = format!("UPDATE {} SET {set}", t.sql);
        let mut attempts = vec![Vec::new()];
        if self.ctx.may_disable_triggers {
            attempts.push(self.triggers_off());
        }
        let mut last = String::new();
        for setup in attempts {
            let result = self.tx.try_execute(&setup, &sql).await?;
            match result {
                Ok(n) if n as i64 > own => {
                    return Ok(finding(format!(
                        "an UPDATE without WHERE changed {} rows of other organizations besides its own {own}",
                        n as i64 - own
                    )))
                }
                Ok(_) => return Ok(Check::pass(Suite::Probe, name)),
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) if !rls_message(&err) => {
                        return Ok(Check::pass(Suite::Probe, name))
                    }
                    Verdict::Rejected(why) => {
                        return Ok(finding(format!(
                            "an UPDATE without WHERE reached their rows and only the new row's check stopped it ({why})"
                        )))
                    }
                    // The tenant's own rows keep their values: a constraint can only have
                    // been broken by a row of another organization.
                    Verdict::PastRls(why) => {
                        return Ok(finding(format!(
                            "an UPDATE without WHERE reached their rows and only a constraint stopped it ({why})"
                        )))
                    }
                    Verdict::Inconclusive(why) => last = why,
                },
            }
        }
        Ok(Check::skipped(
            Suite::Probe,
            name,
            format!(
                "no other organization's row was reached through keys, and the UPDATE without WHERE failed ({last}){}",
                if self.ctx.may_disable_triggers {
                    ""
                } else {
                    "; connect as a superuser to probe with triggers off"
                }
            ),
        ))
    }

    /// Moving an own row to another organization is rejected. The UPDATE goes through a
    /// cursor (`WHERE CURRENT OF`): it references no column, so only the UPDATE policies' WITH
    /// CHECK judges the new row, as for an UPDATE without WHERE (a WHERE clause would add the
    /// SELECT policies and hide a missing WITH CHECK).
    pub(super) async fn move_own(&self, k: usize) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("move-to-other-org", &t.name);
        let may = t
            .column(&t.tc)
            .is_some_and(|c| c.tenant_may_update && c.writable);
        if !may {
            return Ok(Check::pass(Suite::Probe, name));
        }
        if t.pk.is_empty() {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                format!("{} has no primary key to aim at a row with", t.name),
            ));
        }
        let Some(own) = self.samples(k, &self.org.id).first() else {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                format!("{} has no row in {}", self.org.label, t.name),
            ));
        };
        let (target, target_label) = match self.other {
            Some(o) => (o.id.clone(), o.label.clone()),
            None => (
                uuid::Uuid::new_v4().to_string(),
                "a made-up organization".into(),
            ),
        };
        let keys = Value::Array(vec![t.pk_of(own)]).to_string();
        let cursor = [
            format!(
                "DECLARE arcdb_move CURSOR FOR SELECT 1 FROM {} WHERE {} FOR UPDATE",
                t.sql,
                t.pk_in_json(&format!("{}::jsonb", lit(&keys)))
            ),
            "FETCH arcdb_move".to_string(),
        ];
        let sql = format!(
            "UPDATE {} SET {} = {} WHERE CURRENT OF arcdb_move",
            t.sql,
            t.tc_sql(),
            t.tc_value(&target)
        );
        let finding = |how: String| {
            self.write_finding(t, &name, "probe-cross-org-move", "UPDATE", Clause::WithCheck, format!(
                "the tenant of {} can move its rows of {} to {target_label} (planting data in another tenant): {how}",
                self.org.label, t.name
            ))
        };
        let mut attempts = vec![cursor.to_vec()];
        if self.ctx.may_disable_triggers {
            let mut setup = self.triggers_off();
            setup.extend(cursor.iter().cloned());
            attempts.push(setup);
        }
        let mut last = String::new();
        for setup in attempts {
            let triggers = if setup.len() > 2 {
                " (with triggers off)"
            } else {
                ""
            };
            match self.tx.try_execute(&setup, &sql).await? {
                Ok(0) => {
                    return Ok(Check::skipped(
                        Suite::Probe,
                        name,
                        format!(
                            "the tenant's own row of {} was not updatable (0 rows)",
                            t.name
                        ),
                    ))
                }
                Ok(_) => return Ok(finding(format!("the UPDATE succeeded{triggers}"))),
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) => return Ok(Check::pass(Suite::Probe, name)),
                    Verdict::PastRls(why) => {
                        return Ok(finding(format!(
                            "the new row passed the row-level security check{triggers}; only a constraint stopped it ({why})"
                        )))
                    }
                    Verdict::Inconclusive(why) => last = why,
                },
            }
        }
        Ok(Check::skipped(
            Suite::Probe,
            name,
            format!(
                "the UPDATE was rejected before the row-level security check could decide ({last}){}",
                if self.ctx.may_disable_triggers {
                    ""
                } else {
                    "; connect as a superuser to probe with triggers off"
                }
            ),
        ))
    }

    /// DELETE of other organizations' rows affects none: aimed at sampled keys, and (as a
    /// superuser, with triggers and so foreign-key actions off, for a tenant of at most
    /// [`BLANKET_MAX`] rows) without WHERE, where exactly the tenant's own rows may go.
    pub(super) async fn delete_other(&self, k: usize, truth: Option<i64>) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("delete-other-org", &t.name);
        if !t.can_delete {
            return Ok(Check::pass(Suite::Probe, name));
        }
        let finding = |how: String| {
            self.write_finding(
                t,
                &name,
                "probe-cross-org-delete",
                "DELETE",
                Clause::Using,
                format!(
                    "the tenant of {} can delete other organizations' rows of {}: {how}",
                    self.org.label, t.name
                ),
            )
        };
        if let Some(decided) = self
            .aimed_at_other_rows(k, &name, Aimed::Delete, &finding)
            .await?
        {
            return Ok(decided);
        }
        let Some(own) = truth.filter(|n| *n <= BLANKET_MAX && self.runs_blanket(k)) else {
            return Ok(Check::pass(Suite::Probe, name));
        };
        if !self.ctx.may_disable_triggers {
            return Ok(Check::pass(Suite::Probe, name));
        }
        let sql = format!("DELETE FROM {}", t.sql);
        Ok(
            match self.tx.try_execute(&self.triggers_off(), &sql).await? {
                Ok(n) if n as i64 > own => finding(format!(
                    "a DELETE without WHERE removed {} rows of other organizations besides its own {own}",
                    n as i64 - own
                )),
                Ok(_) => Check::pass(Suite::Probe, name),
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) => Check::pass(Suite::Probe, name),
                    Verdict::PastRls(why) | Verdict::Inconclusive(why) => Check::skipped(
                        Suite::Probe,
                        name,
                        format!("the DELETE without WHERE failed: {why}"),
                    ),
                },
            },
        )
    }
}

/// A write aimed at other organizations' rows by their sampled keys.
enum Aimed<'s> {
    /// `UPDATE t SET …`, without its WHERE.
    Update(&'s str),
    Delete,
}

impl Probe<'_, '_> {
    /// A cross-organization write finding on `t`: `rule`, the `command` it was, and the fix for
    /// the policies' `clause` (which must scope rows to the tenant).
    fn write_finding(
        &self,
        t: &Table,
        name: &str,
        rule: &str,
        command: &str,
        clause: Clause,
        message: String,
    ) -> Check {
        let scoped = t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting);
        let hint = match clause {
            Clause::Using => format!(
                "scope the USING clause of every {command} (or ALL) policy on {} for {}: USING ({scoped})",
                t.qname,
                self.role(),
            ),
            Clause::WithCheck => format!(
                "give every {command} (or ALL) policy on {} for {} a WITH CHECK ({scoped})",
                t.qname,
                self.role(),
            ),
        };
        Check::fail(
            Suite::Probe,
            name.to_string(),
            Finding {
                rule: rule.into(),
                object: t.name.clone(),
                command: Some(command.into()),
                message,
                fix: self
                    .ctx
                    .unscoped
                    .fix(&t.qname, self.role(), &scoped, command, clause, &hint),
                severity: Severity::Error,
                detail: None,
                location: None,
            },
        )
    }

    /// The first step of [`Probe::update_other`] and [`Probe::delete_other`]: the write aimed
    /// at other organizations' sampled rows, as an application writes it. `Some` when that
    /// decides the probe: rows reached (a finding through `finding`), or a failure that says
    /// nothing about isolation (skipped); `None` when no row was reached, or no key sampled.
    async fn aimed_at_other_rows(
        &self,
        k: usize,
        name: &str,
        write: Aimed<'_>,
        finding: &dyn Fn(String) -> Check,
    ) -> anyhow::Result<Option<Check>> {
        let t = &self.ctx.tables[k];
        let keys = Value::Array(self.other_keys(k));
        if t.pk.is_empty() || keys.as_array().is_none_or(|a| a.is_empty()) {
            return Ok(None);
        }
        let (command, sql) = match write {
            Aimed::Update(update) => ("UPDATE", format!("{update} WHERE {}", t.pk_in(&keys))),
            Aimed::Delete => (
                "DELETE",
                format!("DELETE FROM {} WHERE {}", t.sql, t.pk_in(&keys)),
            ),
        };
        let decided = match self.tx.try_execute(&[], &sql).await? {
            Ok(0) => None,
            Ok(n) => Some(finding(match write {
                Aimed::Update(_) => format!("{n} rows of other organizations updated"),
                Aimed::Delete => format!("{n} rows deleted"),
            })),
            Err(err) => match verdict(&err) {
                // An UPDATE's new row is checked after the rows were reached; a DELETE has none.
                Verdict::Rejected(why) if matches!(write, Aimed::Update(_)) && rls_message(&err) => {
                    Some(finding(format!(
                        "the UPDATE reached their rows and only the new row's check stopped it ({why})"
                    )))
                }
                Verdict::Rejected(_) => None,
                Verdict::PastRls(why) => Some(finding(format!(
                    "the {command} reached their rows and only a constraint stopped it ({why})"
                ))),
                Verdict::Inconclusive(why) => Some(Check::skipped(
                    Suite::Probe,
                    name.to_string(),
                    format!("the {command} failed for another reason: {why}"),
                )),
            },
        };
        Ok(decided)
    }
}

/// Whether `err` is the row-level security check's own refusal (of a new row), not a missing
/// privilege.
fn rls_message(err: &Failure) -> bool {
    err.as_db_error()
        .is_some_and(|d| d.code().code() == "42501" && d.message().contains("row-level security"))
}
