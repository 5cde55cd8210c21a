//! Writing names and values into SQL text, the way PostgreSQL's `quote_ident` and
//! `quote_literal` would: one place for every statement arcdb builds (adopt's plan, the RLS
//! probes and fixes, the views' refreshes, seed's counts).

/// An identifier as SQL needs it written: plain when it is lower case and not a reserved word,
/// else quoted (fixes and plans people read).
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
        quoted_ident(name)
    }
}

/// An identifier always double-quoted, embedded quotes doubled: valid whatever the name, for
/// statements no one reads before they run.
pub fn quoted_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`, each part a [`quoted_ident`].
pub fn quoted_name(schema: &str, name: &str) -> String {
    format!("{}.{}", quoted_ident(schema), quoted_ident(name))
}

/// `text` as a string literal, as PostgreSQL's `quote_literal` writes it: quotes doubled, and
/// with backslashes an `E''` string with them doubled too, which reads the same whatever
/// `standard_conforming_strings` is.
pub fn literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(sql_ident("tasks"), "tasks");
        assert_eq!(sql_ident("user"), "\"user\"");
        assert_eq!(sql_ident("Mixed"), "\"Mixed\"");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quoted_ident("tasks"), "\"tasks\"");
        assert_eq!(quoted_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quoted_name("public", "we\"ird"), "\"public\".\"we\"\"ird\"");
    }

    #[test]
    fn literals_are_written_as_quote_literal_writes_them() {
        assert_eq!(literal("0001_init"), "'0001_init'");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"a\b'c"), r"E'a\\b''c'");
    }
}
