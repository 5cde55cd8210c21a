//! Probe tenants: when the database holds fewer than two organizations with rows in every
//! tenant table (an empty or freshly migrated database, a single-tenant one), the probes would
//! have nothing to leak and every "no row of another organization" would be vacuous. So
//! verify-rls makes its own: two organizations in the root table, and for each a row in every
//! tenant table, inserted as the connecting role (the owner) through the schema's own
//! defaults, constraints and triggers, inside the transactions that are always rolled back.
//!
//! The rows are generated from the catalog: a NOT NULL column without a default gets a value of
//! its type that passes the column's own CHECK constraints (each candidate is tried in SQL,
//! so a domain or a regular expression decides, not a guess); foreign keys are satisfied by
//! making the parent row first, in the same organization (tables outside the tenant set, e.g.
//! a global `users` table, get one row shared by both). The first rolled-back transaction
//! records every row as inserted (`to_jsonb`, with its defaults and trigger-set values); each
//! later probe transaction replays exactly those rows, so that keys sampled once are the keys
//! present in every transaction. A table no row can be made for is named with the reason, and
//! its probes are skipped: the run is then inconclusive, never a pass.

use super::catalog::{foreign_keys_of, CatalogFk};
use super::{lit, Tx};
use crate::db::quoted_ident;
use anyhow::anyhow;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How many probe tenants are made.
pub(crate) const PROBE_TENANTS: usize = 2;
/// Row numbers `n + VARIANTS * v` are the v-th extra row of a table for tenant `n`.
const VARIANTS: usize = 10;

#[derive(Debug, Clone)]
struct Col {
    name: String,
    ty: String,
    category: char,
    /// `pg_type.typtype` (`e`: enum, `d`: domain …).
    typtype: char,
    not_null: bool,
    has_default: bool,
    generated: bool,
    identity_always: bool,
    /// Part of a unique index (values must differ between the probe tenants).
    unique: bool,
    /// Single-column CHECK expressions (as `pg_get_expr`).
    checks: Vec<String>,
}

#[derive(Debug, Clone)]
struct Rel {
    sql: String,
    name: String,
    cols: Vec<Col>,
    /// Has the tenant column (one row per probe tenant), else one row shared by all.
    tenant: bool,
    is_root: bool,
    /// Primary key columns: pinned in the replays, so that every transaction has the same keys.
    pk: Vec<String>,
}

/// A row as inserted, by column.
type Row = Map<String, Value>;
/// What making one row gave: the row, or why it cannot be made.
type Made = anyhow::Result<Result<Row, String>>;

/// What the probe tenants are made of: their ids and the rows to replay.
#[derive(Debug, Default)]
pub(crate) struct Fixtures {
    /// (organization id, label) of each probe tenant.
    pub orgs: Vec<(String, String)>,
    /// In insertion order: (`schema.table`, the INSERT that recreates its probe row: the
    /// values given the first time, with the key the first insert got pinned).
    rows: Vec<(String, String)>,
    /// Per table (`schema.name`): the keys of the rows made for it, per organization.
    pub made: HashMap<String, Vec<(String, Row)>>,
    /// Tables (`schema.name`) no row could be made for, with why.
    pub unmade: BTreeMap<String, String>,
}

