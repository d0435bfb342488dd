//! Redaction: secrets are removed before anything is stored or logged.
//!
//! Header values of [`SENSITIVE_HEADERS`] never leave the request; token-looking strings
//! (`pal_…`, `pals_…`, `Bearer …`) are masked wherever they appear; query and JSON values
//! whose key names a secret (`token`, `secret`, `password`, …) are replaced whole.

use std::borrow::Cow;

use serde_json::Value;

pub const REDACTED: &str = "[REDACTED]";

/// Headers whose values are never stored (lower-case).
pub const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "set-cookie", "x-signature", "x-api-key", "x-auth-token"];

/// Whether a query or JSON key names a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "passwd", "pwd", "signature", "api_key", "apikey", "authorization", "session"]
        .iter()
        .any(|s| k.contains(s))
}

/// At most `max` characters of `s` (for echoing client-supplied names in messages and logs).
pub fn truncate(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(at, _)| &s[..at])
}

/// Masks token-looking substrings (borrowing `s` when there are none).
pub fn redact_text(s: &str) -> Cow<'_, str> {
    if find_secret_start(s).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = find_secret_start(rest) {
        out.push_str(&rest[..pos.0]);
        out.push_str(pos.1);
        out.push_str(REDACTED);
        let tail = &rest[pos.0 + pos.1.len()..];
        let skip =
            tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')).unwrap_or(tail.len());
        rest = &tail[skip..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Finds the next `pal_`/`pals_`/`bearer ` marker (any case): (byte offset, marker as shown).
fn find_secret_start(s: &str) -> Option<(usize, &'static str)> {
    let bytes = s.as_bytes();
    let at = |i: usize, needle: &[u8]| bytes.get(i..i + needle.len()).is_some_and(|w| w.eq_ignore_ascii_case(needle));
    (0..bytes.len()).find_map(|i| match bytes[i] {
        b'p' | b'P' if at(i, b"pals_") => Some((i, "pals_")),
        b'p' | b'P' if at(i, b"pal_") => Some((i, "pal_")),
        b'b' | b'B' if at(i, b"bearer ") => Some((i, "Bearer ")),
        _ => None,
    })
}

/// Redacts a raw query string: every value loses its text unless its (decoded) name is
/// `plain` — a filter column that holds no personal data, `limit`, `offset` — and not
/// secret-named. A secret pasted under an unknown name is never stored.
pub fn redact_query(q: &str, plain: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(q.len() + 16);
    for (i, pair) in q.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((k, v)) => {
                let name = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
                out.push_str(&redact_text(k));
                out.push('=');
                out.push_str(
                    if is_secret_key(&name) || !plain(&name) { REDACTED.into() } else { redact_text(v) }.as_ref(),
                );
            }
            None => out.push_str(&redact_text(pair)),
        }
    }
    out
}

/// Redacts a JSON value recursively (iteratively, so hostile depth cannot hurt).
pub fn redact_json(value: &Value) -> Value {
    let mut out = value.clone();
    let mut stack = vec![&mut out];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Cow::Owned(masked) = redact_text(s) {
                    *s = masked;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if is_secret_key(k) {
                        *v = Value::String(REDACTED.into());
                    } else {
                        stack.push(v);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked_anywhere() {
        let t = format!("pal_{}_{}", "a".repeat(16), "b".repeat(64));
        let text = format!("x {t} y pals_0123 Bearer abc.def");
        assert_eq!(redact_text(&text), "x pal_[REDACTED] y pals_[REDACTED] Bearer [REDACTED]");
        assert!(matches!(redact_text("nothing secret"), Cow::Borrowed("nothing secret")));
        assert_eq!(truncate("héllo", 2), "hé");
        assert_eq!(truncate("hi", 5), "hi");
    }

    #[test]
    fn secret_params_lose_their_value() {
        let plain = |k: &str| k == "a" || k == "token";
        assert_eq!(redact_query("a=1&token=xyz&Pass%77ord=p", plain), "a=1&token=[REDACTED]&Pass%77ord=[REDACTED]");
        assert_eq!(redact_query("note=my+secret&a=2", plain), "note=[REDACTED]&a=2");
        let v = redact_json(&serde_json::json!({"password": "x", "n": ["pal_1_2"], "ok": 1}));
        assert_eq!(v, serde_json::json!({"password": "[REDACTED]", "n": ["pal_[REDACTED]"], "ok": 1}));
    }
}
