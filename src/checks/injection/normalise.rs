//! Normalisation: what a value becomes before it is tokenized. Each step undoes a way of
//! hiding tokens from a reader that the database does not need: URL encoding (repeated, for
//! double encoding), escapes and invisible bytes, MySQL versioned comments (which execute their
//! content), and inline comments (read both removed, `UN/**/ION`, and as spaces,
//! `SELECT/**/password`).

use std::borrow::Cow;

/// Escapes and bytes that only hide tokens: `\x27`, NUL, non-breaking and invalid bytes.
pub fn clean(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'\\' || b == 0 || b >= 0x80) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\\x27", "'").replace("\\x22", "\"").replace(['\0', '\u{a0}', '\u{fffd}'], " "))
}

pub fn url_decode_repeatedly(s: &str) -> Cow<'_, str> {
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

/// MySQL versioned comments execute their content: `/*!50000union*/` → ` union `.
pub fn unwrap_versioned_comments(s: &str) -> Cow<'_, str> {
    if !s.contains("/*!") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("/*!") {
        out.push_str(&rest[..start]);
        out.push(' ');
        rest = rest[start + 3..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    Cow::Owned(out.replace("*/", " "))
}

/// Replaces closed `/* … */` comments with `with`.
pub fn strip_inline_comments<'a>(s: &'a str, with: &str) -> Cow<'a, str> {
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