impl Fixtures {
    /// Insert the recorded rows again (as the connecting role), in the same order.
    pub async fn replay(&self, tx: Tx<'_>) -> anyhow::Result<()> {
        for (rel, sql) in &self.rows {
            if let Err(err) = tx.batch(sql).await {
                return Err(anyhow!(
                    "cannot recreate a probe tenant's row in {rel}: {}",
                    super::db_error_text(&err)
                ));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }
}

/// Make the probe tenants in `tx` (rolled back by the caller): `tables` are the tenant tables
/// (`"schema"."name"` SQL names, the root among them), `root` the root's SQL name.
pub(crate) async fn make(
    tx: Tx<'_>,
    tables: &[String],
    root: &str,
    root_key: &str,
    tenant_column: &str,
    member_users: Option<(&str, &str)>,
) -> anyhow::Result<Fixtures> {
    let (rels, fks) = read(tx, tables, root, tenant_column).await?;
    let root_oid = rels
        .iter()
        .find(|(_, r)| r.is_root)
        .map(|(o, _)| *o)
        .ok_or_else(|| anyhow!("the root table {root} is not readable"))?;
    // The membership models probe each tenant as a member of it alone: the users its
    // membership rows reference are made per tenant, never shared.
    let mut per_tenant: BTreeSet<u32> = match member_users {
        Some((members, user_col)) => {
            let members: Option<u32> =
                tx.query("SELECT to_regclass($1)::oid", &[&members]).await?[0].get(0);
            fks.iter()
                .filter(|f| Some(f.child) == members && f.child_cols == [user_col])
                .map(|f| f.parent)
                .collect()
        }
        None => BTreeSet::new(),
    };
    // A root whose key references another table (Supabase's profiles.id → auth.users.id) is
    // one row of it per tenant too.
    per_tenant.extend(
        fks.iter()
            .filter(|f| f.child == root_oid && f.child_cols == [root_key])
            .map(|f| f.parent),
    );
    let mut maker = Maker {
        tx,
        rels: &rels,
        fks: &fks,
        tenant_column,
        root_key,
        per_tenant,
        done: HashMap::new(),
        busy: BTreeSet::new(),
        out: Fixtures::default(),
    };
    for n in 0..PROBE_TENANTS {
        let org = match maker.ensure(root_oid, n, None).await? {
            Ok(row) => row,
            Err(why) => {
                maker.out.unmade.insert(rels[&root_oid].name.clone(), why);
                return Ok(maker.out);
            }
        };
        let id = match org.get(root_key) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => return Err(anyhow!("the probe tenant's row has no {root_key}")),
        };
        maker
            .out
            .orgs
            .push((id.clone(), format!("probe tenant {}", n + 1)));
        let mut oids: Vec<u32> = rels
            .iter()
            .filter(|(_, r)| r.tenant && !r.is_root)
            .map(|(o, _)| *o)
            .collect();
        oids.sort_by_key(|o| rels[o].name.clone());
        for oid in oids {
            if let Err(why) = maker.ensure(oid, n, Some(&id)).await? {
                maker
                    .out
                    .unmade
                    .entry(rels[&oid].name.clone())
                    .or_insert(why);
            }
        }
    }
    Ok(maker.out)
}

struct Maker<'a, 't> {
    tx: Tx<'t>,
    rels: &'a HashMap<u32, Rel>,
    fks: &'a [CatalogFk],
    tenant_column: &'a str,
    root_key: &'a str,
    /// Relations without the tenant column whose rows are made per tenant all the same (the
    /// users of the membership table).
    per_tenant: BTreeSet<u32>,
    /// (relation, tenant number or usize::MAX for shared rows) → the row made.
    done: HashMap<(u32, usize), Map<String, Value>>,
    busy: BTreeSet<(u32, usize)>,
    out: Fixtures,
}

impl Maker<'_, '_> {
    /// The row of `oid` for probe tenant `n` (organization `org`), made first if need be.
    /// `Ok(Err(why))` when it cannot be made.
    async fn ensure(
        &mut self,
        oid: u32,
        n: usize,
        org: Option<&str>,
    ) -> anyhow::Result<Result<Map<String, Value>, String>> {
        let rel = &self.rels[&oid];
        // `n / VARIANTS` numbers further rows of one table for one tenant (two foreign keys to
        // the same table, e.g. from_desk and to_desk, that a check wants distinct); the root
        // row is the tenant itself, one per tenant.
        let n = if rel.is_root { n % VARIANTS } else { n };
        let key = (
            oid,
            if rel.tenant || rel.is_root || self.per_tenant.contains(&oid) {
                n
            } else {
                usize::MAX
            },
        );
        if let Some(row) = self.done.get(&key) {
            return Ok(Ok(row.clone()));
        }
        if !self.busy.insert(key) {
            return Ok(Err(format!(
                "{} references itself through NOT NULL foreign keys",
                rel.name
            )));
        }
        let result = self.make_row(oid, n, org).await;
        self.busy.remove(&key);
        let row = match result? {
            Ok(row) => row,
            Err(why) => return Ok(Err(why)),
        };
        self.done.insert(key, row.clone());
        Ok(Ok(row))
    }

