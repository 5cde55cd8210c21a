//! The static catalog audit of `verify-rls`: what the catalogs say about tenant isolation, for
//! every table of the tenant schemas (and their partitions and inheritance children), without
//! running a single query as the tenant.
//!
//! The catalogs are read with one query per concern ([`catalog`]); every rule is then
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
//! Each rule family is one file of `rules/`: its rule ids with their severity and what they
//! find, the `impl Audit` method deciding them, its catalog query when it has its own, and its
//! tests. [`FAMILIES`] lists them in the order [`evaluate`] runs them; [`rules`] lists every
//! rule. Rule ids are stable: CI configurations and the JUnit rendering refer to them.
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
//! NULL organizations when unset), `= ANY (…)`, `NOT …`, and, in the column model, subqueries
//! with a FROM (`EXISTS`, `IN (SELECT … FROM memberships …)`): there a policy scoping through a
//! membership table must be paired with a RESTRICTIVE policy in an accepted form, which then acts
//! as a floor. In the membership and supabase models ([`crate::rls::tenancy`]) the setting
//! names a user and policies scope through the membership table instead: the forms accepted
//! are in [`predicate::membership`].
//!
//! PostgreSQL's rules applied (from `rowsecurity.c`): permissive policies are OR-ed and
//! restrictive ones AND-ed on top, so a restrictive policy that scopes is a floor no permissive
//! policy can widen; with no permissive policy for a command, nothing is admitted. A policy
//! applies to a role when the role is (a member of) one of its roles, PUBLIC included. The new
//! rows of INSERT and UPDATE are checked with the policy's WITH CHECK, or, when it has none, with
//! its USING (ALL and UPDATE policies); an INSERT policy without WITH CHECK admits no row.

mod catalog;
pub mod predicate;
mod rules;
#[cfg(test)]
mod testing;

pub use catalog::*;

use super::{Check, Finding, RlsReport, Severity, Suite, VerifyOptions};
use crate::db::{literal, sql_ident, Db};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// The tag that marks a platform-wide unique key (on the constraint or the index comment).
pub const PLATFORM_UNIQUE_TAG: &str = "arcdb:platform-unique:";
/// The tag that marks an intentionally global table (on the table comment).
pub const GLOBAL_TAG: &str = "arcdb:global:";

/// Rule ids (the `rule` of a [`Finding`], and the first word of a check's name), each defined
/// in its family's file.
pub mod rule {
    pub use super::rules::default_privileges::DEFAULT_PRIVILEGES;
    pub use super::rules::definer_functions::{DEFINER_FUNCTION_UNSCOPED, DEFINER_SEARCH_PATH};
    pub use super::rules::foreign_keys::FK_UNSCOPED;
    pub use super::rules::grants_not_governed::{GRANT_REFERENCES, GRANT_TRIGGER, GRANT_TRUNCATE};
    pub use super::rules::helpers::ORG_HELPER_UNSAFE;
    pub use super::rules::leakproof::LEAKPROOF_FUNCTION;
    pub use super::rules::policies::{
        COMMAND_WITHOUT_POLICY, POLICY_CHECK_MISSING, POLICY_CHECK_UNSCOPED, POLICY_GROUP_UNSCOPED,
        POLICY_UNSCOPED,
    };
    pub use super::rules::roles::{ROLE_BYPASSRLS, ROLE_SUPERUSER, TENANT_ROLE_MISSING};
    pub use super::rules::schemas::{SCHEMA_CREATE, SCHEMA_CREATE_UNRESOLVED};
    pub use super::rules::sequences::SEQUENCE_SHARED;
    pub use super::rules::tables::{
        OWNER_NOT_FORCED, RLS_DISABLED, TABLE_OWNED_BY_TENANT, TENANT_COLUMN_MISSING,
    };
    pub use super::rules::unique_keys::{UNIQUE_SURROGATE_UNSCOPED, UNIQUE_UNSCOPED};
    pub use super::rules::views::{
        MATVIEW_READABLE, VIEW_NOT_SECURITY_BARRIER, VIEW_UNSCOPED, VIEW_WRITABLE,
    };
}

/// One rule of the audit.
#[derive(Debug)]
pub struct Rule {
    pub id: &'static str,
    /// How much a finding of this rule weighs (see [`super::severity`] for what each level means).
    pub severity: Severity,
    /// What a finding of this rule means.
    pub finds: &'static str,
}

