//! Splitting a SQL script into statements, for engines where a migration runs one statement at
//! a time (CockroachDB) and for `arcdb lint`. A small lexer that knows PostgreSQL's quoting:
//! single quotes (`''` escapes), `E''` strings (backslash escapes), double-quoted identifiers,
//! dollar quotes (`$$`, `$tag$`), `--` and nested `/* */` comments, and SQL-standard
//! `BEGIN ATOMIC … END` function bodies (PostgreSQL 14+), whose semicolons do not end the
//! statement. It does not parse SQL: it only finds where statements end.

use std::ops::Range;

/// One statement of a script: its text without the terminating `;` (and without the comments
/// before it), and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    pub line: usize,
}

/// Statements sent as one simple query (one round trip), and which of them an error came from.
pub struct Batch {
    pub sql: String,
    /// Where each statement starts in `sql`, in characters (the unit of an error's position).
    starts: Vec<usize>,
}

impl Batch {
    pub fn join(statements: &[Statement]) -> Batch {
        let (mut sql, mut starts, mut chars) = (String::new(), Vec::new(), 0);
        for statement in statements {
            starts.push(chars);
            sql.push_str(&statement.text);
            sql.push_str(";\n");
            chars += statement.text.chars().count() + 2;
        }
        Batch { sql, starts }
    }

    /// The statement an error came from, and how many characters of `sql` precede it: the one
    /// its position (1-based, in characters) falls in, else the one after the `completed`
    /// statements (the server answers each statement it completes before the error).
    pub fn failed(&self, completed: usize, position: Option<u32>) -> (usize, usize) {
        let index = match position {
            Some(p) => self
                .starts
                .iter()
                .rposition(|&start| start < p as usize)
                .unwrap_or(0),
            None => completed.min(self.starts.len().saturating_sub(1)),
        };
        (index, self.starts.get(index).copied().unwrap_or(0))
    }
}

/// What a token is. Comments and whitespace produce none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or unquoted identifier.
    Word,
    /// `"Name"`.
    QuotedIdent,
    /// `'…'`, `E'…'`, `B'…'`, `X'…'`, `U&'…'` (the prefix is its own token for `U&`).
    String,
    /// `$tag$…$tag$`; `body` is the byte range between the delimiters.
    DollarString {
        body: Range<usize>,
    },
    /// `$1`.
    Param,
    Number,
    /// Any other single character (`;`, `(`, `.`, `%`, `:`…).
    Punct(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// Byte range in the text that was tokenized.
    pub span: Range<usize>,
    /// 1-based line of the token's first character.
    pub line: usize,
}

impl Token {
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.span.clone()]
    }

    /// The identifier a word or quoted identifier names (quoted: as written; unquoted: as is).
    pub fn ident<'a>(&self, sql: &'a str) -> Option<&'a str> {
        match self.kind {
            TokenKind::Word => Some(self.text(sql)),
            TokenKind::QuotedIdent => {
                let t = self.text(sql);
                Some(t.get(1..t.len().saturating_sub(1)).unwrap_or(""))
            }
            _ => None,
        }
    }

    /// Whether this is the (unquoted) keyword `word`, case-insensitively.
    pub fn is_word(&self, sql: &str, word: &str) -> bool {
        self.kind == TokenKind::Word && self.text(sql).eq_ignore_ascii_case(word)
    }
}

/// The statements of `sql`, in order. Empty statements (`;;`, comment-only tails) are dropped.
pub fn split(sql: &str) -> Vec<Statement> {
    split_tokens(sql)
        .into_iter()
        .map(|(statement, _)| statement)
        .collect()
}

