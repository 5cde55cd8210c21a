//! The catalog rows the audit decides from, one query per concern, and how they are read.
//! The queries shared by several rule families live next to this file; a family's own query
//! lives next to its rules (`rules/<family>.sql`).

use super::rules::{
    default_privileges::SQL as SQL_DEFAULT_ACL,
    definer_functions::{SQL as SQL_DEFINER_FUNCTIONS, SQL_TRIGGERS},
    foreign_keys::SQL as SQL_FOREIGN_KEYS,
    helpers::SQL as SQL_HELPERS,
    leakproof::SQL as SQL_LEAKPROOF,
    policies::SQL as SQL_POLICIES,
    schemas::SQL as SQL_SCHEMAS,
    sequences::SQL as SQL_SEQUENCES,
    unique_keys::SQL as SQL_UNIQUE_KEYS,
    views::SQL as SQL_VIEWS,
};
use crate::db::{server_message, Db};
use crate::engine::{EngineKind, Version};
use crate::rls::VerifyOptions;
use anyhow::Context;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const SQL_TENANT_ROLE: &str = include_str!("tenant_role.sql");
const SQL_MEMBERSHIPS: &str = include_str!("memberships.sql");
const SQL_TABLES: &str = include_str!("tables.sql");
const SQL_RELATION_GRANTS: &str = include_str!("relation_grants.sql");

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
    /// Every column and its type (`format_type`), in order.
    pub columns: Vec<(String, String)>,
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

/// A function of one or two arguments returning boolean: a candidate membership helper
/// (`is_member(organization_id)`), read in the membership and supabase models only.
#[derive(Debug, Clone)]
pub struct MemberHelperRow {
    pub schema: String,
    pub name: String,
    pub language: String,
    pub source: String,
    pub owner: u32,
    /// The arguments' names (empty when unnamed).
    pub args: Vec<String>,
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
    /// Names are resolved in it at run time (`public`, or on a session's or a function's
    /// search_path).
    pub resolved: bool,
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
    pub member_helpers: Avail<MemberHelperRow>,
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
            member_helpers: none(reason),
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
        if opts.tenancy.membership().is_some() {
            cat.member_helpers = q
                .fetch(
                    "membership helpers",
                    include_str!("member_helpers.sql"),
                    &[],
                    |r| {
                        Ok(MemberHelperRow {
                            schema: r.try_get("schema")?,
                            name: r.try_get("name")?,
                            language: r.try_get("language")?,
                            source: r.try_get("source")?,
                            owner: r.try_get("owner")?,
                            args: r.try_get("args")?,
                        })
                    },
                )
                .await?;
        }
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
                &[&grantees, &tenant.name],
                |r| {
                    Ok(SchemaRow {
                        oid: r.try_get("oid")?,
                        qname: r.try_get("qname")?,
                        create_by: r.try_get("create_by")?,
                        resolved: r.try_get("resolved")?,
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
        columns: {
            let names: Vec<String> = r.try_get("column_names")?;
            let types: Vec<String> = r.try_get("column_types")?;
            names.into_iter().zip(types).collect()
        },
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
