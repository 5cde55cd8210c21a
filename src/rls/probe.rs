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

mod fixtures;

/// From this many probed organizations on, verify-rls shows its progress on stderr.
const PROGRESS_FROM_ORGS: usize = 10;

use super::audit::sql_ident;
use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::Db;
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

// ---------------------------------------------------------------------------------------------
// Transactions that never commit
// ---------------------------------------------------------------------------------------------

/// A statement handle that exists only inside [`rolled_back`]: what runs through it is undone.
#[derive(Clone, Copy)]
pub(crate) struct Tx<'a> {
    client: &'a Client,
}

pub(crate) const REPEATABLE_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ";
pub(crate) const READ_COMMITTED: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Run `body` between `begin` and ROLLBACK, whatever it returns: verify-rls never commits.
pub(crate) async fn rolled_back<'a, T, F, Fut>(
    client: &'a Client,
    begin: &'static str,
    body: F,
) -> anyhow::Result<T>
where
    F: FnOnce(Tx<'a>) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    client
        .batch_execute(begin)
        .await
        .context("cannot begin a verification transaction")?;
    let result = body(Tx { client }).await;
    let rollback = client.batch_execute("ROLLBACK").await;
    let value = result?;
    rollback.context("cannot roll back the verification transaction")?;
    Ok(value)
}

impl<'a> Tx<'a> {
    /// A query whose failure is an error of the whole run (catalog reads, the owner's counts).
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<Row>> {
        self.client
            .query(sql, params)
            .await
            .map_err(|e| anyhow!("{}", db_error_text(&e)))
    }

    pub(crate) async fn batch(&self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.client.batch_execute(sql).await
    }

    pub(crate) async fn simple_query(
        &self,
        sql: &str,
    ) -> Result<Vec<tokio_postgres::SimpleQueryMessage>, tokio_postgres::Error> {
        self.client.simple_query(sql).await
    }

    /// `setup` then `sql` in a savepoint that is always rolled back: its effects and its
    /// `SET LOCAL`s vanish, and an error does not abort the transaction. The three messages
    /// (savepoint and setup, the statement, the rollback to the savepoint) are sent at once,
    /// in order, and answered in order: one round trip. Values are inlined in `sql` as
    /// literals ([`lit`]), since the simple protocol carries no parameters. The inner result
    /// is the statement's (its rows as text and the rows affected, or its failure); the outer
    /// one fails only when the savepoint cannot be rolled back (connection lost).
    async fn attempt(
        &self,
        setup: &[String],
        sql: &str,
    ) -> anyhow::Result<Result<Outcome, Failure>> {
        let mut head = String::from("SAVEPOINT arcdb_probe");
        for statement in setup {
            head.push_str(";\n");
            head.push_str(statement);
        }
        let (head, result, release) = futures_util::future::join3(
            self.client.batch_execute(&head),
            self.client.simple_query(sql),
            self.client
                .batch_execute("ROLLBACK TO SAVEPOINT arcdb_probe; RELEASE SAVEPOINT arcdb_probe"),
        )
        .await;
        release.context("cannot roll back a probe's savepoint")?;
        if let Err(err) = head {
            return Ok(Err(Failure::Setup(db_error_text(&err))));
        }
        let messages = match result {
            Ok(messages) => messages,
            Err(err) => return Ok(Err(Failure::Statement(err))),
        };
        let mut outcome = Outcome::default();
        for message in messages {
            match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => outcome.rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                tokio_postgres::SimpleQueryMessage::CommandComplete(n) => outcome.affected = n,
                _ => {}
            }
        }
        Ok(Ok(outcome))
    }

    /// `sql` in a savepoint that is kept when it succeeds (rolled back when it fails): what it
    /// did stays until the transaction's own ROLLBACK.
    async fn kept(&self, sql: &str) -> anyhow::Result<Result<Outcome, Failure>> {
        self.client
            .batch_execute("SAVEPOINT arcdb_keep")
            .await
            .context("cannot open a savepoint")?;
        match self.client.simple_query(sql).await {
            Ok(messages) => {
                self.client
                    .batch_execute("RELEASE SAVEPOINT arcdb_keep")
                    .await
                    .context("cannot release a savepoint")?;
                let mut outcome = Outcome::default();
                for message in messages {
                    if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                        outcome.rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                Ok(Ok(outcome))
            }
            Err(err) => {
                self.client
                    .batch_execute("ROLLBACK TO SAVEPOINT arcdb_keep; RELEASE SAVEPOINT arcdb_keep")
                    .await
                    .context("cannot roll back a savepoint")?;
                Ok(Err(Failure::Statement(err)))
            }
        }
    }

    /// [`Tx::attempt`] of a write without setup: the rows it affected.
    async fn try_execute(
        &self,
        setup: &[String],
        sql: &str,
    ) -> anyhow::Result<Result<u64, Failure>> {
        Ok(self.attempt(setup, sql).await?.map(|o| o.affected))
    }

    /// [`Tx::attempt`] of a query: the first row's columns parsed as integers.
    async fn try_counts(&self, sql: &str) -> anyhow::Result<Result<Vec<i64>, Failure>> {
        Ok(self.attempt(&[], sql).await?.map(|o| {
            o.rows
                .first()
                .map(|row| {
                    row.iter()
                        .map(|v| v.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0))
                        .collect()
                })
                .unwrap_or_default()
        }))
    }
}