    fn make_row<'s>(
        &'s mut self,
        oid: u32,
        n: usize,
        org: Option<&'s str>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Made> + Send + 's>> {
        Box::pin(async move {
            let rel = self.rels[&oid].clone();
            // Explicit values: column → SQL expression.
            let mut values: BTreeMap<String, String> = BTreeMap::new();
            if rel.tenant && !rel.is_root {
                if let (Some(org), Some(col)) =
                    (org, rel.cols.iter().find(|c| c.name == self.tenant_column))
                {
                    values.insert(col.name.clone(), format!("{}::text::{}", lit(org), col.ty));
                }
            }
            // Nullable foreign keys, pointed at the same organization's rows when they can be
            // (richer templates for the reference probes); left NULL if that breaks a check.
            let mut optional: BTreeMap<String, String> = BTreeMap::new();
            let fks: Vec<CatalogFk> = self
                .fks
                .iter()
                .filter(|f| f.child == oid)
                .cloned()
                .collect();
            let mut per_parent: HashMap<u32, usize> = HashMap::new();
            for fk in &fks {
                if fk.child_cols.iter().all(|c| values.contains_key(c)) {
                    continue;
                }
                // Required when a column of its own (not the tenant column) must be set.
                let required = fk.child_cols.iter().any(|c| {
                    *c != self.tenant_column
                        && rel
                            .cols
                            .iter()
                            .any(|col| col.name == *c && col.not_null && !col.has_default)
                });
                let parent = &self.rels[&fk.parent];
                let variant = per_parent.entry(fk.parent).or_insert(0);
                let pn = if parent.is_root {
                    n
                } else {
                    n + VARIANTS * *variant
                };
                *variant += 1;
                let parent_key = (
                    fk.parent,
                    if parent.tenant || parent.is_root || self.per_tenant.contains(&fk.parent) {
                        pn
                    } else {
                        usize::MAX
                    },
                );
                if fk.parent == oid || (!required && self.busy.contains(&parent_key)) {
                    continue;
                }
                match self.ensure(fk.parent, pn, org).await? {
                    Ok(prow) => {
                        for (c, p) in fk.child_cols.iter().zip(&fk.parent_cols) {
                            let ty = rel
                                .cols
                                .iter()
                                .find(|col| col.name == *c)
                                .map(|col| col.ty.clone())
                                .unwrap_or_else(|| "text".into());
                            let v = match prow.get(p) {
                                Some(Value::Null) | None => "NULL".to_string(),
                                Some(Value::String(s)) => format!("{}::{ty}", lit(s)),
                                Some(v) => {
                                    format!("({}::jsonb #>> '{{}}')::{ty}", lit(&v.to_string()))
                                }
                            };
                            if required {
                                values.entry(c.clone()).or_insert(v);
                            } else {
                                optional.entry(c.clone()).or_insert(v);
                            }
                        }
                    }
                    Err(why) if required => {
                        return Ok(Err(format!(
                            "{} needs a row of {} first: {why}",
                            rel.name, parent.name
                        )))
                    }
                    Err(_) => {}
                }
            }
            // First what the row needs (BEFORE triggers may fill NOT NULL columns: a column
            // is given a value when the server says it is missing), then every NOT NULL column
            // without a default; each with and without the optional references.
            let mut last = String::new();
            for fill_not_null in [false, true] {
                for with_optional in [true, false] {
                    if with_optional && optional.is_empty() {
                        continue;
                    }
                    let mut attempt = values.clone();
                    if with_optional {
                        for (c, v) in &optional {
                            attempt.entry(c.clone()).or_insert(v.clone());
                        }
                    }
                    match self.insert(&rel, n, attempt, fill_not_null).await? {
                        Ok((row, given)) => {
                            let map = self.record(&rel, org, row, given)?;
                            return Ok(Ok(map));
                        }
                        Err(why) => last = why,
                    }
                }
            }
            Ok(Err(last))
        })
    }

