//! One organization's probe transaction: every probe kind runs as its tenant, in one
//! transaction that is rolled back, and a rejected write is judged by [`verdict`].

use super::*;

/// Every probe as the tenant of organization `i`, in one transaction.
pub(super) async fn org_probes(tx: Tx<'_>, ctx: &Ctx<'_>, i: usize) -> anyhow::Result<Vec<Check>> {
    let org = &ctx.orgs[i];
    let identity = match &ctx.identities[i] {
        Ok(identity) => identity,
        Err(why) => {
            return Ok(vec![Check::skipped(
                Suite::Probe,
                format!("probe {} (all tables)", org.label),
                why.clone(),
            )])
        }
    };
    let n = ctx.orgs.len();
    let other = (n > 1).then(|| &ctx.orgs[(i + 1) % n]);
    tx.batch("SET LOCAL lock_timeout = '5s'").await?;
    ctx.fixtures.replay(tx).await?;

    // As the owner, in the transaction's snapshot: the true number of A's rows per table.
    let counted: Vec<usize> = ctx
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_table() && !t.global && !t.filtered_for_owner)
        .map(|(k, _)| k)
        .collect();
    let mut truth: HashMap<usize, i64> = HashMap::new();
    if !counted.is_empty() {
        let parts: Vec<String> = counted
            .iter()
            .map(|&k| {
                let t = &ctx.tables[k];
                format!("(SELECT count(*) FROM {} WHERE {})", t.sql, t.tc_is(1))
            })
            .collect();
        let row = &tx
            .query(&format!("SELECT {}", parts.join(", ")), &[&org.id])
            .await?[0];
        for (col, &k) in counted.iter().enumerate() {
            truth.insert(k, row.get(col));
        }
    }

    become_tenant(tx, &ctx.opts.tenant_role).await?;
    members::act_as(tx, ctx, identity).await?;

    let probe = Probe {
        tx,
        ctx,
        index: i,
        org,
        other,
    };
    let mut checks = Vec::new();
    for (k, t) in ctx.tables.iter().enumerate() {
        if !t.probed() {
            continue;
        }
        checks.push(probe.read(k, truth.get(&k).copied()).await?);
        if !t.is_table() {
            continue;
        }
        if ctx.read_only {
            for kind in [
                "insert-other-org",
                "update-other-org",
                "move-to-other-org",
                "delete-other-org",
            ] {
                checks.push(Check::skipped(
                    Suite::Probe,
                    probe.name(kind, &t.name),
                    READ_ONLY,
                ));
            }
            continue;
        }
        checks.push(probe.insert_other(k).await?);
        checks.push(probe.update_other(k, truth.get(&k).copied()).await?);
        checks.push(probe.move_own(k).await?);
        checks.push(probe.delete_other(k, truth.get(&k).copied()).await?);
        if members::is_membership_table(ctx, t) {
            checks.push(probe.join_other(k, identity).await?);
        }
    }
    let mut valid_rows: HashMap<usize, Result<Map<String, Value>, String>> = HashMap::new();
    for fk in &ctx.fks {
        let (child, parent) = (&ctx.tables[fk.child], &ctx.tables[fk.parent]);
        if child.global || parent.global || child.filtered_for_owner || parent.filtered_for_owner {
            continue;
        }
        if ctx.read_only {
            let name = probe.name(
                "reference-other-org",
                &format!("{}.{}", child.name, fk.name),
            );
            checks.push(Check::skipped(Suite::Probe, name, READ_ONLY));
            continue;
        }
        checks.push(probe.reference_other(fk, &mut valid_rows).await?);
    }
    Ok(checks)
}

/// Why the write probes did not run on a read-only connection.
pub(super) const READ_ONLY: &str = "the connection is read-only (default_transaction_read_only or a standby): the write probes need a writable session, even though they always roll back";

/// What a rejected write says about row-level security.
pub(super) enum Verdict {
    /// Stopped by RLS (or by missing privileges): the tenant cannot do it.
    Rejected(String),
    /// The row got past the RLS check; only a later constraint stopped it.
    PastRls(String),
    /// Stopped before the RLS check was reached (a BEFORE trigger, a type error…).
    Inconclusive(String),
}

pub(super) fn verdict(err: &Failure) -> Verdict {
    let Some(db) = err.as_db_error() else {
        return Verdict::Inconclusive(err.text());
    };
    let code = db.code().code();
    let text = err.text();
    let in_function = db
        .where_()
        .is_some_and(|w| w.contains("function") || w.contains("PL/pgSQL"));
    if code == "42501" {
        Verdict::Rejected(text)
    } else if code.starts_with("23")
        && !in_function
        && (db.constraint().is_some() || (code == "23502" && db.column().is_some()))
    {
        Verdict::PastRls(text)
    } else {
        Verdict::Inconclusive(text)
    }
}

