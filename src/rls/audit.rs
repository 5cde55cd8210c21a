//! The static catalog audit of `verify-rls`: what the catalogs say about tenant isolation, for
//! every table of the tenant schemas (and their partitions and inheritance children), without
//! running a single query as the tenant.
//!
//! The catalogs are read with one query per concern (`src/rls/audit_*.sql`); every rule is then
//! decided in Rust from those rows by [`evaluate`], a pure function, so that each rule can be
//! tested without a server. Every (rule × object) examined becomes a [`Check`]: a pass, a finding,
//! or a skip with its reason (CockroachDB without the catalog a rule needs).
//!
//! "The tenant" below is the tenant role *and every role it reaches through membership*
//! (`pg_auth_members`, walked recursively): the tenant can `SET ROLE` to any of them or inherits
//! their privileges, so their attributes, grants, ownerships and the policies naming them count
//! as its own. PUBLIC's grants count too.
//!
//! # Rules
//! See [`RULES`] for the list (id → what it finds). Rule ids are stable: CI configurations and
//! the JUnit rendering refer to them.
//!
//! # When a predicate "scopes by organization"
//! Policy expressions (`pg_get_expr`), view definitions (`pg_get_viewdef`) and helper bodies are
//! tokenized and parsed just enough to decide this (see [`predicate`]). A predicate P scopes when
//! - `A AND B`: A or B scopes; `A OR B`: both scope; `(A)`: A scopes;
//! - `C = O`, `O = C` or `C IN (O)`, where C is the tenant column (for the root table: `id`),
//!   optionally qualified by the table's name (in views: by any alias) and optionally cast, and O
//!   is an *organization expression*:
//!   - `current_setting('<setting>')` or `current_setting('<setting>', true|false)`: NULL when
//!     unset (then `C = NULL` admits no row), a cast error on `''` (fails loudly, not open);
//!   - `NULLIF(O, '')`;
//!   - a call of an accepted helper: a function without arguments whose body is `SELECT O` (SQL)
//!     or `BEGIN RETURN O; END` (PL/pgSQL) and that the tenant does not own, e.g.
//!     `public.current_org_id()`; an unqualified call is accepted only if every such function of
//!     that name in the database is accepted;
//!   - `(SELECT O)` (the InitPlan form), and any of these with casts (`::uuid`, `::text`).
//!
//! Anything else does not scope, on purpose: `true`, `organization_id IS NOT NULL`,
//! `setting IS NULL OR …` (fails open while the setting is unset or empty), `COALESCE(setting,
//! …)` (the fallback decides what an unset session sees), `CASE`, `IS NOT DISTINCT FROM` (matches
//! NULL organizations when unset), `= ANY (…)`, `NOT …`, and subqueries with a FROM (`EXISTS`,
//! `IN (SELECT … FROM memberships …)`): a policy scoping through a membership table must be
//! paired with a RESTRICTIVE policy in an accepted form, which then acts as a floor.
//!
//! PostgreSQL's rules applied (from `rowsecurity.c`): permissive policies are OR-ed and
//! restrictive ones AND-ed on top, so a restrictive policy that scopes is a floor no permissive
//! policy can widen; with no permissive policy for a command, nothing is admitted. A policy
//! applies to a role when the role is (a member of) one of its roles, PUBLIC included. The new
//! rows of INSERT and UPDATE are checked with the policy's WITH CHECK, or, when it has none, with
//! its USING (ALL and UPDATE policies); an INSERT policy without WITH CHECK admits no row.

use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::{server_message, Db};
use crate::engine::{EngineKind, Version};
use anyhow::Context;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const SQL_TENANT_ROLE: &str = include_str!("audit_tenant_role.sql");
const SQL_MEMBERSHIPS: &str = include_str!("audit_memberships.sql");
const SQL_TABLES: &str = include_str!("audit_tables.sql");
const SQL_POLICIES: &str = include_str!("audit_policies.sql");
const SQL_RELATION_GRANTS: &str = include_str!("audit_relation_grants.sql");
const SQL_VIEWS: &str = include_str!("audit_views.sql");
const SQL_DEFINER_FUNCTIONS: &str = include_str!("audit_definer_functions.sql");
const SQL_TRIGGERS: &str = include_str!("audit_triggers.sql");
const SQL_HELPERS: &str = include_str!("audit_helpers.sql");
const SQL_LEAKPROOF: &str = include_str!("audit_leakproof.sql");
const SQL_FOREIGN_KEYS: &str = include_str!("audit_foreign_keys.sql");
const SQL_UNIQUE_KEYS: &str = include_str!("audit_unique_keys.sql");
const SQL_SEQUENCES: &str = include_str!("audit_sequences.sql");
const SQL_SCHEMAS: &str = include_str!("audit_schemas.sql");
const SQL_DEFAULT_ACL: &str = include_str!("audit_default_acl.sql");

/// The tag that marks a platform-wide unique key (on the constraint or the index comment).
pub const PLATFORM_UNIQUE_TAG: &str = "arcdb:platform-unique:";
/// The tag that marks an intentionally global table (on the table comment).
pub const GLOBAL_TAG: &str = "arcdb:global:";

/// Rule ids (the `rule` of a [`Finding`], and the first word of a check's name).
pub mod rule {
    pub const TENANT_ROLE_MISSING: &str = "tenant-role-missing";
    pub const ROLE_SUPERUSER: &str = "role-superuser";
    pub const ROLE_BYPASSRLS: &str = "role-bypassrls";
    pub const RLS_DISABLED: &str = "rls-disabled";
    pub const TENANT_COLUMN_MISSING: &str = "tenant-column-missing";
    pub const TABLE_OWNED_BY_TENANT: &str = "table-owned-by-tenant";
    pub const OWNER_NOT_FORCED: &str = "owner-not-forced";
    pub const COMMAND_WITHOUT_POLICY: &str = "command-without-policy";
    pub const POLICY_UNSCOPED: &str = "policy-unscoped";
    pub const POLICY_GROUP_UNSCOPED: &str = "policy-group-unscoped";
    pub const POLICY_CHECK_UNSCOPED: &str = "policy-check-unscoped";
    pub const POLICY_CHECK_MISSING: &str = "policy-check-missing";
    pub const ORG_HELPER_UNSAFE: &str = "org-helper-unsafe";
    pub const VIEW_UNSCOPED: &str = "view-unscoped";
    pub const VIEW_NOT_SECURITY_BARRIER: &str = "view-not-security-barrier";
    pub const VIEW_WRITABLE: &str = "view-writable";
    pub const MATVIEW_READABLE: &str = "matview-readable";
    pub const DEFINER_FUNCTION_UNSCOPED: &str = "definer-function-unscoped";
    pub const DEFINER_SEARCH_PATH: &str = "definer-search-path";
    pub const FK_UNSCOPED: &str = "fk-unscoped";
    pub const UNIQUE_UNSCOPED: &str = "unique-unscoped";
    pub const UNIQUE_SURROGATE_UNSCOPED: &str = "unique-surrogate-unscoped";
    pub const SEQUENCE_SHARED: &str = "sequence-shared";
    pub const GRANT_TRUNCATE: &str = "grant-truncate";
    pub const GRANT_TRIGGER: &str = "grant-trigger";
    pub const GRANT_REFERENCES: &str = "grant-references";
    pub const SCHEMA_CREATE: &str = "schema-create";
    pub const LEAKPROOF_FUNCTION: &str = "leakproof-function";
    pub const DEFAULT_PRIVILEGES: &str = "default-privileges";
}

/// Every rule of the audit: id → what it finds.
pub const RULES: &[(&str, &str)] = &[
    (rule::TENANT_ROLE_MISSING, "the tenant role does not exist (nothing else can be audited)"),
    (rule::ROLE_SUPERUSER, "the tenant role, or a role it reaches through membership, is a superuser"),
    (rule::ROLE_BYPASSRLS, "the tenant role, or a role it reaches through membership, has BYPASSRLS"),
    (rule::RLS_DISABLED, "a table of the tenant schemas (or a partition/child) without row-level security, unless tagged arcdb:global:"),
    (rule::TENANT_COLUMN_MISSING, "a table other than the root without the tenant column, unless tagged arcdb:global:"),
    (rule::TABLE_OWNED_BY_TENANT, "the tenant (or a role it reaches) owns a tenant table, or is a member of its owner: it can disable RLS even with FORCE"),
    (rule::OWNER_NOT_FORCED, "a tenant table owned by the tenant without FORCE ROW LEVEL SECURITY: the owner bypasses every policy"),
    (rule::COMMAND_WITHOUT_POLICY, "a SELECT/INSERT/UPDATE/DELETE privilege of the tenant on a table that no policy applying to it governs"),
    (rule::POLICY_UNSCOPED, "a permissive policy applying to the tenant (directly or through PUBLIC) whose USING does not scope by organization"),
    (rule::POLICY_GROUP_UNSCOPED, "a permissive policy reaching the tenant through a group role it belongs to whose USING does not scope by organization"),
    (rule::POLICY_CHECK_UNSCOPED, "a permissive INSERT/UPDATE/ALL policy applying to the tenant whose WITH CHECK (or the USING standing in for it) does not scope by organization"),
    (rule::POLICY_CHECK_MISSING, "an INSERT policy applying to the tenant without WITH CHECK (PostgreSQL admits no row through it; the organization check is missing)"),
    (rule::ORG_HELPER_UNSAFE, "a function without arguments that policies or views compare the tenant column with, reading the setting, whose body is not an accepted form or which the tenant owns"),
    (rule::VIEW_UNSCOPED, "a view over tenant rows the tenant can read that runs as its owner (not security_invoker) and does not filter by organization"),
    (rule::VIEW_NOT_SECURITY_BARRIER, "a view over tenant rows the tenant can read that filters by organization but is neither security_invoker nor security_barrier"),
    (rule::VIEW_WRITABLE, "a view over tenant rows, running as its owner, that the tenant can write through without an organization filter and WITH CHECK OPTION"),
    (rule::MATVIEW_READABLE, "a materialized view over tenant rows the tenant can read (materialized views have no RLS)"),
    (rule::DEFINER_FUNCTION_UNSCOPED, "a SECURITY DEFINER function the tenant can run (EXECUTE, or a trigger on its writes) whose owner bypasses RLS, reading tenant tables without filtering by organization"),
    (rule::DEFINER_SEARCH_PATH, "a SECURITY DEFINER function the tenant can run without a pinned search_path"),
    (rule::FK_UNSCOPED, "a foreign key between tenant tables that leaves out the tenant column"),
    (rule::UNIQUE_UNSCOPED, "a unique constraint or index on a tenant table without the tenant column and without the arcdb:platform-unique: tag"),
    (rule::UNIQUE_SURROGATE_UNSCOPED, "the same for a key made only of uuid columns with a default (a random surrogate): defence in depth, a warning"),
    (rule::SEQUENCE_SHARED, "a sequence numbering a tenant table that the tenant can use (USAGE/SELECT/UPDATE) or whose values it reads in its rows"),
    (rule::GRANT_TRUNCATE, "TRUNCATE on a tenant table granted to the tenant (TRUNCATE ignores RLS)"),
    (rule::GRANT_TRIGGER, "TRIGGER on a tenant table granted to the tenant (a trigger sees every organization's writes)"),
    (rule::GRANT_REFERENCES, "REFERENCES on a tenant table granted to the tenant (foreign-key checks ignore RLS)"),
    (rule::SCHEMA_CREATE, "CREATE on a schema holding tenant tables granted to the tenant or PUBLIC"),
    (rule::LEAKPROOF_FUNCTION, "a LEAKPROOF function outside pg_catalog (runs before the RLS filter)"),
    (rule::DEFAULT_PRIVILEGES, "default privileges that grant the tenant or PUBLIC privileges on tables or sequences created later"),
];

/// Item 14 of the RLS notes: the setting is chosen by the session, not by PostgreSQL.
pub const SETTING_NOTE: &str = "custom settings such as {setting} are user-settable: RLS keyed on them isolates only as long as the application, never the tenant, sets them; set it with SET LOCAL (or set_config(..., true)) inside each transaction, because a plain SET survives COMMIT and, behind a pooler in transaction mode, leaks to the next client";

/// Run the audit against `db` and add its checks, notes and table count to `report`.
pub async fn run(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) -> anyhow::Result<()> {
    let catalog = Catalog::load(db, opts).await?;
    let evaluation = evaluate(&catalog, opts);
    report.tables = evaluation.tables;
    report.checks.extend(evaluation.checks);
    report.notes.extend(evaluation.notes);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Catalog rows
// ------------------------------------------------------------------------------------------------

/// Rows of one concern, or why the engine could not give them (the affected rules are skipped).
pub type Avail<T> = Result<Vec<T>, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub oid: u32,
    pub name: String,
    pub superuser: bool,
    pub bypassrls: bool,
}

/// One `pg_auth_members` edge: `member` is a member of `role`.
#[derive(Debug, Clone)]
pub struct MembershipRow {
    pub member: u32,
    pub role: RoleRow,
}

#[derive(Debug, Clone)]
pub struct TableRow {
    pub oid: u32,
    pub namespace: u32,
    pub schema: String,
    pub name: String,
    pub qname: String,
    /// `r` table, `p` partitioned table, `f` foreign table.
    pub kind: String,
    pub owner: u32,
    pub owner_name: String,
    pub rls: bool,
    pub force_rls: bool,
    pub has_tenant_column: bool,
    pub comment: Option<String>,
    /// The parent (partitioned table or inheritance parent), qualified.
    pub parent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub table: u32,
    pub name: String,
    /// `r` SELECT, `a` INSERT, `w` UPDATE, `d` DELETE, `*` ALL.
    pub cmd: String,
    pub permissive: bool,
    /// 0 = PUBLIC.
    pub roles: Vec<u32>,
    pub using: Option<String>,
    pub check: Option<String>,
}

/// A privilege on a relation held by one of the tenant's roles or PUBLIC (0).
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub rel: u32,
    /// `None` for a table-level grant.
    pub column: Option<String>,
    pub grantee: u32,
    pub privilege: String,
}

