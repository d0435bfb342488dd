//! What follows a quote break: the value read as if it landed after an opening `'`, `"` or
//! `` ` ``, its first token being the string (or name) it broke out of. A break is the one
//! shape an injection into a quoted value cannot do without, and the one prose forms most
//! often (inch marks, quoted search terms, possessives, pasted HTML). So a break alone decides
//! nothing: the verdict rests on what follows it, read by [`super::grammar`]. A continuation
//! that parses and changes the query — a condition, a call, a clause, a statement, a comment
//! cutting the query off right after a bare value — is proof; a break followed only by an
//! operator and a word, a `#`, a `;` or a stray keyword is a hint, worth `suspicious` alone.

use super::grammar::{ends_validly, expression, kw, skip_close};
use super::statements::{order_probe, select_acts, select_list, stacked_follows, statement_parses};
use super::tokenizer::{Kind, Token};
use super::Finding;

/// What a break amounts to.
pub enum Break {
    /// SQL that acts on the query: an attack by itself.
    Proof(Finding),
    /// A shape prose forms too: suspicious alone, an attack only with other signs.
    Hint(Finding),
}

/// `admin`, `1`, `x`: the kind of value a login or id field holds, which an injection breaks
/// out of and cuts off (`admin'--`). Prose broken out of ("foo bar'# blah") holds spaces.
fn bare_value(t: &[Token]) -> bool {
    t.first().is_some_and(|s| {
        !s.text.is_empty()
            && s.text.len() <= 40
            && s.text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@' | b'$') || b >= 0x80)
    })
}

/// `7" …`, `2 3/4" - vintage`: the string broken out of is a measurement.
pub fn inch_mark(t: &[Token]) -> bool {
    t.first().is_some_and(|s| {
        let v = s.text.trim();
        !v.is_empty()
            && v.bytes().last().is_some_and(|b| b.is_ascii_digit())
            && v.split_whitespace()
                .last()
                .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'/' | b'-' | b'x')))
    })
}

/// The verdict on a break; `unbalanced`: the value leaves a quote open, so the query's own
/// closing quote must be dealt with (by a comment, or by ending on an open string).
pub fn after_break(t: &[Token], quote: u8, unbalanced: bool) -> Option<Break> {
    // The query's closing quote is dealt with: cut off by a comment, or closing a string the
    // value opens at its end (`' or '1` lands as `'' or '1'`).
    let cut = t.last().is_some_and(|x| matches!(x.kind, Kind::Comment | Kind::Semi));
    let closed = !unbalanced
        && t.len() > 2
        && (t[0].text.is_empty() || bare_value(t))
        && t.last().is_some_and(|x| x.kind == Kind::Str && !x.text.contains([' ', '\t', '\n']));
    let dealt_with = cut || closed;
    let j = skip_close(t, 1);
    let next = t.get(j)?;
    match next.kind {
        Kind::Logic => {
            let Some(e) = expression(t, j + 1).filter(|e| ends_validly(t, e.end)) else {
                return Some(Break::Hint("quote break then logic"));
            };
            // `' or 1=1`, `') or not 1=2 and ('a'='a`, `' || (select …)`; `' or '1` and
            // `' or 1--` when the quote is dealt with and the operand is true; `" and white`
            // names a column at most, `true' or 'false` is false, `5'2" and 110` leaves the
            // query's quote open.
            let truthy = t.get(j + 1).is_some_and(|x| {
                matches!(x.kind, Kind::Num | Kind::Func | Kind::Var)
                    || (x.kind == Kind::Str && x.text.bytes().next().is_some_and(|c| c.is_ascii_digit() && c != b'0'))
                    || matches!(x.text, "true" | "not")
            });
            if e.compares || e.calls || (dealt_with && truthy) {
                Some(Break::Proof("quote break then logic"))
            } else {
                Some(Break::Hint("quote break then logic"))
            }
        }
        Kind::Comment if quote == b'"' && inch_mark(t) => Some(Break::Hint("quote break then comment")),
        // `admin'--`, `1';--`: a bare value cut off. `foo bar'# blah`, `"#2 mom"`, `18';`: a hint.
        Kind::Comment | Kind::Semi => {
            let ends_here = next.kind == Kind::Comment || t.get(j + 1).is_none_or(|x| x.kind == Kind::Comment);
            // `--` then a space or the end is a comment in every dialect; `--nocolor` is an option.
            let comment = if next.kind == Kind::Comment { Some(next) } else { t.get(j + 1) };
            let line_comment = comment.is_some_and(|c| {
                c.text
                    .strip_prefix("--")
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r', '+']))
            });
            // `admin'#`, `admin' #x`, `x'/*`; not a hashtag glued on (`love"#valentine`).
            let spaced = t[0].text.len() < 40
                && comment.is_some_and(|c| {
                    c.text.len() == 1 || c.text.as_bytes().get(1).is_some_and(|b| b.is_ascii_whitespace())
                });
            let any_comment = line_comment
                || comment.is_some_and(|c| c.text.starts_with("/*"))
                || (comment.is_some_and(|c| c.text.starts_with('#')) && spaced);
            if ends_here && ((bare_value(t) && any_comment) || (t[0].text.is_empty() && line_comment)) {
                Some(Break::Proof("quote break then comment"))
            } else {
                Some(Break::Hint("quote break then comment"))
            }
        }
        Kind::Op if !matches!(next.text, "=" | "<" | ">" | "<>" | "!=" | "<=" | ">=" | "==" | "<=>" | "::" | ":") => {
            let e = expression(t, j + 1).filter(|e| ends_validly(t, e.end) || e.end == t.len());
            match e {
                // `'+sleep(5)+'`, `x'-col--`, `' * (select …)`.
                Some(e) if e.calls || ((e.compares || cut) && bare_value(t)) => {
                    Some(Break::Proof("quote break then operator"))
                }
                _ => Some(Break::Hint("quote break then operator")),
            }
        }
        Kind::Op => {
            // The broken-out string is the left side: `x' = 'x` (a tautology), `1' < 2--`.
            let e = expression(t, 0).filter(|e| ends_validly(t, e.end))?;
            let same = t.get(j + 1).is_some_and(|y| y.text == t[0].text && e.end == j + 2);
            if e.compares && (same || cut) {
                Some(Break::Proof("quote break then comparison"))
            } else {
                Some(Break::Hint("quote break then comparison"))
            }
        }
        Kind::Keyword => clause(t, j, dealt_with),
        // `1',(select …)--`: another value in a list (an INSERT's VALUES), read as SQL.
        Kind::Comma => match expression(t, j + 1).filter(|e| ends_validly(t, e.end)) {
            Some(e) if e.calls && cut => Some(Break::Proof("quote break then clause")),
            Some(e) if e.calls || e.compares => Some(Break::Hint("quote break then clause")),
            _ => None,
        },
        Kind::Word | Kind::Func if next.text.starts_with("exec") && (unbalanced || dealt_with) => {
            Some(Break::Proof("quote break then exec"))
        }
        // Operators spelt as words: `a' div 'b`, `user'collate nocase--`, `'glob 1;`.
        Kind::Word
            if matches!(next.text, "div" | "mod" | "xor" | "collate" | "glob" | "notnull" | "isnull" | "escape") =>
        {
            if cut && bare_value(t) {
                Some(Break::Proof("quote break then operator"))
            } else {
                Some(Break::Hint("quote break then operator"))
            }
        }
        _ => None,
    }
}

