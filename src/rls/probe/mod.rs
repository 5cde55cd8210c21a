//! Live probes: queries and writes as the tenant role, per table and per organization, inside
//! transactions that are always rolled back ([`rolled_back`] is the only way this module and
//! `cases` touch the database).
//!
//! For every table of the tenant schemas (found in the catalog: the root table and every table
//! or view with the tenant column) and every probed organization A, with B the next probed
//! organization:
//! - `read`: as A's tenant, the rows of A counted as the tenant equal the rows of A counted as
//!   the owner, and no row of another organization is visible (views: none of another's);
//! - `insert-other-org`: inserting a row for B (a copy of one of B's rows with a new key) is
//!   rejected by row-level security;
//! - `update-other-org` / `delete-other-org`: an UPDATE or DELETE aimed at other organizations'
//!   rows affects 0 rows: the sampled keys (fetched once as the owner) of a bounded set of
//!   neighbours of A — the previous and the next probed organization and the first one
//!   ([`cross_org_targets`]) — so that the cost per organization does not grow with the number
//!   probed;
//! - `move-to-other-org`: `UPDATE … SET <tenant column> = B` on one of A's own rows is rejected;
//! - `reference-other-org` (one per foreign key between tenant tables): a row of A that is valid
//!   as inserted by A's tenant, changed only to reference B's parent row, is rejected.
//!
//! In the membership and supabase models ([`crate::rls::tenancy`]) "as A's tenant" means as a
//! user who is a member of A alone, with the setting (or Supabase's `request.jwt.claims`) set to
//! that user ([`members`]); Supabase requests are also probed as `anon`.
//!
//! Once per table, in a session that never set the tenant: with the setting unset, and set to
//! the empty string, the tenant sees no row and gets no error (`unset-setting`,
//! `empty-setting`).
//!
//! Rows are built generically: an existing row as JSON (`to_jsonb`, read as the owner), with the
//! tenant column and the key changed, and the columns of unique keys changed so as to keep
//! their shape, inserted with `jsonb_populate_record`. A rejection is conclusive when it is
//! SQLSTATE 42501 (row-level security or privileges), and so is a constraint violation, which
//! PostgreSQL only raises after the row has passed the RLS check (BEFORE triggers → RLS WITH
//! CHECK → NOT NULL/CHECK → unique → foreign keys). A BEFORE trigger's error says nothing about
//! RLS: other template rows are tried, then (as a superuser) the same row with triggers off
//! (`session_replication_role = replica`, transaction-local), else the check is skipped with
//! the reason.

mod catalog;
mod fixtures;
mod members;
mod orgs;
mod read;
mod reference;
mod rows;
mod session;
mod tx;
mod write;

/// From this many probed organizations on, verify-rls shows its progress on stderr.
const PROGRESS_FROM_ORGS: usize = 10;

use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::{quoted_ident, quoted_name, sql_ident, Db};
use anyhow::{anyhow, Context};
use serde_json::{Map, Value};
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

/// Template rows read per table and organization (the first three are tried as templates;
/// all of them are the targets of the UPDATE/DELETE probes of the neighbouring organizations,
/// see [`cross_org_targets`]).
const SAMPLE_ROWS: i64 = 10;
const TEMPLATES: usize = 3;
/// The UPDATE/DELETE probes without WHERE touch every row of the tenant (then roll back): only
/// for tenants with at most this many rows in the table.
const BLANKET_MAX: i64 = 10_000;

use catalog::*;
use orgs::*;
use read::*;
use rows::*;
use session::*;
use tx::lit;
use tx::Failure;
pub(crate) use tx::{
    become_tenant, db_error_text, rolled_back, Tx, READ_COMMITTED, REPEATABLE_READ,
};

struct Ctx<'o> {
    opts: &'o VerifyOptions,
    tables: Vec<Table>,
    fks: Vec<ForeignKey>,
    orgs: Vec<Org>,
    /// Per table, per organization id: sample rows as JSON objects (read as the owner).
    samples: Vec<HashMap<String, Vec<Map<String, Value>>>>,
    /// Per table: the probed organization with the fewest rows there, which runs the UPDATE and
    /// DELETE without WHERE (a policy that admits other organizations' rows admits them to any
    /// tenant, so one tenant per table suffices, and the smallest one costs least).
    blanket_org: Vec<Option<String>>,
    /// The connecting role may SET session_replication_role (to probe past BEFORE triggers).
    may_disable_triggers: bool,
    /// Probe tenants made by verify-rls, replayed at the start of every probe transaction.
    fixtures: fixtures::Fixtures,
    /// Sessions are read-only: only the read probes run.
    read_only: bool,
    /// The policies the audit found unscoped: a leak through one is fixed the way the audit says.
    unscoped: crate::rls::fix::UnscopedPolicies,
    /// Per organization (as `orgs`): what its probes set the setting to ([`members`]).
    identities: members::Identities,
}