#[derive(Debug, Clone)]
pub struct ViewRow {
    pub oid: u32,
    pub name: String,
    pub qname: String,
    /// `v` view, `m` materialized view.
    pub kind: String,
    pub owner_name: String,
    pub options: Vec<String>,
    pub definition: Option<String>,
    pub refs: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct FunctionRow {
    pub oid: u32,
    /// `function schema.name(args)`.
    pub signature: String,
    pub owner_name: String,
    pub owner_superuser: bool,
    pub owner_bypassrls: bool,
    pub language: String,
    pub is_trigger: bool,
    pub source: String,
    pub config: Vec<String>,
    pub executable_by: Vec<u32>,
    pub refs: Vec<u32>,
    /// Owners of audited tables whose privileges the function's owner has.
    pub owner_of: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct TriggerRow {
    pub table: u32,
    pub function: u32,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct HelperRow {
    pub schema: String,
    pub name: String,
    pub qname: String,
    pub language: String,
    pub source: String,
    pub owner: u32,
}

#[derive(Debug, Clone)]
pub struct LeakproofRow {
    pub signature: String,
    pub qname: String,
}

#[derive(Debug, Clone)]
pub struct ForeignKeyRow {
    pub name: String,
    pub table: u32,
    pub ref_table: u32,
    pub columns: Vec<String>,
    pub ref_columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct UniqueRow {
    pub table: u32,
    pub index_name: String,
    pub index_qname: String,
    pub is_primary: bool,
    pub columns: Vec<String>,
    pub partial: bool,
    pub constraint_name: Option<String>,
    pub constraint_comment: Option<String>,
    pub index_comment: Option<String>,
    /// Every key column is a uuid with a default (a random surrogate key).
    pub surrogate: bool,
}

#[derive(Debug, Clone)]
pub struct SequenceRow {
    pub seq: u32,
    pub seq_qname: String,
    pub table: u32,
    pub column: String,
    /// `default` (nextval in a column default), `owned` (serial) or `identity`.
    pub how: String,
}

#[derive(Debug, Clone)]
pub struct SchemaRow {
    pub oid: u32,
    pub qname: String,
    pub create_by: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct DefaultAclRow {
    pub owner_name: String,
    pub schema: Option<String>,
    /// `r` tables, `S` sequences.
    pub objtype: String,
    pub grantee: u32,
    pub privileges: Vec<String>,
}

/// Everything the audit reads, one field per concern.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Why row-level security itself cannot be audited on this engine (CockroachDB < 25.2).
    pub rls_unsupported: Option<String>,
    /// `Ok(None)`: the tenant role does not exist; `Err`: it could not be looked up.
    pub tenant: Result<Option<RoleRow>, String>,
    pub memberships: Avail<MembershipRow>,
    pub tables: Avail<TableRow>,
    pub policies: Avail<PolicyRow>,
    pub grants: Avail<GrantRow>,
    pub views: Avail<ViewRow>,
    pub functions: Avail<FunctionRow>,
    pub triggers: Avail<TriggerRow>,
    pub helpers: Avail<HelperRow>,
    pub leakproof: Avail<LeakproofRow>,
    pub foreign_keys: Avail<ForeignKeyRow>,
    pub unique_keys: Avail<UniqueRow>,
    pub sequences: Avail<SequenceRow>,
    pub schemas: Avail<SchemaRow>,
    pub default_acls: Avail<DefaultAclRow>,
}

impl Catalog {
    /// A catalog where nothing could be read (everything `Err(reason)`).
    pub fn unavailable(reason: &str) -> Catalog {
        fn none<T>(reason: &str) -> Avail<T> {
            Err(reason.to_string())
        }
        Catalog {
            rls_unsupported: None,
            tenant: Err(reason.to_string()),
            memberships: none(reason),
            tables: none(reason),
            policies: none(reason),
            grants: none(reason),
            views: none(reason),
            functions: none(reason),
            triggers: none(reason),
            helpers: none(reason),
            leakproof: none(reason),
            foreign_keys: none(reason),
            unique_keys: none(reason),
            sequences: none(reason),
            schemas: none(reason),
            default_acls: none(reason),
        }
    }

    /// Read every concern from `db`. On PostgreSQL a failing query is an error; on CockroachDB
    /// it makes that concern unavailable (its rules are skipped with the reason).
    pub async fn load(db: &Db, opts: &VerifyOptions) -> anyhow::Result<Catalog> {
        let q = Querier { db };
        let mut cat = Catalog::unavailable("the tenant role does not exist");
        if db.engine.kind == EngineKind::Cockroachdb && db.engine.version < Version::new(25, 2, 0) {
            cat.rls_unsupported = Some(format!(
                "{} predates row-level security (CockroachDB 25.2): policies and RLS flags cannot be audited",
                db.engine.describe()
            ));
        }
        let tenant = q
            .fetch(
                "the tenant role",
                SQL_TENANT_ROLE,
                &[&opts.tenant_role],
                role_row,
            )
            .await?;
        let tenant = match tenant {
            Ok(rows) => rows.into_iter().next(),
            Err(reason) => return Ok(Catalog::unavailable(&reason)),
        };
        let Some(tenant) = tenant else {
            cat.tenant = Ok(None);
            return Ok(cat);
        };
        cat.memberships = q
            .fetch("role memberships", SQL_MEMBERSHIPS, &[&tenant.oid], |r| {
                Ok(MembershipRow {
                    member: r.try_get("member")?,
                    role: role_row_named(r, "role")?,
                })
            })
            .await?;
        cat.tenant = Ok(Some(tenant.clone()));
        let mut grantees: Vec<u32> = vec![tenant.oid, 0];
        if let Ok(edges) = &cat.memberships {
            grantees.extend(edges.iter().map(|e| e.role.oid));
        }
        grantees.sort_unstable();
        grantees.dedup();

        cat.tables = q
            .fetch(
                "tables",
                SQL_TABLES,
                &[&opts.schemas, &opts.tenant_column],
                table_row,
            )
            .await?;
        let tables: Vec<u32> = match &cat.tables {
            Ok(rows) => rows.iter().map(|t| t.oid).collect(),
            Err(reason) => {
                let reason = reason.clone();
                let keep = (cat.rls_unsupported.take(), cat.tenant, cat.memberships);
                cat = Catalog::unavailable(&reason);
                (cat.rls_unsupported, cat.tenant, cat.memberships) = keep;
                return Ok(cat);
            }
        };
        let mut table_owners: Vec<u32> = cat
            .tables
            .as_ref()
            .map(|rows| rows.iter().map(|t| t.owner).collect())
            .unwrap_or_default();
        table_owners.sort_unstable();
        table_owners.dedup();
        let namespaces: Vec<u32> = {
            let mut n: Vec<u32> = cat
                .tables
                .as_ref()
                .map(|rows| rows.iter().map(|t| t.namespace).collect())
                .unwrap_or_default();
            n.sort_unstable();
            n.dedup();
            n
        };

        cat.policies = match &cat.rls_unsupported {
            Some(reason) => Err(reason.clone()),
            None => {
                q.fetch("policies", SQL_POLICIES, &[&tables], |r| {
                    Ok(PolicyRow {
                        table: r.try_get("table_oid")?,
                        name: r.try_get("name")?,
                        cmd: r.try_get("cmd")?,
                        permissive: r.try_get("permissive")?,
                        roles: r.try_get("roles")?,
                        using: r.try_get("using_expr")?,
                        check: r.try_get("check_expr")?,
                    })
                })
                .await?
            }
        };
        cat.views = q
            .fetch("views and materialized views", SQL_VIEWS, &[], |r| {
                Ok(ViewRow {
                    oid: r.try_get("oid")?,
                    name: r.try_get("name")?,
                    qname: r.try_get("qname")?,
                    kind: r.try_get("kind")?,
                    owner_name: r.try_get("owner_name")?,
                    options: r.try_get("options")?,
                    definition: r.try_get("definition")?,
                    refs: r.try_get("refs")?,
                })
            })
            .await?;
        cat.sequences = q
            .fetch("sequences", SQL_SEQUENCES, &[&tables], |r| {
                Ok(SequenceRow {
                    seq: r.try_get("seq")?,
                    seq_qname: r.try_get("seq_qname")?,
                    table: r.try_get("table_oid")?,
                    column: r.try_get("column_name")?,
                    how: r.try_get("how")?,
                })
            })
            .await?;
        let mut relations = tables.clone();
        if let Ok(views) = &cat.views {
            relations.extend(views.iter().map(|v| v.oid));
        }
        if let Ok(seqs) = &cat.sequences {
            relations.extend(seqs.iter().map(|s| s.seq));
        }
        relations.sort_unstable();
        relations.dedup();
        cat.grants = q
            .fetch(
                "privileges",
                SQL_RELATION_GRANTS,
                &[&relations, &grantees],
                |r| {
                    Ok(GrantRow {
                        rel: r.try_get("rel")?,
                        column: r.try_get("column_name")?,
                        grantee: r.try_get("grantee")?,
                        privilege: r.try_get("privilege")?,
                    })
                },
            )
            .await?;
        cat.functions = q
            .fetch(
                "SECURITY DEFINER functions",
                SQL_DEFINER_FUNCTIONS,
                &[&grantees, &table_owners],
                |r| {
                    Ok(FunctionRow {
                        oid: r.try_get("oid")?,
                        signature: r.try_get("signature")?,
                        owner_name: r.try_get("owner_name")?,
                        owner_superuser: r.try_get("owner_superuser")?,
                        owner_bypassrls: r.try_get("owner_bypassrls")?,
                        language: r.try_get("language")?,
                        is_trigger: r.try_get("is_trigger")?,
                        source: r.try_get("source")?,
                        config: r.try_get("config")?,
                        executable_by: r.try_get("executable_by")?,
                        refs: r.try_get("refs")?,
                        owner_of: r.try_get("owner_of")?,
                    })
                },
            )
            .await?;
        cat.triggers = q
            .fetch("triggers", SQL_TRIGGERS, &[&tables], |r| {
                Ok(TriggerRow {
                    table: r.try_get("table_oid")?,
                    function: r.try_get("function_oid")?,
                    name: r.try_get("name")?,
                })
            })
            .await?;
        cat.helpers = q
            .fetch("organization helpers", SQL_HELPERS, &[], |r| {
                Ok(HelperRow {
                    schema: r.try_get("schema")?,
                    name: r.try_get("name")?,
                    qname: r.try_get("qname")?,
                    language: r.try_get("language")?,
                    source: r.try_get("source")?,
                    owner: r.try_get("owner")?,
                })
            })
            .await?;
        cat.leakproof = q
            .fetch("LEAKPROOF functions", SQL_LEAKPROOF, &[], |r| {
                Ok(LeakproofRow {
                    signature: r.try_get("signature")?,
                    qname: r.try_get("qname")?,
                })
            })
            .await?;
        cat.foreign_keys = q
            .fetch("foreign keys", SQL_FOREIGN_KEYS, &[&tables], |r| {
                Ok(ForeignKeyRow {
                    name: r.try_get("name")?,
                    table: r.try_get("table_oid")?,
                    ref_table: r.try_get("ref_table_oid")?,
                    columns: r.try_get("columns")?,
                    ref_columns: r.try_get("ref_columns")?,
                })
            })
            .await?;
        cat.unique_keys = q
            .fetch("unique keys", SQL_UNIQUE_KEYS, &[&tables], |r| {
                Ok(UniqueRow {
                    table: r.try_get("table_oid")?,
                    index_name: r.try_get("index_name")?,
                    index_qname: r.try_get("index_qname")?,
                    is_primary: r.try_get("is_primary")?,
                    columns: r.try_get("columns")?,
                    partial: r.try_get("partial")?,
                    constraint_name: r.try_get("constraint_name")?,
                    constraint_comment: r.try_get("constraint_comment")?,
                    index_comment: r.try_get("index_comment")?,
                    surrogate: r.try_get("surrogate")?,
                })
            })
            .await?;
        cat.schemas = q
            .fetch(
                "schema privileges",
                SQL_SCHEMAS,
                &[&namespaces, &grantees],
                |r| {
                    Ok(SchemaRow {
                        oid: r.try_get("oid")?,
                        qname: r.try_get("qname")?,
                        create_by: r.try_get("create_by")?,
                    })
                },
            )
            .await?;
        cat.default_acls = q
            .fetch("default privileges", SQL_DEFAULT_ACL, &[&grantees], |r| {
                Ok(DefaultAclRow {
                    owner_name: r.try_get("owner_name")?,
                    schema: r.try_get("schema")?,
                    objtype: r.try_get("objtype")?,
                    grantee: r.try_get("grantee")?,
                    privileges: r.try_get("privileges")?,
                })
            })
            .await?;
        // CockroachDB before 25.2 answers with empty catalogs rather than errors: an empty
        // pg_default_acl or pg_auth_members there means "not implemented", not "nothing".
        if let Some(reason) = &cat.rls_unsupported {
            if cat.default_acls.as_ref().is_ok_and(Vec::is_empty) {
                cat.default_acls = Err(reason.clone());
            }
            if cat.memberships.as_ref().is_ok_and(Vec::is_empty) {
                cat.memberships = Err(reason.clone());
            }
        }
        Ok(cat)
    }
}

fn role_row(r: &Row) -> Result<RoleRow, tokio_postgres::Error> {
    Ok(RoleRow {
        oid: r.try_get("oid")?,
        name: r.try_get("name")?,
        superuser: r.try_get("superuser")?,
        bypassrls: r.try_get("bypassrls")?,
    })
}

fn role_row_named(r: &Row, oid_column: &str) -> Result<RoleRow, tokio_postgres::Error> {
    Ok(RoleRow {
        oid: r.try_get(oid_column)?,
        name: r.try_get("name")?,
        superuser: r.try_get("superuser")?,
        bypassrls: r.try_get("bypassrls")?,
    })
}

fn table_row(r: &Row) -> Result<TableRow, tokio_postgres::Error> {
    Ok(TableRow {
        oid: r.try_get("oid")?,
        namespace: r.try_get("namespace")?,
        schema: r.try_get("schema")?,
        name: r.try_get("name")?,
        qname: r.try_get("qname")?,
        kind: r.try_get("kind")?,
        owner: r.try_get("owner")?,
        owner_name: r.try_get("owner_name")?,
        rls: r.try_get("rls")?,
        force_rls: r.try_get("force_rls")?,
        has_tenant_column: r.try_get("has_tenant_column")?,
        comment: r.try_get("comment")?,
        parent: r.try_get("parent")?,
    })
}

struct Querier<'a> {
    db: &'a Db,
}

impl Querier<'_> {
    async fn fetch<T>(
        &self,
        concern: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        map: impl Fn(&Row) -> Result<T, tokio_postgres::Error>,
    ) -> anyhow::Result<Avail<T>> {
        let cockroach = self.db.engine.kind == EngineKind::Cockroachdb;
        let rows = match self.db.client.query(sql, params).await {
            Ok(rows) => rows,
            Err(err) if cockroach => {
                return Ok(Err(format!(
                    "{} cannot answer the catalog query for {concern}: {}",
                    self.db.engine.describe(),
                    server_message(&err)
                )))
            }
            Err(err) => {
                return Err(anyhow::anyhow!(server_message(&err)))
                    .with_context(|| format!("verify-rls audit: reading {concern} failed"))
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            match map(row) {
                Ok(v) => out.push(v),
                Err(err) if cockroach => {
                    return Ok(Err(format!(
                        "{} answers the catalog query for {concern} with unexpected types: {err}",
                        self.db.engine.describe()
                    )))
                }
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("verify-rls audit: reading {concern} failed"))
                }
            }
        }
        Ok(Ok(out))
    }
}

// ------------------------------------------------------------------------------------------------
// Evaluation
// ------------------------------------------------------------------------------------------------

/// What the audit concluded.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// Tables examined (tenant schemas, partitions and children, global ones included).
    pub tables: usize,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
}

impl Evaluation {
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.checks.iter().filter_map(Check::finding)
    }
}

/// Decide every rule from the catalog rows.
pub fn evaluate(cat: &Catalog, opts: &VerifyOptions) -> Evaluation {
    let mut out = Evaluation {
        notes: vec![SETTING_NOTE.replace("{setting}", &opts.setting)],
        ..Evaluation::default()
    };
    let tenant = match &cat.tenant {
        Ok(Some(tenant)) => tenant,
        Ok(None) => {
            out.checks.push(Check::fail(
                Suite::Audit,
                format!("{} role {}", rule::TENANT_ROLE_MISSING, opts.tenant_role),
                Finding {
                    rule: rule::TENANT_ROLE_MISSING.into(),
                    object: format!("role {}", opts.tenant_role),
                    command: None,
                    message: format!(
                        "nothing can be proven: no role {} exists, so the sessions of tenants run as some other role that no policy was written for (migrate first, or pass the tenant role)",
                        opts.tenant_role
                    ),
                    fix: format!(
                        "CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS; -- or run arcdb up",
                        sql_ident(&opts.tenant_role)
                    ),
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ));
            return out;
        }
        Err(reason) => {
            out.checks.push(Check::skipped(
                Suite::Audit,
                "audit (all rules)",
                reason.clone(),
            ));
            return out;
        }
    };
    let mut audit = Audit::new(cat, opts, tenant);
    audit.roles();
    audit.tables();
    audit.policies();
    audit.grants_not_governed();
    audit.helpers();
    audit.views();
    audit.definer_functions();
    audit.foreign_keys();
    audit.unique_keys();
    audit.sequences();
    audit.schemas();
    audit.leakproof();
    audit.default_privileges();
    out.tables = audit.table_count();
    out.checks = audit.checks;
    out
}

/// A role the tenant can act as, and how it gets there.
#[derive(Debug, Clone)]
struct Reached {
    role: RoleRow,
    /// Role names from the tenant to this role, both included.
    path: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cmd {
    Select,
    Insert,
    Update,
    Delete,
}

impl Cmd {
    const ALL: [Cmd; 4] = [Cmd::Select, Cmd::Insert, Cmd::Update, Cmd::Delete];
    fn sql(self) -> &'static str {
        match self {
            Cmd::Select => "SELECT",
            Cmd::Insert => "INSERT",
            Cmd::Update => "UPDATE",
            Cmd::Delete => "DELETE",
        }
    }
    fn code(self) -> &'static str {
        match self {
            Cmd::Select => "r",
            Cmd::Insert => "a",
            Cmd::Update => "w",
            Cmd::Delete => "d",
        }
    }
}

fn covers(policy_cmd: &str, cmd: Cmd) -> bool {
    policy_cmd == "*" || policy_cmd == cmd.code()
}