    /// Try one insert (in a savepoint that is rolled back): the row as inserted, or why not.
    async fn insert(
        &self,
        rel: &Rel,
        n: usize,
        mut values: BTreeMap<String, String>,
        fill_not_null: bool,
    ) -> anyhow::Result<Result<(Value, BTreeMap<String, String>), String>> {
        let mut asked: BTreeSet<String> = BTreeSet::new();
        loop {
            for col in &rel.cols {
                let needed = (fill_not_null && col.not_null && !col.has_default)
                    || asked.contains(&col.name);
                if !needed || col.generated || values.contains_key(&col.name) {
                    continue;
                }
                match self.value_for(rel, col, n).await? {
                    Some(v) => {
                        values.insert(col.name.clone(), v);
                    }
                    None => {
                        return Ok(Err(format!(
                            "no value of type {} passes the checks of {}.{}",
                            col.ty, rel.name, col.name
                        )))
                    }
                }
            }
            let cols: Vec<String> = values.keys().map(|c| quoted_ident(c)).collect();
            let exprs: Vec<String> = values.values().cloned().collect();
            let overriding = if rel
                .cols
                .iter()
                .any(|c| c.identity_always && values.contains_key(&c.name))
            {
                " OVERRIDING SYSTEM VALUE"
            } else {
                ""
            };
            let sql = if cols.is_empty() {
                format!(
                    "INSERT INTO {} AS x DEFAULT VALUES RETURNING to_jsonb(x)",
                    rel.sql
                )
            } else {
                format!(
                    "INSERT INTO {} AS x ({}){overriding} VALUES ({}) RETURNING to_jsonb(x)",
                    rel.sql,
                    cols.join(", "),
                    exprs.join(", ")
                )
            };
            match self.tx.kept(&sql).await? {
                Ok(outcome) => {
                    return Ok(
                        match outcome
                            .rows
                            .first()
                            .and_then(|r| r.first().cloned())
                            .flatten()
                        {
                            Some(text) => Ok((serde_json::from_str::<Value>(&text)?, values)),
                            None => Err(format!("inserting into {} returned no row", rel.name)),
                        },
                    )
                }
                Err(failure) => {
                    // A NOT NULL column left to a default or trigger that gave NULL: give
                    // it a value, once.
                    if let Some(col) = failure
                        .as_db_error()
                        .filter(|d| d.code().code() == "23502")
                        .and_then(|d| d.column())
                    {
                        if !values.contains_key(col) && asked.insert(col.to_string()) {
                            continue;
                        }
                    }
                    return Ok(Err(format!(
                        "cannot insert a row into {}: {}",
                        rel.name,
                        failure.text()
                    )));
                }
            }
        }
    }

    /// Remember the row made for `rel`: the statement that recreates it in the later probe
    /// transactions is the one that made it (so that triggers number and stamp it the same
    /// way), with the primary key it got pinned.
    fn record(
        &mut self,
        rel: &Rel,
        org: Option<&str>,
        row: Value,
        mut given: BTreeMap<String, String>,
    ) -> anyhow::Result<Map<String, Value>> {
        let Value::Object(map) = row else {
            return Err(anyhow!("inserting into {} returned no row", rel.name));
        };
        for key in &rel.pk {
            let Some(col) = rel.cols.iter().find(|c| c.name == *key) else {
                continue;
            };
            let v = match map.get(key) {
                Some(Value::String(s)) => format!("{}::{}", lit(s), col.ty),
                Some(Value::Null) | None => continue,
                Some(v) => format!("({}::jsonb #>> '{{}}')::{}", lit(&v.to_string()), col.ty),
            };
            given.entry(key.clone()).or_insert(v);
        }
        let cols: Vec<String> = given.keys().map(|c| quoted_ident(c)).collect();
        let exprs: Vec<String> = given.values().cloned().collect();
        let sql = if cols.is_empty() {
            format!("INSERT INTO {} DEFAULT VALUES", rel.sql)
        } else {
            format!(
                "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})",
                rel.sql,
                cols.join(", "),
                exprs.join(", ")
            )
        };
        self.out.rows.push((rel.name.clone(), sql));
        let owner = if rel.is_root {
            match map.get(self.root_key) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => Some(v.to_string()),
                None => None,
            }
        } else if rel.tenant {
            org.map(str::to_string)
        } else {
            None
        };
        if let Some(owner) = owner {
            self.out
                .made
                .entry(rel.name.clone())
                .or_default()
                .push((owner, map.clone()));
        }
        Ok(map)
    }

