//! SQL-injection detection by tokenizing, the way libinjection works: normalise the value,
//! split it into classified tokens (strings, numbers, keywords, functions, operators,
//! comments, …) in three contexts — as-is, as if it followed an opening `'`, and as if it
//! followed an opening `"` — and look for the shapes attacks need: a string broken out of
//! and followed by logic or a comment, `UNION SELECT`, stacked statements, time and error
//! functions, tautologies, hex/char encodings. Ordinary prose that merely contains
//! "select", "union" or an apostrophe (`O'Brien`, "Union Pacific") does not form those
//! shapes, which keeps false alarms rare. Everything is linear in the input; nothing
//! recurses.
//!
//! Normalisation: URL-decoding (repeated, for double encoding), ASCII lower-casing, MySQL
//! versioned comments unwrapped, and inline comments both removed (`UN/**/ION` → `union`)
//! and turned into spaces (`SELECT/**/password`); both variants are checked.

use std::borrow::Cow;

/// Why a value was flagged (for the audit record).
pub type Finding = &'static str;

/// Scans one value; `Some(reason)` when it looks like an injection.
pub fn detect(value: &str) -> Option<Finding> {
    if value.len() < 2 {
        return None;
    }
    let decoded = url_decode_repeatedly(value);
    let lower = decoded.to_ascii_lowercase();
    let unwrapped = unwrap_versioned_comments(&lower);
    let removed = strip_inline_comments(&unwrapped, "");
    let spaced = strip_inline_comments(&unwrapped, " ");
    for variant in [removed.as_ref(), spaced.as_ref()] {
        for quote in [None, Some(b'\''), Some(b'"')] {
            if let Some(q) = quote {
                if !variant.as_bytes().contains(&q) {
                    continue;
                }
            }
            let tokens = tokenize(variant, quote);
            if let Some(reason) = judge(&tokens, quote.is_some()) {
                return Some(reason);
            }
        }
    }
    None
}

fn url_decode_repeatedly(s: &str) -> Cow<'_, str> {
    let mut current = Cow::Borrowed(s);
    for _ in 0..3 {
        if !current.contains('%') {
            break;
        }
        let next = percent_encoding::percent_decode_str(&current).decode_utf8_lossy().into_owned();
        if next == current.as_ref() {
            break;
        }
        current = Cow::Owned(next);
    }
    current
}

