//! The tokenizer: a lower-cased value → classified tokens, optionally starting inside an
//! open string (the value as it lands after an opening quote).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
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
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
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
    "asc",
    "desc",
    "describe",
    "top",
];

fn is_keyword(word: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    (2..=11).contains(&word.len()) && SET.get_or_init(|| KEYWORDS.iter().copied().collect()).contains(word)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.' || b >= 0x80
}

/// Splits a lower-cased value into tokens; `quote` starts it inside an open string.
pub fn tokenize(s: &str, quote: Option<u8>) -> Vec<Token<'_>> {
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
            // Line comments run to the end of the line; tokens after a newline still count, and
            // a comment with more SQL after it is only a space (`1#x\nand#y\n1=1`).
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = line_end(b, i);
                if b[i..].iter().all(u8::is_ascii_whitespace) {
                    push(&mut tokens, Kind::Comment, &s[start..i]);
                }
            }
            b'#' => {
                i = line_end(b, i);
                if b[i..].iter().all(u8::is_ascii_whitespace) {
                    push(&mut tokens, Kind::Comment, &s[start..i]);
                }
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
                while i < b.len() && matches!(b[i], b'=' | b'<' | b'>' | b':') {
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
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                let kind = if matches!(word, "and" | "or" | "xor" | "not") {
                    Kind::Logic
                } else if is_keyword(word) {
                    Kind::Keyword
                } else if b.get(j) == Some(&b'(') {
                    Kind::Func
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

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| from + p)
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
