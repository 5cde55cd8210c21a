//! Rule patterns: parsed from their text once, matched on tokens (so nothing inside a string
//! literal or a comment matches).

use crate::migrate::statements::{Token, TokenKind};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    /// One token equal to one of these (words case-insensitively, or one punctuation char).
    Any(Vec<String>),
    /// One token equal to none of these.
    NoneOf(Vec<String>),
    /// Any one token.
    Wild,
    /// A `$n` parameter.
    Param,
    /// Any number of tokens.
    Gap,
    /// The previous token is none of these (consumes nothing).
    NotAfter(Vec<String>),
    Optional(Box<Elem>),
}

#[derive(Debug, Clone)]
pub(super) struct Pattern {
    anchored: bool,
    elems: Vec<Elem>,
}

fn alternatives(text: &str) -> Vec<String> {
    text.split('|').map(str::to_string).collect()
}

impl Pattern {
    /// A pattern with no element would match every statement.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }

    pub(super) fn parse(text: &str) -> Pattern {
        let mut anchored = false;
        let mut elems = Vec::new();
        for word in text.split_whitespace() {
            if let Some(rest) = word.strip_prefix('^') {
                anchored = true;
                if rest.is_empty() {
                    continue;
                }
                elems.push(Self::elem(rest));
            } else {
                elems.push(Self::elem(word));
            }
        }
        Pattern { anchored, elems }
    }

    fn elem(word: &str) -> Elem {
        if word == "..." {
            return Elem::Gap;
        }
        if let Some(inner) = word.strip_suffix('?').filter(|i| !i.is_empty()) {
            return Elem::Optional(Box::new(Self::elem(inner)));
        }
        match word {
            "_" => Elem::Wild,
            "$n" => Elem::Param,
            _ => {
                if let Some(rest) = word.strip_prefix('~').filter(|r| !r.is_empty()) {
                    Elem::NotAfter(alternatives(rest))
                } else if let Some(rest) = word.strip_prefix('-').filter(|r| !r.is_empty()) {
                    Elem::NoneOf(alternatives(rest))
                } else {
                    Elem::Any(alternatives(word))
                }
            }
        }
    }
}

fn token_is(sql: &str, token: &Token, alt: &str) -> bool {
    match &token.kind {
        TokenKind::Punct(c) => alt.chars().count() == 1 && alt.starts_with(*c),
        TokenKind::Word | TokenKind::QuotedIdent => token
            .ident(sql)
            .is_some_and(|name| name.eq_ignore_ascii_case(alt)),
        _ => false,
    }
}

fn any_of(sql: &str, token: &Token, alts: &[String]) -> bool {
    alts.iter().any(|a| token_is(sql, token, a))
}

/// Match `elems` against `tokens` from `pos`; on success, the index of the token to report
/// (the first one consumed after the last gap).
fn match_at(
    sql: &str,
    tokens: &[Token],
    elems: &[Elem],
    pos: usize,
    mark: Option<usize>,
) -> Option<usize> {
    let Some((elem, rest)) = elems.split_first() else {
        return Some(mark.unwrap_or(pos.saturating_sub(1)));
    };
    let one = |ok: bool| -> Option<usize> {
        if ok {
            match_at(sql, tokens, rest, pos + 1, Some(mark.unwrap_or(pos)))
        } else {
            None
        }
    };
    match elem {
        Elem::Any(alts) => tokens.get(pos).and_then(|t| one(any_of(sql, t, alts))),
        Elem::NoneOf(alts) => tokens.get(pos).and_then(|t| one(!any_of(sql, t, alts))),
        Elem::Wild => tokens.get(pos).and_then(|_| one(true)),
        Elem::Param => tokens
            .get(pos)
            .and_then(|t| one(t.kind == TokenKind::Param)),
        Elem::NotAfter(alts) => {
            let blocked = pos
                .checked_sub(1)
                .and_then(|p| tokens.get(p))
                .is_some_and(|t| any_of(sql, t, alts));
            if blocked {
                None
            } else {
                match_at(sql, tokens, rest, pos, mark)
            }
        }
        Elem::Optional(inner) => {
            let mut with = vec![(**inner).clone()];
            with.extend_from_slice(rest);
            match_at(sql, tokens, &with, pos, mark)
                .or_else(|| match_at(sql, tokens, rest, pos, mark))
        }
        Elem::Gap => (pos..=tokens.len()).find_map(|p| match_at(sql, tokens, rest, p, None)),
    }
}

/// Token indexes where `pattern` matches in `tokens` (each occurrence once).
pub(super) fn find_all(sql: &str, tokens: &[Token], pattern: &Pattern) -> Vec<usize> {
    if pattern.anchored {
        return match_at(sql, tokens, &pattern.elems, 0, None)
            .into_iter()
            .collect();
    }
    let mut hits: Vec<usize> = Vec::new();
    for start in 0..tokens.len() {
        if let Some(at) = match_at(sql, tokens, &pattern.elems, start, None) {
            if hits.last() != Some(&at) {
                hits.push(at);
            }
        }
    }
    hits
}
