//! Does what follows a break parse as SQL? A small reader of SQL expressions over the token
//! list: operands (literals, names, variables, calls, parenthesised groups, `CASE … END`,
//! subqueries), joined by operators, comparisons and logic. An attack has to continue the
//! query it lands in with something the database accepts; prose that happens to hold a quote
//! and a dash (`18" - vintage`, `"sweater" -wool`) does not, because two words, or a word and a
//! string, stand side by side without an operator between them. The reader is permissive where
//! databases differ (any operator symbol, unclosed groups the query's own text would close) and
//! strict only about that adjacency, which is what separates the two.

use super::tokenizer::{Kind, Token};

/// What a parsed expression contained.
#[derive(Debug, Default, Clone, Copy)]
pub struct Expr {
    /// Index of the first token after the expression.
    pub end: usize,
    /// A comparison (`=`, `<`, `LIKE`, `IN`, `IS`, `BETWEEN`, …) at its top level or inside.
    pub compares: bool,
    /// A function call or a subquery.
    pub calls: bool,
    /// Operands read.
    pub operands: usize,
    /// Only names (`white`, `col`): a bare word after a break is no evidence.
    pub only_names: bool,
}

fn comparison_word(t: &Token) -> bool {
    matches!(t.kind, Kind::Keyword)
        && matches!(t.text, "like" | "rlike" | "regexp" | "in" | "between" | "is" | "sounds")
        || matches!(t.kind, Kind::Word) && matches!(t.text, "glob" | "similar" | "ilike" | "collate")
}

fn is_comparison_op(text: &str) -> bool {
    matches!(text, "=" | "<" | ">" | "<>" | "!=" | "<=" | ">=" | "<=>" | "==" | "!<" | "!>" | "::")
}

/// A binary operator between two operands.
fn binary(t: &Token) -> bool {
    match t.kind {
        Kind::Op => !matches!(t.text, "~" | "!" | ":"),
        Kind::Logic => t.text != "not",
        Kind::Word => matches!(t.text, "div" | "mod" | "xor" | "glob" | "similar" | "ilike" | "collate" | "escape"),
        Kind::Keyword => comparison_word(t),
        _ => false,
    }
}

/// How far one reading looks: an expression of more operands, a group of more items, or a
/// group closed further than this many tokens away is not read further. Every rule asks the
/// reader again at its own token, so without a bound a long value of `1 and 1 and …` costs the
/// square of its length; with it, a constant per token.
const OPERANDS: usize = 48;
const GROUP_TOKENS: usize = 160;

/// Index after the group opened at `open` (or the end of the value: the query closes it).
fn after_group(t: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, x) in t.iter().enumerate().skip(open).take(GROUP_TOKENS) {
        match x.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    t.len().min(open + GROUP_TOKENS)
}

/// One operand at `j`; `e` gathers what it holds.
fn operand(t: &[Token], mut j: usize, e: &mut Expr, depth: u8) -> Option<usize> {
    // Unary signs, NOT and MySQL's BINARY: `-1`, `~col`, `!1`, `not 1=2`, `binary 'a'`.
    while t.get(j).is_some_and(|x| {
        (x.kind == Kind::Op && matches!(x.text, "-" | "+" | "~" | "!"))
            || (x.kind == Kind::Logic && x.text == "not")
            || (x.kind == Kind::Word && x.text == "binary")
    }) {
        j += 1;
    }
    let x = t.get(j)?;
    e.operands += 1;
    let end = match x.kind {
        Kind::Num | Kind::Str | Kind::Hex | Kind::Var => {
            e.only_names = false;
            j + 1
        }
        Kind::Keyword if matches!(x.text, "null" | "true" | "false") => {
            e.only_names = false;
            j + 1
        }
        Kind::Word => j + 1,
        // Keywords that are also names of columns and functions.
        Kind::Keyword if matches!(x.text, "user" | "database" | "schema" | "time" | "login") => j + 1,
        Kind::Func => {
            e.only_names = false;
            e.calls = true;
            if t.get(j + 1)?.kind != Kind::Open {
                return None;
            }
            group(t, j + 1, e, depth)?
        }
        Kind::Open => {
            e.only_names = false;
            group(t, j, e, depth)?
        }
        // A subquery: `select` and something a column list starts with, or `exists`.
        Kind::Keyword
            if x.text == "exists"
                || (x.text == "select"
                    && t.get(j + 1).is_some_and(|n| {
                        // A name first needs its `from` (`select name from t`, `select a, b
                        // from t`); "Select Ave, Springfield" is an address.
                        n.kind != Kind::Word
                            || t[j + 1..].iter().take(12).any(|m| m.kind == Kind::Keyword && m.text == "from")
                    })) =>
        {
            e.only_names = false;
            e.calls = true;
            t.len()
        }
        Kind::Keyword if x.text == "case" => {
            e.only_names = false;
            e.calls = true;
            j + 1 + t[j + 1..].iter().position(|y| y.text == "end")? + 1
        }
        _ => return None,
    };
    Some(end)
}

