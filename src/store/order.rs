//! How column values compare, and the byte encoding that keeps index entries in that order.
//!
//! Every comparison a list makes — a range filter, `order`, a cursor position — goes through
//! [`compare`], and every index entry is laid out by [`encode`], so that a scan of an index
//! in key order meets values in exactly the order `compare` gives: a range filter or an
//! `order` on an indexed column reads only the entries of the page it returns.
//!
//! The comparison depends on the column's [`Kind`] (from its declared type): numbers by
//! value (`5` meets `5.0`; integers past 2^53 stay exact), text and dates bytewise (a date
//! is `YYYY-MM-DD`, so bytewise is by day), datetimes by the instant they name (`…T10:00+02:00`
//! equals `…T08:00Z`), booleans false before true. A value of another shape than its column's
//! (only data written before a schema change) compares by its JSON text after every value of
//! the right shape, so the order stays total.
//!
//! Encoding: one tag byte (bool 0x01, number 0x02, instant 0x04, text 0x03, other 0x05,
//! null 0xFF, so nulls come last), then a payload that is order-preserving and prefix-free:
//! numbers are an f64 with its sign bit flipped (negatives inverted) followed by the exact
//! i64 (16 bytes), instants are seconds and nanoseconds (12 bytes), text is its bytes with
//! 0x00 escaped as 0x00 0xFF and ended by 0x00 0x01. Prefix-free matters: the entries of one
//! value are exactly the keys that start with that value's encoding.

use std::cmp::Ordering;

use serde_json::Value;

/// How a column's values compare (from its declared type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Number,
    Text,
    Instant,
    Bool,
}

/// The instant an RFC 3339 datetime names: (unix seconds, nanoseconds).
fn instant(s: &str) -> Option<(i64, u32)> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp(), t.nanosecond()))
}

/// A value's place among its column's values: the shape `kind` expects, or "other".
enum Shaped<'a> {
    Null,
    Bool(bool),
    Number(f64, i64),
    Instant(i64, u32),
    Text(&'a str),
    Other(String),
}

fn shape(kind: Kind, v: Option<&Value>) -> Shaped<'_> {
    match (kind, v) {
        (_, None | Some(Value::Null)) => Shaped::Null,
        (Kind::Bool, Some(Value::Bool(b))) => Shaped::Bool(*b),
        (Kind::Number, Some(Value::Number(n))) => {
            let f = n.as_f64().unwrap_or(0.0);
            let exact = n.as_i64().unwrap_or_else(|| if n.as_u64().is_some() { i64::MAX } else { f as i64 });
            Shaped::Number(f, exact)
        }
        (Kind::Instant, Some(Value::String(s))) => match instant(s) {
            Some((secs, nanos)) => Shaped::Instant(secs, nanos),
            None => Shaped::Other(s.clone()),
        },
        (Kind::Text, Some(Value::String(s))) => Shaped::Text(s),
        (_, Some(v)) => Shaped::Other(v.to_string()),
    }
}

impl Shaped<'_> {
    fn rank(&self) -> u8 {
        match self {
            Shaped::Bool(_) => 1,
            Shaped::Number(..) => 2,
            Shaped::Text(_) => 3,
            Shaped::Instant(..) => 4,
            Shaped::Other(_) => 5,
            Shaped::Null => 0xFF,
        }
    }
}

/// Compares two values of a column of `kind`; nulls (and absent values) sort last.
pub fn compare(kind: Kind, a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let (a, b) = (shape(kind, a), shape(kind, b));
    match (&a, &b) {
        (Shaped::Bool(x), Shaped::Bool(y)) => x.cmp(y),
        (Shaped::Number(fx, ix), Shaped::Number(fy, iy)) => fx.total_cmp(fy).then(ix.cmp(iy)),
        (Shaped::Instant(sx, nx), Shaped::Instant(sy, ny)) => (sx, nx).cmp(&(sy, ny)),
        (Shaped::Text(x), Shaped::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Shaped::Other(x), Shaped::Other(y)) => x.cmp(y),
        _ => a.rank().cmp(&b.rank()),
    }
}