/// `/*!50000union*/` → ` union `.
fn unwrap_versioned_comments(s: &str) -> Cow<'_, str> {
    if !s.contains("/*!") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("/*!") {
        out.push_str(&rest[..start]);
        out.push(' ');
        let after = rest[start + 3..].trim_start_matches(|c: char| c.is_ascii_digit());
        match after.find("*/") {
            Some(end) => {
                out.push_str(&after[..end]);
                out.push(' ');
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(after);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Replaces closed `/* … */` comments with `with`.
fn strip_inline_comments<'a>(s: &'a str, with: &str) -> Cow<'a, str> {
    if !s.contains("/*") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("/*") {
        match rest[start + 2..].find("*/") {
            Some(end) => {
                out.push_str(&rest[..start]);
                out.push_str(with);
                rest = &rest[start + 2 + end + 2..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Hex,
    Keyword,
    Logic,
    Op,
    Func,
    Word,
    Var,
    Comment,
    Semi,
    Open,
    Close,
    Comma,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
}

const KEYWORDS: &[&str] = &[
    "select",
    "union",
    "insert",
    "update",
    "delete",
    "drop",
    "from",
    "where",
    "into",
    "values",
    "table",
    "exec",
    "execute",
    "declare",
    "create",
    "alter",
    "truncate",
    "shutdown",
    "having",
    "group",
    "order",
    "by",
    "limit",
    "waitfor",
    "delay",
    "case",
    "when",
    "then",
    "else",
    "end",
    "null",
    "like",
    "rlike",
    "regexp",
    "is",
    "in",
    "between",
    "all",
    "distinct",
    "as",
    "join",
    "set",
    "database",
    "schema",
    "view",
    "index",
    "user",
    "procedure",
    "function",
    "trigger",
    "grant",
    "revoke",
    "rename",
    "exists",
    "true",
    "false",
    "offset",
    "sounds",
    "time",
    "login",
];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.' || b >= 0x80
}

/// Splits a lower-cased value into tokens; `quote` starts it inside an open string.
fn tokenize(s: &str, quote: Option<u8>) -> Vec<Token<'_>> {
    let b = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    fn push<'a>(tokens: &mut Vec<Token<'a>>, kind: Kind, text: &'a str) {
        tokens.push(Token { kind, text });
    }
    if let Some(q) = quote {
        let end = string_end(b, 0, q);
        push(&mut tokens, Kind::Str, &s[..end.min(b.len())]);
        i = (end + 1).min(b.len());
    }
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => i += 1,
            b'\'' | b'"' | b'`' => {
                let end = string_end(b, i + 1, c);
                push(&mut tokens, Kind::Str, &s[i + 1..end.min(b.len())]);
                i = (end + 1).min(b.len());
            }
            b'0'..=b'9' => {
                if c == b'0' && b.get(i + 1) == Some(&b'x') {
                    i += 2;
                    while i < b.len() && b[i].is_ascii_hexdigit() {
                        i += 1;
                    }
                    push(&mut tokens, Kind::Hex, &s[start..i]);
                } else {
                    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'e') {
                        i += 1;
                    }
                    push(&mut tokens, Kind::Num, &s[start..i]);
                }
            }
            b'@' => {
                i += 1;
                while i < b.len() && (b[i] == b'@' || is_word_byte(b[i])) {
                    i += 1;
                }
                push(&mut tokens, Kind::Var, &s[start..i]);
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                push(&mut tokens, Kind::Comment, &s[i..]);
                break;
            }
            b'#' => {
                push(&mut tokens, Kind::Comment, &s[i..]);
                break;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                push(&mut tokens, Kind::Comment, &s[i..]);
                break;
            }
            b';' => {
                push(&mut tokens, Kind::Semi, ";");
                i += 1;
            }
            b'(' => {
                push(&mut tokens, Kind::Open, "(");
                i += 1;
            }
            b')' => {
                push(&mut tokens, Kind::Close, ")");
                i += 1;
            }
            b',' => {
                push(&mut tokens, Kind::Comma, ",");
                i += 1;
            }
            b'&' if b.get(i + 1) == Some(&b'&') => {
                push(&mut tokens, Kind::Logic, "&&");
                i += 2;
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                push(&mut tokens, Kind::Logic, "||");
                i += 2;
            }
            b'=' | b'<' | b'>' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'^' | b'~' | b'&' | b':' => {
                i += 1;
                while i < b.len() && matches!(b[i], b'=' | b'<' | b'>') {
                    i += 1;
                }
                push(&mut tokens, Kind::Op, &s[start..i]);
            }
            _ if is_word_byte(c) => {
                while i < b.len() && is_word_byte(b[i]) {
                    i += 1;
                }
                let word = &s[start..i];
                let mut j = i;
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                let kind = if matches!(word, "and" | "or" | "xor" | "not") {
                    Kind::Logic
                } else if b.get(j) == Some(&b'(') {
                    Kind::Func
                } else if KEYWORDS.contains(&word) {
                    Kind::Keyword
                } else {
                    Kind::Word
                };
                push(&mut tokens, kind, word);
            }
            _ => i += 1,
        }
    }
    tokens
}

/// Index of the quote closing a string that started before `from` (doubled quotes and
/// backslash escapes stay inside); `b.len()` when it never closes.
fn string_end(b: &[u8], from: usize, q: u8) -> usize {
    let mut i = from;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    b.len()
}

const STACKABLE: &[&str] = &[
    "drop", "insert", "update", "delete", "select", "create", "alter", "truncate", "exec", "execute", "shutdown",
    "declare", "waitfor", "grant", "revoke", "rename", "set",
];

const DANGEROUS_FUNCTIONS: &[&str] = &[
    "sleep",
    "pg_sleep",
    "benchmark",
    "extractvalue",
    "updatexml",
    "load_file",
    "xp_cmdshell",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "utl_inaddr.get_host_name",
    "utl_http.request",
    "randomblob",
    "geometrycollection",
    "multipoint",
    "polygon",
    "linestring",
    "name_const",
    "exp",
    "pg_read_file",
    "sys_eval",
    "sys_exec",
    "make_set",
    "elt",
];

const ENCODING_FUNCTIONS: &[&str] =
    &["char", "chr", "nchar", "concat", "concat_ws", "unhex", "cast", "convert", "ascii"];

fn is_literal(t: &Token) -> bool {
    matches!(t.kind, Kind::Num | Kind::Str | Kind::Hex)
        || (t.kind == Kind::Keyword && matches!(t.text, "true" | "false" | "null"))
}

