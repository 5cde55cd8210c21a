//! Who the probes act as in each tenancy model ([`crate::rls::tenancy`]): in the column model
//! the setting carries the organization id itself; in the membership and supabase models it
//! carries a user, so each organization is probed as a user who is a member of that
//! organization only (one who belongs to several would make "no row of another tenant" a lie
//! about the policy). On an empty database the probe tenants' membership rows give one such
//! user each ([`super::fixtures`] makes the users they reference per tenant). Supabase's
//! requests are also probed as `anon`, who must read no tenant row at all.

use super::*;
use crate::rls::tenancy::{Tenancy, SUPABASE_ANON, SUPABASE_CLAIMS};

/// Per probed organization (in `ctx.orgs` order), the identity its probes put in the setting,
/// or why it cannot be probed.
pub(super) type Identities = Vec<Result<String, String>>;

/// The identity of every organization: a user who is a member of it alone, read as the
/// connecting role (after the probe tenants were replayed); without a membership table (the
/// column model, and supabase keyed by the user) its own id.
pub(super) async fn identities(
    tx: Tx<'_>,
    tenancy: &Tenancy,
    orgs: &[Org],
) -> anyhow::Result<Identities> {
    let Some(m) = tenancy.membership() else {
        return Ok(orgs.iter().map(|o| Ok(o.id.clone())).collect());
    };
    let ids: Vec<String> = orgs.iter().map(|o| lit(&o.id)).collect();
    let sql = format!(
        "SELECT o.k,
                (SELECT m.{u}::text FROM {t} AS m
                  WHERE m.{c}::text = o.k
                    AND NOT EXISTS (SELECT 1 FROM {t} AS x
                                     WHERE x.{u} = m.{u} AND x.{c} IS DISTINCT FROM m.{c})
                  ORDER BY 1 LIMIT 1)
           FROM unnest(ARRAY[{ids}]::text[]) AS o(k)",
        u = quoted_ident(&m.user_col),
        c = quoted_ident(&m.tenant_col),
        t = m.sql_name(),
        ids = ids.join(", "),
    );
    let found: HashMap<String, Option<String>> = match tx.attempt(&[], &sql).await? {
        Ok(outcome) => outcome
            .rows
            .into_iter()
            .filter_map(|mut r| {
                let user = r.pop()?;
                Some((r.pop()??, user))
            })
            .collect(),
        Err(err) => {
            let why = format!(
                "the membership table {} could not be read as the connecting role ({}): check --membership",
                m.sql_name(),
                err.text()
            );
            return Ok(orgs.iter().map(|_| Err(why.clone())).collect());
        }
    };
    Ok(orgs
        .iter()
        .map(|o| match found.get(&o.id).cloned().flatten() {
            Some(user) => Ok(user),
            None => Err(format!(
                "no user is a member of {} alone in {} ({}), so its probes cannot tell its rows from another tenant's",
                o.label,
                m.sql_name(),
                m.user_col
            )),
        })
        .collect())
}

/// Make the session act as `identity` (already running as the tenant role): the setting, and
/// in the supabase model the request's JWT claims that `auth.uid()` reads.
pub(super) async fn act_as(tx: Tx<'_>, ctx: &Ctx<'_>, identity: &str) -> anyhow::Result<()> {
    let opts = ctx.opts;
    if opts.tenancy.is_supabase() {
        let claims = serde_json::json!({"sub": identity, "role": opts.tenant_role}).to_string();
        // PostgREST sets the claims as one JSON setting (v10+) and, before that, one setting
        // per claim: auth.uid() reads either.
        tx.query(
            "SELECT set_config($1, $2, true), set_config('request.jwt.claim.sub', $3, true),
                    set_config('request.jwt.claim.role', $4, true)",
            &[&SUPABASE_CLAIMS, &claims, &identity, &opts.tenant_role],
        )
        .await?;
        if opts.setting == SUPABASE_CLAIMS {
            return Ok(());
        }
    }
    tx.query(
        "SELECT set_config($1, $2, true)",
        &[&opts.setting, &identity],
    )
    .await?;
    Ok(())
}