/// A family of rules decided together, by one method, from the same catalog rows.
pub struct Family {
    /// The family's file under `rules/`.
    pub name: &'static str,
    pub rules: &'static [Rule],
    run: fn(&mut Audit<'_>),
}

/// The registry: every rule family, in the order [`evaluate`] runs them (the order of the checks
/// in the report). A new family is one file under `rules/` and one entry here.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "roles",
        rules: rules::roles::RULES,
        run: |audit| audit.roles(),
    },
    Family {
        name: "tables",
        rules: rules::tables::RULES,
        run: |audit| audit.tables(),
    },
    Family {
        name: "policies",
        rules: rules::policies::RULES,
        run: |audit| audit.policies(),
    },
    Family {
        name: "grants_not_governed",
        rules: rules::grants_not_governed::RULES,
        run: |audit| audit.grants_not_governed(),
    },
    Family {
        name: "helpers",
        rules: rules::helpers::RULES,
        run: |audit| audit.helpers(),
    },
    Family {
        name: "views",
        rules: rules::views::RULES,
        run: |audit| audit.views(),
    },
    Family {
        name: "definer_functions",
        rules: rules::definer_functions::RULES,
        run: |audit| audit.definer_functions(),
    },
    Family {
        name: "foreign_keys",
        rules: rules::foreign_keys::RULES,
        run: |audit| audit.foreign_keys(),
    },
    Family {
        name: "unique_keys",
        rules: rules::unique_keys::RULES,
        run: |audit| audit.unique_keys(),
    },
    Family {
        name: "sequences",
        rules: rules::sequences::RULES,
        run: |audit| audit.sequences(),
    },
    Family {
        name: "schemas",
        rules: rules::schemas::RULES,
        run: |audit| audit.schemas(),
    },
    Family {
        name: "leakproof",
        rules: rules::leakproof::RULES,
        run: |audit| audit.leakproof(),
    },
    Family {
        name: "default_privileges",
        rules: rules::default_privileges::RULES,
        run: |audit| audit.default_privileges(),
    },
];

/// Every rule of the audit, family by family.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    FAMILIES.iter().flat_map(|f| f.rules)
}

/// The rule registered under `id`, if the audit has one.
pub fn registered(id: &str) -> Option<&'static Rule> {
    rules().find(|r| r.id == id)
}

/// Item 14 of the RLS notes: the setting is chosen by the session, not by PostgreSQL.
pub const SETTING_NOTE: &str = "custom settings such as {setting} are user-settable: RLS keyed on them isolates only as long as the application, never the tenant, sets them; set it with SET LOCAL (or set_config(..., true)) inside each transaction, because a plain SET survives COMMIT and, behind a pooler in transaction mode, leaks to the next client";

/// Run the audit against `db` and add its checks, notes and table count to `report`.
pub async fn run(db: &Db, opts: &VerifyOptions, report: &mut RlsReport) -> anyhow::Result<()> {
    let catalog = Catalog::load(db, opts).await?;
    let evaluation = evaluate(&catalog, opts);
    report.tables = evaluation.tables;
    report.checks.extend(evaluation.checks);
    report.notes.extend(evaluation.notes);
    anon_policies(db, opts, report).await
}

