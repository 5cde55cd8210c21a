//! Predicates that scope through a membership table (the membership and supabase models of
//! [`crate::rls::tenancy`]). With `members(user_col, tenant_col)` and U a user expression (the
//! setting read as [`super::is_org`] accepts it, an accepted helper such as
//! `current_user_id()`, Supabase's `auth.uid()`, each optionally as `(SELECT …)`), a predicate
//! on a table with tenant column C scopes when it is
//! - `C IN (SELECT m.tenant_col FROM members m WHERE … m.user_col = U …)`;
//! - `EXISTS (SELECT … FROM members m WHERE … m.tenant_col = T.C AND m.user_col = U …)`, C
//!   referring to the outer table (an unqualified C inside the subquery is the membership
//!   table's own column when it has one of that name: `m.tenant_col = m.tenant_col` holds for
//!   every row);
//! - `f(C)` where f is an accepted membership helper: a function of one argument returning
//!   boolean, not owned by the tenant, whose body (`SELECT E` in SQL, `BEGIN RETURN E; END` in
//!   PL/pgSQL) is one of the forms above with its argument standing for C; or `f(C, U)` (the
//!   arguments in the function's order) for one of two arguments whose body binds the user
//!   column to the other argument;
//! - `C IN (SELECT f())` where f, without arguments and not owned by the tenant, returns the
//!   user's tenants (its body is the IN form's subquery).
//!
//! The subquery reads the membership table alone (no join, no GROUP/LIMIT/UNION), and its
//! WHERE is a conjunction (an OR there could admit memberships of other users). Binding the
//! user column to U is required: a membership subquery without it, or binding the tenant
//! column to U, or selecting the user column instead of the tenant column, does not scope.

use super::*;

/// Whether `s` (one comparison-level term) scopes through the membership table.
pub(super) fn scopes(s: &[Tt], scope: &Scope, m: &Members) -> bool {
    // C IN (SELECT m.tenant_col FROM members m WHERE … m.user_col = U …)
    if let [lhs @ .., kw, Tt::Paren(inner)] = s {
        if is_word(kw, "in") && !lhs.is_empty() && is_column(lhs, scope) {
            if let Some(q) = query(inner, m) {
                return q.selects(m, &m.tenant_col) && q.bound_to_user(scope, m);
            }
            // C IN (SELECT user_org_ids()): a set of the user's tenants.
            return set_call(inner, m);
        }
    }
    // EXISTS (SELECT … FROM members m WHERE m.tenant_col = T.C AND m.user_col = U)
    if let [kw, Tt::Paren(inner)] = s {
        if is_word(kw, "exists") {
            return query(inner, m)
                .is_some_and(|q| q.bound_to_user(scope, m) && q.bound_to_outer(scope, m));
        }
    }
    // helper(C)
    let (schema, name, args) = match core(s) {
        [n, Tt::Paren(a)] => (None, ident(n), a),
        [sch, dot, n, Tt::Paren(a)] if is_op(dot, ".") => (ident(sch), ident(n), a),
        _ => return false,
    };
    let Some(name) = name else {
        return false;
    };
    let args = split_top(args, |t| is_op(t, ","));
    m.arg_helpers.iter().any(|h| {
        h.name == name
            && schema.is_none_or(|s| s == h.schema)
            && h.nargs == args.len()
            && is_column(args[h.tenant_arg], scope)
            && (0..h.nargs)
                .filter(|i| *i != h.tenant_arg)
                .all(|i| is_org(args[i], scope))
    })
}

/// `SELECT f() [AS alias]` with f an accepted set helper.
fn set_call(inner: &[Tt], m: &Members) -> bool {
    let call = match unwrap(inner) {
        [select, rest @ .., as_kw, alias]
            if is_word(select, "select") && is_word(as_kw, "as") && ident(alias).is_some() =>
        {
            rest
        }
        [select, rest @ ..] if is_word(select, "select") => rest,
        _ => return false,
    };
    let (schema, name) = match call {
        [n, Tt::Paren(a)] if a.is_empty() => (None, ident(n)),
        [sch, dot, n, Tt::Paren(a)] if is_op(dot, ".") && a.is_empty() => (ident(sch), ident(n)),
        _ => return false,
    };
    name.is_some_and(|name| {
        m.set_helpers
            .iter()
            .any(|(hs, hn)| hn == name && schema.is_none_or(|s| s == hs))
    })
}