/// Words a call's arguments may hold between expressions: `cast(x as int)`, `convert(x using
/// utf8)`, `substring(x from 1 for 1)`, `group_concat(x separator ',')`, `listagg(…) within`.
const ARGUMENT_WORDS: &[&str] = &[
    "as",
    "using",
    "from",
    "for",
    "separator",
    "order",
    "by",
    "within",
    "over",
    "then",
    "else",
    "when",
    "end",
    "desc",
    "asc",
    "char",
    "unsigned",
    "signed",
    "integer",
    "numeric",
    "limit",
    "where",
    "union",
    "all",
    "group",
    "having",
];

/// A group opened at `open`, a call's arguments or a parenthesised expression: a subquery, or
/// expressions separated by commas, then `)` — or the value's end, which the query's own text
/// closes. `None` when its content is not SQL ("jacket (size 73 pln)").
fn group(t: &[Token], open: usize, e: &mut Expr, depth: u8) -> Option<usize> {
    let mut k = open + 1;
    match t.get(k) {
        None => return Some(k),
        Some(x) if x.kind == Kind::Close => return Some(k + 1),
        Some(x) if x.kind == Kind::Keyword && x.text == "select" => {
            e.calls = true;
            return Some(after_group(t, open));
        }
        _ if depth >= 6 => return Some(after_group(t, open)),
        _ => {}
    }
    for _ in 0..OPERANDS {
        let inner = expression_at(t, k, depth + 1)?;
        e.compares |= inner.compares;
        e.calls |= inner.calls;
        k = inner.end;
        match t.get(k) {
            None => return Some(k),
            Some(x) if x.kind == Kind::Comma => k += 1,
            Some(x) if x.kind == Kind::Close => return Some(k + 1),
            Some(x) if ARGUMENT_WORDS.contains(&x.text) => return Some(after_group(t, open)),
            Some(_) => return None,
        }
    }
    None
}

/// The expression starting at `j`, when one does.
pub fn expression(t: &[Token], j: usize) -> Option<Expr> {
    expression_at(t, j, 0)
}

fn expression_at(t: &[Token], j: usize, depth: u8) -> Option<Expr> {
    let mut e = Expr { only_names: true, ..Expr::default() };
    let mut k = operand(t, j, &mut e, depth)?;
    // `is [not] null`, `not like`, `not in`: a comparison word may carry a NOT.
    while let Some(op) = t.get(k).filter(|_| e.operands < OPERANDS) {
        let negated = op.kind == Kind::Logic && op.text == "not" && t.get(k + 1).is_some_and(comparison_word);
        if !(binary(op) || negated) {
            break;
        }
        if (op.kind == Kind::Op && is_comparison_op(op.text)) || comparison_word(op) || negated {
            e.compares = true;
        }
        let mut next = k + 1 + usize::from(negated);
        if (op.text == "is" && t.get(next).is_some_and(|x| x.text == "not"))
            || (op.text == "sounds" && t.get(next).is_some_and(|x| x.text == "like"))
        {
            next += 1;
        }
        k = operand(t, next, &mut e, depth)?;
    }
    e.end = k;
    Some(e)
}