/// Supabase: anonymous requests run as `anon`, a tenant role too. Its policies are judged like
/// the tenant role's; only the policy findings the tenant role's audit did not already make
/// are added (a policy TO PUBLIC applies to both).
async fn anon_policies(
    db: &Db,
    opts: &VerifyOptions,
    report: &mut RlsReport,
) -> anyhow::Result<()> {
    use crate::rls::tenancy::SUPABASE_ANON;
    if !opts.tenancy.is_supabase() || opts.tenant_role == SUPABASE_ANON {
        return Ok(());
    }
    let anon = VerifyOptions {
        tenant_role: SUPABASE_ANON.into(),
        ..opts.clone()
    };
    let catalog = Catalog::load(db, &anon).await?;
    if !matches!(catalog.tenant, Ok(Some(_))) {
        return Ok(()); // no anon role: no anonymous request reaches this database
    }
    let seen: BTreeSet<String> = report.checks.iter().map(|c| c.name.clone()).collect();
    let policy_rules = [
        rule::POLICY_UNSCOPED,
        rule::POLICY_GROUP_UNSCOPED,
        rule::POLICY_CHECK_UNSCOPED,
    ];
    report
        .checks
        .extend(evaluate(&catalog, &anon).checks.into_iter().filter(|c| {
            c.finding()
                .is_some_and(|f| policy_rules.contains(&f.rule.as_str()))
                && !seen.contains(&c.name)
        }));
    Ok(())
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
            out.checks.push(rules::roles::tenant_role_missing(opts));
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
    for family in FAMILIES {
        (family.run)(&mut audit);
    }
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

fn cmd_list(cmds: &[Cmd]) -> String {
    cmds.iter().map(|c| c.sql()).collect::<Vec<_>>().join(", ")
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
    /// The membership table policies may scope through (membership and supabase models).
    members: Option<predicate::Members>,
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
        let supabase = opts.tenancy.is_supabase();
        let helpers =
            predicate::Helpers::new(cat.helpers.iter().flatten().map(|h| predicate::Helper {
                schema: h.schema.clone(),
                name: h.name.clone(),
                accepted: !reach_oids.contains(&h.owner)
                    && (predicate::helper_body_ok(&h.language, &h.source, &opts.setting)
                        || (supabase && is_supabase_uid(h))),
                reads_setting: h.source.contains(opts.setting.as_str()),
            }));
        let members = opts.tenancy.membership().map(|m| {
            let bare = predicate::Members {
                table: m.table.clone(),
                user_col: m.user_col.clone(),
                tenant_col: m.tenant_col.clone(),
                arg_helpers: Vec::new(),
                set_helpers: Vec::new(),
            };
            let set_helpers = cat
                .helpers
                .iter()
                .flatten()
                .filter(|h| {
                    !reach_oids.contains(&h.owner)
                        && predicate::membership::set_helper_body_ok(
                            &h.language,
                            &h.source,
                            &opts.setting,
                            &helpers,
                            &bare,
                        )
                })
                .map(|h| (h.schema.clone(), h.name.clone()))
                .collect();
            let arg_helpers = cat
                .member_helpers
                .iter()
                .flatten()
                .filter(|h| !reach_oids.contains(&h.owner))
                .filter_map(|h| {
                    let tenant_arg = predicate::membership::helper_body_ok(
                        &h.language,
                        &h.source,
                        &h.args,
                        &opts.setting,
                        &helpers,
                        &bare,
                    )?;
                    Some(predicate::ArgHelper {
                        schema: h.schema.clone(),
                        name: h.name.clone(),
                        nargs: h.args.len(),
                        tenant_arg,
                    })
                })
                .collect();
            predicate::Members {
                arg_helpers,
                set_helpers,
                ..bare
            }
        });
        Audit {
            cat,
            opts,
            tenant,
            reach,
            tables,
            tenant_tables,
            grants,
            helpers,
            members,
            checks: Vec::new(),
        }
    }

    fn table_count(&self) -> usize {
        self.tables.len()
    }

    fn record(&mut self, rule: &str, object: &str, command: Option<&str>, verdict: Verdict) {
        // A rule missing from the registry would weigh as an error whatever it finds.
        debug_assert!(registered(rule).is_some(), "{rule} is not in FAMILIES");
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

    fn root_qname(&self) -> String {
        self.tables
            .iter()
            .find(|t| self.is_root(t))
            .map(|t| t.qname.clone())
            .unwrap_or_else(|| sql_ident(&self.opts.root_table))
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
                    "NULLIF(current_setting({}, true), '')::uuid",
                    literal(&self.opts.setting)
                )
            })
    }

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
}

/// Supabase's `auth.uid()`: the user of the request, from `request.jwt.claims` (its body
/// falls back from one claim setting to the other with COALESCE, which the column model's
/// helper forms do not accept; in the supabase model it is the identity itself).
fn is_supabase_uid(h: &HelperRow) -> bool {
    h.schema == "auth" && h.name == "uid" && h.source.contains("request.jwt.claim")
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

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

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
    fn contains_word_matches_whole_words_only() {
        assert!(contains_word("from public.tasks t", "tasks"));
        assert!(!contains_word("from public.tasks_archive", "tasks"));
    }
}