/// What a statement returned: rows (as text) and the count of its command tag.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    rows: Vec<Vec<Option<String>>>,
    affected: u64,
}

/// Why an attempt failed: the statement itself, or what had to run before it.
#[derive(Debug)]
pub(crate) enum Failure {
    Statement(tokio_postgres::Error),
    Setup(String),
}

impl Failure {
    fn as_db_error(&self) -> Option<&tokio_postgres::error::DbError> {
        match self {
            Failure::Statement(err) => err.as_db_error(),
            Failure::Setup(_) => None,
        }
    }
    fn code(&self) -> Option<&str> {
        self.as_db_error().map(|d| d.code().code())
    }
    fn text(&self) -> String {
        match self {
            Failure::Statement(err) => db_error_text(err),
            Failure::Setup(why) => format!("the attempt could not be set up: {why}"),
        }
    }
}

/// A dollar-quoted SQL literal (valid whatever standard_conforming_strings says) whose tag
/// does not occur in the text.
fn lit(text: &str) -> String {
    let mut tag = String::from("arcdb");
    while text.contains(&format!("${tag}")) {
        tag.push('x');
    }
    format!("${tag}${text}${tag}$")
}

/// `SET LOCAL ROLE <role>`, or a one-line error that says how to allow it.
pub(crate) async fn become_tenant(tx: Tx<'_>, role: &str) -> anyhow::Result<()> {
    // Asked first: after a failed SET ROLE the transaction accepts no query.
    let user: String = tx.query("SELECT session_user::text", &[]).await?[0].get(0);
    if let Err(err) = tx.batch(&format!("SET LOCAL ROLE {}", ident(role))).await {
        let code = err.code().map(|c| c.code()).unwrap_or("");
        return Err(if code == "22023" || code == "42704" {
            anyhow!(
                "the tenant role {role} does not exist: apply the migrations (arcdb up) or name the role with --tenant-role"
            )
        } else {
            anyhow!(
                "cannot switch to the tenant role {role} as {user} ({}): run GRANT {} TO {}; so that verify-rls can probe as that role (only ever in rolled-back transactions), or use --static-only",
                db_error_text(&err),
                sql_ident(role),
                sql_ident(&user)
            )
        });
    }
    Ok(())
}

/// A double-quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `SQLSTATE message (context)` of a database error, or the client error's text.
pub(crate) fn db_error_text(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}", db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(context) = db.where_() {
                let first = context.lines().next().unwrap_or(context);
                text.push_str(&format!(" [{first}]"));
            }
            text
        }
        None => err.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The catalog: which tables, columns, keys and privileges
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Column {
    name: String,
    /// `format_type` of the column.
    ty: String,
    /// `pg_type.typcategory`: S string, N numeric, U user (uuid), …
    category: char,
    /// Not generated and not GENERATED ALWAYS AS IDENTITY.
    writable: bool,
    tenant_may_insert: bool,
    tenant_may_update: bool,
}

#[derive(Debug, Clone)]
struct Table {
    /// `schema.name`, for people.
    name: String,
    /// `"schema"."name"`, for SQL.
    sql: String,
    /// `r`, `p` (tables), `v` (view), `m` (materialized view).
    kind: char,
    rls_enabled: bool,
    /// Tagged `arcdb:global:` (intentionally shared by every organization).
    global: bool,
    /// The connecting role is itself subject to RLS here (FORCE, or not the owner), so it
    /// cannot count the true rows.
    filtered_for_owner: bool,
    is_root: bool,
    tc: String,
    tc_ty: String,
    columns: Vec<Column>,
    pk: Vec<String>,
    unique_columns: BTreeSet<String>,
    /// Boolean columns named in the predicate of a partial unique index (`… WHERE is_default`):
    /// flipping them is another way to make a copied row unique.
    partial_bools: BTreeSet<String>,
    fk_columns: BTreeSet<String>,
    can_select: bool,
    can_insert: bool,
    can_update: bool,
    can_delete: bool,
}