/// The commands whose visible rows a policy's USING decides.
fn read_cmds(policy_cmd: &str) -> Vec<Cmd> {
    [Cmd::Select, Cmd::Update, Cmd::Delete]
        .into_iter()
        .filter(|c| covers(policy_cmd, *c))
        .collect()
}

/// The commands whose new rows a policy's WITH CHECK (or USING standing in) decides.
fn write_cmds(policy_cmd: &str) -> Vec<Cmd> {
    [Cmd::Insert, Cmd::Update]
        .into_iter()
        .filter(|c| covers(policy_cmd, *c))
        .collect()
}

/// The expression PostgreSQL checks new rows with (`QUAL_FOR_WCO` in rowsecurity.c): WITH
/// CHECK, else USING. INSERT policies cannot have a USING.
fn effective_check(p: &PolicyRow) -> Option<&str> {
    p.check.as_deref().or(p.using.as_deref())
}

fn cmd_list(cmds: &[Cmd]) -> String {
    cmds.iter().map(|c| c.sql()).collect::<Vec<_>>().join(", ")
}

/// How a policy reaches the tenant.
enum Applies {
    Direct,
    Public,
    Group(u32),
}

struct Audit<'a> {
    cat: &'a Catalog,
    opts: &'a VerifyOptions,
    tenant: &'a RoleRow,
    /// The tenant and every role it reaches (not PUBLIC).
    reach: BTreeMap<u32, Reached>,
    tables: Vec<&'a TableRow>,
    /// Tables holding tenant rows (every audited table not tagged global).
    tenant_tables: BTreeMap<u32, &'a TableRow>,
    /// Grants by relation, plus the implicit ones of the predefined roles the tenant reaches.
    grants: HashMap<u32, Vec<GrantRow>>,
    helpers: predicate::Helpers,
    checks: Vec<Check>,
}

enum Verdict {
    Pass,
    Fail { risk: String, fix: String },
}