/// Whether the body of a function without arguments is the query of the current user's
/// tenants: `SELECT m.tenant_col FROM members m WHERE … m.user_col = U …` (SQL), or that
/// query after `BEGIN RETURN QUERY` (PL/pgSQL).
pub fn set_helper_body_ok(
    language: &str,
    source: &str,
    setting: &str,
    helpers: &Helpers,
    m: &Members,
) -> bool {
    let Some(t) = body_tokens(source) else {
        return false;
    };
    let body: &[Tt] = match (language, t.as_slice()) {
        ("sql", body) => body,
        ("plpgsql", [begin, ret, q, body @ .., semi, end])
            if is_word(begin, "begin")
                && is_word(ret, "return")
                && is_word(q, "query")
                && is_op(semi, ";")
                && is_word(end, "end") =>
        {
            body
        }
        _ => return false,
    };
    if body.iter().any(|t| is_op(t, ";")) {
        return false;
    }
    let scope = Scope {
        column: "",
        qualifier: None,
        setting,
        helpers,
        members: None,
    };
    query(body, m).is_some_and(|q| q.selects(m, &m.tenant_col) && q.bound_to_user(&scope, m))
}

/// `SELECT target FROM [schema.]members [[AS] alias] WHERE cond`.
struct Query<'t> {
    target: &'t [Tt],
    alias: Option<&'t str>,
    cond: &'t [Tt],
}

fn query<'t>(inner: &'t [Tt], m: &Members) -> Option<Query<'t>> {
    let [first, rest @ ..] = unwrap(inner) else {
        return None;
    };
    if !is_word(first, "select") {
        return None;
    }
    let from = rest.iter().position(|t| is_word(t, "from"))?;
    let (target, after) = (&rest[..from], &rest[from + 1..]);
    let at = after.iter().position(|t| is_word(t, "where"))?;
    let (source, cond) = (&after[..at], &after[at + 1..]);
    if cond.iter().any(|t| CLAUSES.iter().any(|k| is_word(t, k))) {
        return None;
    }
    let (name, rest) = match source {
        [_, dot, n, rest @ ..] if is_op(dot, ".") => (ident(n)?, rest),
        [n, rest @ ..] => (ident(n)?, rest),
        [] => return None,
    };
    if name != m.table {
        return None;
    }
    let alias = match rest {
        [] => None,
        [a] => Some(ident(a)?),
        [as_kw, a] if is_word(as_kw, "as") => Some(ident(a)?),
        _ => return None,
    };
    Some(Query {
        target,
        alias,
        cond,
    })
}

impl Query<'_> {
    /// What the membership table is called inside the subquery.
    fn name<'a>(&'a self, m: &'a Members) -> &'a str {
        self.alias.unwrap_or(&m.table)
    }

    /// `s` is the membership table's column `col` (qualified by its name or alias, or not).
    fn is_member_col(&self, s: &[Tt], m: &Members, col: &str) -> bool {
        match core(s) {
            [c] => ident(c) == Some(col),
            [q, dot, c] if is_op(dot, ".") => {
                ident(c) == Some(col) && ident(q) == Some(self.name(m))
            }
            _ => false,
        }
    }

    fn selects(&self, m: &Members, col: &str) -> bool {
        let target = match self.target {
            [distinct, rest @ ..] if is_word(distinct, "distinct") => rest,
            t => t,
        };
        let target = match target {
            [rest @ .., as_kw, alias] if is_word(as_kw, "as") && ident(alias).is_some() => rest,
            t => t,
        };
        self.is_member_col(target, m, col)
    }

    /// The top-level conjuncts of the WHERE, or none when it has an OR.
    fn conjuncts(&self) -> Vec<&[Tt]> {
        let cond = unwrap(self.cond);
        if split_top(cond, |t| is_word(t, "or")).len() > 1 {
            return Vec::new();
        }
        split_top(cond, |t| is_word(t, "and"))
            .into_iter()
            .map(unwrap)
            .collect()
    }

    /// Some conjunct is `member.col = other` (either way round) with `other` accepted.
    fn binds(&self, m: &Members, col: &str, other: impl Fn(&[Tt]) -> bool) -> bool {
        self.conjuncts().into_iter().any(|c| {
            let sides = split_top(c, |t| is_op(t, "="));
            sides.len() == 2
                && ((self.is_member_col(sides[0], m, col) && other(sides[1]))
                    || (self.is_member_col(sides[1], m, col) && other(sides[0])))
        })
    }

    fn bound_to_user(&self, scope: &Scope, m: &Members) -> bool {
        self.binds(m, &m.user_col, |u| is_org(u, scope))
    }

    /// `member.tenant_col = C` with C the outer table's tenant column.
    fn bound_to_outer(&self, scope: &Scope, m: &Members) -> bool {
        let inner = self.name(m).to_string();
        self.binds(m, &m.tenant_col, |s| match core(s) {
            [q, dot, c] if is_op(dot, ".") => {
                ident(c) == Some(scope.column)
                    && ident(q)
                        .is_some_and(|q| q != inner && scope.qualifier.is_none_or(|want| q == want))
            }
            // Unqualified, it is the membership table's column when it has one of that name.
            [c] => {
                ident(c) == Some(scope.column)
                    && scope.column != m.tenant_col
                    && scope.column != m.user_col
            }
            _ => false,
        })
    }
}