fn is_comparison(t: &Token) -> bool {
    (t.kind == Kind::Op && matches!(t.text, "=" | "<" | ">" | "<>" | "!=" | "<=" | ">=" | "<=>" | "=="))
        || (t.kind == Kind::Keyword && matches!(t.text, "like" | "rlike" | "regexp" | "is" | "in" | "between"))
}

/// The shapes of an attack. `broken` means the first token is a string the value broke out of.
fn judge(t: &[Token], broken: bool) -> Option<Finding> {
    let at = |i: usize| t.get(i);
    let kw = |i: usize, words: &[&str]| at(i).is_some_and(|x| x.kind == Kind::Keyword && words.contains(&x.text));
    for i in 0..t.len() {
        let tok = &t[i];
        match tok.kind {
            Kind::Keyword if tok.text == "union" => {
                let mut j = i + 1;
                while kw(j, &["all", "distinct"]) || at(j).is_some_and(|x| x.kind == Kind::Open) {
                    j += 1;
                }
                if kw(j, &["select"]) || at(j).is_some_and(|x| x.kind == Kind::Func && x.text == "select") {
                    return Some("union select");
                }
            }
            Kind::Semi => {
                if let Some(next) = at(i + 1) {
                    if matches!(next.kind, Kind::Keyword | Kind::Func)
                        && STACKABLE.contains(&next.text)
                        && stacked_follows(t, i + 1)
                    {
                        return Some("stacked statement");
                    }
                }
            }
            Kind::Func if DANGEROUS_FUNCTIONS.contains(&tok.text) && called_with_sql_argument(t, i) => {
                return Some("time or error function");
            }
            Kind::Func if ENCODING_FUNCTIONS.contains(&tok.text) => {
                let args: Vec<&Token> = t[i + 1..].iter().take(12).collect();
                let numbers = args.iter().filter(|x| x.kind == Kind::Num).count();
                if args.iter().any(|x| x.kind == Kind::Hex && x.text.len() > 3) || numbers >= 3 {
                    return Some("encoded string");
                }
            }
            Kind::Func if t.get(i + 2).is_some_and(|x| x.kind == Kind::Keyword && x.text == "select") => {
                return Some("subquery in function");
            }
            Kind::Keyword if tok.text == "waitfor" && kw(i + 1, &["delay", "time"]) => return Some("waitfor delay"),
            Kind::Var if tok.text.starts_with("@@") => return Some("server variable"),
            Kind::Hex
                if tok.text.len() >= 8
                    && i > 0
                    && matches!(t[i - 1].kind, Kind::Op | Kind::Logic | Kind::Open | Kind::Comma | Kind::Keyword) =>
            {
                return Some("hex literal");
            }
            Kind::Logic => {
                // Logic followed by a comparison of two literals: `or 1=1`, `and 'a'='b'`.
                let mut j = i + 1;
                while at(j).is_some_and(|x| x.kind == Kind::Open) {
                    j += 1;
                }
                if let (Some(a), Some(op), Some(b)) = (at(j), at(j + 1), at(j + 2)) {
                    let same_word = a.kind == Kind::Word && b.kind == Kind::Word && a.text == b.text;
                    if is_comparison(op) && ((is_literal(a) && is_literal(b)) || same_word) {
                        return Some("tautology");
                    }
                }
            }
            _ => {}
        }
    }
    if broken {
        // After the broken-out string: logic, a comment, a statement end, or SQL clauses.
        let mut j = 1;
        while at(j).is_some_and(|x| x.kind == Kind::Close) {
            j += 1;
        }
        if let Some(next) = at(j) {
            match next.kind {
                Kind::Logic if at(j + 1).is_some() => return Some("quote break then logic"),
                Kind::Comment | Kind::Semi => return Some("quote break then comment"),
                Kind::Op if next.text == "||" || (is_comparison(next) && at(j + 1).is_some_and(is_literal)) => {
                    return Some("quote break then comparison")
                }
                Kind::Keyword
                    if matches!(
                        next.text,
                        "union"
                            | "select"
                            | "order"
                            | "group"
                            | "having"
                            | "limit"
                            | "into"
                            | "procedure"
                            | "where"
                            | "from"
                    ) && at(j + 1).is_some() =>
                {
                    return Some("quote break then clause")
                }
                _ => {}
            }
        }
    }
    None
}

