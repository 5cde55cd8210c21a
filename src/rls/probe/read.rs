//! The read probes: with the setting unset or empty the tenant sees no row (`unset-setting`,
//! `empty-setting`), and as an organization's tenant it sees exactly that organization's rows (`read`).

use super::*;
use crate::rls::fix::Clause;

/// With the setting never set in this session, then set to '': no row, no error.
pub(super) async fn unset_probes(tx: Tx<'_>, ctx: &Ctx<'_>) -> anyhow::Result<Vec<Check>> {
    let setting = &ctx.opts.setting;
    let mut checks = Vec::new();
    let preset: Option<String> = tx
        .query("SELECT current_setting($1, true)", &[setting])
        .await?[0]
        .get(0);
    tx.batch("SET LOCAL lock_timeout = '5s'").await?;
    ctx.fixtures.replay(tx).await?;
    become_tenant(tx, &ctx.opts.tenant_role).await?;
    let mut states = vec![("unset-setting", None)];
    match preset.as_deref() {
        None => {}
        Some("") => {
            states.clear();
            checks.push(Check::skipped(
                Suite::Probe,
                "probe unset-setting",
                format!("{setting} is already defined (empty) in a new session; only the empty value was probed"),
            ));
        }
        Some(value) => {
            states.clear();
            checks.push(Check::fail(
                Suite::Probe,
                "probe unset-setting",
                Finding {
                    rule: "probe-setting-preset".into(),
                    object: format!("setting {setting}"),
                    command: None,
                    message: format!(
                        "every new session starts with {setting} = '{value}' (ALTER DATABASE/ROLE … SET, postgresql.conf or the connection options): a session that does not choose a tenant acts as that one"
                    ),
                    fix: format!(
                        "remove the default (ALTER DATABASE … RESET {setting}; ALTER ROLE … RESET {setting}) and let the application set it per transaction"
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ));
        }
    }
    states.push(("empty-setting", Some("")));
    for (kind, value) in states {
        if let Some(value) = value {
            tx.query("SELECT set_config($1, $2, true)", &[setting, &value])
                .await?;
        }
        let how = if value.is_some() {
            format!("set to the empty string ({setting} = '', as after a SET LOCAL ended)")
        } else {
            format!("unset ({setting} never set in the session)")
        };
        for t in readable(ctx) {
            let name = format!("probe {kind} {}", t.name);
            if !t.can_select {
                checks.push(Check::pass(Suite::Probe, name));
                continue;
            }
            let sql = format!("SELECT count(*) FROM {}", t.sql);
            let check = match tx.try_counts(&sql).await? {
                Ok(counts) => {
                    let n = counts.first().copied().unwrap_or(0);
                    if n == 0 {
                        Check::pass(Suite::Probe, name)
                    } else {
                        Check::fail(
                            Suite::Probe,
                            name,
                            Finding {
                                rule: "probe-fail-open".into(),
                                object: t.name.clone(),
                                command: Some("SELECT".into()),
                                message: format!(
                                    "with {how}, {} sees {n} rows of {}: a request that forgets to set the tenant reads every organization's data",
                                    ctx.opts.tenant_role, t.name
                                ),
                                fix: format!(
                                    "compare with NULLIF(current_setting('{setting}', true), '') cast to the key type (NULL matches no row), never `… IS NULL OR …` or COALESCE: {}",
                                    t.scoped(&ctx.opts.tenancy, setting)
                                ),
                                severity: Severity::Error,
                                detail: None,
                                location: None,
                            },
                        )
                    }
                }
                Err(err) => Check::fail(
                    Suite::Probe,
                    name,
                    Finding {
                        rule: "probe-fail-loud".into(),
                        object: t.name.clone(),
                        command: Some("SELECT".into()),
                        message: format!(
                            "with {how}, reading {} as {} fails ({}): requests that run before the tenant is set break instead of seeing no row",
                            t.name,
                            ctx.opts.tenant_role,
                            err.text()
                        ),
                        fix: format!(
                            "read the setting with current_setting('{setting}', true) and NULLIF(…, '') before the cast, so that unset and empty mean NULL: {}",
                            t.scoped(&ctx.opts.tenancy, setting)
                        ),
                        severity: Severity::Error,
                        detail: None,
                        location: None,
                    },
                ),
            };
            checks.push(check);
        }
    }
    Ok(checks)
}

impl Probe<'_, '_> {
    /// `SELECT count` as the tenant: exactly its own rows, none of another organization.
    pub(super) async fn read(&self, k: usize, truth: Option<i64>) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("read", &t.name);
        if !t.can_select {
            return Ok(Check::pass(Suite::Probe, name));
        }
        // No other organization has a row here: "none of theirs is visible" would be vacuous.
        if t.is_table()
            && !self
                .ctx
                .orgs
                .iter()
                .any(|o| o.id != self.org.id && !self.samples(k, &o.id).is_empty())
        {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                format!(
                    "no other probed organization has a row in {}, so a leak could not show",
                    t.name
                ),
            ));
        }
        let sql = format!(
            "SELECT count(*) FILTER (WHERE {tc} = {org}),
                    count(*) FILTER (WHERE {tc} IS DISTINCT FROM {org})
               FROM {t}",
            tc = t.tc_sql(),
            org = t.tc_value(&self.org.id),
            t = t.sql
        );
        let counts = match self.tx.try_counts(&sql).await? {
            Ok(counts) if counts.len() == 2 => counts,
            Ok(counts) => anyhow::bail!("unexpected answer to the read probe of {}: {counts:?}", t.name),
            Err(err) => {
                return Ok(Check::fail(
                    Suite::Probe,
                    name,
                    Finding {
                        rule: "probe-read-error".into(),
                        object: t.name.clone(),
                        command: Some("SELECT".into()),
                        message: format!(
                            "the tenant of {} cannot read {} at all ({}): the application breaks for every tenant",
                            self.org.label,
                            t.name,
                            err.text()
                        ),
                        fix: format!(
                            "make the policies of {} evaluable by {} (privileges on the functions and tables they use)",
                            t.name,
                            self.role()
                        ),
                        severity: Severity::Error,
                        detail: None,
                        location: None,
                    },
                ))
            }
        };
        let (own, foreign) = (counts[0], counts[1]);
        if foreign > 0 {
            let fix = match t.kind {
                'v' => format!(
                    "filter the view by {} (with security_barrier), or make it security_invoker = true (PostgreSQL 15+) over tables with row-level security",
                    t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting)
                ),
                'm' => format!(
                    "REVOKE SELECT ON {} FROM {}; expose it through a security_barrier view filtered by {}",
                    t.sql,
                    quoted_ident(self.role()),
                    t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting)
                ),
                _ if !t.rls_enabled => format!(
                    "ALTER TABLE {} ENABLE ROW LEVEL SECURITY; with a policy USING ({})",
                    t.sql,
                    t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting)
                ),
                _ => self.ctx.unscoped.fix(
                    &t.qname,
                    self.role(),
                    &t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting),
                    "SELECT",
                    Clause::Using,
                    &format!(
                        "every permissive policy on {} that applies to {} must scope by {}: USING ({})",
                        t.qname,
                        self.role(),
                        t.tc,
                        t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting)
                    ),
                ),
            };
            return Ok(Check::fail(
                Suite::Probe,
                name,
                Finding {
                    rule: "probe-cross-org-read".into(),
                    object: t.name.clone(),
                    command: Some("SELECT".into()),
                    message: format!(
                        "the tenant of {} reads {foreign} rows of other organizations in {}",
                        self.org.label, t.name
                    ),
                    fix,
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ));
        }
        if let Some(truth) = truth {
            // The membership table: seeing its own memberships (at least one) is enough.
            let hidden = if members::is_membership_table(self.ctx, t) {
                own == 0 && truth > 0
            } else {
                own != truth
            };
            if hidden {
                return Ok(Check::fail(
                    Suite::Probe,
                    name,
                    Finding {
                        rule: "probe-own-rows-hidden".into(),
                        object: t.name.clone(),
                        command: Some("SELECT".into()),
                        message: format!(
                            "the tenant of {} sees {own} of its {truth} rows in {}: the application misses its own data",
                            self.org.label, t.name
                        ),
                        fix: format!(
                            "let the policies of {} admit every row with {} (restrictive policies narrow on purpose only when their setting is set)",
                            t.name,
                            t.scoped(&self.ctx.opts.tenancy, &self.ctx.opts.setting)
                        ),
                        severity: Severity::Error,
                        detail: None,
                        location: None,
                    },
                ));
            }
        }
        Ok(Check::pass(Suite::Probe, name))
    }
}