impl Table {
    fn is_table(&self) -> bool {
        matches!(self.kind, 'r' | 'p')
    }
    /// Not shared on purpose, and (for tables) countable by the connecting role.
    fn probed(&self) -> bool {
        if self.global {
            return false;
        }
        !self.is_table() || !self.filtered_for_owner
    }
    fn tc_sql(&self) -> String {
        ident(&self.tc)
    }
    /// `"tc" = $n::text::type`
    fn tc_is(&self, param: usize) -> String {
        format!("{} = ${param}::text::{}", self.tc_sql(), self.tc_ty)
    }
    /// `'<org>'::text::type`
    fn tc_value(&self, org: &str) -> String {
        format!("{}::text::{}", lit(org), self.tc_ty)
    }
    fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// The scoped predicate every tenant policy of this table should have.
    fn scoped(&self, setting: &str) -> String {
        format!(
            "{} = NULLIF(current_setting('{setting}', true), '')::{}",
            self.tc_sql(),
            self.tc_ty
        )
    }
    /// `(a, b) IN (SELECT a, b FROM jsonb_populate_recordset(NULL::t, '<keys>'::jsonb))`
    fn pk_in(&self, keys: &Value) -> String {
        self.pk_in_json(&format!("{}::jsonb", lit(&keys.to_string())))
    }
    /// Like [`Table::pk_in`], with the keys given by a jsonb expression.
    fn pk_in_json(&self, keys: &str) -> String {
        let cols: Vec<String> = self.pk.iter().map(|c| ident(c)).collect();
        let cols = cols.join(", ");
        format!(
            "({cols}) IN (SELECT {cols} FROM jsonb_populate_recordset(NULL::{}, {keys}))",
            self.sql
        )
    }
    fn pk_of(&self, row: &Map<String, Value>) -> Value {
        let mut key = Map::new();
        for col in &self.pk {
            key.insert(col.clone(), row.get(col).cloned().unwrap_or(Value::Null));
        }
        Value::Object(key)
    }
}

#[derive(Debug, Clone)]
struct ForeignKey {
    name: String,
    child: usize,
    parent: usize,
    /// (child column, parent column) pairs that are not the tenant column.
    refs: Vec<(String, String)>,
    /// Whether the key includes the tenant column on both sides.
    composite: bool,
}

#[derive(Debug, Clone)]
struct Org {
    id: String,
    label: String,
}

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
}

