//! Query strings: lenient `a=b&c=d` decoding shared by the checks (which scan every pair)
//! and the REST handlers (which refuse a repeated name, but for a list's filters).

use crate::error::{ApiError, ErrorKind};
use crate::redact::truncate;

/// Lenient `a=b&c=d` decoding (`+` is a space; duplicates kept).
pub fn decode_pairs(raw: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Decoded query parameters; a repeated name is refused.
pub fn query_params(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    params_once(decode_pairs(raw), |_| true)
}

/// A list's query parameters: a range may name its column twice (`total=gte.1&total=lt.9`:
/// both bounds hold) — the one repetition accepted, since each bound is unambiguous; any
/// other repeated name (`status=a&status=b`, two `order`s) would leave the answer to the
/// parser's whim and is refused.
pub fn list_params(raw: &str) -> Result<Vec<(String, String)>, ApiError> {
    let pairs = decode_pairs(raw);
    let range = |v: &str| {
        crate::http::filter::parse(v).is_ok_and(|p| {
            !p.not
                && matches!(
                    p.op,
                    crate::http::filter::Op::Gt
                        | crate::http::filter::Op::Gte
                        | crate::http::filter::Op::Lt
                        | crate::http::filter::Op::Lte
                )
        })
    };
    let repeats_ok = |k: &str| {
        !matches!(k, "limit" | "offset" | "order" | "select" | "after")
            && pairs.iter().filter(|(seen, _)| seen == k).all(|(_, v)| range(v))
    };
    params_once(pairs.clone(), |k| !repeats_ok(k))
}

fn params_once(pairs: Vec<(String, String)>, once: impl Fn(&str) -> bool) -> Result<Vec<(String, String)>, ApiError> {
    for (i, (k, _)) in pairs.iter().enumerate() {
        if once(k) && pairs[..i].iter().any(|(seen, _)| seen == k) {
            return Err(ApiError::with_message(
                ErrorKind::BadRequest,
                format!("query parameter '{}' is repeated", truncate(k, 64)),
            ));
        }
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_plus_and_percent_and_repeats_are_refused() {
        assert_eq!(
            decode_pairs("a=1+2&b=%27x&&c"),
            [("a".into(), "1 2".into()), ("b".into(), "'x".into()), ("c".into(), String::new())]
        );
        assert!(query_params("a=1&a=2").is_err());
        assert_eq!(query_params("a=1&b=2").unwrap().len(), 2);
        assert_eq!(list_params("total=gte.1&total=lt.9").unwrap().len(), 2);
        assert!(list_params("status=a&status=b").is_err() && list_params("total=gte.1&total=eq.9").is_err());
        assert!(list_params("order=a&order=b").is_err() && list_params("limit=1&limit=2").is_err());
    }
}