/// Whether the value may end at `k`: nothing more, a comment, a statement end, or closing
/// parentheses followed by one of those.
pub fn ends_validly(t: &[Token], mut k: usize) -> bool {
    while t.get(k).is_some_and(|x| x.kind == Kind::Close) {
        k += 1;
    }
    t.get(k).is_none_or(|x| matches!(x.kind, Kind::Comment | Kind::Semi))
}

pub(super) fn is_literal(t: &Token) -> bool {
    matches!(t.kind, Kind::Num | Kind::Str | Kind::Hex)
        || (t.kind == Kind::Keyword && matches!(t.text, "true" | "false" | "null"))
}

pub(super) fn is_comparison(t: &Token) -> bool {
    (t.kind == Kind::Op && matches!(t.text, "=" | "<" | ">" | "<>" | "!=" | "<=" | ">=" | "<=>" | "==" | "::"))
        || (t.kind == Kind::Keyword
            && matches!(t.text, "like" | "rlike" | "regexp" | "is" | "in" | "between" | "sounds"))
        || (t.kind == Kind::Logic && t.text == "not")
}

pub(super) fn kw(t: Option<&Token>, words: &[&str]) -> bool {
    t.is_some_and(|x| x.kind == Kind::Keyword && words.contains(&x.text))
}

pub(super) fn kind(t: Option<&Token>, k: Kind) -> bool {
    t.is_some_and(|x| x.kind == k)
}

/// Index of the next token that is not `(`.
pub(super) fn skip_open(t: &[Token], mut j: usize) -> usize {
    while kind(t.get(j), Kind::Open) {
        j += 1;
    }
    j
}

/// Index of the next token that is not `)`.
pub(super) fn skip_close(t: &[Token], mut j: usize) -> usize {
    while kind(t.get(j), Kind::Close) {
        j += 1;
    }
    j
}

/// `f(` with arguments that parse, closed (or left for the query to close), and not followed by
/// a word: `sleep(5)`, `updatexml(1,concat(0x7e,user()),1)` — not "sleep (lots)", "baby sleep
/// (0-3 months)" or "benchmark (2019) book".
pub(super) fn called_with_sql_argument(t: &[Token], i: usize) -> bool {
    if !kind(t.get(i + 1), Kind::Open) {
        return false;
    }
    let mut k = i + 2;
    if !kind(t.get(k), Kind::Close) {
        loop {
            let Some(e) = expression(t, k) else { return false };
            k = e.end;
            if !kind(t.get(k), Kind::Comma) {
                break;
            }
            k += 1;
        }
    }
    match t.get(k) {
        None => true,
        Some(x) if x.kind == Kind::Close => t.get(k + 1).is_none_or(|n| n.kind != Kind::Word),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokenizer::tokenize;
    use super::*;

    fn tail(s: &str, quote: Option<u8>, from: usize) -> Option<(bool, bool)> {
        let t = tokenize(s, quote);
        expression(&t, from).filter(|e| ends_validly(&t, e.end)).map(|e| (e.compares, e.calls))
    }

    #[test]
    fn continuations_that_parse_and_prose_that_does_not() {
        assert_eq!(tail("x' or 1=1--", Some(b'\''), 2), Some((true, false)));
        assert_eq!(tail("') or not 1=2 and ('a'='a", Some(b'\''), 3), Some((true, false)));
        assert_eq!(tail("x' - sleep(5)--", Some(b'\''), 2), Some((false, true)));
        assert_eq!(tail("18\" - vintage look", Some(b'"'), 2), None);
        assert_eq!(tail("1950' and 60's coats", Some(b'\''), 2), None);
    }
}
