//! The syntax of a filter in the query string: PostgREST's dialect, so client authors
//! already know it. `col=eq.v` (a bare `col=v` is equality too), `neq`, `gt`, `gte`, `lt`,
//! `lte`, `in.(a,b,"c,d")`, `like`/`ilike` with `*` as the wildcard, `is.null` (also
//! `is.true`/`is.false`), and `not.` before any of them. Only the syntax lives here (no
//! schema): the API types the operands by their column, and the injection check reads the
//! operands — never the operator syntax around them — through [`operands`].
//!
//! A value that does not start with a known operator is a bare equality with the whole
//! value; to compare with text that itself starts like one, write `eq.` before it.

use std::borrow::Cow;

/// An operator of the dialect (`neq` is `not.eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Like,
    ILike,
    Is,
}

/// One parsed filter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub not: bool,
    pub op: Op,
    /// One operand; the list's items for `in`.
    pub operands: Vec<Cow<'a, str>>,
}

/// A list of `in.(…)` could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadList;

fn op_of(name: &str) -> Option<(Op, bool)> {
    Some(match name {
        "eq" => (Op::Eq, false),
        "neq" => (Op::Eq, true),
        "gt" => (Op::Gt, false),
        "gte" => (Op::Gte, false),
        "lt" => (Op::Lt, false),
        "lte" => (Op::Lte, false),
        "in" => (Op::In, false),
        "like" => (Op::Like, false),
        "ilike" => (Op::ILike, false),
        "is" => (Op::Is, false),
        _ => return None,
    })
}

/// Reads a filter value.
pub fn parse(value: &str) -> Result<Parsed<'_>, BadList> {
    let (not, rest) = match value.strip_prefix("not.") {
        Some(rest) if rest.split_once('.').is_some_and(|(name, _)| op_of(name).is_some()) => (true, rest),
        _ => (false, value),
    };
    let Some((op, negated, operand)) =
        rest.split_once('.').and_then(|(name, operand)| op_of(name).map(|(op, n)| (op, n, operand)))
    else {
        return Ok(Parsed { not: false, op: Op::Eq, operands: vec![Cow::Borrowed(value)] });
    };
    let operands = if op == Op::In { list(operand)? } else { vec![Cow::Borrowed(operand)] };
    Ok(Parsed { not: not != negated, op, operands })
}

/// The items of `(a,b,"c,d")`: commas separate, double quotes keep commas and parentheses,
/// a backslash escapes the next character inside quotes.
fn list(text: &str) -> Result<Vec<Cow<'_, str>>, BadList> {
    let inner = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')).ok_or(BadList)?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().ok_or(BadList)? {
                    '"' => break,
                    '\\' => item.push(chars.next().ok_or(BadList)?),
                    c => item.push(c),
                }
            }
            match chars.next() {
                None => {
                    items.push(Cow::Owned(item));
                    return Ok(items);
                }
                Some(',') => {}
                Some(_) => return Err(BadList),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        items.push(Cow::Owned(item));
                        return Ok(items);
                    }
                    Some(',') => break,
                    Some(c) => item.push(c),
                }
            }
        }
        items.push(Cow::Owned(item));
    }
}

/// What a value holds for the injection check to read: its operands, without the operator
/// syntax (the whole value when it is a bare equality or cannot be read). Slices of the
/// value: an `in` item keeps its escapes, which only makes the check see more.
pub fn operands(value: &str) -> Vec<&str> {
    let Ok(parsed) = parse(value) else { return vec![value] };
    if parsed.op != Op::In {
        // The one operand is the value's tail.
        return vec![&value[value.len() - parsed.operands.first().map_or(0, |o| o.len())..]];
    }
    let inner = value.split_once('(').map_or("", |(_, rest)| rest.strip_suffix(')').unwrap_or(rest));
    let mut items = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(inner[start..i].trim_matches('"'));
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(inner[start..].trim_matches('"'));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(v: &str) -> (bool, Op, Vec<String>) {
        let p = parse(v).unwrap();
        (p.not, p.op, p.operands.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn the_dialect() {
        assert_eq!(ops("Acme"), (false, Op::Eq, vec!["Acme".into()]));
        assert_eq!(ops("eq.gt.5"), (false, Op::Eq, vec!["gt.5".into()]));
        assert_eq!(ops("neq.x"), (true, Op::Eq, vec!["x".into()]));
        assert_eq!(ops("not.neq.x"), (false, Op::Eq, vec!["x".into()]));
        assert_eq!(ops("gte.100"), (false, Op::Gte, vec!["100".into()]));
        assert_eq!(ops("not.is.null"), (true, Op::Is, vec!["null".into()]));
        assert_eq!(ops("ilike.*hotel*"), (false, Op::ILike, vec!["*hotel*".into()]));
        assert_eq!(ops("in.(a,b,c)"), (false, Op::In, vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(ops(r#"in.("a,b",c,"q\"x")"#), (false, Op::In, vec!["a,b".into(), "c".into(), "q\"x".into()]));
        assert_eq!(ops("in.()"), (false, Op::In, vec![]));
        assert_eq!(ops("not.a.b"), (false, Op::Eq, vec!["not.a.b".into()]));
        assert_eq!(ops("3.5"), (false, Op::Eq, vec!["3.5".into()]));
        assert!(parse("in.(a").is_err() && parse("in.a,b").is_err() && parse(r#"in.("a"b)"#).is_err());
    }

    #[test]
    fn the_injection_check_reads_operands_only() {
        assert_eq!(operands("in.(1,2)"), vec!["1", "2"]);
        assert_eq!(operands("not.ilike.*x*"), vec!["*x*"]);
        assert_eq!(operands("' or 1=1--"), vec!["' or 1=1--"]);
        assert_eq!(operands("eq.' or 1=1--"), vec!["' or 1=1--"]);
        assert_eq!(operands(r#"in.("a,b",c,"x' or 1=1--")"#), vec!["a,b", "c", "x' or 1=1--"]);
        assert_eq!(operands("in.(1,2) or 1=1"), vec!["in.(1,2) or 1=1"]);
    }
}