fn kind_at(t: &[Token], i: usize, k: Kind) -> bool {
    t.get(i).is_some_and(|x| x.kind == k)
}

/// A clause after a break, proof when it parses: `' where 1=1`, `' order by 3--`, `' limit 1`,
/// `'; drop table t`, `' into outfile '/x'`; a keyword in a quoted phrase ("CREATE MODEL stuff")
/// is a hint.
fn clause(t: &[Token], j: usize, dealt_with: bool) -> Option<Break> {
    let next = &t[j];
    let parses = match next.text {
        "where" | "having" | "when" => expression(t, j + 1).is_some_and(|e| e.compares && ends_validly(t, e.end)),
        "order" | "group" => kw(t.get(j + 1), &["by"]) && order_probe(t, j + 2),
        "limit" => {
            let after = j + 2 + 2 * usize::from(kind_at(t, j + 2, Kind::Comma));
            kind_at(t, j + 1, Kind::Num)
                && (ends_validly(t, after) || kw(t.get(after), &["into", "procedure", "union", "offset"]))
        }
        "into" => t.get(j + 1).is_some_and(|x| matches!(x.text, "outfile" | "dumpfile")),
        "procedure" => t.get(j + 1).is_some_and(|x| x.text.starts_with("analy")),
        "union" => {
            let k = j + 1 + usize::from(kw(t.get(j + 1), &["all", "distinct"]));
            let k = k + usize::from(kind_at(t, k, Kind::Open));
            kw(t.get(k), &["select"]) && select_list(t, k)
        }
        "select" => select_acts(&t[j..]),
        // A second statement without a `;` runs only where the query's quote is cut off.
        "create" | "insert" | "drop" | "exec" | "execute" | "declare" | "update" | "delete" => {
            let parses = stacked_follows(t, j) && statement_parses(&t[j..]);
            if parses && !dealt_with {
                return Some(Break::Hint("quote break then clause"));
            }
            parses
        }
        "is" | "like" | "rlike" | "regexp" | "in" | "between" | "sounds" => {
            // `x' like 'a` compares two strings; cut off by a comment (`user' like 'a%'--`), it
            // is what a blind probe sends.
            let cut = t.last().is_some_and(|x| matches!(x.kind, Kind::Comment | Kind::Semi));
            return expression(t, 0).filter(|e| e.compares && ends_validly(t, e.end)).map(|_| {
                if cut {
                    Break::Proof("quote break then comparison")
                } else {
                    Break::Hint("quote break then comparison")
                }
            });
        }
        _ => false,
    };
    // Without the query's quote dealt with, a clause leaves a syntax error behind it.
    match (parses, dealt_with) {
        (true, true) => Some(Break::Proof("quote break then clause")),
        (true, false) => Some(Break::Hint("quote break then clause")),
        _ => None,
    }
}
