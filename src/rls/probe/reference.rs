//! The `reference-other-org` probe: a row valid for its own organization, changed only to
//! reference another organization's parent row, is rejected.

use super::*;

impl Probe<'_, '_> {
    /// A row of the tenant's own organization that its tenant can insert (tried in a
    /// savepoint): the control for the reference probes. Cached per table.
    pub(super) async fn valid_row(
        &self,
        k: usize,
    ) -> anyhow::Result<Result<Map<String, Value>, String>> {
        let t = &self.ctx.tables[k];
        let templates: Vec<&Map<String, Value>> = self
            .samples(k, &self.org.id)
            .iter()
            .take(TEMPLATES)
            .collect();
        if templates.is_empty() {
            return Ok(Err(format!(
                "{} has no row in {} to copy",
                self.org.label, t.name
            )));
        }
        let mut last = String::new();
        let flips: &[Option<bool>] = if t.partial_bools.is_empty() {
            &[None]
        } else {
            &[None, Some(false), Some(true)]
        };
        for &flip in flips {
            for mode in [IntMode::Keep, IntMode::Null, IntMode::Offset] {
                for (n, tpl) in templates.iter().enumerate() {
                    let row = self.build_row(t, tpl, &self.org.id, mode, flip, n as u64);
                    let value = Value::Object(row.clone());
                    match self
                        .tx
                        .try_execute(&[], &self.insert_sql(t, &value))
                        .await?
                    {
                        Ok(_) => return Ok(Ok(row)),
                        Err(err) => last = err.text(),
                    }
                }
            }
        }
        Ok(Err(format!(
            "no copy of {}'s rows of {} could be inserted by its own tenant (last: {last})",
            self.org.label, t.name
        )))
    }

    /// A row of A that references B's parent row (through one foreign key) is rejected.
    pub(super) async fn reference_other(
        &self,
        fk: &ForeignKey,
        valid_rows: &mut HashMap<usize, Result<Map<String, Value>, String>>,
    ) -> anyhow::Result<Check> {
        let (child, parent) = (&self.ctx.tables[fk.child], &self.ctx.tables[fk.parent]);
        let name = self.name(
            "reference-other-org",
            &format!("{}.{}", child.name, fk.name),
        );
        if !child.can_insert {
            return Ok(Check::pass(Suite::Probe, name));
        }
        let Some(other) = self.other else {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                "only one organization: no other organization's row to reference",
            ));
        };
        let Some(parent_row) = self.samples(fk.parent, &other.id).iter().find(|r| {
            fk.refs
                .iter()
                .all(|(_, p)| !r.get(p).unwrap_or(&Value::Null).is_null())
        }) else {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                format!("{} has no row in {} to reference", other.label, parent.name),
            ));
        };
        let row = match valid_rows.entry(fk.child) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(self.valid_row(fk.child).await?),
        };
        let row = match row {
            Ok(row) => row,
            Err(why) => return Ok(Check::skipped(Suite::Probe, name, why.clone())),
        };
        let mut variant = row.clone();
        for (c, p) in &fk.refs {
            variant.insert(c.clone(), parent_row.get(p).cloned().unwrap_or(Value::Null));
        }
        let cols: Vec<&str> = fk.refs.iter().map(|(c, _)| c.as_str()).collect();
        let result = self
            .tx
            .try_execute(&[], &self.insert_sql(child, &Value::Object(variant)))
            .await?;
        Ok(match result {
            Ok(_) => Check::fail(
                Suite::Probe,
                name,
                Finding {
                    rule: "probe-cross-org-reference".into(),
                    object: format!("{} (foreign key {} → {})", child.name, fk.name, parent.name),
                    command: Some("INSERT".into()),
                    message: format!(
                        "the tenant of {} can insert rows of {} that point at {}'s rows of {} ({}): foreign-key checks bypass row-level security",
                        self.org.label,
                        child.name,
                        other.label,
                        parent.name,
                        cols.join(", ")
                    ),
                    fix: if fk.composite {
                        format!("include {} on both sides of {} and make sure it references a key of {} that contains it", child.tc, fk.name, parent.name)
                    } else {
                        format!(
                            "make the key composite: FOREIGN KEY ({}, {}) REFERENCES {} ({}, {}), with UNIQUE ({}, …) on {}",
                            child.tc,
                            cols.join(", "),
                            parent.sql,
                            parent.tc,
                            fk.refs.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join(", "),
                            parent.tc,
                            parent.name
                        )
                    },
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ),
            Err(err) => {
                let code = err.code().map(str::to_string).unwrap_or_default();
                if code.starts_with("23") || code == "42501" || code == "P0001" {
                    Check::pass(Suite::Probe, name)
                } else {
                    Check::skipped(
                        Suite::Probe,
                        name,
                        format!("the insert failed for another reason: {}", err.text()),
                    )
                }
            }
        })
    }
}