async fn read_catalog(
    tx: Tx<'_>,
    opts: &VerifyOptions,
) -> anyhow::Result<(Vec<Table>, Vec<ForeignKey>)> {
    let exists = tx
        .query(
            "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&opts.tenant_role],
        )
        .await?;
    if exists.is_empty() {
        return Err(anyhow!(
            "the tenant role {} does not exist: apply the migrations (arcdb up) or name the role with --tenant-role",
            opts.tenant_role
        ));
    }
    let rows = tx
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relrowsecurity,
                    coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'arcdb:global:%',
                    CASE WHEN c.relkind IN ('r', 'p') THEN row_security_active(c.oid) ELSE false END,
                    c.relname = $3,
                    has_table_privilege($1, c.oid, 'SELECT'),
                    has_any_column_privilege($1, c.oid, 'INSERT'),
                    has_any_column_privilege($1, c.oid, 'UPDATE'),
                    has_table_privilege($1, c.oid, 'DELETE')
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = ANY($2)
                AND c.relkind IN ('r', 'p', 'v', 'm')
                AND NOT c.relispartition
                AND (c.relname = $3 OR EXISTS (
                        SELECT 1 FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attname = $4
                           AND a.attnum > 0 AND NOT a.attisdropped))
              ORDER BY array_position($2, n.nspname::text), c.relname",
            &[
                &opts.tenant_role,
                &opts.schemas,
                &opts.root_table,
                &opts.tenant_column,
            ],
        )
        .await?;
    let mut oids: Vec<u32> = Vec::new();
    let mut tables = Vec::new();
    let mut root_seen = false;
    for row in rows {
        let (schema, name): (String, String) = (row.get(1), row.get(2));
        let kind: String = row.get(3);
        let named_root: bool = row.get(7);
        // The tenant root is the first table of that name in the schema order.
        let is_root = named_root && !root_seen && matches!(kind.as_str(), "r" | "p");
        root_seen |= is_root;
        oids.push(row.get(0));
        tables.push(Table {
            name: format!("{schema}.{name}"),
            sql: format!("{}.{}", ident(&schema), ident(&name)),
            kind: kind.chars().next().unwrap_or('r'),
            rls_enabled: row.get(4),
            global: row.get(5),
            filtered_for_owner: row.get(6),
            is_root,
            tc: if is_root {
                opts.root_key.clone()
            } else {
                opts.tenant_column.clone()
            },
            tc_ty: String::new(),
            columns: Vec::new(),
            pk: Vec::new(),
            unique_columns: BTreeSet::new(),
            partial_bools: BTreeSet::new(),
            fk_columns: BTreeSet::new(),
            can_select: row.get(8),
            can_insert: row.get(9),
            can_update: row.get(10),
            can_delete: row.get(11),
        });
    }
    let index: HashMap<u32, usize> = oids.iter().enumerate().map(|(i, o)| (*o, i)).collect();

    for row in tx
        .query(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod),
                    t.typcategory::text,
                    a.attgenerated = '' AND a.attidentity <> 'a',
                    has_column_privilege($2, a.attrelid, a.attnum, 'INSERT'),
                    has_column_privilege($2, a.attrelid, a.attnum, 'UPDATE')
               FROM pg_catalog.pg_attribute a
               JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attrelid, a.attnum",
            &[&oids, &opts.tenant_role],
        )
        .await?
    {
        let Some(&i) = index.get(&row.get::<_, u32>(0)) else {
            continue;
        };
        let category: String = row.get(3);
        tables[i].columns.push(Column {
            name: row.get(1),
            ty: row.get(2),
            category: category.chars().next().unwrap_or('X'),
            writable: row.get(4),
            tenant_may_insert: row.get(5),
            tenant_may_update: row.get(6),
        });
    }
    for t in &mut tables {
        t.tc_ty = t
            .column(&t.tc)
            .map(|c| c.ty.clone())
            .unwrap_or_else(|| "uuid".into());
    }

    for row in tx
        .query(
            "SELECT i.indrelid, i.indisprimary,
                    ARRAY(SELECT a.attname::text
                            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o)
                            JOIN pg_catalog.pg_attribute a
                              ON a.attrelid = i.indrelid AND a.attnum = k.n
                           ORDER BY k.o)
               FROM pg_catalog.pg_index i
              WHERE i.indisunique AND i.indrelid = ANY($1)
              ORDER BY i.indrelid, NOT i.indisprimary, i.indexrelid",
            &[&oids],
        )
        .await?
    {
        let Some(&i) = index.get(&row.get::<_, u32>(0)) else {
            continue;
        };
        let primary: bool = row.get(1);
        let cols: Vec<String> = row.get(2);
        if primary {
            tables[i].pk = cols.clone();
        }
        tables[i].unique_columns.extend(cols);
    }

    for row in tx
        .query(
            "SELECT DISTINCT i.indrelid, a.attname::text
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a
                 ON a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE i.indisunique AND i.indpred IS NOT NULL AND i.indrelid = ANY($1)
                AND a.atttypid = 'boolean'::regtype
                AND position(a.attname::text IN pg_get_expr(i.indpred, i.indrelid)) > 0",
            &[&oids],
        )
        .await?
    {
        if let Some(&i) = index.get(&row.get::<_, u32>(0)) {
            tables[i].partial_bools.insert(row.get(1));
        }
    }

    let mut fks = Vec::new();
    for row in tx
        .query(
            "SELECT con.conname::text, con.conrelid, con.confrelid,
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                           ORDER BY k.o),
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                           ORDER BY k.o)
               FROM pg_catalog.pg_constraint con
              WHERE con.contype = 'f' AND con.conrelid = ANY($1)
              ORDER BY con.conrelid, con.conname",
            &[&oids],
        )
        .await?
    {
        let child_cols: Vec<String> = row.get(3);
        let Some(&child) = index.get(&row.get::<_, u32>(1)) else {
            continue;
        };
        tables[child].fk_columns.extend(child_cols.iter().cloned());
        let Some(&parent) = index.get(&row.get::<_, u32>(2)) else {
            continue;
        };
        // References to the tenant root are the tenant column's own key; the root's own keys
        // are not probed (it has no tenant column to combine with).
        if tables[parent].is_root || tables[child].is_root || !tables[parent].is_table() {
            continue;
        }
        let parent_cols: Vec<String> = row.get(4);
        let (child_tc, parent_tc) = (tables[child].tc.clone(), tables[parent].tc.clone());
        let composite = child_cols
            .iter()
            .zip(&parent_cols)
            .any(|(c, p)| *c == child_tc && *p == parent_tc);
        let refs: Vec<(String, String)> = child_cols
            .into_iter()
            .zip(parent_cols)
            .filter(|(c, _)| *c != child_tc)
            .collect();
        if refs.is_empty() {
            continue;
        }
        fks.push(ForeignKey {
            name: row.get(0),
            child,
            parent,
            refs,
            composite,
        });
    }
    Ok((tables, fks))
}