/// Which argument of a helper stands for the tenant column, when its body is a membership check
/// of it (see the module documentation): one argument, the tenant; two, the tenant and the
/// user (`is_member(org, uid)`: the body must bind the membership's user column to the other).
/// `args` are the arguments' names (empty when unnamed; `$1`, `$2` stand for them too).
pub fn helper_body_ok(
    language: &str,
    source: &str,
    args: &[String],
    setting: &str,
    helpers: &Helpers,
    m: &Members,
) -> Option<usize> {
    if !(1..=2).contains(&args.len()) {
        return None;
    }
    (0..args.len()).find(|&tenant| {
        let mut body = source.to_string();
        for (i, name) in args.iter().enumerate() {
            let with = if i == tenant {
                TENANT_ARG
            } else {
                USER_ARG_CALL
            };
            body = body.replace(&format!("${}", i + 1), with);
            if !name.is_empty() {
                body = replace_word(&body, name, with);
            }
        }
        body_scopes(language, &body, setting, helpers, m)
    })
}

/// What a helper's tenant argument becomes in its body, for judging it.
const TENANT_ARG: &str = "arcdb_tenant_arg";
/// What a helper's user argument becomes: a call of an accepted user helper.
const USER_ARG: &str = "arcdb_user_arg";
const USER_ARG_CALL: &str = "arcdb_user_arg()";

/// Whether a helper's body (its arguments replaced) is `SELECT E` (SQL) or `BEGIN RETURN E;
/// END` (PL/pgSQL) with E scoping [`TENANT_ARG`] through the membership table.
fn body_scopes(
    language: &str,
    source: &str,
    setting: &str,
    helpers: &Helpers,
    m: &Members,
) -> bool {
    let Some(body) = body_tokens(source) else {
        return false;
    };
    let Some(expr) = returned_expression(language, &body) else {
        return false;
    };
    // Judged without the helpers with arguments (no recursion), and with the user argument
    // accepted as the user.
    let bare = Members {
        arg_helpers: Vec::new(),
        set_helpers: Vec::new(),
        ..m.clone()
    };
    let helpers = Helpers {
        all: helpers
            .all
            .iter()
            .cloned()
            .chain([Helper {
                schema: String::new(),
                name: USER_ARG.into(),
                accepted: true,
                reads_setting: true,
            }])
            .collect(),
    };
    let scope = Scope {
        column: TENANT_ARG,
        qualifier: None,
        setting,
        helpers: &helpers,
        members: Some(&bare),
    };
    scoped_tt(expr, &scope)
}