impl<'a> Audit<'a> {
    fn new(cat: &'a Catalog, opts: &'a VerifyOptions, tenant: &'a RoleRow) -> Audit<'a> {
        let mut reach = BTreeMap::new();
        reach.insert(
            tenant.oid,
            Reached {
                role: tenant.clone(),
                path: vec![tenant.name.clone()],
            },
        );
        if let Ok(edges) = &cat.memberships {
            // Breadth first, so each role gets its shortest path.
            let mut queue = VecDeque::from([tenant.oid]);
            while let Some(member) = queue.pop_front() {
                let base = reach[&member].path.clone();
                for edge in edges.iter().filter(|e| e.member == member) {
                    if reach.contains_key(&edge.role.oid) {
                        continue;
                    }
                    let mut path = base.clone();
                    path.push(edge.role.name.clone());
                    reach.insert(
                        edge.role.oid,
                        Reached {
                            role: edge.role.clone(),
                            path,
                        },
                    );
                    queue.push_back(edge.role.oid);
                }
            }
        }
        let tables: Vec<&TableRow> = cat.tables.iter().flatten().collect();
        let tenant_tables = tables
            .iter()
            .filter(|t| global_reason(t).is_none())
            .map(|t| (t.oid, *t))
            .collect();
        let mut grants: HashMap<u32, Vec<GrantRow>> = HashMap::new();
        for g in cat.grants.iter().flatten() {
            grants.entry(g.rel).or_default().push(g.clone());
        }
        // pg_read_all_data / pg_write_all_data (PostgreSQL 14+) hold their privileges on every
        // relation without any ACL entry.
        let relations: Vec<(u32, bool)> = cat
            .tables
            .iter()
            .flatten()
            .map(|t| (t.oid, false))
            .chain(cat.views.iter().flatten().map(|v| (v.oid, false)))
            .chain(cat.sequences.iter().flatten().map(|s| (s.seq, true)))
            .collect();
        for r in reach.values() {
            let privileges: &[&str] = match r.role.name.as_str() {
                "pg_read_all_data" => &["SELECT"],
                "pg_write_all_data" => &["INSERT", "UPDATE", "DELETE"],
                _ => continue,
            };
            for (rel, sequence) in &relations {
                for p in privileges {
                    if *sequence && !matches!(*p, "SELECT" | "UPDATE") {
                        continue;
                    }
                    grants.entry(*rel).or_default().push(GrantRow {
                        rel: *rel,
                        column: None,
                        grantee: r.role.oid,
                        privilege: p.to_string(),
                    });
                }
            }
        }
        let reach_oids: BTreeSet<u32> = reach.keys().copied().collect();
        let helpers =
            predicate::Helpers::new(cat.helpers.iter().flatten().map(|h| predicate::Helper {
                schema: h.schema.clone(),
                name: h.name.clone(),
                accepted: !reach_oids.contains(&h.owner)
                    && predicate::helper_body_ok(&h.language, &h.source, &opts.setting),
                reads_setting: h.source.contains(opts.setting.as_str()),
            }));
        Audit {
            cat,
            opts,
            tenant,
            reach,
            tables,
            tenant_tables,
            grants,
            helpers,
            checks: Vec::new(),
        }
    }

    fn table_count(&self) -> usize {
        self.tables.len()
    }

    fn record(&mut self, rule: &str, object: &str, command: Option<&str>, verdict: Verdict) {
        let name = match command {
            Some(c) => format!("{rule} {object} [{c}]"),
            None => format!("{rule} {object}"),
        };
        self.checks.push(match verdict {
            Verdict::Pass => Check::pass(Suite::Audit, name),
            Verdict::Fail { risk, fix } => Check::fail(
                Suite::Audit,
                name,
                Finding {
                    rule: rule.to_string(),
                    object: object.to_string(),
                    command: command.map(str::to_string),
                    message: risk,
                    fix,
                    severity: Severity::Error,
                    detail: None,
                    location: None,
                },
            ),
        });
    }

    fn skip(&mut self, rules: &[&str], reason: &str) {
        for rule in rules {
            self.checks.push(Check::skipped(
                Suite::Audit,
                format!("{rule} (all objects)"),
                reason,
            ));
        }
    }

    fn tenant_name(&self) -> &str {
        &self.tenant.name
    }

    /// Whether `oid` is the tenant or a role it reaches.
    fn is_tenant(&self, oid: u32) -> bool {
        self.reach.contains_key(&oid)
    }

    /// `PUBLIC`, the tenant, or `role (tenant → a → role)`: who holds something, for messages.
    fn who(&self, oid: u32) -> String {
        if oid == 0 {
            return "PUBLIC (every role, the tenant included)".into();
        }
        match self.reach.get(&oid) {
            Some(r) if oid == self.tenant.oid => r.role.name.clone(),
            Some(r) if is_predefined(&r.role.name) => format!(
                "{} (a predefined role holding its privileges on every relation without a grant; the tenant reaches it through membership: {}; fix with REVOKE {} FROM {})",
                r.role.name,
                r.path.join(" → "),
                sql_ident(&r.path[1]),
                sql_ident(&r.path[0])
            ),
            Some(r) => format!(
                "{} (the tenant reaches it through membership: {})",
                r.role.name,
                r.path.join(" → ")
            ),
            None => format!("role #{oid}"),
        }
    }

    /// The grantee as written in GRANT/REVOKE.
    fn grantee_sql(&self, oid: u32) -> String {
        if oid == 0 {
            return "PUBLIC".into();
        }
        match self.reach.get(&oid) {
            Some(r) => sql_ident(&r.role.name),
            None => format!("\"#{oid}\""),
        }
    }

    /// Grants on `rel` of `privilege` (table-level, or on any column when `any_column`).
    fn holders(&self, rel: u32, privilege: &str, any_column: bool) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .grants
            .get(&rel)
            .into_iter()
            .flatten()
            .filter(|g| g.privilege == privilege && (any_column || g.column.is_none()))
            .map(|g| g.grantee)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn holds(&self, rel: u32, cmd: Cmd) -> Vec<u32> {
        // Column-level SELECT/INSERT/UPDATE grants are real privileges on the table.
        self.holders(rel, cmd.sql(), cmd != Cmd::Delete)
    }

    fn key_column(&self, t: &TableRow) -> &str {
        if self.is_root(t) {
            &self.opts.root_key
        } else {
            &self.opts.tenant_column
        }
    }

    fn is_root(&self, t: &TableRow) -> bool {
        t.name == self.opts.root_table && self.opts.schemas.contains(&t.schema)
    }

    // ---- roles ---------------------------------------------------------------------------------

    fn roles(&mut self) {
        if let Err(reason) = &self.cat.memberships {
            let reason = format!("roles reached through membership not audited: {reason}");
            self.skip(&[rule::ROLE_SUPERUSER, rule::ROLE_BYPASSRLS], &reason);
        }
        let reached: Vec<Reached> = self.reach.values().cloned().collect();
        let tenant = self.tenant_name().to_string();
        for r in reached {
            let object = format!("role {}", r.role.name);
            let direct = r.role.oid == self.tenant.oid;
            let how = if direct {
                format!("every session of {tenant}")
            } else {
                format!(
                    "{tenant} is a member of {} ({}), so a tenant session can SET ROLE {} and",
                    r.role.name,
                    r.path.join(" → "),
                    r.role.name
                )
            };
            let revoke = if direct {
                String::new()
            } else {
                format!(
                    "; or cut the membership: REVOKE {} FROM {};",
                    sql_ident(&r.path[1]),
                    sql_ident(&r.path[0])
                )
            };
            let v = if r.role.superuser {
                Verdict::Fail {
                    risk: format!(
                        "{how} {} a superuser: it bypasses every policy and can read, change or drop every organization's rows (and disable RLS)",
                        if direct { "is" } else { "become" }
                    ),
                    fix: format!("ALTER ROLE {} NOSUPERUSER;{revoke}", sql_ident(&r.role.name)),
                }
            } else {
                Verdict::Pass
            };
            self.record(rule::ROLE_SUPERUSER, &object, None, v);
            let v = if r.role.bypassrls {
                Verdict::Fail {
                    risk: format!(
                        "{how} {} with BYPASSRLS: no policy applies, every organization's rows are readable and writable",
                        if direct { "runs" } else { "run" }
                    ),
                    fix: format!("ALTER ROLE {} NOBYPASSRLS;{revoke}", sql_ident(&r.role.name)),
                }
            } else {
                Verdict::Pass
            };
            self.record(rule::ROLE_BYPASSRLS, &object, None, v);
        }
    }

    // ---- tables: RLS flag, tenant column, ownership ----------------------------------------------

    fn tables(&mut self) {
        if let Err(reason) = &self.cat.tables {
            let reason = reason.clone();
            self.skip(
                &[
                    rule::RLS_DISABLED,
                    rule::TENANT_COLUMN_MISSING,
                    rule::TABLE_OWNED_BY_TENANT,
                    rule::OWNER_NOT_FORCED,
                ],
                &reason,
            );
            return;
        }
        let rls_unsupported = self.cat.rls_unsupported.clone();
        let tenant = self.tenant_name().to_string();
        for t in self.tables.clone() {
            let of = t
                .parent
                .as_ref()
                .map(|p| format!(" (a partition or child of {p}, queried directly with its own RLS settings)"))
                .unwrap_or_default();
            if let Some(reason) = global_reason(t) {
                self.checks.push(Check::pass(
                    Suite::Audit,
                    format!(
                        "{} {} (tagged global: {reason})",
                        rule::RLS_DISABLED,
                        t.qname
                    ),
                ));
                continue;
            }
            match &rls_unsupported {
                Some(reason) => self.checks.push(Check::skipped(
                    Suite::Audit,
                    format!("{} {}", rule::RLS_DISABLED, t.qname),
                    reason.clone(),
                )),
                None => {
                    let v = if t.rls {
                        Verdict::Pass
                    } else {
                        Verdict::Fail {
                            risk: format!(
                                "row-level security is off on {}{of}: its policies are not applied, a tenant with a privilege on it reads or writes every organization's rows",
                                t.qname
                            ),
                            fix: format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY; -- and a policy scoped by {}", t.qname, self.key_column(t)),
                        }
                    };
                    self.record(rule::RLS_DISABLED, &t.qname, None, v);
                }
            }
            if !self.is_root(t) {
                let v = if t.has_tenant_column {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{} has no {} column{of}: no policy can tell whose rows it holds, so whatever it holds is shared by every organization",
                            t.qname, self.opts.tenant_column
                        ),
                        fix: format!(
                            "ALTER TABLE {} ADD COLUMN {} uuid NOT NULL REFERENCES {} (id); -- or, if it is meant to be shared: COMMENT ON TABLE {} IS '{GLOBAL_TAG} <reason>';",
                            t.qname,
                            sql_ident(&self.opts.tenant_column),
                            self.root_qname(),
                            t.qname
                        ),
                    }
                };
                self.record(rule::TENANT_COLUMN_MISSING, &t.qname, None, v);
            }
            let owned = self.is_tenant(t.owner);
            let v = if owned {
                Verdict::Fail {
                    risk: format!(
                        "{} is owned by {}: the owner (and every member of it) can ALTER TABLE … DISABLE ROW LEVEL SECURITY or drop the policies even with FORCE on, and TRUNCATE it",
                        t.qname,
                        self.who(t.owner)
                    ),
                    fix: format!(
                        "ALTER TABLE {} OWNER TO <the migration role>; -- a role {tenant} is not a member of",
                        t.qname
                    ),
                }
            } else {
                Verdict::Pass
            };
            self.record(rule::TABLE_OWNED_BY_TENANT, &t.qname, None, v);
            if owned && rls_unsupported.is_none() {
                let v = if t.force_rls {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{} is owned by {} without FORCE ROW LEVEL SECURITY: as its owner the tenant bypasses every policy and reads and writes every organization's rows",
                            t.qname, t.owner_name
                        ),
                        fix: format!(
                            "ALTER TABLE {} FORCE ROW LEVEL SECURITY; -- and give the table to another owner",
                            t.qname
                        ),
                    }
                };
                self.record(rule::OWNER_NOT_FORCED, &t.qname, None, v);
            }
        }
    }

    fn root_qname(&self) -> String {
        self.tables
            .iter()
            .find(|t| self.is_root(t))
            .map(|t| t.qname.clone())
            .unwrap_or_else(|| sql_ident(&self.opts.root_table))
    }

    // ---- policies --------------------------------------------------------------------------------

    fn applies(&self, p: &PolicyRow) -> Option<Applies> {
        if p.roles.contains(&self.tenant.oid) {
            return Some(Applies::Direct);
        }
        if p.roles.contains(&0) {
            return Some(Applies::Public);
        }
        p.roles
            .iter()
            .filter(|r| self.is_tenant(**r))
            .min_by_key(|r| self.reach[r].path.len())
            .map(|r| Applies::Group(*r))
    }

    fn describe_applies(&self, a: &Applies) -> String {
        match a {
            Applies::Direct => format!("applies to {}", self.tenant.name),
            Applies::Public => format!(
                "applies to PUBLIC, hence to {} (a policy without TO is a policy TO PUBLIC)",
                self.tenant.name
            ),
            Applies::Group(r) => {
                let reached = &self.reach[r];
                format!(
                    "is written TO {} and reaches {} through membership ({})",
                    reached.role.name,
                    self.tenant.name,
                    reached.path.join(" → ")
                )
            }
        }
    }

    fn scope_for<'s>(&'s self, t: &'s TableRow) -> predicate::Scope<'s> {
        predicate::Scope {
            column: self.key_column(t),
            qualifier: Some(&t.name),
            setting: &self.opts.setting,
            helpers: &self.helpers,
        }
    }

    fn policies(&mut self) {
        let policy_rules = [
            rule::POLICY_UNSCOPED,
            rule::POLICY_GROUP_UNSCOPED,
            rule::POLICY_CHECK_UNSCOPED,
            rule::POLICY_CHECK_MISSING,
            rule::COMMAND_WITHOUT_POLICY,
        ];
        let policies: Vec<&PolicyRow> = match &self.cat.policies {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&policy_rules, &reason);
                return;
            }
        };
        let tables: Vec<&TableRow> = self.tenant_tables.values().copied().collect();
        for t in tables {
            let scope = self.scope_for(t);
            let mine: Vec<(&PolicyRow, Applies)> = policies
                .iter()
                .filter(|p| p.table == t.oid)
                .filter_map(|p| self.applies(p).map(|a| (*p, a)))
                .collect();
            // Restrictive policies that scope are a floor for the commands they cover.
            let mut floor_read = BTreeSet::new();
            let mut floor_write = BTreeSet::new();
            for (p, _) in mine.iter().filter(|(p, _)| !p.permissive) {
                if p.using
                    .as_deref()
                    .is_some_and(|e| predicate::scoped(e, &scope))
                {
                    floor_read.extend(read_cmds(&p.cmd));
                }
                if effective_check(p).is_some_and(|e| predicate::scoped(e, &scope)) {
                    floor_write.extend(write_cmds(&p.cmd));
                }
            }
            let mut results = Vec::new();
            for (p, applies) in mine.iter().filter(|(p, _)| p.permissive) {
                let object = format!("policy {} on {}", sql_ident(&p.name), t.qname);
                let how = self.describe_applies(applies);
                let reads = read_cmds(&p.cmd);
                if !reads.is_empty() {
                    let open: Vec<Cmd> = reads
                        .iter()
                        .copied()
                        .filter(|c| !floor_read.contains(c))
                        .collect();
                    let rule = match applies {
                        Applies::Group(_) => rule::POLICY_GROUP_UNSCOPED,
                        _ => rule::POLICY_UNSCOPED,
                    };
                    let v = match p.using.as_deref() {
                        Some(e) if !predicate::scoped(e, &scope) && !open.is_empty() => {
                            Verdict::Fail {
                                risk: format!(
                                    "this permissive policy {how}, and its USING ({e}) does not limit rows to the current organization: {}; permissive policies are OR-ed, so a tenant can {} rows of every organization",
                                    predicate::diagnose(e, &scope),
                                    read_verbs(&open)
                                ),
                                fix: policy_fix(p, t, &scope, &self.tenant.name, false),
                            }
                        }
                        _ => Verdict::Pass,
                    };
                    results.push((rule, object.clone(), cmd_list(&reads), v));
                }
                let writes = write_cmds(&p.cmd);
                if !writes.is_empty() {
                    let open: Vec<Cmd> = writes
                        .iter()
                        .copied()
                        .filter(|c| !floor_write.contains(c))
                        .collect();
                    match effective_check(p) {
                        None => {
                            let v = Verdict::Fail {
                                risk: format!(
                                    "this {} policy {how} and has neither WITH CHECK nor USING for its new rows: PostgreSQL then checks them against false, so nothing can be inserted through it — the organization check it was meant to carry is missing (the application's inserts fail, and a later \"fix\" of WITH CHECK (true) would open the table)",
                                    cmd_list(&writes)
                                ),
                                fix: format!(
                                    "ALTER POLICY {} ON {} WITH CHECK ({} = (SELECT {}));",
                                    sql_ident(&p.name),
                                    t.qname,
                                    sql_ident(scope.column),
                                    self.helper_call()
                                ),
                            };
                            results.push((
                                rule::POLICY_CHECK_MISSING,
                                object.clone(),
                                cmd_list(&writes),
                                v,
                            ));
                        }
                        Some(e) => {
                            let stand_in = if p.check.is_none() {
                                " (it has no WITH CHECK, so its USING checks new rows)"
                            } else {
                                ""
                            };
                            let v = if !predicate::scoped(e, &scope) && !open.is_empty() {
                                Verdict::Fail {
                                    risk: format!(
                                        "this permissive policy {how}, and the check of its new rows ({e}){stand_in} does not limit them to the current organization: {}; a tenant can {}",
                                        predicate::diagnose(e, &scope),
                                        write_verbs(&open)
                                    ),
                                    fix: policy_fix(p, t, &scope, &self.tenant.name, true),
                                }
                            } else {
                                Verdict::Pass
                            };
                            results.push((
                                rule::POLICY_CHECK_UNSCOPED,
                                object.clone(),
                                cmd_list(&writes),
                                v,
                            ));
                        }
                    }
                }
            }
            let restrictive: Vec<String> = mine
                .iter()
                .filter(|(p, _)| !p.permissive)
                .map(|(p, _)| {
                    format!(
                        "{} policy {} on {} (restrictive: narrows only)",
                        rule::POLICY_UNSCOPED,
                        sql_ident(&p.name),
                        t.qname
                    )
                })
                .collect();
            // Each command the tenant holds must be governed by a permissive policy.
            let mut governed_results = Vec::new();
            for cmd in Cmd::ALL {
                let holders = self.holds(t.oid, cmd);
                if holders.is_empty() {
                    continue;
                }
                let governed = mine.iter().any(|(p, _)| {
                    p.permissive
                        && covers(&p.cmd, cmd)
                        && match cmd {
                            Cmd::Insert => effective_check(p).is_some(),
                            _ => p.using.is_some(),
                        }
                });
                let v = if governed {
                    Verdict::Pass
                } else {
                    let grantees: Vec<String> = holders.iter().map(|h| self.who(*h)).collect();
                    Verdict::Fail {
                        risk: format!(
                            "{} holds {} on {} but no permissive policy that applies to the tenant governs {}: PostgreSQL then admits no row (default deny), so the grant is either dead or a policy meant to scope it is missing or written for another role",
                            grantees.join(", "),
                            cmd.sql(),
                            t.qname,
                            cmd.sql()
                        ),
                        fix: format!(
                            "CREATE POLICY {}_{}_tenant ON {} FOR {} TO {} {}; -- or REVOKE {} ON {} FROM {};",
                            t.name,
                            cmd.sql().to_lowercase(),
                            t.qname,
                            cmd.sql(),
                            sql_ident(&self.tenant.name),
                            match cmd {
                                Cmd::Insert => format!("WITH CHECK ({} = (SELECT {}))", sql_ident(scope.column), self.helper_call()),
                                Cmd::Update => format!("USING ({c} = (SELECT {h})) WITH CHECK ({c} = (SELECT {h}))", c = sql_ident(scope.column), h = self.helper_call()),
                                _ => format!("USING ({} = (SELECT {}))", sql_ident(scope.column), self.helper_call()),
                            },
                            cmd.sql(),
                            t.qname,
                            holders.iter().map(|h| self.grantee_sql(*h)).collect::<Vec<_>>().join(", ")
                        ),
                    }
                };
                governed_results.push((cmd, v));
            }
            for name in restrictive {
                self.checks.push(Check::pass(Suite::Audit, name));
            }
            for (rule, object, cmds, v) in results {
                self.record(rule, &object, Some(&cmds), v);
            }
            if let Err(reason) = &self.cat.grants {
                self.checks.push(Check::skipped(
                    Suite::Audit,
                    format!("{} {}", rule::COMMAND_WITHOUT_POLICY, t.qname),
                    format!("the privileges could not be read: {reason}"),
                ));
                continue;
            }
            for (cmd, v) in governed_results {
                if !t.rls {
                    self.checks.push(Check::skipped(
                        Suite::Audit,
                        format!(
                            "{} {} [{}]",
                            rule::COMMAND_WITHOUT_POLICY,
                            t.qname,
                            cmd.sql()
                        ),
                        format!(
                            "row-level security is off on {} (see {})",
                            t.qname,
                            rule::RLS_DISABLED
                        ),
                    ));
                } else {
                    self.record(rule::COMMAND_WITHOUT_POLICY, &t.qname, Some(cmd.sql()), v);
                }
            }
        }
    }

    /// The helper to recommend in fixes: an accepted one if any, else the setting read inline.
    fn helper_call(&self) -> String {
        self.helpers
            .accepted_names()
            .into_iter()
            .next()
            .map(|(schema, name)| format!("{}.{}()", sql_ident(&schema), sql_ident(&name)))
            .unwrap_or_else(|| {
                format!(
                    "NULLIF(current_setting('{}', true), '')::uuid",
                    self.opts.setting.replace('\'', "''")
                )
            })
    }

    // ---- TRUNCATE / TRIGGER / REFERENCES ---------------------------------------------------------

    fn grants_not_governed(&mut self) {
        if let Err(reason) = &self.cat.grants {
            let reason = reason.clone();
            self.skip(
                &[
                    rule::GRANT_TRUNCATE,
                    rule::GRANT_TRIGGER,
                    rule::GRANT_REFERENCES,
                ],
                &reason,
            );
            return;
        }
        let tables: Vec<&TableRow> = self.tenant_tables.values().copied().collect();
        for t in tables {
            for (rule, privilege, any_column, what) in [
                (
                    rule::GRANT_TRUNCATE,
                    "TRUNCATE",
                    false,
                    "TRUNCATE ignores row-level security: a tenant can empty the table for every organization",
                ),
                (
                    rule::GRANT_TRIGGER,
                    "TRIGGER",
                    false,
                    "a tenant can attach a trigger whose function sees (and can copy or change) every organization's rows as they are written",
                ),
                (
                    rule::GRANT_REFERENCES,
                    "REFERENCES",
                    true,
                    "foreign-key checks ignore row-level security: a tenant can create a table referencing this one and probe which keys exist in other organizations (and block their deletes)",
                ),
            ] {
                // The owner's implicit privileges are the ownership finding's business.
                let holders: Vec<u32> = self
                    .holders(t.oid, privilege, any_column)
                    .into_iter()
                    .filter(|h| *h != t.owner)
                    .collect();
                let v = if holders.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{} holds {privilege} on {}: {what}",
                            holders.iter().map(|h| self.who(*h)).collect::<Vec<_>>().join(", "),
                            t.qname
                        ),
                        fix: format!(
                            "REVOKE {privilege} ON {} FROM {};",
                            t.qname,
                            holders.iter().map(|h| self.grantee_sql(*h)).collect::<Vec<_>>().join(", ")
                        ),
                    }
                };
                self.record(rule, &t.qname, Some(privilege), v);
            }
        }
    }

    // ---- organization helpers --------------------------------------------------------------------

    /// Helpers that policies or views call, which read the setting but are not accepted.
    fn helpers(&mut self) {
        let rows: Vec<&HelperRow> = match &self.cat.helpers {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::ORG_HELPER_UNSAFE], &reason);
                return;
            }
        };
        let mut called: BTreeSet<(Option<String>, String)> = BTreeSet::new();
        for p in self.cat.policies.iter().flatten() {
            for e in [&p.using, &p.check].into_iter().flatten() {
                called.extend(predicate::zero_arg_calls(e));
            }
        }
        for v in self.cat.views.iter().flatten() {
            if let Some(d) = &v.definition {
                called.extend(predicate::zero_arg_calls(d));
            }
        }
        let reach: BTreeSet<u32> = self.reach.keys().copied().collect();
        for h in rows {
            let is_called = called.iter().any(|(schema, name)| {
                *name == h.name && schema.as_ref().is_none_or(|s| *s == h.schema)
            });
            if !is_called || !h.source.contains(self.opts.setting.as_str()) {
                continue;
            }
            let owned = reach.contains(&h.owner);
            let body_ok = predicate::helper_body_ok(&h.language, &h.source, &self.opts.setting);
            let object = format!("function {}", h.qname);
            let v = if body_ok && !owned {
                Verdict::Pass
            } else {
                let why = if owned {
                    format!(
                        "the tenant owns it ({}), so it can redefine it to return any organization",
                        self.who(h.owner)
                    )
                } else {
                    format!(
                        "its body ({}) is not one of the accepted readings of {} (current_setting, NULLIF(…, ''), casts): a fallback or NULL test there decides what an unset or empty setting sees",
                        h.source.trim(),
                        self.opts.setting
                    )
                };
                Verdict::Fail {
                    risk: format!(
                        "policies and views compare the tenant column with {}(), but {why}; every one of them is then reported as not scoping",
                        h.name
                    ),
                    fix: format!(
                        // No SET clause: a SQL function with one is never inlined, and this
                        // one is called by every tenant statement (migration 0006).
                        "CREATE OR REPLACE FUNCTION {}() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT NULLIF(pg_catalog.current_setting('{}', true), '')::uuid $$;{}",
                        h.qname.trim_end_matches("()"),
                        self.opts.setting.replace('\'', "''"),
                        if owned { " -- and ALTER FUNCTION … OWNER TO the migration role" } else { "" }
                    ),
                }
            };
            self.record(rule::ORG_HELPER_UNSAFE, &object, None, v);
        }
    }

    // ---- views and materialized views ------------------------------------------------------------

    /// Relations holding tenant rows: the tenant tables, and every view or materialized view
    /// reading one of them, transitively.
    fn tenant_relations(&self) -> BTreeSet<u32> {
        let mut set: BTreeSet<u32> = self.tenant_tables.keys().copied().collect();
        let views: Vec<&ViewRow> = self.cat.views.iter().flatten().collect();
        loop {
            let before = set.len();
            for v in &views {
                if v.refs.iter().any(|r| set.contains(r)) {
                    set.insert(v.oid);
                }
            }
            if set.len() == before {
                return set;
            }
        }
    }

    fn views(&mut self) {
        let views: Vec<&ViewRow> = match &self.cat.views {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(
                    &[
                        rule::VIEW_UNSCOPED,
                        rule::VIEW_NOT_SECURITY_BARRIER,
                        rule::VIEW_WRITABLE,
                        rule::MATVIEW_READABLE,
                    ],
                    &reason,
                );
                return;
            }
        };
        if let Err(reason) = &self.cat.grants {
            let reason = reason.clone();
            self.skip(
                &[
                    rule::VIEW_UNSCOPED,
                    rule::VIEW_NOT_SECURITY_BARRIER,
                    rule::VIEW_WRITABLE,
                    rule::MATVIEW_READABLE,
                ],
                &reason,
            );
            return;
        }
        let tenant_rels = self.tenant_relations();
        let names = self.relation_names();
        for v in views {
            if !tenant_rels.contains(&v.oid) {
                continue;
            }
            let bases: Vec<String> = v
                .refs
                .iter()
                .filter(|r| tenant_rels.contains(r))
                .filter_map(|r| names.get(r).cloned())
                .collect();
            let bases = bases.join(", ");
            let readers = self.holds(v.oid, Cmd::Select);
            let readers_text = readers
                .iter()
                .map(|h| self.who(*h))
                .collect::<Vec<_>>()
                .join(", ");
            let revoke_select = format!(
                "REVOKE SELECT ON {} FROM {};",
                v.qname,
                readers
                    .iter()
                    .map(|h| self.grantee_sql(*h))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if v.kind == "m" {
                let object = format!("materialized view {}", v.qname);
                let verdict = if readers.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail {
                        risk: format!(
                            "{readers_text} can SELECT {}, which materializes rows of {bases} for every organization: materialized views have no row-level security",
                            v.qname
                        ),
                        fix: format!(
                            "{revoke_select} -- let tenants read it through a security_barrier view WHERE {} = (SELECT {})",
                            sql_ident(&self.opts.tenant_column),
                            self.helper_call()
                        ),
                    }
                };
                self.record(rule::MATVIEW_READABLE, &object, Some("SELECT"), verdict);
                continue;
            }
            let object = format!("view {}", v.qname);
            let invoker = reloption(&v.options, "security_invoker");
            let barrier = reloption(&v.options, "security_barrier");
            let check_option = v.options.iter().any(|o| o.starts_with("check_option="));
            let scope = predicate::Scope {
                column: &self.opts.tenant_column,
                qualifier: None,
                setting: &self.opts.setting,
                helpers: &self.helpers,
            };
            let scoped = v
                .definition
                .as_deref()
                .is_some_and(|d| predicate::view_scoped(d, &scope));
            if invoker {
                self.record(rule::VIEW_UNSCOPED, &object, Some("SELECT"), Verdict::Pass);
                continue;
            }
            if !readers.is_empty() {
                let verdict = if !scoped {
                    Verdict::Fail {
                        risk: format!(
                            "{readers_text} can SELECT {}, which runs with the rights of its owner {} (not security_invoker) and does not filter by organization: a tenant reads the rows of {bases} of every organization",
                            v.qname, v.owner_name
                        ),
                        fix: format!(
                            "ALTER VIEW {} SET (security_invoker = true); -- PostgreSQL 15+; or add WHERE {} = (SELECT {}) with security_barrier, or {revoke_select}",
                            v.qname,
                            sql_ident(&self.opts.tenant_column),
                            self.helper_call()
                        ),
                    }
                } else {
                    Verdict::Pass
                };
                self.record(rule::VIEW_UNSCOPED, &object, Some("SELECT"), verdict);
                if scoped {
                    let verdict = if barrier {
                        Verdict::Pass
                    } else {
                        Verdict::Fail {
                            risk: format!(
                                "{} filters by organization but is not a security_barrier view and runs as its owner {}: a tenant's own WHERE clause with a leaky function (one it writes, raising a notice per row) can be evaluated before the organization filter and see the rows of {bases} of other organizations",
                                v.qname, v.owner_name
                            ),
                            fix: format!("ALTER VIEW {} SET (security_barrier = true);", v.qname),
                        }
                    };
                    self.record(
                        rule::VIEW_NOT_SECURITY_BARRIER,
                        &object,
                        Some("SELECT"),
                        verdict,
                    );
                }
            } else {
                self.record(rule::VIEW_UNSCOPED, &object, Some("SELECT"), Verdict::Pass);
            }
            let mut writes: Vec<(Cmd, Vec<u32>)> = Vec::new();
            for cmd in [Cmd::Insert, Cmd::Update, Cmd::Delete] {
                let h = self.holds(v.oid, cmd);
                if !h.is_empty() {
                    writes.push((cmd, h));
                }
            }
            if writes.is_empty() {
                continue;
            }
            let only_delete = writes.iter().all(|(c, _)| *c == Cmd::Delete);
            let ok = scoped && (only_delete || check_option);
            let cmds: Vec<Cmd> = writes.iter().map(|(c, _)| *c).collect();
            let verdict = if ok {
                Verdict::Pass
            } else {
                let mut holders: Vec<u32> = writes.iter().flat_map(|(_, h)| h.clone()).collect();
                holders.sort_unstable();
                holders.dedup();
                Verdict::Fail {
                    risk: format!(
                        "{} can {} through {}, which writes to {bases} with the rights of its owner {} (RLS of the owner, usually none): {}",
                        holders.iter().map(|h| self.who(*h)).collect::<Vec<_>>().join(", "),
                        cmd_list(&cmds),
                        v.qname,
                        v.owner_name,
                        if scoped {
                            "new rows are not checked against the view's organization filter (no WITH CHECK OPTION), so a tenant can write rows for another organization"
                        } else {
                            "the view does not filter by organization, so a tenant can change or write rows of every organization"
                        }
                    ),
                    fix: format!(
                        "REVOKE INSERT, UPDATE, DELETE ON {} FROM {}; -- or ALTER VIEW {} SET (security_invoker = true) / (check_option = cascaded) with an organization filter",
                        v.qname,
                        holders.iter().map(|h| self.grantee_sql(*h)).collect::<Vec<_>>().join(", "),
                        v.qname
                    ),
                }
            };
            self.record(
                rule::VIEW_WRITABLE,
                &object,
                Some(&cmd_list(&cmds)),
                verdict,
            );
        }
    }

    fn relation_names(&self) -> HashMap<u32, String> {
        let mut names: HashMap<u32, String> = self
            .tables
            .iter()
            .map(|t| (t.oid, t.qname.clone()))
            .collect();
        for v in self.cat.views.iter().flatten() {
            names.insert(v.oid, v.qname.clone());
        }
        names
    }

    // ---- SECURITY DEFINER functions --------------------------------------------------------------

    fn definer_functions(&mut self) {
        let functions: Vec<&FunctionRow> = match &self.cat.functions {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(
                    &[rule::DEFINER_FUNCTION_UNSCOPED, rule::DEFINER_SEARCH_PATH],
                    &reason,
                );
                return;
            }
        };
        let tenant_rels = self.tenant_relations();
        let names = self.relation_names();
        // Relation names to look for in function sources (bodies other than SQL-standard ones
        // record no dependencies).
        let mut rel_words: Vec<(u32, String)> = self
            .tenant_tables
            .values()
            .map(|t| (t.oid, t.name.to_lowercase()))
            .collect();
        for v in self.cat.views.iter().flatten() {
            if tenant_rels.contains(&v.oid) {
                rel_words.push((v.oid, v.name.to_lowercase()));
            }
        }
        let views: HashMap<u32, &ViewRow> = self
            .cat
            .views
            .iter()
            .flatten()
            .map(|v| (v.oid, v))
            .collect();
        for f in functions {
            // Reachable: EXECUTE for one of the tenant's roles or PUBLIC, or fired by a trigger
            // on a tenant table the tenant writes to.
            let fired_on: Vec<String> = self
                .cat
                .triggers
                .iter()
                .flatten()
                .filter(|tr| tr.function == f.oid)
                .filter(|tr| {
                    self.tenant_tables.contains_key(&tr.table)
                        && (self.cat.grants.is_err()
                            || [Cmd::Insert, Cmd::Update, Cmd::Delete]
                                .iter()
                                .any(|c| !self.holds(tr.table, *c).is_empty()))
                })
                .map(|tr| {
                    format!(
                        "trigger {} on {}",
                        tr.name,
                        names.get(&tr.table).cloned().unwrap_or_default()
                    )
                })
                .collect();
            let executors: Vec<u32> = f
                .executable_by
                .iter()
                .copied()
                .filter(|r| *r == 0 || self.is_tenant(*r))
                .collect();
            if executors.is_empty() && fired_on.is_empty() {
                continue;
            }
            let mut reach_text = Vec::new();
            if !executors.is_empty() {
                reach_text.push(format!(
                    "EXECUTE is granted to {}",
                    executors
                        .iter()
                        .map(|r| self.who(*r))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !fired_on.is_empty() {
                reach_text.push(format!(
                    "it fires on tenant writes ({})",
                    fired_on.join(", ")
                ));
            }
            let reach_text = reach_text.join("; ");
            let revoke = if executors.is_empty() {
                String::new()
            } else {
                format!(
                    "REVOKE EXECUTE ON {} FROM {}; ",
                    f.signature,
                    executors
                        .iter()
                        .map(|r| self.grantee_sql(*r))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            // search_path
            let pinned = f.config.iter().any(|c| c.starts_with("search_path="));
            let v = if pinned {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk: format!(
                        "{} runs with the rights of {} and {reach_text}, but its search_path is the caller's: a tenant can shadow the tables or functions it names (a temporary table in pg_temp, or an object in a schema it can create in) and make it act on what the tenant chooses with its owner's rights",
                        f.signature, f.owner_name
                    ),
                    fix: format!(
                        "ALTER {} SET search_path = pg_catalog, {}, pg_temp;",
                        f.signature,
                        self.opts.schemas.iter().map(|s| sql_ident(s)).collect::<Vec<_>>().join(", ")
                    ),
                }
            };
            self.record(rule::DEFINER_SEARCH_PATH, &f.signature, None, v);
            // reads tenant relations?
            let source = f.source.to_lowercase();
            let mut touched: BTreeSet<u32> = f
                .refs
                .iter()
                .copied()
                .filter(|r| tenant_rels.contains(r))
                .collect();
            for (oid, word) in &rel_words {
                if contains_word(&source, word) {
                    touched.insert(*oid);
                }
            }
            if touched.is_empty() {
                self.record(
                    rule::DEFINER_FUNCTION_UNSCOPED,
                    &f.signature,
                    None,
                    Verdict::Pass,
                );
                continue;
            }
            let bypass_on: Vec<String> = touched
                .iter()
                .filter(|oid| {
                    if f.owner_superuser || f.owner_bypassrls {
                        return true;
                    }
                    if let Some(t) = self.tenant_tables.get(oid) {
                        return f.owner_of.contains(&t.owner) && !t.force_rls;
                    }
                    // A view runs as its owner and a materialized view has no RLS.
                    !views
                        .get(oid)
                        .is_some_and(|v| reloption(&v.options, "security_invoker"))
                })
                .filter_map(|oid| names.get(oid).cloned())
                .collect();
            if bypass_on.is_empty() {
                self.record(
                    rule::DEFINER_FUNCTION_UNSCOPED,
                    &f.signature,
                    None,
                    Verdict::Pass,
                );
                continue;
            }
            let column = self.opts.tenant_column.to_lowercase();
            let filters = contains_word(&source, &column)
                && (source.contains(&self.opts.setting.to_lowercase())
                    || self
                        .helpers
                        .accepted_names()
                        .iter()
                        .any(|(_, n)| contains_word(&source, &n.to_lowercase())));
            let owner_why = if f.owner_superuser {
                "a superuser".to_string()
            } else if f.owner_bypassrls {
                "a BYPASSRLS role".to_string()
            } else {
                "the owner (or a member of the owner) of tables without FORCE ROW LEVEL SECURITY, or of views".to_string()
            };
            let v = if filters {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk: format!(
                        "{} is SECURITY DEFINER, owned by {} ({owner_why}), and reads {} without filtering by {} = the current organization; {reach_text}: a tenant gets rows of every organization through it",
                        f.signature,
                        f.owner_name,
                        bypass_on.join(", "),
                        self.opts.tenant_column
                    ),
                    fix: format!(
                        "{revoke}ALTER {} SECURITY INVOKER; -- or filter every query in it by {} = (SELECT {})",
                        f.signature,
                        sql_ident(&self.opts.tenant_column),
                        self.helper_call()
                    ),
                }
            };
            self.record(rule::DEFINER_FUNCTION_UNSCOPED, &f.signature, None, v);
        }
    }

    // ---- keys ------------------------------------------------------------------------------------

    fn foreign_keys(&mut self) {
        let fks: Vec<&ForeignKeyRow> = match &self.cat.foreign_keys {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::FK_UNSCOPED], &reason);
                return;
            }
        };
        for fk in fks {
            let (Some(child), Some(parent)) = (
                self.tenant_tables.get(&fk.table).copied(),
                self.tenant_tables.get(&fk.ref_table).copied(),
            ) else {
                continue;
            };
            let (ck, pk) = (self.key_column(child), self.key_column(parent));
            let scoped = fk
                .columns
                .iter()
                .zip(&fk.ref_columns)
                .any(|(c, p)| c == ck && p == pk);
            let object = format!("constraint {} on {}", sql_ident(&fk.name), child.qname);
            let v = if scoped {
                Verdict::Pass
            } else {
                let cols: Vec<String> = fk.columns.iter().map(|c| sql_ident(c)).collect();
                let refs: Vec<String> = fk.ref_columns.iter().map(|c| sql_ident(c)).collect();
                Verdict::Fail {
                    risk: format!(
                        "({}) → {} ({}) leaves out {}: foreign-key checks ignore row-level security, so a tenant can point its rows of {} at rows of {} in another organization (corrupting that organization's data and aggregates) and learn from the error whether an id exists there",
                        fk.columns.join(", "),
                        parent.qname,
                        fk.ref_columns.join(", "),
                        ck,
                        child.qname,
                        parent.qname
                    ),
                    fix: format!(
                        "ALTER TABLE {} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} FOREIGN KEY ({}, {}) REFERENCES {} ({}, {}); -- needs UNIQUE ({}, {}) on {}",
                        child.qname,
                        sql_ident(ck),
                        cols.join(", "),
                        parent.qname,
                        sql_ident(pk),
                        refs.join(", "),
                        sql_ident(pk),
                        refs.join(", "),
                        parent.qname,
                        c = sql_ident(&fk.name)
                    ),
                }
            };
            self.record(rule::FK_UNSCOPED, &object, None, v);
        }
    }

    fn unique_keys(&mut self) {
        let keys: Vec<&UniqueRow> = match &self.cat.unique_keys {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::UNIQUE_UNSCOPED], &reason);
                return;
            }
        };
        for u in keys {
            let Some(t) = self.tenant_tables.get(&u.table).copied() else {
                continue;
            };
            let key = self.key_column(t);
            let object = match &u.constraint_name {
                Some(c) => format!("constraint {} on {}", sql_ident(c), t.qname),
                None => format!("index {} on {}", u.index_qname, t.qname),
            };
            let tag = [&u.constraint_comment, &u.index_comment]
                .into_iter()
                .flatten()
                .find_map(|c| tag_reason(c, PLATFORM_UNIQUE_TAG));
            if u.columns.iter().any(|c| c == key) {
                self.record(rule::UNIQUE_UNSCOPED, &object, None, Verdict::Pass);
                continue;
            }
            if let Some(reason) = tag {
                self.checks.push(Check::pass(
                    Suite::Audit,
                    format!(
                        "{} {object} (tagged platform-unique: {reason})",
                        rule::UNIQUE_UNSCOPED
                    ),
                ));
                continue;
            }
            let kind = if u.is_primary {
                "primary key"
            } else if u.constraint_name.is_some() {
                "unique constraint"
            } else {
                "unique index"
            };
            let cols: Vec<String> = u.columns.iter().map(|c| sql_ident(c)).collect();
            let tag_sql = match &u.constraint_name {
                Some(c) => format!(
                    "COMMENT ON CONSTRAINT {} ON {} IS '{PLATFORM_UNIQUE_TAG} <why this must be unique across organizations>';",
                    sql_ident(c),
                    t.qname
                ),
                None => format!(
                    "COMMENT ON INDEX {} IS '{PLATFORM_UNIQUE_TAG} <why this must be unique across organizations>';",
                    u.index_qname
                ),
            };
            let scope_sql = match (&u.constraint_name, u.is_primary) {
                (Some(c), true) => format!(
                    "ALTER TABLE {} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} PRIMARY KEY ({}, {});",
                    t.qname,
                    sql_ident(key),
                    cols.join(", "),
                    c = sql_ident(c)
                ),
                (Some(c), false) => format!(
                    "ALTER TABLE {} DROP CONSTRAINT {c}, ADD CONSTRAINT {c} UNIQUE ({}, {});",
                    t.qname,
                    sql_ident(key),
                    cols.join(", "),
                    c = sql_ident(c)
                ),
                (None, _) => format!(
                    "DROP INDEX {}; CREATE UNIQUE INDEX {} ON {} ({}, {}){};",
                    u.index_qname,
                    sql_ident(&u.index_name),
                    t.qname,
                    sql_ident(key),
                    cols.join(", "),
                    if u.partial {
                        " WHERE <same predicate>"
                    } else {
                        ""
                    }
                ),
            };
            let (rule, risk) = if u.surrogate {
                (
                    rule::UNIQUE_SURROGATE_UNSCOPED,
                    format!(
                        "the {kind} on {} ({}) spans every organization: its values are random surrogates no tenant can guess, so the duplicate-key side channel is theoretical, but the tenant column belongs in every key (defence in depth, and the table distributes by tenant)",
                        t.qname,
                        u.columns.join(", ")
                    ),
                )
            } else {
                (
                    rule::UNIQUE_UNSCOPED,
                    format!(
                        "the {kind} on {} ({}) spans every organization and unique checks ignore row-level security: a tenant that inserts a value another organization already uses gets a duplicate-key error, which tells it that the value exists there",
                        t.qname,
                        u.columns.join(", ")
                    ),
                )
            };
            let v = Verdict::Fail {
                risk,
                fix: format!("{scope_sql} -- or, if it must be platform-wide: {tag_sql}"),
            };
            self.record(rule, &object, None, v);
        }
    }

    // ---- sequences -------------------------------------------------------------------------------

    fn sequences(&mut self) {
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

    // ---- schemas, LEAKPROOF, default privileges --------------------------------------------------

    fn schemas(&mut self) {
        let schemas: Vec<&SchemaRow> = match &self.cat.schemas {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::SCHEMA_CREATE], &reason);
                return;
            }
        };
        let holding: BTreeSet<u32> = self.tenant_tables.values().map(|t| t.namespace).collect();
        for s in schemas {
            if !holding.contains(&s.oid) {
                continue;
            }
            let creators: Vec<u32> = s
                .create_by
                .iter()
                .copied()
                .filter(|r| *r == 0 || self.is_tenant(*r))
                .collect();
            let object = format!("schema {}", s.qname);
            let v = if creators.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail {
                    risk: format!(
                        "{} can CREATE in {}, which holds tenant tables: a tenant can create functions and tables there that shadow the ones policies, views and unpinned functions call (search_path), or own a table it then controls",
                        creators.iter().map(|r| self.who(*r)).collect::<Vec<_>>().join(", "),
                        s.qname
                    ),
                    fix: format!(
                        "REVOKE CREATE ON SCHEMA {} FROM {};",
                        s.qname,
                        creators.iter().map(|r| self.grantee_sql(*r)).collect::<Vec<_>>().join(", ")
                    ),
                }
            };
            self.record(rule::SCHEMA_CREATE, &object, Some("CREATE"), v);
        }
    }

    fn leakproof(&mut self) {
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

    fn default_privileges(&mut self) {
        let rows: Vec<&DefaultAclRow> = match &self.cat.default_acls {
            Ok(rows) => rows.iter().collect(),
            Err(reason) => {
                let reason = reason.clone();
                self.skip(&[rule::DEFAULT_PRIVILEGES], &reason);
                return;
            }
        };
        let rows: Vec<&DefaultAclRow> = rows
            .into_iter()
            .filter(|d| d.grantee == 0 || self.is_tenant(d.grantee))
            .collect();
        if rows.is_empty() {
            self.checks.push(Check::pass(
                Suite::Audit,
                format!(
                    "{} (none grant the tenant or PUBLIC)",
                    rule::DEFAULT_PRIVILEGES
                ),
            ));
        }
        for d in rows {
            let what = if d.objtype == "S" {
                "sequences"
            } else {
                "tables"
            };
            let object = match &d.schema {
                Some(s) => format!(
                    "default privileges of role {} in schema {} on {what}",
                    d.owner_name, s
                ),
                None => format!("default privileges of role {} on {what}", d.owner_name),
            };
            let in_schema = d
                .schema
                .as_ref()
                .map(|s| format!(" IN SCHEMA {}", sql_ident(s)))
                .unwrap_or_default();
            self.record(
                rule::DEFAULT_PRIVILEGES,
                &object,
                Some(&d.privileges.join(", ")),
                Verdict::Fail {
                    risk: format!(
                        "every {} that {} creates later{} is granted {} to {} at once, before anyone enables row-level security or writes a policy on it: a new table is readable or writable by tenants for every organization from its first row",
                        &what[..what.len() - 1],
                        d.owner_name,
                        d.schema.as_ref().map(|s| format!(" in schema {s}")).unwrap_or_default(),
                        d.privileges.join(", "),
                        self.who(d.grantee)
                    ),
                    fix: format!(
                        "ALTER DEFAULT PRIVILEGES FOR ROLE {}{in_schema} REVOKE ALL ON {} FROM {};",
                        sql_ident(&d.owner_name),
                        what.to_uppercase(),
                        self.grantee_sql(d.grantee)
                    ),
                },
            );
        }
    }
}