/// Like [`split`], with each statement's tokens (spans into `sql`).
pub fn split_tokens(sql: &str) -> Vec<(Statement, Vec<Token>)> {
    let mut out = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    // Depth of BEGIN ATOMIC … END (and CASE … END inside it) in a CREATE FUNCTION/PROCEDURE.
    let mut depth = 0usize;
    let finish = |tokens: &mut Vec<Token>, out: &mut Vec<(Statement, Vec<Token>)>| {
        if let (Some(first), Some(last)) = (tokens.first(), tokens.last()) {
            let statement = Statement {
                text: sql[first.span.start..last.span.end].to_string(),
                line: first.line,
            };
            out.push((statement, std::mem::take(tokens)));
        }
    };
    for token in tokenize(sql) {
        if token.kind == TokenKind::Punct(';') && depth == 0 {
            finish(&mut current, &mut out);
            continue;
        }
        if token.kind == TokenKind::Word && is_routine_definition(sql, &current) {
            if token.is_word(sql, "BEGIN") || (depth > 0 && token.is_word(sql, "CASE")) {
                depth += 1;
            } else if depth > 0 && token.is_word(sql, "END") {
                depth -= 1;
            }
        }
        current.push(token);
    }
    finish(&mut current, &mut out);
    out
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE …` so far.
fn is_routine_definition(sql: &str, tokens: &[Token]) -> bool {
    let words: Vec<&Token> = tokens.iter().take(4).collect();
    match words.as_slice() {
        [create, or, replace, what, ..]
            if create.is_word(sql, "CREATE")
                && or.is_word(sql, "OR")
                && replace.is_word(sql, "REPLACE") =>
        {
            what.is_word(sql, "FUNCTION") || what.is_word(sql, "PROCEDURE")
        }
        [create, what, ..] if create.is_word(sql, "CREATE") => {
            what.is_word(sql, "FUNCTION") || what.is_word(sql, "PROCEDURE")
        }
        _ => false,
    }
}

/// Every token of `sql`.
pub fn tokenize(sql: &str) -> Vec<Token> {
    tokenize_range(sql, 0..sql.len(), 1)
}

/// The tokens of `sql[range]` (spans stay relative to `sql`), counting lines from `line` (the
/// line `range.start` is on). Used for the bodies of dollar-quoted functions.
pub fn tokenize_range(sql: &str, range: Range<usize>, line: usize) -> Vec<Token> {
    Lexer {
        sql,
        bytes: sql.as_bytes(),
        pos: range.start,
        end: range.end,
        line,
    }
    .run()
}

struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
    end: usize,
    line: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        let i = self.pos + ahead;
        (i < self.end).then(|| self.bytes[i])
    }

    /// Advance one byte, counting newlines.
    fn bump(&mut self) {
        if self.bytes[self.pos] == b'\n' {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn run(mut self) -> Vec<Token> {
        let mut tokens = Vec::new();
        while let Some(b) = self.peek(0) {
            if b.is_ascii_whitespace() {
                self.bump();
                continue;
            }
            if b == b'-' && self.peek(1) == Some(b'-') {
                while self.peek(0).is_some_and(|c| c != b'\n') {
                    self.bump();
                }
                continue;
            }
            if b == b'/' && self.peek(1) == Some(b'*') {
                self.block_comment();
                continue;
            }
            let start = self.pos;
            let line = self.line;
            let kind = self.token(b);
            tokens.push(Token {
                kind,
                span: start..self.pos,
                line,
            });
        }
        tokens
    }

    /// `/* … */`, nested as PostgreSQL nests them; an unterminated one runs to the end.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek(0) {
            if b == b'/' && self.peek(1) == Some(b'*') {
                depth += 1;
                self.bump();
                self.bump();
            } else if b == b'*' && self.peek(1) == Some(b'/') {
                depth -= 1;
                self.bump();
                self.bump();
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    fn token(&mut self, b: u8) -> TokenKind {
        match b {
            b'\'' => {
                self.quoted(b'\'', false);
                TokenKind::String
            }
            b'"' => {
                self.quoted(b'"', false);
                TokenKind::QuotedIdent
            }
            b'$' => self.dollar(),
            b'0'..=b'9' => {
                self.number();
                TokenKind::Number
            }
            b'.' if self.peek(1).is_some_and(|c| c.is_ascii_digit()) => {
                self.number();
                TokenKind::Number
            }
            _ if is_ident_start(b) => {
                let start = self.pos;
                while self.peek(0).is_some_and(is_ident_char) {
                    self.bump();
                }
                // String prefixes: E'…' (backslash escapes), B'…', X'…', N'…'.
                let word = &self.sql[start..self.pos];
                if self.peek(0) == Some(b'\'') && word.len() == 1 {
                    match word.as_bytes()[0].to_ascii_uppercase() {
                        b'E' => {
                            self.quoted(b'\'', true);
                            return TokenKind::String;
                        }
                        b'B' | b'X' | b'N' => {
                            self.quoted(b'\'', false);
                            return TokenKind::String;
                        }
                        _ => {}
                    }
                }
                TokenKind::Word
            }
            _ => {
                // One character, whole (not one byte of a multibyte one).
                let c = self.sql[self.pos..].chars().next().unwrap_or('\0');
                for _ in 0..c.len_utf8() {
                    self.bump();
                }
                TokenKind::Punct(c)
            }
        }
    }

    /// A quoted run starting at the opening `quote`; a doubled quote is an escaped one, and with
    /// `backslash` a backslash escapes the next byte. An unterminated one runs to the end.
    fn quoted(&mut self, quote: u8, backslash: bool) {
        self.bump();
        while let Some(b) = self.peek(0) {
            if backslash && b == b'\\' {
                self.bump();
                if self.peek(0).is_some() {
                    self.bump();
                }
            } else if b == quote {
                self.bump();
                if self.peek(0) == Some(quote) {
                    self.bump();
                } else {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    fn number(&mut self) {
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
        if matches!(self.peek(0), Some(b'e' | b'E'))
            && (self.peek(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.peek(1), Some(b'+' | b'-'))
                    && self.peek(2).is_some_and(|c| c.is_ascii_digit())))
        {
            self.bump();
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
        }
    }

    /// `$1` (a parameter), `$tag$…$tag$` / `$$…$$` (a dollar-quoted string), or a lone `$`.
    fn dollar(&mut self) -> TokenKind {
        if self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            return TokenKind::Param;
        }
        // The tag: empty, or an identifier without `$`.
        let mut len = 1;
        if self.peek(1).is_some_and(is_ident_start) {
            while self
                .peek(len)
                .is_some_and(|c| is_ident_start(c) || c.is_ascii_digit())
            {
                len += 1;
            }
        }
        if self.peek(len) != Some(b'$') {
            self.bump();
            return TokenKind::Punct('$');
        }
        let delimiter = &self.sql[self.pos..self.pos + len + 1];
        for _ in 0..=len {
            self.bump();
        }
        let body_start = self.pos;
        match self.sql[self.pos..self.end].find(delimiter) {
            Some(offset) => {
                let body_end = self.pos + offset;
                while self.pos < body_end + delimiter.len() {
                    self.bump();
                }
                TokenKind::DollarString {
                    body: body_start..body_end,
                }
            }
            None => {
                while self.pos < self.end {
                    self.bump();
                }
                TokenKind::DollarString {
                    body: body_start..self.end,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_names_the_statement_an_error_came_from() {
        let statements = split("CREATE TABLE é (id int);\nINSERT INTO é VALUES (1);\nSELECT nope;");
        let batch = Batch::join(&statements);
        assert_eq!(
            batch.sql,
            "CREATE TABLE é (id int);\nINSERT INTO é VALUES (1);\nSELECT nope;\n"
        );
        // Characters, not bytes: each é is one. The statements start at 0, 25 and 51.
        // By position: "nope" is character 59 (1-based) of the batch, 8 of its statement.
        assert_eq!(batch.failed(0, Some(59)), (2, 51));
        assert_eq!(batch.failed(0, Some(25)), (0, 0));
        assert_eq!(batch.failed(0, Some(26)), (1, 25));
        // Without a position, by the statements completed before it.
        assert_eq!(batch.failed(1, None), (1, 25));
        assert_eq!(batch.failed(9, None), (2, 51));
    }

    fn texts(sql: &str) -> Vec<(usize, String)> {
        split(sql).into_iter().map(|s| (s.line, s.text)).collect()
    }

    fn one(line: usize, text: &str) -> (usize, String) {
        (line, text.to_string())
    }

    #[test]
    fn splits_on_semicolons_with_lines() {
        let sql = "-- header\nCREATE TABLE a (x int);\n\n  INSERT INTO a VALUES (1);SELECT 2\n;\n-- trailing comment only\n";
        assert_eq!(
            texts(sql),
            vec![
                one(2, "CREATE TABLE a (x int)"),
                one(4, "INSERT INTO a VALUES (1)"),
                one(4, "SELECT 2"),
            ]
        );
        assert!(split("").is_empty());
        assert!(split(";; -- nothing\n/* at all */ ;").is_empty());
    }

    #[test]
    fn semicolons_inside_quotes_and_comments_do_not_split() {
        let sql = "SELECT 'a;b', 'it''s;', \"we;ird\"\"id\" -- c;omment\n FROM t /* x; /* nested; */ still; */ WHERE y = E'\\';' ;\nSELECT 2;";
        let got = texts(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].1.starts_with("SELECT 'a;b'"));
        assert!(got[0].1.ends_with("E'\\';'"), "{}", got[0].1);
        assert_eq!(got[1], one(3, "SELECT 2"));
    }

    #[test]
    fn standard_strings_keep_backslashes_literal() {
        // In a standard string a backslash is just a character: the quote after it ends it.
        let got = texts("SELECT 'C:\\'; SELECT 3;");
        assert_eq!(got, vec![one(1, "SELECT 'C:\\'"), one(1, "SELECT 3")]);
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        let sql = "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  x := 'a;'; RETURN NEW;\nEND;\n$$;\nDO $body$ BEGIN PERFORM 1; RAISE NOTICE '$$;'; END $body$;\nSELECT $1, a$b, $q$ ; $q$ FROM t;";
        let got = texts(sql);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].1.ends_with("END;\n$$"));
        assert_eq!(got[1].0, 6);
        assert!(got[1].1.ends_with("END $body$"));
        assert_eq!(got[2], one(7, "SELECT $1, a$b, $q$ ; $q$ FROM t"));
    }

    #[test]
    fn begin_atomic_bodies_stay_whole() {
        let sql = "CREATE OR REPLACE FUNCTION f(a int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN a > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\nBEGIN;\nCOMMIT;";
        let got = texts(sql);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].1.ends_with("SELECT 2;\nEND"));
        assert_eq!(got[1], one(6, "BEGIN"));
        assert_eq!(got[2], one(7, "COMMIT"));
    }

    #[test]
    fn unterminated_quotes_run_to_the_end() {
        assert_eq!(split("SELECT 'abc; SELECT 1;").len(), 1);
        assert_eq!(split("SELECT $$abc; SELECT 1;").len(), 1);
        assert_eq!(split("SELECT 1 /* abc; SELECT 1;").len(), 1);
    }

    #[test]
    fn tokens_know_their_kind_and_line() {
        let sql = "x %TYPE\n\"Q\"\"x\" 1.5e3 $2 $t$b\no\ndy$t$ é;";
        let tokens = tokenize(sql);
        let kinds: Vec<(&str, usize)> = tokens.iter().map(|t| (t.text(sql), t.line)).collect();
        assert_eq!(
            kinds,
            vec![
                ("x", 1),
                ("%", 1),
                ("TYPE", 1),
                ("\"Q\"\"x\"", 2),
                ("1.5e3", 2),
                ("$2", 2),
                ("$t$b\no\ndy$t$", 2),
                ("é", 4),
                (";", 4)
            ]
        );
        assert_eq!(tokens[3].ident(sql), Some("Q\"\"x"));
        let TokenKind::DollarString { body } = &tokens[6].kind else {
            panic!("not a dollar string: {:?}", tokens[6]);
        };
        assert_eq!(&sql[body.clone()], "b\no\ndy");
        let inner = tokenize_range(sql, body.clone(), 2);
        assert_eq!(
            inner
                .iter()
                .map(|t| (t.text(sql), t.line))
                .collect::<Vec<_>>(),
            vec![("b", 2), ("o", 3), ("dy", 4)]
        );
    }
}
