//! Deciding whether a deparsed SQL expression scopes rows by organization (the forms accepted
//! are listed in the documentation of the audit module, [`super`]). Works on tokens grouped by
//! parentheses; never evaluates anything. Whatever it cannot parse does not scope.

#[path = "membership.rs"]
pub mod membership;

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
    /// The setting naming the organization (`app.current_org_id`), or the user in the
    /// membership and supabase models.
    pub setting: &'a str,
    pub helpers: &'a Helpers,
    /// The membership table rows are scoped through (membership and supabase models): then the
    /// setting names a user, and `C = <setting>` scopes only the membership table's own user
    /// column; tenant columns scope through [`Members`].
    pub members: Option<&'a Members>,
}

/// The membership table of the membership and supabase models, as the predicates see it.
#[derive(Debug, Clone, Default)]
pub struct Members {
    pub table: String,
    pub user_col: String,
    pub tenant_col: String,
    /// Accepted membership helpers (`is_member(organization_id)`, `is_member(organization_id,
    /// auth.uid())`).
    pub arg_helpers: Vec<ArgHelper>,
    /// Accepted functions without arguments returning the current user's tenants
    /// (`C IN (SELECT user_org_ids())`): (schema, name).
    pub set_helpers: Vec<(String, String)>,
}

/// A function with arguments accepted as a membership check ([`membership`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgHelper {
    pub schema: String,
    pub name: String,
    /// How many arguments it takes (1 or 2).
    pub nargs: usize,
    /// Which argument (from 0) stands for the tenant column; the other one, if any, for the
    /// user.
    pub tenant_arg: usize,
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
                    && ((chars[i] == '-' && n == Some('-')) || (chars[i] == '/' && n == Some('*')))
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
    if let Some(m) = scope.members {
        if membership::scopes(s, scope, m) {
            return true;
        }
    }
    // With a membership table the setting carries a user: comparing it with a tenant column
    // mixes the two (only the membership table's own user column is keyed by it).
    if scope.members.is_some_and(|m| scope.column != m.user_col) {
        return false;
    }
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
                [rest @ .., as_kw, alias] if is_word(as_kw, "as") && ident(alias).is_some() => rest,
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
            let setting_ok = matches!(core(args[0]), [Tt::T(Tok::Str(x))] if x == scope.setting);
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

/// A function body (prosrc) as tokens, without its trailing semicolons; `None` when it does not
/// tokenize.
fn body_tokens(source: &str) -> Option<Vec<Tt>> {
    let mut t = tree(source)?;
    while t.last().is_some_and(|last| is_op(last, ";")) {
        t.pop();
    }
    Some(t)
}

/// The expression a helper returns: `SELECT E` (SQL) or `BEGIN RETURN E; END` (PL/pgSQL), with
/// no second statement and no clause (FROM, WHERE …) in E; `None` for any other body.
fn returned_expression<'t>(language: &str, body: &'t [Tt]) -> Option<&'t [Tt]> {
    let expr: &[Tt] = match (language, body) {
        ("sql", [select, body @ ..]) if is_word(select, "select") => body,
        ("plpgsql", [begin, ret, body @ .., semi, end])
            if is_word(begin, "begin")
                && is_word(ret, "return")
                && is_op(semi, ";")
                && is_word(end, "end") =>
        {
            body
        }
        _ => return None,
    };
    let plain = !expr
        .iter()
        .any(|t| is_op(t, ";") || CLAUSES.iter().any(|k| is_word(t, k)));
    plain.then_some(expr)
}

/// Whether a helper's body (prosrc) is `SELECT O` (SQL) or `BEGIN RETURN O; END`
/// (PL/pgSQL) with O an organization expression built from the setting only.
pub fn helper_body_ok(language: &str, source: &str, setting: &str) -> bool {
    let Some(body) = body_tokens(source) else {
        return false;
    };
    let Some(expr) = returned_expression(language, &body) else {
        return false;
    };
    let none = Helpers::default();
    let scope = Scope {
        column: "",
        qualifier: None,
        setting,
        helpers: &none,
        members: None,
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
    if let Some(why) = scope
        .members
        .and_then(|m| membership::diagnose(expr, scope, m))
    {
        return why;
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
            members: None,
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
            members: None,
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
            members: None,
        };
        assert!(diagnose("true", &scope).contains("every row"));
        assert!(diagnose("(organization_id IS NOT NULL)", &scope).contains("IS NOT NULL"));
        assert!(diagnose("((current_setting('app.current_org_id'::text, true) IS NULL) OR (organization_id = current_org_id()))", &scope).contains("fails open"));
        assert!(diagnose(
            "(COALESCE(current_org_id(), organization_id) = organization_id)",
            &scope
        )
        .contains("fails open"));
        assert!(diagnose("(organization_id = sloppy_org_id())", &scope).contains("sloppy_org_id()"));
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