pub async fn run(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) -> anyhow::Result<()> {
    // A session of its own, where the tenant setting has never been set.
    let probe_db = db.reconnect().await?;
    let client = &probe_db.client;

    let (tables, fks, mut orgs, total, mut samples, may_disable_triggers, mut blanket_org) =
        rolled_back(
            client,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            |tx| async move {
                let (tables, fks) = read_catalog(tx, opts).await?;
                let may_disable: bool = tx
                    .query(
                        "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user",
                        &[],
                    )
                    .await?
                    .first()
                    .map(|r| r.get(0))
                    .unwrap_or(false);
                let (orgs, total) = match tables.iter().find(|t| t.is_root) {
                    Some(root) if !root.filtered_for_owner => {
                        read_orgs(tx, root, opts.max_orgs).await?
                    }
                    _ => (Vec::new(), 0),
                };
                let samples = read_samples(tx, &tables, &orgs).await?;
                let blanket = smallest_orgs(tx, &tables, &orgs).await?;
                Ok((tables, fks, orgs, total, samples, may_disable, blanket))
            },
        )
        .await?;

    let read_only: bool = client
        .query_one(
            "SELECT current_setting('default_transaction_read_only') = 'on' OR pg_is_in_recovery()",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .unwrap_or(false);
    if read_only {
        report
            .notes
            .push(format!("{READ_ONLY}; only the read probes ran"));
    }

    // Fewer than two organizations with rows in some probed table: a leak could not show
    // there, so make probe tenants (see `fixtures`).
    let thin: Vec<&Table> = tables
        .iter()
        .enumerate()
        .filter(|(k, t)| t.is_table() && t.probed() && samples[*k].len() < 2)
        .map(|(_, t)| t)
        .collect();
    let mut made = fixtures::Fixtures::default();
    let root = tables.iter().find(|t| t.is_root && !t.filtered_for_owner);
    if !thin.is_empty() && read_only {
        report.inconclusive.push(format!(
            "fewer than two organizations have rows in {}, and probe tenants cannot be made on a read-only connection",
            thin.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    } else if !thin.is_empty() {
        match root {
            None => report.notes.push(format!(
                "no probe tenants could be made: the root table {} is not among the readable tables of {}",
                opts.root_table,
                opts.schemas.join(", ")
            )),
            Some(root) => {
                let names: Vec<String> = tables
                    .iter()
                    .filter(|t| t.is_table() && t.probed())
                    .map(|t| t.sql.clone())
                    .collect();
                let (names, tables_ref, orgs_ref) = (&names, &tables, &orgs);
                let (fx, all, s, b) = rolled_back(client, REPEATABLE_READ, |tx| async move {
                    let tables = tables_ref;
                    let member_users = opts
                        .tenancy
                        .membership()
                        .map(|m| (m.sql_name(), m.user_col.clone()));
                    let fx = fixtures::make(
                        tx,
                        names,
                        &root.sql,
                        &root.tc,
                        &opts.tenant_column,
                        member_users.as_ref().map(|(t, c)| (t.as_str(), c.as_str())),
                    )
                    .await?;
                    let mut all = orgs_ref.clone();
                    all.extend(fx.orgs.iter().map(|(id, label)| Org {
                        id: id.clone(),
                        label: label.clone(),
                    }));
                    let mut s = read_samples(tx, tables, &all).await?;
                    // Only the rows the fixtures recorded are the same in every transaction
                    // (a trigger may add others with fresh keys).
                    for (k, t) in tables.iter().enumerate() {
                        let recorded = fx.made.get(&t.name);
                        for (id, _) in &fx.orgs {
                            let keys: Vec<Value> = recorded
                                .map(|rows| {
                                    rows.iter()
                                        .filter(|(o, _)| o == id)
                                        .map(|(_, r)| t.pk_of(r))
                                        .collect()
                                })
                                .unwrap_or_default();
                            if let Some(rows) = s[k].get_mut(id) {
                                rows.retain(|r| t.pk.is_empty() || keys.contains(&t.pk_of(r)));
                            }
                        }
                    }
                    let b = smallest_orgs(tx, tables, &all).await?;
                    Ok((fx, all, s, b))
                })
                .await?;
                if !fx.is_empty() {
                    report.notes.push(format!(
                        "fewer than two organizations have rows in {}: the probes also ran as {} probe tenants made by verify-rls inside its rolled-back transactions (one row in every tenant table each, through the schema's own defaults, constraints and triggers)",
                        thin.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
                        fx.orgs.len()
                    ));
                    orgs = all;
                    samples = s;
                    blanket_org = b;
                }
                for (table, why) in &fx.unmade {
                    report.inconclusive.push(format!(
                        "no probe row could be made in {table}: {why}"
                    ));
                }
                made = fx;
            }
        }
    }

    report.tables = report
        .tables
        .max(tables.iter().filter(|t| t.is_table()).count());
    report.organizations_probed = orgs.len();
    report.probe_tenants = made.orgs.len();
    let real = orgs.len() - made.orgs.len();
    report.sampled = total > real;
    if report.sampled {
        report.notes.push(format!(
            "the probes ran for a deterministic sample of {real} of {total} organizations (raise --max-orgs to probe more)"
        ));
    }
    if !report.notes.iter().any(|n| n.contains("SET LOCAL")) {
        report.notes.push(format!(
            "{} is a custom setting any session can change: isolation holds only while the application, never the tenant, sets it, with SET LOCAL or set_config(…, true) inside each transaction (a plain SET outlives the transaction and leaks to the next client behind a pooler)",
            opts.setting
        ));
    }

    // Who each organization is probed as: itself, or (membership models) one of its members,
    // read with the probe tenants in place.
    let identities = if opts.tenancy.membership().is_none() {
        orgs.iter().map(|o| Ok(o.id.clone())).collect()
    } else {
        let (made, orgs) = (&made, &orgs);
        rolled_back(client, REPEATABLE_READ, |tx| async move {
            made.replay(tx).await?;
            members::identities(tx, &opts.tenancy, orgs).await
        })
        .await?
    };

    if let Some(m) = opts.tenancy.membership() {
        let shown: Vec<String> = orgs
            .iter()
            .zip(&identities)
            .filter_map(|(o, id)| id.as_ref().ok().map(|u| format!("{} as {u}", o.label)))
            .take(5)
            .collect();
        if !shown.is_empty() {
            report.notes.push(format!(
                "{} model: each organization was probed as a user who is a member of it alone in {} ({}{})",
                opts.tenancy.name(),
                m.sql_name(),
                shown.join(", "),
                if orgs.len() > shown.len() { ", …" } else { "" }
            ));
        }
    }

    let ctx = Ctx {
        identities,
        opts,
        tables,
        fks,
        orgs,
        samples,
        blanket_org,
        may_disable_triggers,
        fixtures: made,
        read_only,
        unscoped: crate::rls::fix::UnscopedPolicies::from_checks(&report.checks),
    };

    for t in ctx.tables.iter().filter(|t| t.global) {
        report.checks.push(Check::not_applicable(
            Suite::Probe,
            format!("probe read {}", t.name),
            "tagged arcdb:global: shared by every organization on purpose",
        ));
    }
    for t in ctx
        .tables
        .iter()
        .filter(|t| t.filtered_for_owner && !t.global)
    {
        report.checks.push(Check::skipped(
            Suite::Probe,
            format!("probe read {}", t.name),
            format!(
                "the connecting role is itself subject to row-level security on {} (FORCE, or not its owner), so it cannot count the true rows: connect as the owner or a BYPASSRLS role",
                t.name
            ),
        ));
    }

    let checks = rolled_back(client, READ_COMMITTED, |tx| unset_probes(tx, &ctx)).await?;
    report.checks.extend(checks);
    if opts.tenancy.is_supabase() {
        let checks =
            rolled_back(client, READ_COMMITTED, |tx| members::anon_probes(tx, &ctx)).await?;
        report.checks.extend(checks);
    }

    if ctx.orgs.is_empty() {
        report.checks.push(Check::skipped(
            Suite::Probe,
            "probe organizations",
            "no organization to probe as (the root table is empty): load data first, e.g. arcdb seed",
        ));
    }
    // Over many organizations the probes take a while (about 60 ms each): say how far they are.
    let mut progress = (ctx.orgs.len() >= PROGRESS_FROM_ORGS).then(|| {
        let mut p = crate::progress::Progress::new("verify-rls");
        p.phase(
            "probing organizations",
            ctx.orgs.len() as u64,
            "organizations",
        );
        p
    });
    for i in 0..ctx.orgs.len() {
        let checks = rolled_back(client, REPEATABLE_READ, |tx| org_probes(tx, &ctx, i)).await?;
        report.checks.extend(checks);
        if let Some(p) = &progress {
            p.inc(1);
        }
    }
    if let Some(p) = progress.take() {
        p.finish(&format!("probed {} organizations", ctx.orgs.len()));
    }
    Ok(())
}

/// Tables and views the probes cover for reads.
fn readable<'c>(ctx: &'c Ctx<'_>) -> impl Iterator<Item = &'c Table> {
    ctx.tables.iter().filter(|t| t.probed())
}