fn read_verbs(cmds: &[Cmd]) -> String {
    cmds.iter()
        .map(|c| match c {
            Cmd::Select => "read",
            Cmd::Update => "update",
            Cmd::Delete => "delete",
            Cmd::Insert => "insert",
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn write_verbs(cmds: &[Cmd]) -> String {
    cmds.iter()
        .map(|c| match c {
            Cmd::Insert => "insert rows for another organization",
            Cmd::Update => "move its rows to another organization",
            _ => "write",
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The fix of an unscoped policy: drop it if it is a blanket `true`, else rewrite it.
fn policy_fix(
    p: &PolicyRow,
    t: &TableRow,
    scope: &predicate::Scope,
    tenant: &str,
    check_side: bool,
) -> String {
    let col = sql_ident(scope.column);
    let helper = scope
        .helpers
        .accepted_names()
        .into_iter()
        .next()
        .map(|(s, n)| format!("{}.{}()", sql_ident(&s), sql_ident(&n)))
        .unwrap_or_else(|| {
            format!(
                "NULLIF(current_setting('{}', true), '')::uuid",
                scope.setting
            )
        });
    let predicate = format!("{col} = (SELECT {helper})");
    let clause = if check_side {
        format!("WITH CHECK ({predicate})")
    } else if p.cmd == "*" || p.cmd == "w" {
        format!("USING ({predicate}) WITH CHECK ({predicate})")
    } else {
        format!("USING ({predicate})")
    };
    format!(
        "DROP POLICY {name} ON {table}; -- if it is not needed; otherwise: ALTER POLICY {name} ON {table} {clause}; (or add AS RESTRICTIVE FOR ALL TO {role} USING ({predicate}) WITH CHECK ({predicate}) as a floor)",
        name = sql_ident(&p.name),
        table = t.qname,
        role = sql_ident(tenant),
    )
}

fn is_predefined(role: &str) -> bool {
    matches!(role, "pg_read_all_data" | "pg_write_all_data")
}

/// `Some(reason)` when the table carries the `arcdb:global:` tag with a reason.
fn global_reason(t: &TableRow) -> Option<String> {
    t.comment.as_deref().and_then(|c| tag_reason(c, GLOBAL_TAG))
}

/// The reason after `tag` when `comment` starts with it (a tag without a reason does not count).
fn tag_reason(comment: &str, tag: &str) -> Option<String> {
    let rest = comment.trim_start().strip_prefix(tag)?.trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// A boolean reloption (`security_barrier=true`, `=on`, `=1`…), as PostgreSQL's parse_bool.
fn reloption(options: &[String], name: &str) -> bool {
    options.iter().any(|o| {
        o.split_once('=').is_some_and(|(k, v)| {
            k == name
                && matches!(
                    v.to_ascii_lowercase().as_str(),
                    "true" | "on" | "1" | "yes" | "t" | "y"
                )
        })
    })
}

/// Whether `word` (lower case) occurs in `text` (lower case) as a whole identifier.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut start = 0;
    while let Some(pos) = text[start..].find(word) {
        let at = start + pos;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        start = at + word.len();
    }
    false
}

/// An identifier as SQL needs it written (quoted unless plain lower case and not reserved).
pub fn sql_ident(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain && !RESERVED.contains(&name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

// ------------------------------------------------------------------------------------------------
// Predicates
// ------------------------------------------------------------------------------------------------

/// Deciding whether a deparsed SQL expression scopes rows by organization (the forms accepted
/// are listed in the module documentation). Works on tokens grouped by parentheses; never
/// evaluates anything. Whatever it cannot parse does not scope.
pub mod predicate {
    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        /// Unquoted identifier or keyword, lower-cased.
        Word(String),
        /// Quoted identifier, as written.
        Quoted(String),
        Str(String),
        Num(String),
        Op(String),
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Tt {
        T(Tok),
        Paren(Vec<Tt>),
        Bracket(Vec<Tt>),
    }

    /// A function without arguments that may stand for the current organization.
    #[derive(Debug, Clone)]
    pub struct Helper {
        pub schema: String,
        pub name: String,
        pub accepted: bool,
        /// Its body reads the setting (accepted or not).
        pub reads_setting: bool,
    }

    #[derive(Debug, Clone, Default)]
    pub struct Helpers {
        all: Vec<Helper>,
    }

    impl Helpers {
        pub fn new(all: impl IntoIterator<Item = Helper>) -> Helpers {
            Helpers {
                all: all.into_iter().collect(),
            }
        }

        /// A call `schema.name()` (or `name()` when `schema` is `None`) of an accepted helper.
        /// Unqualified: every function of that name must be accepted, since which one is called
        /// depends on the search_path.
        pub fn accepts(&self, schema: Option<&str>, name: &str) -> bool {
            let mut same = self
                .all
                .iter()
                .filter(|h| h.name == name && schema.is_none_or(|s| h.schema == s))
                .peekable();
            same.peek().is_some() && same.all(|h| h.accepted)
        }

        /// Whether a function of that name (in that schema) reads the setting.
        pub fn reads_setting(&self, schema: Option<&str>, name: &str) -> bool {
            self.all
                .iter()
                .any(|h| h.reads_setting && h.name == name && schema.is_none_or(|s| h.schema == s))
        }

        pub fn accepted_names(&self) -> Vec<(String, String)> {
            self.all
                .iter()
                .filter(|h| h.accepted)
                .map(|h| (h.schema.clone(), h.name.clone()))
                .collect()
        }
    }

    /// What a predicate is judged against.
    pub struct Scope<'a> {
        /// The tenant column (`id` for the root table).
        pub column: &'a str,
        /// The qualifier the column may carry (`Some(table name)` in policies, `None`: any).
        pub qualifier: Option<&'a str>,
        /// The setting naming the organization (`app.current_org_id`).
        pub setting: &'a str,
        pub helpers: &'a Helpers,
    }

    fn tokenize(text: &str) -> Option<Vec<Tok>> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let op_chars = "+-*/<>=~!@#%^&|`?";
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c.is_whitespace() {
                i += 1;
            } else if c == '-' && next == Some('-') {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && next == Some('*') {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            } else if c == '\'' || ((c == 'e' || c == 'E') && next == Some('\'')) {
                let escapes = c != '\'';
                i += if escapes { 2 } else { 1 };
                let mut s = String::new();
                loop {
                    let ch = *chars.get(i)?;
                    if escapes && ch == '\\' {
                        s.push(*chars.get(i + 1)?);
                        i += 2;
                    } else if ch == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            s.push('\'');
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        s.push(ch);
                        i += 1;
                    }
                }
                out.push(Tok::Str(s));
            } else if c == '"' {
                i += 1;
                let mut s = String::new();
                loop {
                    let ch = *chars.get(i)?;
                    if ch == '"' {
                        if chars.get(i + 1) == Some(&'"') {
                            s.push('"');
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        s.push(ch);
                        i += 1;
                    }
                }
                out.push(Tok::Quoted(s));
            } else if c == '$' && next.is_some_and(|n| n.is_ascii_digit()) {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Tok::Op(chars[start..i].iter().collect()));
            } else if c == '$' {
                // Dollar quoting: $tag$ … $tag$.
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if chars.get(j) != Some(&'$') {
                    return None;
                }
                let tag: String = chars[i..=j].iter().collect();
                let body_start = j + 1;
                let rest: String = chars[body_start..].iter().collect();
                let end = rest.find(&tag)?;
                out.push(Tok::Str(rest[..end].to_string()));
                i = body_start + rest[..end].chars().count() + tag.chars().count();
            } else if c.is_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let w: String = chars[start..i].iter().collect();
                out.push(Tok::Word(w.to_lowercase()));
            } else if c.is_ascii_digit() {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(chars[start..i].iter().collect()));
            } else if c == ':' {
                if next == Some(':') {
                    out.push(Tok::Op("::".into()));
                    i += 2;
                } else {
                    out.push(Tok::Op(":".into()));
                    i += 1;
                }
            } else if "()[],;.".contains(c) {
                out.push(Tok::Op(c.to_string()));
                i += 1;
            } else if op_chars.contains(c) {
                let start = i;
                while i < chars.len() && op_chars.contains(chars[i]) {
                    let n = chars.get(i + 1).copied();
                    if i > start
                        && ((chars[i] == '-' && n == Some('-'))
                            || (chars[i] == '/' && n == Some('*')))
                    {
                        break;
                    }
                    i += 1;
                }
                out.push(Tok::Op(chars[start..i].iter().collect()));
            } else {
                out.push(Tok::Op(c.to_string()));
                i += 1;
            }
        }
        Some(out)
    }

    fn tree(text: &str) -> Option<Vec<Tt>> {
        let mut stack: Vec<(Option<&'static str>, Vec<Tt>)> = vec![(None, Vec::new())];
        for tok in tokenize(text)? {
            match &tok {
                Tok::Op(o) if o == "(" || o == "[" => {
                    stack.push((Some(if o == "(" { ")" } else { "]" }), Vec::new()))
                }
                Tok::Op(o) if o == ")" || o == "]" => {
                    let (close, items) = stack.pop()?;
                    if close != Some(o.as_str()) {
                        return None;
                    }
                    let group = if o == ")" {
                        Tt::Paren(items)
                    } else {
                        Tt::Bracket(items)
                    };
                    stack.last_mut()?.1.push(group);
                }
                _ => stack.last_mut()?.1.push(Tt::T(tok)),
            }
        }
        if stack.len() != 1 {
            return None;
        }
        stack.pop().map(|(_, items)| items)
    }

    fn is_word(t: &Tt, w: &str) -> bool {
        matches!(t, Tt::T(Tok::Word(x)) if x == w)
    }

    fn is_op(t: &Tt, o: &str) -> bool {
        matches!(t, Tt::T(Tok::Op(x)) if x == o)
    }

    fn ident(t: &Tt) -> Option<&str> {
        match t {
            Tt::T(Tok::Word(w)) | Tt::T(Tok::Quoted(w)) => Some(w),
            _ => None,
        }
    }

    /// `((x))` → `x`.
    fn unwrap(mut s: &[Tt]) -> &[Tt] {
        while let [Tt::Paren(inner)] = s {
            s = inner;
        }
        s
    }

    /// Split at top-level items matching `sep` (not inside parentheses nor CASE … END).
    fn split_top(s: &[Tt], sep: impl Fn(&Tt) -> bool) -> Vec<&[Tt]> {
        let mut parts = Vec::new();
        let mut depth = 0usize;
        let mut start = 0;
        for (i, t) in s.iter().enumerate() {
            if is_word(t, "case") {
                depth += 1;
            } else if is_word(t, "end") && depth > 0 {
                depth -= 1;
            } else if depth == 0 && sep(t) {
                parts.push(&s[start..i]);
                start = i + 1;
            }
        }
        parts.push(&s[start..]);
        parts
    }

    /// `x::type` → `x` (only when everything after `::` is a type name).
    fn strip_cast(s: &[Tt]) -> &[Tt] {
        let Some(pos) = s.iter().position(|t| is_op(t, "::")) else {
            return s;
        };
        let typeish = s[pos..].iter().all(|t| match t {
            Tt::T(Tok::Word(_)) | Tt::T(Tok::Quoted(_)) | Tt::Paren(_) | Tt::Bracket(_) => true,
            Tt::T(Tok::Op(o)) => o == "::" || o == ".",
            _ => false,
        });
        if pos > 0 && typeish {
            &s[..pos]
        } else {
            s
        }
    }

    /// Parentheses and casts removed, repeatedly.
    fn core(mut s: &[Tt]) -> &[Tt] {
        loop {
            let n = strip_cast(unwrap(s));
            if n.len() == s.len() && std::ptr::eq(n.as_ptr(), s.as_ptr()) {
                return n;
            }
            s = n;
        }
    }

    /// Whether `expr` (a policy's USING or WITH CHECK as pg_get_expr prints it) admits only
    /// rows of the current organization.
    pub fn scoped(expr: &str, scope: &Scope) -> bool {
        tree(expr).is_some_and(|t| scoped_tt(&t, scope))
    }

    fn scoped_tt(s: &[Tt], scope: &Scope) -> bool {
        let s = unwrap(s);
        if s.is_empty() {
            return false;
        }
        let ors = split_top(s, |t| is_word(t, "or"));
        if ors.len() > 1 {
            return ors.iter().all(|p| scoped_tt(p, scope));
        }
        let ands = split_top(s, |t| is_word(t, "and"));
        if ands.len() > 1 {
            return ands.iter().any(|p| scoped_tt(p, scope));
        }
        comparison(s, scope)
    }

    fn comparison(s: &[Tt], scope: &Scope) -> bool {
        let sides = split_top(s, |t| is_op(t, "="));
        if sides.len() == 2 {
            return (is_column(sides[0], scope) && is_org(sides[1], scope))
                || (is_column(sides[1], scope) && is_org(sides[0], scope));
        }
        if sides.len() == 1 && s.len() >= 3 {
            if let [lhs @ .., kw, Tt::Paren(inner)] = s {
                if is_word(kw, "in") {
                    let items = split_top(inner, |t| is_op(t, ","));
                    return items.len() == 1 && is_column(lhs, scope) && is_org(items[0], scope);
                }
            }
        }
        false
    }

    fn is_column(s: &[Tt], scope: &Scope) -> bool {
        match core(s) {
            [c] => ident(c) == Some(scope.column),
            [q, dot, c] if is_op(dot, ".") => {
                ident(c) == Some(scope.column)
                    && ident(q).is_some_and(|q| scope.qualifier.is_none_or(|want| q == want))
            }
            _ => false,
        }
    }

    const CLAUSES: &[&str] = &[
        "from",
        "where",
        "group",
        "having",
        "window",
        "order",
        "limit",
        "offset",
        "fetch",
        "union",
        "intersect",
        "except",
        "for",
    ];

    fn is_org(s: &[Tt], scope: &Scope) -> bool {
        let s = core(s);
        if let [first, body @ ..] = s {
            if is_word(first, "select") {
                let body = match body {
                    [rest @ .., as_kw, alias] if is_word(as_kw, "as") && ident(alias).is_some() => {
                        rest
                    }
                    _ => body,
                };
                if body.iter().any(|t| CLAUSES.iter().any(|k| is_word(t, k))) {
                    return false;
                }
                return is_org(body, scope);
            }
        }
        let (schema, name, args) = match s {
            [n, Tt::Paren(a)] => (None, ident(n), a),
            [sch, dot, n, Tt::Paren(a)] if is_op(dot, ".") => (ident(sch), ident(n), a),
            _ => return false,
        };
        let Some(name) = name else {
            return false;
        };
        let catalog = schema.is_none_or(|s| s == "pg_catalog");
        match name {
            "current_setting" if catalog => {
                let args = split_top(args, |t| is_op(t, ","));
                let setting_ok =
                    matches!(core(args[0]), [Tt::T(Tok::Str(x))] if x == scope.setting);
                let missing_ok = match args.len() {
                    1 => true,
                    2 => {
                        matches!(
                            core(args[1]),
                            [Tt::T(Tok::Word(w))] if w == "true" || w == "false"
                        ) || matches!(core(args[1]), [Tt::T(Tok::Str(_))])
                    }
                    _ => false,
                };
                setting_ok && missing_ok
            }
            "nullif" if catalog => {
                let args = split_top(args, |t| is_op(t, ","));
                args.len() == 2
                    && is_org(args[0], scope)
                    && matches!(core(args[1]), [Tt::T(Tok::Str(x))] if x.is_empty())
            }
            _ => args.is_empty() && scope.helpers.accepts(schema, name),
        }
    }

    /// Whether a view definition (pg_get_viewdef) filters its rows by organization in its
    /// top-level WHERE (every branch of a UNION/INTERSECT/EXCEPT).
    pub fn view_scoped(definition: &str, scope: &Scope) -> bool {
        let Some(t) = tree(definition) else {
            return false;
        };
        let mut s: &[Tt] = &t;
        while let [rest @ .., last] = s {
            if is_op(last, ";") {
                s = rest;
            } else {
                break;
            }
        }
        let branches = split_top(s, |t| {
            is_word(t, "union") || is_word(t, "intersect") || is_word(t, "except")
        });
        branches
            .iter()
            .all(|b| where_clause(b).is_some_and(|w| scoped_tt(w, scope)))
    }

    fn where_clause(s: &[Tt]) -> Option<&[Tt]> {
        let mut depth = 0usize;
        let mut start = None;
        for (i, t) in s.iter().enumerate() {
            if is_word(t, "case") {
                depth += 1;
            } else if is_word(t, "end") && depth > 0 {
                depth -= 1;
            } else if depth == 0 {
                match start {
                    None if is_word(t, "where") => start = Some(i + 1),
                    Some(from)
                        if [
                            "group", "having", "window", "order", "limit", "offset", "fetch", "for",
                        ]
                        .iter()
                        .any(|k| is_word(t, k)) =>
                    {
                        return Some(&s[from..i]);
                    }
                    _ => {}
                }
            }
        }
        start.map(|from| &s[from..])
    }

    /// Whether a helper's body (prosrc) is `SELECT O` (SQL) or `BEGIN RETURN O; END`
    /// (PL/pgSQL) with O an organization expression built from the setting only.
    pub fn helper_body_ok(language: &str, source: &str, setting: &str) -> bool {
        let Some(t) = tree(source) else {
            return false;
        };
        let mut s: &[Tt] = &t;
        while let [rest @ .., last] = s {
            if is_op(last, ";") {
                s = rest;
            } else {
                break;
            }
        }
        let expr: &[Tt] = match (language, s) {
            ("sql", [select, body @ ..]) if is_word(select, "select") => body,
            ("plpgsql", [begin, ret, body @ .., semi, end])
                if is_word(begin, "begin")
                    && is_word(ret, "return")
                    && is_op(semi, ";")
                    && is_word(end, "end") =>
            {
                body
            }
            _ => return false,
        };
        if expr
            .iter()
            .any(|t| is_op(t, ";") || CLAUSES.iter().any(|k| is_word(t, k)))
        {
            return false;
        }
        let none = Helpers::default();
        let scope = Scope {
            column: "",
            qualifier: None,
            setting,
            helpers: &none,
        };
        is_org(expr, &scope)
    }

    /// Calls without arguments in an expression: `(schema, name)`.
    pub fn zero_arg_calls(expr: &str) -> Vec<(Option<String>, String)> {
        let Some(toks) = tokenize(expr) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 0..toks.len() {
            let name = match &toks[i] {
                Tok::Word(w) | Tok::Quoted(w) => w,
                _ => continue,
            };
            let is = |j: usize, o: &str| matches!(toks.get(j), Some(Tok::Op(x)) if x == o);
            if !(is(i + 1, "(") && is(i + 2, ")")) {
                continue;
            }
            let schema = if i >= 2 && is(i - 1, ".") {
                match &toks[i - 2] {
                    Tok::Word(s) | Tok::Quoted(s) => Some(s.clone()),
                    _ => None,
                }
            } else {
                None
            };
            out.push((schema, name.clone()));
        }
        out
    }

    /// The words of `s`, groups included, in order.
    fn flatten(s: &[Tt]) -> Vec<&str> {
        let mut out = Vec::new();
        for t in s {
            match t {
                Tt::T(Tok::Word(w)) => out.push(w.as_str()),
                Tt::Paren(inner) | Tt::Bracket(inner) => out.extend(flatten(inner)),
                _ => {}
            }
        }
        out
    }

    /// Why an expression that does not scope fails, in words.
    pub fn diagnose(expr: &str, scope: &Scope) -> String {
        let Some(t) = tree(expr) else {
            return "it could not be parsed, so it is not accepted".into();
        };
        let s = core(&t);
        if let [Tt::T(Tok::Word(w))] = s {
            if w == "true" {
                return "it is `true`, which admits every row of every organization".into();
            }
        }
        let words: Vec<String> = tokenize(expr)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| match t {
                Tok::Word(w) => Some(w),
                _ => None,
            })
            .collect();
        let has = |w: &str| words.iter().any(|x| x == w);
        let mentions_setting = expr.contains(scope.setting)
            || scope
                .helpers
                .accepted_names()
                .iter()
                .any(|(_, n)| words.contains(n))
            || zero_arg_calls(expr)
                .iter()
                .any(|(sch, n)| scope.helpers.reads_setting(sch.as_deref(), n));
        if has("coalesce") && mentions_setting {
            return format!(
                "COALESCE(…) puts a fallback in place of {} when it is unset or empty, so the policy fails open",
                scope.setting
            );
        }
        let ors = split_top(unwrap(s), |t| is_word(t, "or"));
        if ors.len() > 1 {
            let null_test = ors.iter().any(|b| {
                let words = flatten(b);
                words.windows(2).any(|w| w[0] == "is" && w[1] == "null")
            });
            if null_test && mentions_setting {
                return format!(
                    "its `… IS NULL OR …` branch admits every row while {} is unset or empty, so it fails open",
                    scope.setting
                );
            }
            return format!(
                "an OR branch that does not compare {} with the current organization widens it to other organizations' rows",
                scope.column
            );
        }
        let is_not_null = s
            .windows(3)
            .any(|w| is_word(&w[0], "is") && is_word(&w[1], "not") && is_word(&w[2], "null"));
        if is_not_null {
            return format!(
                "`{} IS NOT NULL` holds for the rows of every organization",
                scope.column
            );
        }
        if has("distinct") {
            return "IS NOT DISTINCT FROM matches rows with a NULL organization when the setting is unset".into();
        }
        if !words.iter().any(|w| w == scope.column) && !expr.contains(scope.column) {
            return format!("it does not look at {} at all", scope.column);
        }
        let unaccepted: Vec<String> = zero_arg_calls(expr)
            .into_iter()
            .filter(|(sch, n)| !scope.helpers.accepts(sch.as_deref(), n))
            .map(|(_, n)| format!("{n}()"))
            .collect();
        if !unaccepted.is_empty() {
            return format!(
                "it compares with {}, which is not an accepted organization helper (see org-helper-unsafe)",
                unaccepted.join(", ")
            );
        }
        format!(
            "it does not compare {} with the current organization in an accepted form ({} = current_setting('{}'), NULLIF(…, ''), or a helper such as current_org_id(), optionally as (SELECT …))",
            scope.column, scope.column, scope.setting
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn helpers() -> Helpers {
            Helpers::new([
                Helper {
                    schema: "public".into(),
                    name: "current_org_id".into(),
                    accepted: true,
                    reads_setting: true,
                },
                Helper {
                    schema: "public".into(),
                    name: "sloppy_org_id".into(),
                    accepted: false,
                    reads_setting: true,
                },
            ])
        }

        fn ok(expr: &str) -> bool {
            let h = helpers();
            let scope = Scope {
                column: "organization_id",
                qualifier: Some("tasks"),
                setting: "app.current_org_id",
                helpers: &h,
            };
            scoped(expr, &scope)
        }

        #[test]
        fn accepted_forms_scope() {
            for e in [
                "(organization_id = ( SELECT current_org_id() AS current_org_id))",
                "(organization_id = current_org_id())",
                "(organization_id = public.current_org_id())",
                "(tasks.organization_id = current_org_id())",
                "((organization_id)::text = current_setting('app.current_org_id'::text))",
                "(organization_id = (current_setting('app.current_org_id'::text, true))::uuid)",
                "((organization_id = (NULLIF(current_setting('app.current_org_id'::text, true), ''::text))::uuid) AND ((v >= 1) AND (v <= 3)))",
                "(organization_id IN ( SELECT current_org_id() AS current_org_id))",
                "((current_org_id() = organization_id) AND (status <> 'x'::text))",
                "(((organization_id = current_org_id()) AND a) OR ((organization_id = current_org_id()) AND b))",
            ] {
                assert!(ok(e), "{e}");
            }
        }

        #[test]
        fn holes_do_not_scope() {
            for e in [
                "true",
                "(organization_id IS NOT NULL)",
                "((current_setting('app.current_org_id'::text, true) IS NULL) OR (organization_id = (current_setting('app.current_org_id'::text, true))::uuid))",
                "(COALESCE((current_setting('app.current_org_id'::text, true))::uuid, organization_id) = organization_id)",
                "((organization_id = current_org_id()) OR is_public)",
                "(organization_id = sloppy_org_id())",
                "(organization_id = unknown_fn())",
                "(organization_id = current_setting('app.other'::text))",
                "(organization_id IN ( SELECT m.org FROM memberships m WHERE (m.user_id = current_app_user_id())))",
                "(NOT (organization_id = current_org_id()))",
                "(organization_id = ANY (ARRAY[current_org_id()]))",
                "(organization_id IS NOT DISTINCT FROM current_org_id())",
                "(other.organization_id = current_org_id())",
                "(organization_id = organization_id)",
                "CASE WHEN (organization_id = current_org_id()) THEN true ELSE true END",
                "(organization_id = CASE WHEN true THEN current_org_id() ELSE organization_id END)",
                "(organization_id::text || 'x' = current_setting('app.current_org_id'))",
                "",
                "((organization_id = current_org_id())",
            ] {
                assert!(!ok(e), "{e}");
            }
        }

        #[test]
        fn helper_bodies() {
            let s = "app.current_org_id";
            assert!(helper_body_ok(
                "sql",
                " SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid ",
                s
            ));
            assert!(helper_body_ok(
                "plpgsql",
                "\nBEGIN\n  RETURN current_setting('app.current_org_id')::uuid;\nEND;\n",
                s
            ));
            assert!(helper_body_ok(
                "sql",
                "select current_setting('app.current_org_id', true)::uuid;",
                s
            ));
            for bad in [
                "SELECT COALESCE(current_setting('app.current_org_id', true), '00000000-0000-0000-0000-000000000000')::uuid",
                "SELECT current_setting('app.current_user_id', true)::uuid",
                "SELECT org FROM sessions LIMIT 1",
                "SELECT NULLIF(current_setting('app.current_org_id', true), 'x')::uuid",
            ] {
                assert!(!helper_body_ok("sql", bad, s), "{bad}");
            }
        }

        #[test]
        fn view_definitions() {
            let h = helpers();
            let scope = Scope {
                column: "organization_id",
                qualifier: None,
                setting: "app.current_org_id",
                helpers: &h,
            };
            assert!(view_scoped(
                " SELECT mv.organization_id, mv.total\n   FROM mv\n  WHERE (mv.organization_id = ( SELECT current_org_id() AS current_org_id));",
                &scope
            ));
            assert!(view_scoped(
                "SELECT a FROM t WHERE (t.organization_id = current_org_id()) GROUP BY a ORDER BY a;",
                &scope
            ));
            assert!(!view_scoped(" SELECT t.organization_id FROM t;", &scope));
            assert!(!view_scoped(
                "SELECT a FROM t WHERE (t.organization_id = current_org_id()) UNION SELECT a FROM u;",
                &scope
            ));
            assert!(!view_scoped(
                "SELECT a FROM t WHERE (t.x IN (SELECT u.x FROM u WHERE (u.organization_id = current_org_id())));",
                &scope
            ));
        }

        #[test]
        fn diagnoses_name_the_hole() {
            let h = helpers();
            let scope = Scope {
                column: "organization_id",
                qualifier: None,
                setting: "app.current_org_id",
                helpers: &h,
            };
            assert!(diagnose("true", &scope).contains("every row"));
            assert!(diagnose("(organization_id IS NOT NULL)", &scope).contains("IS NOT NULL"));
            assert!(diagnose("((current_setting('app.current_org_id'::text, true) IS NULL) OR (organization_id = current_org_id()))", &scope).contains("fails open"));
            assert!(diagnose(
                "(COALESCE(current_org_id(), organization_id) = organization_id)",
                &scope
            )
            .contains("fails open"));
            assert!(
                diagnose("(organization_id = sloppy_org_id())", &scope).contains("sloppy_org_id()")
            );
        }

        #[test]
        fn zero_arg_calls_are_found() {
            assert_eq!(
                zero_arg_calls(
                    "(organization_id = ( SELECT public.current_org_id() AS x)) AND f(1) AND g()"
                ),
                vec![
                    (Some("public".to_string()), "current_org_id".to_string()),
                    (None, "g".to_string())
                ]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: u32 = 100;
    const OWNER: u32 = 10;

    fn role(oid: u32, name: &str) -> RoleRow {
        RoleRow {
            oid,
            name: name.into(),
            superuser: false,
            bypassrls: false,
        }
    }

    fn table(oid: u32, name: &str) -> TableRow {
        TableRow {
            oid,
            namespace: 2200,
            schema: "public".into(),
            name: name.into(),
            qname: format!("public.{name}"),
            kind: "r".into(),
            owner: OWNER,
            owner_name: "postgres".into(),
            rls: true,
            force_rls: false,
            has_tenant_column: name != "organizations",
            comment: None,
            parent: None,
        }
    }

    fn policy(
        table: u32,
        name: &str,
        cmd: &str,
        using: Option<&str>,
        check: Option<&str>,
    ) -> PolicyRow {
        PolicyRow {
            table,
            name: name.into(),
            cmd: cmd.into(),
            permissive: true,
            roles: vec![TENANT],
            using: using.map(Into::into),
            check: check.map(Into::into),
        }
    }

    /// A view (`kind` "v") or materialized view ("m") in schema public, owned by postgres.
    fn view(
        oid: u32,
        name: &str,
        kind: &str,
        options: &[&str],
        definition: Option<&str>,
        refs: &[u32],
    ) -> ViewRow {
        ViewRow {
            oid,
            name: name.into(),
            qname: format!("public.{name}"),
            kind: kind.into(),
            owner_name: "postgres".into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            definition: definition.map(Into::into),
            refs: refs.to_vec(),
        }
    }

    fn grant(rel: u32, privilege: &str) -> GrantRow {
        GrantRow {
            rel,
            column: None,
            grantee: TENANT,
            privilege: privilege.into(),
        }
    }

    const SCOPED: &str = "(organization_id = ( SELECT current_org_id() AS current_org_id))";

    /// Two tenant tables with the ArcDesk-style policy and grants: no finding.
    fn baseline() -> Catalog {
        let mut cat = Catalog::unavailable("unused");
        cat.tenant = Ok(Some(role(TENANT, "arcdesk_tenant")));
        cat.memberships = Ok(vec![]);
        cat.tables = Ok(vec![table(1, "organizations"), table(2, "tasks")]);
        cat.policies = Ok(vec![
            policy(
                1,
                "org_iso",
                "*",
                Some("(id = ( SELECT current_org_id() AS current_org_id))"),
                Some("(id = ( SELECT current_org_id() AS current_org_id))"),
            ),
            policy(2, "tasks_iso", "*", Some(SCOPED), Some(SCOPED)),
        ]);
        cat.grants = Ok(["SELECT", "INSERT", "UPDATE", "DELETE"]
            .into_iter()
            .map(|p| grant(2, p))
            .chain([grant(1, "SELECT")])
            .collect());
        cat.views = Ok(vec![]);
        cat.functions = Ok(vec![]);
        cat.triggers = Ok(vec![]);
        cat.helpers = Ok(vec![HelperRow {
            schema: "public".into(),
            name: "current_org_id".into(),
            qname: "public.current_org_id()".into(),
            language: "sql".into(),
            source: " SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid ".into(),
            owner: OWNER,
        }]);
        cat.leakproof = Ok(vec![]);
        cat.foreign_keys = Ok(vec![ForeignKeyRow {
            name: "tasks_org_fkey".into(),
            table: 2,
            ref_table: 1,
            columns: vec!["organization_id".into()],
            ref_columns: vec!["id".into()],
        }]);
        cat.unique_keys = Ok(vec![]);
        cat.sequences = Ok(vec![]);
        cat.schemas = Ok(vec![SchemaRow {
            oid: 2200,
            qname: "public".into(),
            create_by: vec![],
        }]);
        cat.default_acls = Ok(vec![]);
        cat
    }

    fn findings(cat: &Catalog) -> Vec<(String, String)> {
        evaluate(cat, &VerifyOptions::default())
            .findings()
            .map(|f| (f.rule.clone(), f.object.clone()))
            .collect()
    }

    fn has(cat: &Catalog, rule: &str, object: &str) {
        let f = findings(cat);
        assert!(
            f.iter().any(|(r, o)| r == rule && o == object),
            "expected {rule} on {object}, got {f:?}"
        );
    }

    #[test]
    fn baseline_has_no_finding_and_a_note() {
        let cat = baseline();
        let e = evaluate(&cat, &VerifyOptions::default());
        assert_eq!(
            e.findings().count(),
            0,
            "{:?}",
            e.findings().collect::<Vec<_>>()
        );
        assert_eq!(e.tables, 2);
        assert!(e.notes[0].contains("SET LOCAL"));
        assert!(e.checks.len() > 10);
    }

    #[test]
    fn missing_tenant_role() {
        let mut cat = Catalog::unavailable("the tenant role does not exist");
        cat.tenant = Ok(None);
        assert_eq!(
            findings(&cat),
            vec![(
                rule::TENANT_ROLE_MISSING.into(),
                "role arcdesk_tenant".into()
            )]
        );
    }

    #[test]
    fn rls_off_ownership_and_force() {
        let mut cat = baseline();
        if let Ok(t) = &mut cat.tables {
            t[1].rls = false;
            t[1].owner = TENANT;
            t[1].owner_name = "arcdesk_tenant".into();
        }
        has(&cat, rule::RLS_DISABLED, "public.tasks");
        has(&cat, rule::TABLE_OWNED_BY_TENANT, "public.tasks");
        has(&cat, rule::OWNER_NOT_FORCED, "public.tasks");
    }

    #[test]
    fn global_tag_exempts_a_table() {
        let mut cat = baseline();
        if let Ok(t) = &mut cat.tables {
            let mut g = table(3, "currencies");
            g.rls = false;
            g.has_tenant_column = false;
            g.comment = Some("arcdb:global: ISO currency codes".into());
            t.push(g);
            let mut n = table(4, "notes");
            n.has_tenant_column = false;
            t.push(n);
        }
        let f = findings(&cat);
        assert!(!f.iter().any(|(_, o)| o == "public.currencies"), "{f:?}");
        has(&cat, rule::TENANT_COLUMN_MISSING, "public.notes");
    }

    #[test]
    fn membership_reaches_bypassrls_and_superuser() {
        let mut cat = baseline();
        let mut admin = role(200, "ops");
        admin.bypassrls = true;
        let mut root = role(300, "dba");
        root.superuser = true;
        cat.memberships = Ok(vec![
            MembershipRow {
                member: TENANT,
                role: admin,
            },
            MembershipRow {
                member: 200,
                role: root,
            },
        ]);
        has(&cat, rule::ROLE_BYPASSRLS, "role ops");
        has(&cat, rule::ROLE_SUPERUSER, "role dba");
        let e = evaluate(&cat, &VerifyOptions::default());
        let f = e.findings().find(|f| f.object == "role dba").unwrap();
        assert!(
            f.message.contains("arcdesk_tenant → ops → dba"),
            "{}",
            f.message
        );
        assert!(
            f.fix.contains("REVOKE ops FROM arcdesk_tenant"),
            "{}",
            f.fix
        );
    }

    #[test]
    fn postgres_rules_for_checks() {
        // UPDATE with USING only: USING checks the new rows → fine.
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p[1] = policy(2, "tasks_read", "r", Some(SCOPED), None);
            p.push(policy(2, "tasks_upd", "w", Some(SCOPED), None));
            p.push(policy(2, "tasks_del", "d", Some(SCOPED), None));
            p.push(policy(2, "tasks_ins", "a", None, Some(SCOPED)));
        }
        assert_eq!(findings(&cat), vec![]);
        // UPDATE whose WITH CHECK is true: rows can move out.
        if let Ok(p) = &mut cat.policies {
            p[2].check = Some("true".into());
        }
        has(
            &cat,
            rule::POLICY_CHECK_UNSCOPED,
            "policy tasks_upd on public.tasks",
        );
        // INSERT policy without WITH CHECK.
        if let Ok(p) = &mut cat.policies {
            p[2].check = None;
            p[4].check = None;
        }
        has(
            &cat,
            rule::POLICY_CHECK_MISSING,
            "policy tasks_ins on public.tasks",
        );
        has(&cat, rule::COMMAND_WITHOUT_POLICY, "public.tasks");
    }

    #[test]
    fn restrictive_floor_narrows_permissive_holes() {
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p.push(policy(2, "debug", "r", Some("true"), None));
        }
        has(&cat, rule::POLICY_UNSCOPED, "policy debug on public.tasks");
        if let Ok(p) = &mut cat.policies {
            let mut floor = policy(2, "floor", "*", Some(SCOPED), Some(SCOPED));
            floor.permissive = false;
            p.push(floor);
        }
        assert_eq!(findings(&cat), vec![]);
    }

    #[test]
    fn group_and_public_policies() {
        let mut cat = baseline();
        cat.memberships = Ok(vec![MembershipRow {
            member: TENANT,
            role: role(200, "app_readers"),
        }]);
        if let Ok(p) = &mut cat.policies {
            let mut g = policy(
                2,
                "readers",
                "r",
                Some("(organization_id IS NOT NULL)"),
                None,
            );
            g.roles = vec![200];
            p.push(g);
            let mut other = policy(2, "auditors", "r", Some("true"), None);
            other.roles = vec![999];
            p.push(other);
            let mut public = policy(2, "everyone", "r", Some("true"), None);
            public.roles = vec![0];
            p.push(public);
        }
        has(
            &cat,
            rule::POLICY_GROUP_UNSCOPED,
            "policy readers on public.tasks",
        );
        has(
            &cat,
            rule::POLICY_UNSCOPED,
            "policy everyone on public.tasks",
        );
        assert!(!findings(&cat).iter().any(|(_, o)| o.contains("auditors")));
    }

    #[test]
    fn unsafe_helper_is_reported_and_not_accepted() {
        let mut cat = baseline();
        if let Ok(h) = &mut cat.helpers {
            h[0].source = " SELECT COALESCE(NULLIF(current_setting('app.current_org_id', true), ''), '00000000-0000-0000-0000-000000000000')::uuid".into();
        }
        has(
            &cat,
            rule::ORG_HELPER_UNSAFE,
            "function public.current_org_id()",
        );
        has(
            &cat,
            rule::POLICY_UNSCOPED,
            "policy tasks_iso on public.tasks",
        );
    }

    #[test]
    fn views_matviews_and_functions() {
        let mut cat = baseline();
        cat.views = Ok(vec![
            view(10, "mv", "m", &[], None, &[2]),
            view(11, "v_ok", "v", &["security_barrier=true"], Some(" SELECT mv.organization_id FROM mv WHERE (mv.organization_id = ( SELECT current_org_id() AS current_org_id));"), &[10]),
            view(12, "v_all", "v", &[], Some(" SELECT tasks.organization_id FROM tasks;"), &[2]),
            view(13, "v_inv", "v", &["security_invoker=on"], Some(" SELECT tasks.organization_id FROM tasks;"), &[2]),
            view(14, "v_nobarrier", "v", &[], Some(" SELECT tasks.organization_id FROM tasks WHERE (tasks.organization_id = current_org_id());"), &[2]),
        ]);
        if let Ok(g) = &mut cat.grants {
            g.extend([grant(11, "SELECT"), grant(13, "SELECT")]);
        }
        assert_eq!(findings(&cat), vec![]);
        if let Ok(g) = &mut cat.grants {
            g.extend([
                grant(10, "SELECT"),
                grant(12, "SELECT"),
                grant(14, "SELECT"),
                grant(11, "INSERT"),
            ]);
        }
        has(&cat, rule::MATVIEW_READABLE, "materialized view public.mv");
        has(&cat, rule::VIEW_UNSCOPED, "view public.v_all");
        has(
            &cat,
            rule::VIEW_NOT_SECURITY_BARRIER,
            "view public.v_nobarrier",
        );
        has(&cat, rule::VIEW_WRITABLE, "view public.v_ok");

        let mut cat = baseline();
        cat.functions = Ok(vec![FunctionRow {
            oid: 50,
            signature: "function public.all_tasks()".into(),
            owner_name: "postgres".into(),
            owner_superuser: true,
            owner_bypassrls: true,
            language: "sql".into(),
            is_trigger: false,
            source: "SELECT count(*) FROM public.tasks".into(),
            config: vec![],
            executable_by: vec![0],
            refs: vec![],
            owner_of: vec![OWNER],
        }]);
        has(
            &cat,
            rule::DEFINER_FUNCTION_UNSCOPED,
            "function public.all_tasks()",
        );
        has(
            &cat,
            rule::DEFINER_SEARCH_PATH,
            "function public.all_tasks()",
        );
        if let Ok(f) = &mut cat.functions {
            f[0].source =
                "SELECT count(*) FROM public.tasks WHERE organization_id = current_org_id()".into();
            f[0].config = vec!["search_path=public, pg_temp".into()];
        }
        assert_eq!(findings(&cat), vec![]);
    }

    #[test]
    fn keys_sequences_privileges_schemas() {
        let mut cat = baseline();
        if let Ok(fk) = &mut cat.foreign_keys {
            fk.push(ForeignKeyRow {
                name: "tasks_parent_fkey".into(),
                table: 2,
                ref_table: 2,
                columns: vec!["parent_id".into()],
                ref_columns: vec!["id".into()],
            });
        }
        cat.unique_keys = Ok(vec![
            UniqueRow {
                table: 2,
                index_name: "tasks_pkey".into(),
                index_qname: "public.tasks_pkey".into(),
                is_primary: true,
                columns: vec!["organization_id".into(), "id".into()],
                partial: false,
                constraint_name: Some("tasks_pkey".into()),
                constraint_comment: None,
                index_comment: None,
                surrogate: false,
            },
            UniqueRow {
                table: 2,
                index_name: "tasks_code_key".into(),
                index_qname: "public.tasks_code_key".into(),
                is_primary: false,
                columns: vec!["code".into()],
                partial: false,
                constraint_name: None,
                constraint_comment: None,
                index_comment: Some("arcdb:platform-unique: codes are global".into()),
                surrogate: false,
            },
            UniqueRow {
                table: 2,
                index_name: "tasks_title_idx".into(),
                index_qname: "public.tasks_title_idx".into(),
                is_primary: false,
                columns: vec!["title".into()],
                partial: true,
                constraint_name: None,
                constraint_comment: None,
                index_comment: Some("arcdb:platform-unique:".into()),
                surrogate: false,
            },
        ]);
        cat.sequences = Ok(vec![SequenceRow {
            seq: 60,
            seq_qname: "public.tasks_number_seq".into(),
            table: 2,
            column: "number".into(),
            how: "default".into(),
        }]);
        if let Ok(s) = &mut cat.schemas {
            s[0].create_by = vec![0];
        }
        if let Ok(g) = &mut cat.grants {
            g.extend([
                grant(2, "TRUNCATE"),
                grant(2, "TRIGGER"),
                grant(2, "REFERENCES"),
            ]);
        }
        cat.leakproof = Ok(vec![LeakproofRow {
            signature: "function public.f(text)".into(),
            qname: "public.f(text)".into(),
        }]);
        cat.default_acls = Ok(vec![DefaultAclRow {
            owner_name: "postgres".into(),
            schema: Some("public".into()),
            objtype: "r".into(),
            grantee: TENANT,
            privileges: vec!["SELECT".into()],
        }]);
        let f = findings(&cat);
        for (rule, object) in [
            (
                rule::FK_UNSCOPED,
                "constraint tasks_parent_fkey on public.tasks",
            ),
            (
                rule::UNIQUE_UNSCOPED,
                "index public.tasks_title_idx on public.tasks",
            ),
            (rule::SEQUENCE_SHARED, "sequence public.tasks_number_seq"),
            (rule::GRANT_TRUNCATE, "public.tasks"),
            (rule::GRANT_TRIGGER, "public.tasks"),
            (rule::GRANT_REFERENCES, "public.tasks"),
            (rule::SCHEMA_CREATE, "schema public"),
            (rule::LEAKPROOF_FUNCTION, "function public.f(text)"),
            (
                rule::DEFAULT_PRIVILEGES,
                "default privileges of role postgres in schema public on tables",
            ),
        ] {
            assert!(
                f.iter().any(|(r, o)| r == rule && o == object),
                "{rule} {object}: {f:?}"
            );
        }
        assert!(
            !f.iter()
                .any(|(_, o)| o.contains("tasks_pkey") || o.contains("tasks_code_key")),
            "{f:?}"
        );
        assert!(
            !f.iter().any(|(_, o)| o.contains("tasks_org_fkey")),
            "{f:?}"
        );
    }

    #[test]
    fn unavailable_catalogs_are_skipped_not_errors() {
        let mut cat = baseline();
        let why = "CockroachDB 24.3.0 predates row-level security (CockroachDB 25.2)";
        cat.rls_unsupported = Some(why.into());
        cat.policies = Err(why.into());
        cat.default_acls = Err(why.into());
        let e = evaluate(&cat, &VerifyOptions::default());
        assert_eq!(e.findings().count(), 0);
        let skipped: Vec<&Check> = e
            .checks
            .iter()
            .filter(|c| matches!(c.outcome, super::super::Outcome::Skipped { .. }))
            .collect();
        assert!(skipped
            .iter()
            .any(|c| c.name.starts_with(rule::POLICY_UNSCOPED)));
        assert!(skipped
            .iter()
            .any(|c| c.name.starts_with(rule::DEFAULT_PRIVILEGES)));
        assert!(skipped
            .iter()
            .any(|c| c.name.starts_with(rule::RLS_DISABLED)));
    }

    #[test]
    fn unknown_privileges_skip_rather_than_pass() {
        let mut cat = baseline();
        if let Ok(p) = &mut cat.policies {
            p.clear();
        }
        has(&cat, rule::COMMAND_WITHOUT_POLICY, "public.tasks");
        cat.grants =
            Err("CockroachDB 25.2.0 cannot answer the catalog query for privileges".into());
        let e = evaluate(&cat, &VerifyOptions::default());
        assert!(!e.findings().any(|f| f.rule == rule::COMMAND_WITHOUT_POLICY));
        assert!(e.checks.iter().any(|c| c.name
            == format!("{} public.tasks", rule::COMMAND_WITHOUT_POLICY)
            && matches!(c.outcome, super::super::Outcome::Skipped { .. })));
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(sql_ident("tasks"), "tasks");
        assert_eq!(sql_ident("user"), "\"user\"");
        assert_eq!(sql_ident("Mixed"), "\"Mixed\"");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
        assert!(contains_word("from public.tasks t", "tasks"));
        assert!(!contains_word("from public.tasks_archive", "tasks"));
    }
}