/// All organizations, or a deterministic sample of `max` of them (and the total).
async fn read_orgs(tx: Tx<'_>, root: &Table, max: usize) -> anyhow::Result<(Vec<Org>, usize)> {
    let label = ["name", "slug"]
        .iter()
        .find(|c| root.column(c).is_some())
        .map(|c| format!("{}::text", ident(c)))
        .unwrap_or_else(|| format!("{}::text", root.tc_sql()));
    let total: i64 = tx
        .query(&format!("SELECT count(*) FROM {}", root.sql), &[])
        .await?[0]
        .get(0);
    // md5 of the key: a spread-out sample that is the same on every run.
    let rows = tx
        .query(
            &format!(
                "SELECT {key}::text, coalesce({label}, {key}::text) FROM {} ORDER BY md5({key}::text) LIMIT $1",
                root.sql,
                key = root.tc_sql()
            ),
            &[&(max as i64)],
        )
        .await?;
    let mut orgs: Vec<Org> = rows
        .iter()
        .map(|r| Org {
            id: r.get(0),
            label: r.get(1),
        })
        .collect();
    orgs.sort_by(|a, b| a.label.cmp(&b.label).then(a.id.cmp(&b.id)));
    Ok((orgs, total as usize))
}

/// Up to [`SAMPLE_ROWS`] rows of each organization per table, the ones with the most NULLs
/// (the fewest optional references) first.
async fn read_samples(
    tx: Tx<'_>,
    tables: &[Table],
    orgs: &[Org],
) -> anyhow::Result<Vec<HashMap<String, Vec<Map<String, Value>>>>> {
    let ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let mut all = Vec::new();
    for t in tables {
        let mut per_org: HashMap<String, Vec<Map<String, Value>>> = HashMap::new();
        if t.is_table() && !t.global && !t.filtered_for_owner && !ids.is_empty() {
            let order = if t.pk.is_empty() {
                String::new()
            } else {
                let cols: Vec<String> = t.pk.iter().map(|c| ident(c)).collect();
                format!("ORDER BY {}", cols.join(", "))
            };
            let sql = format!(
                "SELECT o.k, x.j
                   FROM unnest($1::text[]) AS o(k)
                   CROSS JOIN LATERAL (
                        SELECT to_jsonb(s) AS j
                          FROM (SELECT * FROM {t} WHERE {tc} = o.k::{ty} {order} LIMIT 20) AS s
                         ORDER BY (SELECT count(*) FROM jsonb_each(to_jsonb(s)) AS e
                                    WHERE e.value = 'null'::jsonb) DESC, to_jsonb(s)::text
                         LIMIT {SAMPLE_ROWS}) AS x",
                t = t.sql,
                tc = t.tc_sql(),
                ty = t.tc_ty,
            );
            for row in tx.query(&sql, &[&ids]).await? {
                let org: String = row.get(0);
                if let Value::Object(map) = row.get::<_, Value>(1) {
                    per_org.entry(org).or_default().push(map);
                }
            }
        }
        all.push(per_org);
    }
    Ok(all)
}