/// `text` with every whole identifier `word` (case-insensitive, as unquoted SQL names are)
/// replaced by `with`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let lower = text.to_lowercase();
    let word = word.to_lowercase();
    if lower.len() != text.len() || word.is_empty() {
        return text.to_string(); // lower-casing changed the byte offsets: leave it alone
    }
    let mut out = String::new();
    let (mut last, mut start) = (0, 0);
    while let Some(pos) = lower[start..].find(&word) {
        let at = start + pos;
        let end = at + word.len();
        let before = lower[..at].chars().next_back();
        let after = lower[end..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            out.push_str(&text[last..at]);
            out.push_str(with);
            last = end;
        }
        start = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Why a predicate does not scope through the membership table, when it reads it at all.
pub fn diagnose(expr: &str, scope: &Scope, m: &Members) -> Option<String> {
    let words: Vec<String> = tokenize(expr)?
        .into_iter()
        .filter_map(|t| match t {
            Tok::Word(w) | Tok::Quoted(w) => Some(w),
            _ => None,
        })
        .collect();
    if !words.contains(&m.table) {
        // No membership subquery: a tenant column compared with the user directly.
        return (scope.column != m.user_col && words.iter().any(|w| w == scope.column)).then(|| {
            format!(
                "the setting {} carries a user id, not a tenant id: scope {} through {} ({} IN (SELECT m.{} FROM {} m WHERE m.{} = <user>)), EXISTS, or a membership helper such as is_member({})",
                scope.setting, scope.column, m.table, scope.column, m.tenant_col, m.table, m.user_col, scope.column
            )
        });
    }
    Some(format!(
        "its subquery over {table} does not bind {table}.{user} to the current user ({user} = current_setting('{setting}', true)::…, or an accepted helper) with {table}.{tenant} matched to {column}, so it admits the rows of tenants the user does not belong to",
        table = m.table,
        user = m.user_col,
        tenant = m.tenant_col,
        setting = scope.setting,
        column = scope.column
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Members {
        Members {
            table: "organization_members".into(),
            user_col: "user_id".into(),
            tenant_col: "organization_id".into(),
            arg_helpers: vec![
                ArgHelper {
                    schema: "public".into(),
                    name: "is_member".into(),
                    nargs: 1,
                    tenant_arg: 0,
                },
                ArgHelper {
                    schema: "public".into(),
                    name: "has_member".into(),
                    nargs: 2,
                    tenant_arg: 0,
                },
            ],
            set_helpers: vec![("public".into(), "user_org_ids".into())],
        }
    }

    #[test]
    fn set_helper_bodies() {
        let (h, m) = (helpers(), members());
        let ok =
            |lang: &str, body: &str| set_helper_body_ok(lang, body, "app.current_user_id", &h, &m);
        assert!(ok(
            "sql",
            " SELECT organization_id FROM organization_members WHERE user_id = current_user_id() "
        ));
        assert!(ok(
            "plpgsql",
            "\nBEGIN\n  RETURN QUERY SELECT m.organization_id FROM public.organization_members m WHERE m.user_id = (SELECT auth.uid());\nEND;\n"
        ));
        for bad in [
            "SELECT organization_id FROM organization_members",
            "SELECT user_id FROM organization_members WHERE user_id = current_user_id()",
            "SELECT organization_id FROM organization_members WHERE user_id = current_user_id() OR true",
            "SELECT id FROM organizations",
        ] {
            assert!(!ok("sql", bad), "{bad}");
        }
    }

    fn helpers() -> Helpers {
        Helpers::new([
            Helper {
                schema: "public".into(),
                name: "current_user_id".into(),
                accepted: true,
                reads_setting: true,
            },
            Helper {
                schema: "auth".into(),
                name: "uid".into(),
                accepted: true,
                reads_setting: true,
            },
        ])
    }

    fn scoped_as(expr: &str, column: &str) -> bool {
        let (h, m) = (helpers(), members());
        let scope = Scope {
            column,
            qualifier: Some("tasks"),
            setting: "app.current_user_id",
            helpers: &h,
            members: Some(&m),
        };
        scoped(expr, &scope)
    }

    #[test]
    fn membership_forms_scope() {
        for e in [
            "(organization_id IN ( SELECT organization_members.organization_id FROM organization_members WHERE (organization_members.user_id = (current_setting('app.current_user_id'::text, true))::uuid)))",
            "(organization_id IN ( SELECT m.organization_id FROM organization_members m WHERE ((m.user_id = ( SELECT auth.uid() AS uid)) AND (m.role = 'admin'::text))))",
            "(organization_id IN ( SELECT m.organization_id FROM public.organization_members AS m WHERE (m.user_id = current_user_id())))",
            "(organization_id IN ( SELECT DISTINCT m.organization_id FROM organization_members m WHERE (m.user_id = current_user_id())))",
            "(EXISTS ( SELECT 1 FROM organization_members m WHERE ((m.organization_id = tasks.organization_id) AND (m.user_id = (NULLIF(current_setting('app.current_user_id'::text, true), ''::text))::uuid))))",
            "is_member(organization_id)",
            "public.is_member(tasks.organization_id)",
            "(is_member(organization_id) AND (status <> 'x'::text))",
            "has_member(organization_id, ( SELECT auth.uid() AS uid))",
            "(organization_id IN ( SELECT user_org_ids() AS user_org_ids))",
            "(organization_id IN ( SELECT public.user_org_ids() AS user_org_ids))",
        ] {
            assert!(scoped_as(e, "organization_id"), "{e}");
        }
        // The membership table's own rows: those of the current user.
        assert!(scoped_as(
            "(user_id = (current_setting('app.current_user_id'::text, true))::uuid)",
            "user_id"
        ));
    }

    #[test]
    fn membership_holes_do_not_scope() {
        for e in [
            // Not bound to the current user.
            "(organization_id IN ( SELECT organization_members.organization_id FROM organization_members))",
            "(organization_id IN ( SELECT m.organization_id FROM organization_members m WHERE (m.role = 'admin'::text)))",
            "(organization_id IN ( SELECT m.organization_id FROM organization_members m WHERE ((m.user_id = current_user_id()) OR m.public)))",
            // The wrong column.
            "(organization_id IN ( SELECT m.user_id FROM organization_members m WHERE (m.user_id = current_user_id())))",
            "(organization_id IN ( SELECT m.organization_id FROM organization_members m WHERE (m.organization_id = current_user_id())))",
            // EXISTS comparing the membership column with itself.
            "(EXISTS ( SELECT 1 FROM organization_members m WHERE ((m.organization_id = m.organization_id) AND (m.user_id = current_user_id()))))",
            "(EXISTS ( SELECT 1 FROM organization_members m WHERE (m.user_id = current_user_id())))",
            // Another table, a join, an unaccepted helper.
            "(organization_id IN ( SELECT t.organization_id FROM teams t WHERE (t.user_id = current_user_id())))",
            "(organization_id IN ( SELECT m.organization_id FROM organization_members m JOIN x ON true WHERE (m.user_id = current_user_id())))",
            "can_see(organization_id)",
            // A helper of two arguments called with something else than the user.
            "has_member(organization_id, organization_id)",
            "has_member(organization_id)",
            // A set function that is not an accepted one.
            "(organization_id IN ( SELECT all_org_ids() AS all_org_ids))",
            // The user id is no tenant id.
            "(organization_id = current_user_id())",
        ] {
            assert!(!scoped_as(e, "organization_id"), "{e}");
        }
    }

    #[test]
    fn diagnoses_name_the_membership_hole() {
        let (h, m) = (helpers(), members());
        let scope = Scope {
            column: "organization_id",
            qualifier: Some("tasks"),
            setting: "app.current_user_id",
            helpers: &h,
            members: Some(&m),
        };
        let d = |e: &str| super::super::diagnose(e, &scope);
        assert!(
            d("(organization_id IN ( SELECT m.organization_id FROM organization_members m))")
                .contains("does not bind organization_members.user_id to the current user")
        );
        assert!(d("(organization_id = current_user_id())").contains("carries a user id"));
        assert!(d("true").contains("every row"));
        assert!(d("((current_user_id() IS NULL) OR (organization_id IN ( SELECT m.organization_id FROM organization_members m WHERE (m.user_id = current_user_id()))))")
            .contains("fails open"));
    }

    #[test]
    fn membership_helper_bodies() {
        let (h, m) = (helpers(), members());
        let ok = |lang: &str, body: &str, args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            helper_body_ok(lang, body, &args, "app.current_user_id", &h, &m)
        };
        assert_eq!(
            ok(
                "sql",
                " SELECT EXISTS (SELECT 1 FROM organization_members WHERE organization_id = $1 AND user_id = NULLIF(current_setting('app.current_user_id', true), '')::uuid) ",
                &["org"]
            ),
            Some(0)
        );
        assert_eq!(
            ok(
                "plpgsql",
                "\nBEGIN\n  RETURN p_org IN (SELECT m.organization_id FROM organization_members m WHERE m.user_id = current_user_id());\nEND;\n",
                &["p_org"]
            ),
            Some(0)
        );
        assert_eq!(
            ok(
                "sql",
                "select exists (select 1 from organization_members m where m.organization_id = $1 and m.user_id = (select auth.uid()))",
                &[""]
            ),
            Some(0)
        );
        // Two arguments: the tenant and the user, in either order.
        assert_eq!(
            ok(
                "sql",
                "SELECT EXISTS (SELECT 1 FROM organization_members m WHERE m.user_id = uid AND m.organization_id = org)",
                &["uid", "org"]
            ),
            Some(1)
        );
        assert_eq!(
            ok(
                "sql",
                "SELECT EXISTS (SELECT 1 FROM organization_members m WHERE m.user_id = $2 AND m.organization_id = $1)",
                &["", ""]
            ),
            Some(0)
        );
        for (body, args) in [
            // Not bound to the user, or the argument shadowed by the membership column.
            ("SELECT EXISTS (SELECT 1 FROM organization_members WHERE organization_id = $1)", &["org"][..]),
            ("SELECT EXISTS (SELECT 1 FROM organization_members WHERE organization_id = organization_id AND user_id = current_user_id())", &["organization_id"][..]),
            ("SELECT true", &["org"][..]),
            ("SELECT EXISTS (SELECT 1 FROM organization_members WHERE organization_id = $1 AND user_id = current_user_id()) OR true", &["org"][..]),
            // Two arguments, neither bound as the user.
            ("SELECT EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = $1 AND m.organization_id = $2)", &["a", "b"][..]),
        ] {
            assert_eq!(ok("sql", body, args), None, "{body}");
        }
    }

    /// The policy rules in the membership model, from catalog rows: a correct schema has no
    /// finding; a membership table the member may write to is found.
    #[test]
    fn policies_are_judged_through_the_membership_table() {
        use crate::rls::audit::testing::*;
        use crate::rls::audit::{evaluate, MemberHelperRow};
        use crate::rls::tenancy::{Membership, Tenancy};
        use crate::rls::VerifyOptions;
        let me = "(SELECT current_user_id() AS current_user_id)";
        let mut cat = baseline();
        let mut members = table(3, "organization_members");
        members.force_rls = true;
        cat.tables = Ok(vec![table(1, "organizations"), table(2, "tasks"), members]);
        cat.policies = Ok(vec![
            policy(1, "orgs", "r", Some(&format!("(id IN ( SELECT m.organization_id FROM organization_members m WHERE (m.user_id = {me})))")), None),
            policy(3, "own", "r", Some(&format!("(user_id = {me})")), None),
            policy(2, "tasks_member", "*", Some("is_member(organization_id)"), Some("is_member(organization_id)")),
        ]);
        cat.grants = Ok(["SELECT", "INSERT", "UPDATE", "DELETE"]
            .into_iter()
            .map(|p| grant(2, p))
            .chain([grant(1, "SELECT"), grant(3, "SELECT")])
            .collect());
        cat.foreign_keys = Ok(vec![]);
        cat.helpers = Ok(vec![crate::rls::audit::HelperRow {
            schema: "public".into(),
            name: "current_user_id".into(),
            qname: "public.current_user_id()".into(),
            language: "sql".into(),
            source: " SELECT NULLIF(current_setting('app.current_user_id', true), '')::uuid "
                .into(),
            owner: OWNER,
        }]);
        let helper = MemberHelperRow {
            schema: "public".into(),
            name: "is_member".into(),
            language: "sql".into(),
            source: " SELECT EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = org AND m.user_id = current_user_id()) ".into(),
            owner: OWNER,
            args: vec!["org".into()],
        };
        cat.member_helpers = Ok(vec![helper.clone()]);
        let opts = VerifyOptions {
            setting: "app.current_user_id".into(),
            tenancy: Tenancy::Membership(Membership {
                schema: None,
                table: "organization_members".into(),
                user_col: "user_id".into(),
                tenant_col: "organization_id".into(),
            }),
            ..VerifyOptions::default()
        };
        let found = |cat: &crate::rls::audit::Catalog| -> Vec<(String, String)> {
            evaluate(cat, &opts)
                .findings()
                .map(|f| (f.rule.clone(), f.object.clone()))
                .collect()
        };
        assert_eq!(found(&cat), vec![]);
        // In the column model the same policies do not scope.
        assert!(!evaluate(
            &cat,
            &VerifyOptions {
                setting: opts.setting.clone(),
                ..VerifyOptions::default()
            }
        )
        .findings()
        .collect::<Vec<_>>()
        .is_empty());

        // The member may add memberships for itself: it joins any organization.
        let mut join = cat.clone();
        if let (Ok(p), Ok(g)) = (&mut join.policies, &mut join.grants) {
            p.push(policy(
                3,
                "join",
                "a",
                None,
                Some(&format!("(user_id = {me})")),
            ));
            g.push(grant(3, "INSERT"));
        }
        assert!(found(&join).contains(&(
            "policy-check-unscoped".into(),
            "policy join on public.organization_members".into()
        )));

        // A helper owned by the tenant, or one that does not check the user, is not accepted.
        for bad in [
            MemberHelperRow { owner: TENANT, ..helper.clone() },
            MemberHelperRow {
                source: " SELECT EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = org) ".into(),
                ..helper.clone()
            },
        ] {
            let mut c = cat.clone();
            c.member_helpers = Ok(vec![bad]);
            assert!(found(&c).contains(&(
                "policy-unscoped".into(),
                "policy tasks_member on public.tasks".into()
            )));
        }
    }
}