/// `f(` followed by a literal, a call, a variable, an operator or a subquery — not prose
/// like "sleep (lots)".
fn called_with_sql_argument(t: &[Token], i: usize) -> bool {
    t.get(i + 1).is_some_and(|x| x.kind == Kind::Open)
        && t.get(i + 2).is_some_and(|x| {
            matches!(x.kind, Kind::Num | Kind::Str | Kind::Hex | Kind::Func | Kind::Open | Kind::Var | Kind::Op)
                || (x.kind == Kind::Keyword && x.text == "select")
        })
}

/// Whether what follows a `;`+keyword reads as a real statement, not prose.
fn stacked_follows(t: &[Token], k: usize) -> bool {
    let next = |n: usize| t.get(k + n);
    let next_is = |n: usize, words: &[&str]| next(n).is_some_and(|x| words.contains(&x.text));
    match t[k].text {
        "drop" | "truncate" | "rename" => {
            next_is(1, &["table", "database", "schema", "view", "index", "user", "procedure", "function", "trigger"])
        }
        "create" | "alter" => {
            next_is(1, &["table", "database", "schema", "view", "user", "procedure", "function", "login", "trigger"])
        }
        "insert" => next_is(1, &["into"]),
        "delete" => next_is(1, &["from"]),
        "update" => next_is(2, &["set"]) || next_is(3, &["set"]),
        "select" => t[k + 1..].iter().take(8).any(|x| {
            (x.kind == Kind::Keyword && x.text == "from")
                || x.kind == Kind::Func
                || x.kind == Kind::Var
                || x.text == "*"
        }),
        "exec" | "execute" => next(1).is_some_and(|x| {
            x.kind == Kind::Var
                || x.kind == Kind::Func
                || x.text.starts_with("xp_")
                || x.text.starts_with("sp_")
                || x.text.starts_with("master.")
        }),
        "shutdown" => next(1).is_none_or(|x| x.kind == Kind::Comment || x.kind == Kind::Semi),
        "declare" | "set" => next(1).is_some_and(|x| x.kind == Kind::Var),
        "waitfor" => next_is(1, &["delay", "time"]),
        "grant" | "revoke" => next(1).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn classic_attacks_are_caught() {
        for attack in [
            "' OR '1'='1",
            "' or 1=1--",
            "1 OR 1=1",
            "admin'--",
            "admin' #",
            "') or ('a'='a",
            "\" or \"\"=\"",
            "1 UNION SELECT username, password FROM users",
            "' UNION ALL SELECT NULL,NULL--",
            "UN/**/ION SEL/**/ECT 1,2",
            "%55NION SELECT 1",
            "%2527%2520OR%25201%253D1",
            "SeLeCt * FrOm users WHERE 1=1 UnIoN SeLeCt 1",
            "/*!50000UNION*/ /*!50000SELECT*/ 1",
            "1; DROP TABLE users",
            "x'; INSERT INTO users VALUES ('a')--",
            "1;UPDATE users SET admin=1",
            "'; DELETE FROM clients--",
            "1; EXEC xp_cmdshell('dir')",
            "1 AND SLEEP(5)",
            "1' AND BENCHMARK(5000000,MD5(1))--",
            "'; WAITFOR DELAY '0:0:5'--",
            "1 AND pg_sleep(5)",
            "1 AND extractvalue(1,concat(0x7e,version()))",
            "' AND updatexml(1,concat(0x7e,user()),1)--",
            "' AND 1=CONVERT(int,@@version)--",
            "CHAR(83,69,76,69,67,84)",
            "1 AND 1=2",
            "' ORDER BY 3--",
        ] {
            assert!(detect(attack).is_some(), "missed: {attack}");
        }
    }

    #[test]
    fn business_text_is_not_flagged() {
        for benign in [
            "O'Brien",
            "D'Angelo & Sons",
            "Union Pacific",
            "Select Comfort",
            "Drop Zone Ltd",
            "please update the order, then delete the old draft",
            "It's 5 or 6 items, not 7",
            "**bold** and `code`",
            "o'brien@example.com",
            "+44 20 7946 0321",
            "1-2-3",
            "Great service -- thanks!",
            "Apt #4, O'Neil-Smith",
            "We met; it went well",
            "I need more sleep before the benchmark",
            "Where is my order from last week?",
            "The report uses `SELECT name FROM clients WHERE id = 3`",
            "x = y + 1",
            "50% off; valid until Friday",
            "Rock 'n' roll",
            "He said \"fine\" and left",
            "Café Union Square",
        ] {
            assert_eq!(detect(benign), None, "false alarm: {benign}");
        }
    }
}