/// Per table, the probed organization with the fewest rows in it (ties: the first in the
/// probe order).
async fn smallest_orgs(
    tx: Tx<'_>,
    tables: &[Table],
    orgs: &[Org],
) -> anyhow::Result<Vec<Option<String>>> {
    let ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let mut out = Vec::new();
    for t in tables {
        if !t.is_table() || !t.probed() || ids.is_empty() {
            out.push(None);
            continue;
        }
        let sql = format!(
            "SELECT o.k FROM unnest($1::text[]) WITH ORDINALITY AS o(k, i)
              ORDER BY (SELECT count(*) FROM {t} WHERE {tc} = o.k::{ty}), o.i
              LIMIT 1",
            t = t.sql,
            tc = t.tc_sql(),
            ty = t.tc_ty
        );
        out.push(tx.query(&sql, &[&ids]).await?.first().map(|r| r.get(0)));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

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
                    let fx = fixtures::make(tx, names, &root.sql, &root.tc, &opts.tenant_column)
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

    let ctx = Ctx {
        opts,
        tables,
        fks,
        orgs,
        samples,
        blanket_org,
        may_disable_triggers,
        fixtures: made,
        read_only,
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

/// With the setting never set in this session, then set to '': no row, no error.
async fn unset_probes(tx: Tx<'_>, ctx: &Ctx<'_>) -> anyhow::Result<Vec<Check>> {
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
                                    t.scoped(setting)
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
                            t.scoped(setting)
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

/// Every probe as the tenant of organization `i`, in one transaction.
async fn org_probes(tx: Tx<'_>, ctx: &Ctx<'_>, i: usize) -> anyhow::Result<Vec<Check>> {
    let org = &ctx.orgs[i];
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
    tx.query(
        "SELECT set_config($1, $2, true)",
        &[&ctx.opts.setting, &org.id],
    )
    .await?;

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
const READ_ONLY: &str = "the connection is read-only (default_transaction_read_only or a standby): the write probes need a writable session, even though they always roll back";

/// What a rejected write says about row-level security.
enum Verdict {
    /// Stopped by RLS (or by missing privileges): the tenant cannot do it.
    Rejected(String),
    /// The row got past the RLS check; only a later constraint stopped it.
    PastRls(String),
    /// Stopped before the RLS check was reached (a BEFORE trigger, a type error…).
    Inconclusive(String),
}

fn verdict(err: &Failure) -> Verdict {
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
struct Probe<'p, 'o> {
    tx: Tx<'p>,
    ctx: &'p Ctx<'o>,
    /// `org`'s position in the probe order (`ctx.orgs`).
    index: usize,
    org: &'p Org,
    other: Option<&'p Org>,
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
fn cross_org_targets(i: usize, n: usize) -> Vec<usize> {
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

#[derive(Clone, Copy, Debug)]
enum IntMode {
    Keep,
    Null,
    Offset,
}

impl Probe<'_, '_> {
    fn name(&self, kind: &str, table: &str) -> String {
        format!("probe {kind} {table} as {}", self.org.label)
    }

    /// Whether this organization runs the probes without WHERE on table `k`.
    fn runs_blanket(&self, k: usize) -> bool {
        self.ctx.blanket_org[k].as_deref() == Some(self.org.id.as_str())
    }

    fn role(&self) -> &str {
        &self.ctx.opts.tenant_role
    }

    fn samples(&self, table: usize, org: &str) -> &[Map<String, Value>] {
        self.ctx.samples[table]
            .get(org)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The statements that switch triggers off for one attempt (undone with its savepoint).
    fn triggers_off(&self) -> Vec<String> {
        vec![
            "SET LOCAL ROLE NONE".into(),
            "SET LOCAL session_replication_role = replica".into(),
            format!("SET LOCAL ROLE {}", ident(self.role())),
        ]
    }

    /// `SELECT count` as the tenant: exactly its own rows, none of another organization.
    async fn read(&self, k: usize, truth: Option<i64>) -> anyhow::Result<Check> {
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
                    t.scoped(&self.ctx.opts.setting)
                ),
                'm' => format!(
                    "REVOKE SELECT ON {} FROM {}; expose it through a security_barrier view filtered by {}",
                    t.sql,
                    ident(self.role()),
                    t.scoped(&self.ctx.opts.setting)
                ),
                _ if !t.rls_enabled => format!(
                    "ALTER TABLE {} ENABLE ROW LEVEL SECURITY; with a policy USING ({})",
                    t.sql,
                    t.scoped(&self.ctx.opts.setting)
                ),
                _ => format!(
                    "every permissive policy on {} that applies to {} must scope by {} (USING ({})); drop or fix the others (see the audit's policy findings)",
                    t.name,
                    self.role(),
                    t.tc,
                    t.scoped(&self.ctx.opts.setting)
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
            if own != truth {
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
                            t.scoped(&self.ctx.opts.setting)
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

    /// A row valid for `org`, built from `template`: tenant column set, key and unique-key
    /// columns changed (keeping their shape), foreign-key columns untouched.
    fn build_row(
        &self,
        t: &Table,
        template: &Map<String, Value>,
        org: &str,
        mode: IntMode,
        flip: Option<bool>,
        salt: u64,
    ) -> Map<String, Value> {
        let mut row = template.clone();
        row.insert(t.tc.clone(), Value::String(org.to_string()));
        if let Some(flag) = flip {
            for col in &t.partial_bools {
                row.insert(col.clone(), Value::Bool(flag));
            }
        }
        for col in &t.columns {
            if col.name == t.tc
                || !t.unique_columns.contains(&col.name)
                || t.fk_columns.contains(&col.name)
            {
                continue;
            }
            let Some(value) = row.get_mut(&col.name) else {
                continue;
            };
            match (col.category, &*value) {
                ('U', _) if col.ty == "uuid" => {
                    *value = Value::String(uuid::Uuid::new_v4().to_string());
                }
                ('S', Value::String(s)) => *value = Value::String(reshape(s, salt)),
                ('N', Value::Number(num))
                    if matches!(col.ty.as_str(), "smallint" | "integer" | "bigint") =>
                {
                    match mode {
                        IntMode::Keep => {}
                        IntMode::Null => *value = Value::Null,
                        IntMode::Offset => {
                            let bump = if col.ty == "smallint" {
                                7_001
                            } else {
                                1_000_003
                            };
                            if let Some(n) = num.as_i64() {
                                *value = Value::from(n + bump);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        row
    }

    /// `INSERT INTO t (writable columns the tenant may insert) SELECT … FROM
    /// jsonb_populate_record(NULL::t, $1)`.
    fn insert_sql(&self, t: &Table, row: &Value) -> String {
        let cols: Vec<String> = t
            .columns
            .iter()
            .filter(|c| c.writable && c.tenant_may_insert)
            .map(|c| ident(&c.name))
            .collect();
        let cols = cols.join(", ");
        format!(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM jsonb_populate_record(NULL::{t}, {row}::jsonb)",
            t = t.sql,
            row = lit(&row.to_string())
        )
    }

    /// Inserting a row for another organization is rejected by row-level security.
    async fn insert_other(&self, k: usize) -> anyhow::Result<Check> {
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

    fn insert_finding(&self, t: &Table, name: String, target: &str, how: String) -> Check {
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
                fix: format!(
                    "give the INSERT (or ALL) policies on {} for {} a WITH CHECK ({})",
                    t.name,
                    self.role(),
                    t.scoped(&self.ctx.opts.setting)
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
    fn other_keys(&self, k: usize) -> Vec<Value> {
        let t = &self.ctx.tables[k];
        cross_org_targets(self.index, self.ctx.orgs.len())
            .into_iter()
            .map(|j| &self.ctx.orgs[j])
            .flat_map(|o| self.samples(k, &o.id).iter().map(|r| t.pk_of(r)))
            .collect()
    }

    /// A column the tenant may update: the tenant column (an attempt to take rows over) if it
    /// may, else the first other one.
    fn update_column<'t>(&self, t: &'t Table) -> Option<&'t Column> {
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
    async fn update_other(&self, k: usize, truth: Option<i64>) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("update-other-org", &t.name);
        let Some(col) = self.update_column(t) else {
            return Ok(Check::pass(Suite::Probe, name));
        };
        let takeover = col.name == t.tc;
        let set = if takeover {
            format!("{} = {}", ident(&col.name), t.tc_value(&self.org.id))
        } else {
            format!("{c} = {c}", c = ident(&col.name))
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
            Check::fail(
                Suite::Probe,
                name.clone(),
                Finding {
                    rule: "probe-cross-org-update".into(),
                    object: t.name.clone(),
                    command: Some("UPDATE".into()),
                    message: format!("the tenant of {} can {what}: {how}", self.org.label),
                    fix: format!(
                        "scope the USING clause of every UPDATE (or ALL) policy on {} for {}: USING ({})",
                        t.name,
                        self.role(),
                        t.scoped(&self.ctx.opts.setting)
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            )
        };
        let rls_message = |err: &Failure| {
            err.as_db_error().is_some_and(|d| {
                d.code().code() == "42501" && d.message().contains("row-level security")
            })
        };

        // 1. Aimed at other organizations' rows.
        let keys = Value::Array(self.other_keys(k));
        if !t.pk.is_empty() && keys.as_array().is_some_and(|a| !a.is_empty()) {
            let sql = format!("UPDATE {} SET {set} WHERE {}", t.sql, t.pk_in(&keys));
            let result = self.tx.try_execute(&[], &sql).await?;
            match result {
                Ok(0) => {}
                Ok(n) => return Ok(finding(format!("{n} rows of other organizations updated"))),
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) if !rls_message(&err) => {}
                    Verdict::Rejected(why) => {
                        return Ok(finding(format!(
                            "the UPDATE reached their rows and only the new row's check stopped it ({why})"
                        )))
                    }
                    Verdict::PastRls(why) => {
                        return Ok(finding(format!(
                            "the UPDATE reached their rows and only a constraint stopped it ({why})"
                        )))
                    }
                    Verdict::Inconclusive(why) => {
                        return Ok(Check::skipped(
                            Suite::Probe,
                            name,
                            format!("the UPDATE failed for another reason: {why}"),
                        ))
                    }
                },
            }
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
    async fn move_own(&self, k: usize) -> anyhow::Result<Check> {
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
            Check::fail(
                Suite::Probe,
                name.clone(),
                Finding {
                    rule: "probe-cross-org-move".into(),
                    object: t.name.clone(),
                    command: Some("UPDATE".into()),
                    message: format!(
                        "the tenant of {} can move its rows of {} to {target_label} (planting data in another tenant): {how}",
                        self.org.label, t.name
                    ),
                    fix: format!(
                        "give every UPDATE (or ALL) policy on {} for {} a WITH CHECK ({})",
                        t.name,
                        self.role(),
                        t.scoped(&self.ctx.opts.setting)
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            )
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
    async fn delete_other(&self, k: usize, truth: Option<i64>) -> anyhow::Result<Check> {
        let t = &self.ctx.tables[k];
        let name = self.name("delete-other-org", &t.name);
        if !t.can_delete {
            return Ok(Check::pass(Suite::Probe, name));
        }
        let finding = |how: String| {
            Check::fail(
                Suite::Probe,
                name.clone(),
                Finding {
                    rule: "probe-cross-org-delete".into(),
                    object: t.name.clone(),
                    command: Some("DELETE".into()),
                    message: format!(
                        "the tenant of {} can delete other organizations' rows of {}: {how}",
                        self.org.label, t.name
                    ),
                    fix: format!(
                        "scope the USING clause of every DELETE (or ALL) policy on {} for {}: USING ({})",
                        t.name,
                        self.role(),
                        t.scoped(&self.ctx.opts.setting)
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            )
        };
        let keys = Value::Array(self.other_keys(k));
        if !t.pk.is_empty() && keys.as_array().is_some_and(|a| !a.is_empty()) {
            let sql = format!("DELETE FROM {} WHERE {}", t.sql, t.pk_in(&keys));
            match self.tx.try_execute(&[], &sql).await? {
                Ok(0) => {}
                Ok(n) => return Ok(finding(format!("{n} rows deleted"))),
                Err(err) => match verdict(&err) {
                    Verdict::Rejected(_) => {}
                    Verdict::PastRls(why) => {
                        return Ok(finding(format!(
                            "the DELETE reached their rows and only a constraint stopped it ({why})"
                        )))
                    }
                    Verdict::Inconclusive(why) => {
                        return Ok(Check::skipped(
                            Suite::Probe,
                            name,
                            format!("the DELETE failed for another reason: {why}"),
                        ))
                    }
                },
            }
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

    /// A row of the tenant's own organization that its tenant can insert (tried in a
    /// savepoint): the control for the reference probes. Cached per table.
    async fn valid_row(&self, k: usize) -> anyhow::Result<Result<Map<String, Value>, String>> {
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
    async fn reference_other(
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

/// Change the first alphanumeric characters of `s` into others of the same class (digit,
/// hex letter a–f, other letter, same case), so that a value keeps the shape its CHECK
/// constraints expect (emails, handles, hex hashes) while no longer colliding with the
/// original.
fn reshape(s: &str, salt: u64) -> String {
    let mut changed = 0;
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if changed >= 12 || !c.is_ascii_alphanumeric() {
                return c;
            }
            changed += 1;
            let step = (salt as usize + i) % 4 + 1;
            let rotate = |base: u8, len: usize, c: char| -> char {
                let pos = c as usize - base as usize;
                (base + ((pos + step) % len) as u8) as char
            };
            match c {
                '0'..='9' => rotate(b'0', 10, c),
                'a'..='f' => rotate(b'a', 6, c),
                'g'..='z' => rotate(b'g', 20, c),
                'A'..='F' => rotate(b'A', 6, c),
                _ => rotate(b'G', 20, c),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_keeps_the_shape_and_changes_the_value() {
        let hex = "3f9a0c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
        let changed = reshape(hex, 0);
        assert_ne!(changed, hex);
        assert_eq!(changed.len(), hex.len());
        assert!(changed
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let email = reshape("alice@acme.com", 1);
        assert_ne!(email, "alice@acme.com");
        assert_eq!(email.matches('@').count(), 1);
        assert!(email.ends_with(".com") || email.contains('.'));
        let handle = reshape("ACME-ceo_01", 2);
        assert_eq!(handle.len(), 11);
        assert_eq!(&handle[4..5], "-");
        assert!(handle[..4].chars().all(|c| c.is_ascii_uppercase()));
        assert_eq!(reshape("--", 3), "--");
    }

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

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_ident("arcdesk_tenant"), "arcdesk_tenant");
        assert_eq!(sql_ident("App-User"), "\"App-User\"");
    }
}