/// The probes of one organization's transaction, already running as its tenant.
pub(super) struct Probe<'p, 'o> {
    pub(super) tx: Tx<'p>,
    pub(super) ctx: &'p Ctx<'o>,
    /// `org`'s position in the probe order (`ctx.orgs`).
    pub(super) index: usize,
    pub(super) org: &'p Org,
    pub(super) other: Option<&'p Org>,
}

/// The positions, in the probe order of `n` organizations, of the organizations whose rows
/// organization `i` aims its keyed cross-organization UPDATE and DELETE at: the next and the
/// previous one (wrapping) and the first one, without duplicates and never `i` itself (empty
/// when `i` is the only one).
///
/// Bounded on purpose. Aiming at the rows of every other probed organization made each
/// statement carry (n − 1) × [`SAMPLE_ROWS`] keys, so verify-rls grew quadratically with the
/// organizations probed (~15 minutes for 1000). Each attempt still targets real rows of other
/// tenants, and a policy hole that lets tenant A touch tenant B's rows is in practice not
/// specific to B (`USING (true)`, a missing or unscoped policy, RLS off): any other tenant's
/// rows reveal it, so a few neighbours find it, for every probed A. A hole that opens only
/// for one particular pair of organizations may be missed — as it already could be by
/// probing a sample of the organizations, and of their rows.
pub(super) fn cross_org_targets(i: usize, n: usize) -> Vec<usize> {
    let mut targets = Vec::with_capacity(3);
    if n == 0 {
        return targets;
    }
    for j in [(i + 1) % n, (i + n - 1) % n, 0] {
        if j != i && !targets.contains(&j) {
            targets.push(j);
        }
    }
    targets
}

impl Probe<'_, '_> {
    pub(super) fn name(&self, kind: &str, table: &str) -> String {
        format!("probe {kind} {table} as {}", self.org.label)
    }

    /// Whether this organization runs the probes without WHERE on table `k`.
    pub(super) fn runs_blanket(&self, k: usize) -> bool {
        self.ctx.blanket_org[k].as_deref() == Some(self.org.id.as_str())
    }

    pub(super) fn role(&self) -> &str {
        &self.ctx.opts.tenant_role
    }

    pub(super) fn samples(&self, table: usize, org: &str) -> &[Map<String, Value>] {
        self.ctx.samples[table]
            .get(org)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The statements that switch triggers off for one attempt (undone with its savepoint).
    pub(super) fn triggers_off(&self) -> Vec<String> {
        vec![
            "SET LOCAL ROLE NONE".into(),
            "SET LOCAL session_replication_role = replica".into(),
            format!("SET LOCAL ROLE {}", quoted_ident(self.role())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_org_targets_are_the_neighbours_and_the_first_never_itself() {
        assert_eq!(cross_org_targets(0, 0), Vec::<usize>::new());
        assert_eq!(cross_org_targets(0, 1), Vec::<usize>::new());
        assert_eq!(cross_org_targets(0, 2), vec![1]);
        assert_eq!(cross_org_targets(1, 2), vec![0]);
        assert_eq!(cross_org_targets(0, 3), vec![1, 2]);
        assert_eq!(cross_org_targets(2, 3), vec![0, 1]);
        assert_eq!(cross_org_targets(0, 1000), vec![1, 999]);
        assert_eq!(cross_org_targets(1, 1000), vec![2, 0]);
        assert_eq!(cross_org_targets(500, 1000), vec![501, 499, 0]);
        assert_eq!(cross_org_targets(999, 1000), vec![0, 998]);
        for n in 1..40 {
            let mut aimed_at = vec![0; n];
            for i in 0..n {
                let targets = cross_org_targets(i, n);
                // Bounded, never itself, no duplicate, in range.
                assert!(targets.len() <= 3, "{i} of {n}: {targets:?}");
                assert!(!targets.contains(&i), "{i} of {n}: {targets:?}");
                let distinct: BTreeSet<usize> = targets.iter().copied().collect();
                assert_eq!(distinct.len(), targets.len(), "{i} of {n}: {targets:?}");
                assert!(targets.iter().all(|&j| j < n), "{i} of {n}: {targets:?}");
                // At least one target whenever there is another organization.
                assert_eq!(targets.is_empty(), n == 1, "{i} of {n}");
                for j in targets {
                    aimed_at[j] += 1;
                }
            }
            // Every organization's rows are the target of some other organization's probes.
            if n > 1 {
                assert!(aimed_at.iter().all(|&c| c > 0), "{n}: {aimed_at:?}");
            }
        }
    }
}