/// Appends the order-preserving, prefix-free encoding of a value (see the module docs).
pub fn encode(kind: Kind, v: Option<&Value>, out: &mut Vec<u8>) {
    let shaped = shape(kind, v);
    out.push(shaped.rank());
    match shaped {
        Shaped::Null => {}
        Shaped::Bool(b) => out.push(b as u8),
        Shaped::Number(f, exact) => {
            // -0.0 and 0.0 are one number.
            let f = if f == 0.0 { 0.0 } else { f };
            let bits = f.to_bits();
            let sortable = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
            out.extend_from_slice(&sortable.to_be_bytes());
            out.extend_from_slice(&((exact as u64) ^ (1 << 63)).to_be_bytes());
        }
        Shaped::Instant(secs, nanos) => {
            out.extend_from_slice(&((secs as u64) ^ (1 << 63)).to_be_bytes());
            out.extend_from_slice(&nanos.to_be_bytes());
        }
        Shaped::Text(s) => text(s.as_bytes(), out),
        Shaped::Other(s) => text(s.as_bytes(), out),
    }
}

fn text(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Where a `like` pattern (`*` any run of characters) matches `text`; `fold`: ignoring case.
pub fn like(pattern: &[String], text: &str) -> bool {
    let mut rest = text;
    let last = pattern.len().saturating_sub(1);
    for (i, part) in pattern.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part.as_str()) else { return false };
            rest = r;
        } else if i == last {
            return rest.ends_with(part.as_str());
        } else {
            match rest.find(part.as_str()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    // One part (no `*`): the whole text.
    pattern.len() != 1 || rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(kind: Kind, v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode(kind, Some(&v), &mut out);
        out
    }

    #[test]
    fn encodings_sort_as_compare_does() {
        let cases: Vec<(Kind, Vec<Value>)> = vec![
            (
                Kind::Number,
                vec![
                    json!(-1e300),
                    json!(-5),
                    json!(-0.5),
                    json!(0),
                    json!(0.25),
                    json!(5),
                    json!(9007199254740993i64),
                    json!(9007199254740994i64),
                    json!(1e300),
                    json!("x"),
                    json!(null),
                ],
            ),
            (
                Kind::Text,
                vec![json!(""), json!("a"), json!("a\u{0}b"), json!("ab"), json!("b"), json!("ø"), json!(null)],
            ),
            (
                Kind::Instant,
                vec![
                    json!("1969-12-31T23:59:59Z"),
                    json!("2025-01-01T09:00:00+02:00"),
                    json!("2025-01-01T08:00:00.5Z"),
                    json!("2025-01-01T10:00:00Z"),
                    json!("not a date"),
                    json!(null),
                ],
            ),
            (Kind::Bool, vec![json!(false), json!(true), json!(null)]),
        ];
        for (kind, values) in cases {
            for (i, a) in values.iter().enumerate() {
                for (j, b) in values.iter().enumerate() {
                    let by_value = compare(kind, Some(a), Some(b));
                    assert_eq!(by_value, i.cmp(&j), "{kind:?} {a} vs {b}");
                    assert_eq!(
                        enc(kind, a.clone()).cmp(&enc(kind, b.clone())),
                        by_value,
                        "{kind:?} {a} vs {b} encoded"
                    );
                }
            }
        }
    }

    #[test]
    fn equal_values_encode_alike_and_no_encoding_prefixes_another() {
        assert_eq!(enc(Kind::Number, json!(5)), enc(Kind::Number, json!(5.0)));
        assert_eq!(enc(Kind::Number, json!(0.0)), enc(Kind::Number, json!(-0.0)));
        assert_eq!(
            enc(Kind::Instant, json!("2025-01-01T10:00:00+02:00")),
            enc(Kind::Instant, json!("2025-01-01T08:00:00Z"))
        );
        let a = enc(Kind::Text, json!("paid"));
        let b = enc(Kind::Text, json!("paid_late"));
        assert!(!b.starts_with(&a) && !a.starts_with(&b));
        assert_eq!(compare(Kind::Text, None, Some(&json!(null))), Ordering::Equal);
    }

    #[test]
    fn like_patterns() {
        let p = |s: &str| s.split('*').map(str::to_string).collect::<Vec<_>>();
        assert!(like(&p("*hotel*"), "Grand Hotel hotel"));
        assert!(like(&p("hot*"), "hotel"));
        assert!(!like(&p("hot*"), "a hotel"));
        assert!(like(&p("*tel"), "hotel"));
        assert!(like(&p("hotel"), "hotel") && !like(&p("hotel"), "hotels"));
        assert!(like(&p("h*t*l"), "hotel") && !like(&p("h*t*l"), "hot"));
        assert!(like(&p("*"), "") && like(&p("**"), "x"));
        assert!(!like(&p("ab*ba"), "aba"));
    }
}
