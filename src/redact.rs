//! Redaction: secrets are removed before anything is stored or logged.
//!
//! Header values of [`SENSITIVE_HEADERS`] never leave the request; token-looking strings
//! (`pal_…`, `pals_…`, `Bearer …`) are masked wherever they appear; query and JSON values
//! whose key names a secret (`token`, `secret`, `password`, …) are replaced whole.
//!
//! An audit record keeps the *shape* of what a client sent, never text the client chose:
//! [`AuditNames`] knows every name the schema gives (tables, views, columns), and a path
//! segment, query key or quoted name in a reason that is not one of them is stored as
//! `[REDACTED]` (an e-mail address in a path, `x' or 1=1--` as a key). Query values are kept
//! only for columns of a non-sensitive table that hold no personal data. Everything is
//! judged on its percent-decoded text, so `%70al_…` is a token like `pal_…`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::Value;

pub const REDACTED: &str = "[REDACTED]";

/// Headers whose values are never stored (lower-case).
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-signature",
    "x-api-key",
    "x-auth-token",
    "x-palisade-probe",
];

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

/// The names an audit record may keep in clear (built once from the schema).
#[derive(Debug, Clone, Default)]
pub struct AuditNames {
    /// Every table, view and column name, and the route words (`api`, `v1`, `views`, …).
    pub known: HashSet<String>,
    /// Per non-sensitive table: the query names whose values are kept (`limit`, `offset`,
    /// `id` and the columns that hold no personal data).
    pub plain: HashMap<String, HashSet<String>>,
    /// View name → its table.
    pub views: HashMap<String, String>,
}

/// Words of the route table and the query parameters every list takes.
pub const ROUTE_WORDS: &[&str] =
    &["api", "v1", "views", "graphql", "health", "openapi.json", "metrics", "limit", "offset", "id"];

fn decoded(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

impl AuditNames {
    fn is_known(&self, name: &str) -> bool {
        self.known.contains(name) || ROUTE_WORDS.contains(&name)
    }

    /// The table a path reads (`/api/v1/{table}…` or a view's table).
    fn table_of<'a>(&'a self, path: &'a str) -> Option<&'a str> {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        if (segments.next(), segments.next()) != (Some("api"), Some("v1")) {
            return None;
        }
        match segments.next()? {
            "views" => self.views.get(segments.next()?).map(String::as_str),
            table => Some(table),
        }
    }

    /// The path as stored: each segment that is a known name or a number, others
    /// `[REDACTED]`.
    pub fn path(&self, path: &str) -> String {
        let mut out = String::with_capacity(path.len().min(512));
        for (i, segment) in path.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            let text = decoded(segment);
            let keep = text.is_empty() || text.bytes().all(|b| b.is_ascii_digit()) || self.is_known(&text);
            out.push_str(if keep { segment } else { REDACTED });
        }
        out
    }

    /// The query as stored: unknown names and every value that is not a plain column's
    /// `[REDACTED]`; a kept value that reads as a token is redacted too.
    pub fn query(&self, path: &str, query: &str) -> String {
        let plain = self.table_of(path).and_then(|t| self.plain.get(t));
        let mut out = String::with_capacity(query.len() + 16);
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decoded(k);
            let known = self.is_known(&name) && !is_secret_key(&name);
            out.push_str(if known { k } else { REDACTED });
            if pair.contains('=') {
                out.push('=');
                let value_plain = known && plain.is_some_and(|p| p.contains(name.as_ref()));
                let token_like = matches!(redact_text(&decoded(v)), Cow::Owned(_));
                out.push_str(if value_plain && !token_like { v } else { REDACTED });
            }
        }
        out
    }

    /// A refusal reason as stored: tokens masked, and a name quoted in it (`unknown column
    /// 'x'`) kept only when the schema knows it.
    pub fn reason(&self, reason: &str) -> String {
        let masked = redact_text(reason);
        let mut out = String::with_capacity(masked.len());
        let mut parts = masked.split('\'');
        if let Some(first) = parts.next() {
            out.push_str(first);
        }
        let rest: Vec<&str> = parts.collect();
        let mut i = 0;
        while i < rest.len() {
            // rest[i] is inside quotes when a closing quote follows it.
            if i + 1 < rest.len() {
                out.push('\'');
                out.push_str(if self.is_known(rest[i]) { rest[i] } else { REDACTED });
                out.push('\'');
                out.push_str(rest[i + 1]);
                i += 2;
            } else {
                out.push('\'');
                out.push_str(rest[i]);
                i += 1;
            }
        }
        out
    }
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

    fn names() -> AuditNames {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        AuditNames {
            known: set(&["clients", "options", "status", "email", "name", "value", "open"]),
            plain: [("clients".to_string(), set(&["limit", "offset", "id", "status"]))].into_iter().collect(),
            views: [("open".to_string(), "clients".to_string())].into_iter().collect(),
        }
    }

    #[test]
    fn audit_records_keep_shapes_not_client_text() {
        let n = names();
        assert_eq!(n.path("/api/v1/clients/12"), "/api/v1/clients/12");
        assert_eq!(n.path("/api/v1/jo@example.com"), "/api/v1/[REDACTED]");
        assert_eq!(n.path("/api/v1/clients/x%27%20or%201%3D1--"), "/api/v1/clients/[REDACTED]");
        assert_eq!(n.path("/api/v1/%70al_abc_def"), "/api/v1/[REDACTED]");
        assert_eq!(n.path("/api/v1/%63lients"), "/api/v1/%63lients", "a known name, encoded, is still known");
        assert_eq!(n.query("/api/v1/clients", "status=active&limit=5"), "status=active&limit=5");
        assert_eq!(
            n.query("/api/v1/clients", "email=jo%40x.com&jo%40x.com=1"),
            "email=[REDACTED]&[REDACTED]=[REDACTED]"
        );
        assert_eq!(n.query("/api/v1/views/open", "status=new"), "status=new");
        assert_eq!(n.query("/api/v1/clients", "status=%70al_x_y"), "status=[REDACTED]");
        assert_eq!(n.query("/api/v1/clients", "%70al_x_y=1"), "[REDACTED]=[REDACTED]");
        // A sensitive table keeps no values, whatever other tables call plain.
        assert_eq!(n.query("/api/v1/options", "name=smtp_password&value=hunter2"), "name=[REDACTED]&value=[REDACTED]");
        assert_eq!(
            n.reason("unknown column 'jo@x.com' in table 'clients'"),
            "unknown column '[REDACTED]' in table 'clients'"
        );
        assert_eq!(n.reason("column 'status' is required"), "column 'status' is required");
        assert_eq!(n.reason("it's pal_secret_x"), "it's pal_[REDACTED]");
    }

    #[test]
    fn secret_params_lose_their_value() {
        let n = AuditNames { known: ["a", "token", "password"].map(String::from).into_iter().collect(), ..names() };
        let mut n = n;
        n.plain.insert("t".into(), ["a", "token", "password"].map(String::from).into_iter().collect());
        assert_eq!(
            n.query("/api/v1/t", "a=1&token=xyz&Pass%77ord=p"),
            "a=1&[REDACTED]=[REDACTED]&[REDACTED]=[REDACTED]"
        );
        assert_eq!(n.query("/api/v1/t", "note=my+secret&a=2"), "[REDACTED]=[REDACTED]&a=2");
        let v = redact_json(&serde_json::json!({"password": "x", "n": ["pal_1_2"], "ok": 1}));
        assert_eq!(v, serde_json::json!({"password": "[REDACTED]", "n": ["pal_[REDACTED]"], "ok": 1}));
    }
}