    /// A SQL expression of `col`'s type that passes its single-column checks (tried in SQL).
    async fn value_for(&self, rel: &Rel, col: &Col, n: usize) -> anyhow::Result<Option<String>> {
        for candidate in candidates(col, n, &rel.name) {
            let probe = format!(
                "SELECT 1 FROM (SELECT ({candidate})::{ty} AS {c}) AS s WHERE {}",
                if col.checks.is_empty() {
                    "true".to_string()
                } else {
                    col.checks
                        .iter()
                        .map(|e| format!("(({e}) IS NOT FALSE)"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                },
                ty = col.ty,
                c = quoted_ident(&col.name)
            );
            if let Ok(outcome) = self.tx.attempt(&[], &probe).await? {
                if !outcome.rows.is_empty() {
                    return Ok(Some(format!("({candidate})::{}", col.ty)));
                }
            }
        }
        Ok(None)
    }
}

/// Values to try for `col` of probe tenant `n`, most plausible first. Unique columns get
/// values that differ between tenants (and from ordinary data: they carry `arcdb`).
fn candidates(col: &Col, n: usize, table: &str) -> Vec<String> {
    let tag = format!("{:016x}", md5_like(&format!("{table}.{}.{n}", col.name)));
    let k = n + 1;
    let mut out: Vec<String> = Vec::new();
    // Literals the column's checks mention (`status IN ('active', …)`) come first.
    for check in &col.checks {
        for literal in quoted_literals(check) {
            out.push(lit(&literal));
        }
    }
    match (col.typtype, col.category) {
        ('e', _) => {
            out.push(format!("(enum_range(NULL::{}))[1]", col.ty));
        }
        (_, 'S') => {
            out.extend(
                [
                    format!("arcdb-probe-{k}-{tag}"),
                    format!("arcdb{k}{tag}@probe.invalid"),
                    format!("arcdb_{k}{}", &tag[..6.min(tag.len())]),
                    format!("{tag}{tag}{tag}{tag}")[..64].to_string(),
                    format!("Arcdb probe {k}"),
                    "a".to_string(),
                ]
                .iter()
                .map(|s| lit(s)),
            );
        }
        (_, 'N') => {
            let base = if col.unique { 900_000 + k } else { k };
            out.extend([base.to_string(), "1".into(), "0".into()]);
        }
        (_, 'B') => out.extend(["false".into(), "true".into()]),
        (_, 'D') => out.extend([
            "now()".into(),
            "date_trunc('month', now())".into(),
            "'2000-01-01'".into(),
        ]),
        (_, 'T') => out.push("'1 hour'".into()),
        (_, 'A') => out.push("'{}'".into()),
        (_, 'I') => out.push(format!("'192.0.2.{k}'")),
        (_, 'U') if col.ty == "uuid" => out.push(format!(
            "md5({})::uuid",
            lit(&format!("arcdb probe {table}.{} {n}", col.name))
        )),
        (_, 'U') if col.ty == "jsonb" || col.ty == "json" => {
            out.extend(["'{}'".into(), "'[]'".into(), "'0'".into()])
        }
        (_, 'U') => out.push(lit(&format!("arcdb-probe-{k}-{tag}"))),
        _ => out.push(lit(&format!("{k}"))),
    }
    out
}

/// A small stable hash (FNV-1a): distinct tags per column and tenant, the same on every run.
fn md5_like(text: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// The single-quoted literals of a SQL expression (`'active'::text` → `active`).
fn quoted_literals(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut s = String::new();
        loop {
            match chars.next() {
                Some('\'') if chars.peek() == Some(&'\'') => {
                    chars.next();
                    s.push('\'');
                }
                Some('\'') | None => break,
                Some(c) => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// The relations to fill (the tenant tables, the root, and every table their foreign keys
/// reach), their columns with single-column checks, and the foreign keys between them.
async fn read(
    tx: Tx<'_>,
    tables: &[String],
    root: &str,
    tenant_column: &str,
) -> anyhow::Result<(HashMap<u32, Rel>, Vec<CatalogFk>)> {
    let rows = tx
        .query(
            "WITH RECURSIVE start AS (
                 SELECT to_regclass(t)::oid AS oid FROM unnest($1::text[]) AS t
             ), reach(oid) AS (
                 SELECT oid FROM start WHERE oid IS NOT NULL
                 UNION
                 SELECT con.confrelid FROM pg_catalog.pg_constraint con
                   JOIN reach r ON con.conrelid = r.oid
                  WHERE con.contype = 'f'
             )
             SELECT c.oid, format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname,
                    c.oid = to_regclass($2)::oid,
                    EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                             WHERE a.attrelid = c.oid AND a.attname = $3
                               AND a.attnum > 0 AND NOT a.attisdropped),
                    ARRAY(SELECT a.attname::text
                            FROM pg_catalog.pg_index i
                            CROSS JOIN LATERAL unnest(i.indkey::int2[]) AS k(n)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                           WHERE i.indrelid = c.oid AND i.indisprimary)
               FROM reach r
               JOIN pg_catalog.pg_class c ON c.oid = r.oid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p')",
            &[&tables, &root, &tenant_column],
        )
        .await?;
    let mut rels: HashMap<u32, Rel> = HashMap::new();
    for row in rows {
        rels.insert(
            row.get(0),
            Rel {
                sql: row.get(1),
                name: row.get(2),
                cols: Vec::new(),
                tenant: row.get(4),
                is_root: row.get(3),
                pk: row.get(5),
            },
        );
    }
    let oids: Vec<u32> = rels.keys().copied().collect();
    for row in tx
        .query(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    t.typcategory::text, t.typtype::text, a.attnotnull OR bt.typnotnull IS TRUE,
                    a.atthasdef OR a.attidentity <> '', a.attgenerated <> '', a.attidentity = 'a',
                    EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                             WHERE i.indrelid = a.attrelid AND i.indisunique
                               AND a.attnum = ANY (i.indkey::int2[])),
                    ARRAY(SELECT pg_get_expr(con.conbin, con.conrelid)
                            FROM pg_catalog.pg_constraint con
                           WHERE con.conrelid = a.attrelid AND con.contype = 'c'
                             AND con.conkey = ARRAY[a.attnum])
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
               LEFT JOIN pg_catalog.pg_type bt ON bt.oid = a.atttypid AND bt.typtype = 'd'
              WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attrelid, a.attnum",
            &[&oids],
        )
        .await?
    {
        let Some(rel) = rels.get_mut(&row.get::<_, u32>(0)) else {
            continue;
        };
        let category: String = row.get(3);
        let typtype: String = row.get(4);
        rel.cols.push(Col {
            name: row.get(1),
            ty: row.get(2),
            category: category.chars().next().unwrap_or('X'),
            typtype: typtype.chars().next().unwrap_or('b'),
            not_null: row.get(5),
            has_default: row.get(6),
            generated: row.get(7),
            identity_always: row.get(8),
            unique: row.get(9),
            checks: row.get(10),
        });
    }
    // Only the keys among these relations: a parent outside them is not the fixtures' to fill.
    let fks: Vec<CatalogFk> = foreign_keys_of(tx, &oids)
        .await?
        .into_iter()
        .filter(|fk| rels.contains_key(&fk.parent))
        .collect();
    Ok((rels, fks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, category: char, checks: &[&str]) -> Col {
        Col {
            name: name.into(),
            ty: "text".into(),
            category,
            typtype: 'b',
            not_null: true,
            has_default: false,
            generated: false,
            identity_always: false,
            unique: true,
            checks: checks.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn literals_of_a_check_are_tried_first() {
        let c = col(
            "status",
            'S',
            &["status = ANY (ARRAY['active'::text, 'it''s'::text])"],
        );
        let got = candidates(&c, 0, "public.t");
        assert_eq!(got[0], lit("active"));
        assert_eq!(got[1], lit("it's"));
    }

    #[test]
    fn unique_values_differ_between_probe_tenants() {
        let c = col("slug", 'S', &[]);
        assert_ne!(candidates(&c, 0, "public.t"), candidates(&c, 1, "public.t"));
        let mut n = col("number", 'N', &[]);
        n.ty = "integer".into();
        assert_ne!(candidates(&n, 0, "t")[0], candidates(&n, 1, "t")[0]);
    }
}