/// Supabase: as `anon` with the claims of an anonymous request, no tenant row is readable.
pub(super) async fn anon_probes(tx: Tx<'_>, ctx: &Ctx<'_>) -> anyhow::Result<Vec<Check>> {
    let exists = !tx
        .query(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&SUPABASE_ANON],
        )
        .await?
        .is_empty();
    if !exists {
        return Ok(vec![Check::not_applicable(
            Suite::Probe,
            "probe anon-read",
            "there is no anon role: no anonymous request reaches this database",
        )]);
    }
    tx.batch("SET LOCAL lock_timeout = '5s'").await?;
    ctx.fixtures.replay(tx).await?;
    become_tenant(tx, SUPABASE_ANON).await?;
    let claims = serde_json::json!({"role": SUPABASE_ANON}).to_string();
    tx.query(
        "SELECT set_config($1, $2, true), set_config('request.jwt.claim.role', $3, true)",
        &[&SUPABASE_CLAIMS, &claims, &SUPABASE_ANON],
    )
    .await?;
    let mut checks = Vec::new();
    for t in readable(ctx) {
        let name = format!("probe anon-read {}", t.name);
        let visible = tx
            .query(
                "SELECT has_table_privilege($1, $2::text::regclass, 'SELECT')",
                &[&SUPABASE_ANON, &t.sql],
            )
            .await?[0]
            .get::<_, bool>(0);
        if !visible {
            checks.push(Check::pass(Suite::Probe, name));
            continue;
        }
        let check = match tx.try_counts(&format!("SELECT count(*) FROM {}", t.sql)).await? {
            Ok(counts) if counts.first().copied().unwrap_or(0) > 0 => Check::fail(
                Suite::Probe,
                name,
                Finding {
                    rule: "probe-anon-read".into(),
                    object: t.name.clone(),
                    command: Some("SELECT".into()),
                    message: format!(
                        "an anonymous request (role anon, no user in request.jwt.claims) reads {} rows of {}: anyone with the project's public key reads every tenant's data",
                        counts[0], t.name
                    ),
                    fix: format!(
                        "REVOKE SELECT ON {} FROM anon; and write the tenant policies TO authenticated (a policy without TO applies to anon too)",
                        t.sql
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ),
            // Zero rows, or refused (RLS or privileges): nothing leaks.
            _ => Check::pass(Suite::Probe, name),
        };
        checks.push(check);
    }
    Ok(checks)
}

/// Whether `t` is the membership table: a member may see only its own membership rows there
/// (which are exactly the rows of its tenants), not every member of its tenant.
pub(super) fn is_membership_table(ctx: &Ctx<'_>, t: &Table) -> bool {
    let Some(m) = ctx.opts.tenancy.membership() else {
        return false;
    };
    match t.name.rsplit_once('.') {
        Some((schema, name)) => name == m.table && m.schema.as_deref().is_none_or(|s| s == schema),
        None => t.name == m.table,
    }
}

impl Probe<'_, '_> {
    /// On the membership table: the member (`identity`) cannot add itself to another tenant,
    /// which would make every row of that tenant its own (`probe-membership-join`).
    pub(super) async fn join_other(&self, k: usize, identity: &str) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("join-other-org", &t.name);
        let Some(m) = self.ctx.opts.tenancy.membership() else {
            return Ok(Check::pass(Suite::Probe, name));
        };
        if !t.can_insert {
            return Ok(Check::pass(Suite::Probe, name));
        }
        let Some(other) = self.other else {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                "no other organization to join",
            ));
        };
        let templates: Vec<&Map<String, Value>> = self
            .samples(k, &other.id)
            .iter()
            .chain(self.samples(k, &self.org.id))
            .take(TEMPLATES)
            .collect();
        if templates.is_empty() {
            return Ok(Check::skipped(
                Suite::Probe,
                name,
                format!("no membership row of {} to copy", t.name),
            ));
        }
        let mut last = String::new();
        for (n, tpl) in templates.into_iter().enumerate() {
            let mut row = self.build_row(t, tpl, &other.id, IntMode::Keep, None, n as u64);
            row.insert(m.user_col.clone(), Value::String(identity.to_string()));
            let sql = self.insert_sql(t, &Value::Object(row));
            let how = match self.tx.try_execute(&[], &sql).await? {
                Ok(_) => "the insert succeeded".to_string(),
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) => return Ok(Check::pass(Suite::Probe, name)),
                    Verdict::PastRls(why) => format!(
                        "the row passed the row-level security check and was stopped only by a constraint: {why}"
                    ),
                    Verdict::Inconclusive(why) => {
                        last = why;
                        continue;
                    }
                },
            };
            return Ok(Check::fail(
                Suite::Probe,
                name,
                Finding {
                    rule: "probe-membership-join".into(),
                    object: t.name.clone(),
                    command: Some("INSERT".into()),
                    message: format!(
                        "a member of {} alone can add itself to {} in {} ({how}): every row of that organization is then its own",
                        self.org.label, other.label, t.name
                    ),
                    fix: format!(
                        "REVOKE INSERT, UPDATE ON {} FROM {}; (memberships are granted by the application or an invitation function, not written by the member)",
                        t.sql,
                        quoted_ident(self.role())
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ));
        }
        Ok(Check::skipped(
            Suite::Probe,
            name,
            format!("every attempt was rejected before the row-level security check could decide ({last})"),
        ))
    }
}
