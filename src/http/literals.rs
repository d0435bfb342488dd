//! The string values a GraphQL document carries, decoded the way they will be executed, for
//! the checks stage (`checks::CheckRequest::graphql_strings`).
//!
//! A `POST /graphql` body reaches the checks as JSON, and JSON decoding leaves the query's
//! own escapes in place: `"\u0027 OR \u00271\u0027=\u00271"` is harmless text to a scanner
//! but `' OR '1'='1` to the resolver. So every string literal and block string of the query
//! is decoded here — `\" \\ \/ \b \f \n \r \t \uXXXX` (surrogate pairs joined), `\u{…}`,
//! block-string `\"""` and indentation — and handed to the checks as a value of its own.
//!
//! Where a literal starts and ends is found by a byte walk that skips comments and follows
//! juniper's lexer to the letter (a test holds the two together on random documents):
//! a second reading of the grammar that disagreed with the executing one on where a string
//! ends would be a place to hide one. The value itself is decoded by juniper's
//! [`StringLiteral::parse`], the code the resolvers' arguments come from. The walk is
//! linear, runs before authentication on bodies up to `shield.max_body_bytes`, and
//! allocates only for literals holding an escape; no document is parsed. A document juniper
//! will refuse (a bad escape, a broken string) is still read as far as it goes, with the
//! raw text kept where decoding fails, so the checks see at least as much as runs.

use std::borrow::Cow;

use juniper::parser::StringLiteral;

/// Whether `query` is made of GraphQL tokens only (juniper's own lexer). A document that is
/// not — `{ a(q: "x" OR 1=1--") }`: a string closed early and followed by SQL — will be
/// refused by the parser, but its text is what an attacker sent and is scanned whole.
pub fn lexes(query: &str) -> bool {
    juniper::parser::Lexer::new(query).all(|t| t.is_ok())
}

/// Every string literal and block string of `query`, decoded, in document order.
pub fn string_values(query: &str) -> Vec<Cow<'_, str>> {
    let b = query.as_bytes();
    let mut values = Vec::new();
    let mut i = 0;
    // Outside strings and comments no GraphQL token holds `"` or `#`.
    while let Some(found) = memchr::memchr2(b'"', b'#', &b[i..]) {
        let start = i + found;
        if b[start] == b'#' {
            // A comment runs to the end of its line.
            i = memchr::memchr2(b'\n', b'\r', &b[start..]).map_or(b.len(), |end| start + end + 1);
            continue;
        }
        if b[start + 1..].starts_with(b"\"\"") {
            match block_string_end(b, start + 3) {
                Some(end) => {
                    values.push(decode(StringLiteral::Block(&query[start..end]), &query[start + 3..end - 3]));
                    i = end;
                }
                None => {
                    values.push(Cow::Borrowed(&query[start + 3..]));
                    i = b.len();
                }
            }
        } else {
            match quoted_string_end(b, start + 1) {
                Ok(end) => {
                    values.push(decode(StringLiteral::Quoted(&query[start..=end]), &query[start + 1..end]));
                    i = end + 1;
                }
                Err(end) => {
                    values.push(Cow::Borrowed(&query[start + 1..end]));
                    i = end;
                }
            }
        }
    }
    values
}

/// `Ok(index)` of the `"` closing a string whose text starts at `from`; `Err(index)` of the
/// line break or end of input that cuts it off (juniper refuses such a document).
fn quoted_string_end(b: &[u8], from: usize) -> Result<usize, usize> {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i),
            b'\n' | b'\r' => return Err(i),
            _ => i += 1,
        }
    }
    Err(b.len())
}

/// The index just past the `"""` that closes a block string whose text starts at `from`,
/// by juniper's rule: a backslash spends the quote right after it, so `\"` + `"""` closes.
fn block_string_end(b: &[u8], from: usize) -> Option<usize> {
    let (mut quotes, mut escaped) = (0, false);
    for (i, &c) in b.iter().enumerate().skip(from) {
        match c {
            b'\\' => (quotes, escaped) = (0, true),
            b'"' if escaped => (quotes, escaped) = (0, false),
            b'"' if quotes < 2 => quotes += 1,
            b'"' => return Some(i + 1),
            _ => (quotes, escaped) = (0, false),
        }
    }
    None
}

/// A literal's value as juniper reads it, or its raw text where juniper would refuse it.
fn decode<'a>(literal: StringLiteral<'a>, raw: &'a str) -> Cow<'a, str> {
    literal.parse().unwrap_or(Cow::Borrowed(raw))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use juniper::parser::{Lexer, ScalarToken, Token};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::string_values;

    fn values(query: &str) -> Vec<String> {
        string_values(query).into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(
            values(r#"mutation { create_clients(company: "\" or \"\"=\"", status: "active") { id } }"#),
            [r#"" or ""=""#, "active"]
        );
        assert_eq!(values(r#"{ a(x: "\u0027 OR \u00271\u0027=\u00271") }"#), ["' OR '1'='1"]);
        assert_eq!(
            values(r#"{ a(x: "admin\u0027--", y: "\u0027) or (\u0027a\u0027=\u0027a") }"#),
            ["admin'--", "') or ('a'='a"]
        );
        assert_eq!(values(r#"{ a(x: "\\ \/ \b \f \n \r \t") }"#), ["\\ / \u{8} \u{c} \n \r \t"]);
        assert_eq!(values(r#"{ a(x: "\u{27}\u{000027}\u{1F600}\uD83D\uDE00\u00e9") }"#), ["''😀😀é"]);
    }

    #[test]
    fn block_strings_are_unescaped_and_dedented() {
        let q = "{ a(x: \"\"\"\n    ' or 1=1 \\\"\"\"\n      --\n  \"\"\") }";
        assert_eq!(values(q), ["' or 1=1 \"\"\"\n  --"]);
        assert_eq!(values(r#"{ a(x: """it's "quoted" here""") }"#), [r#"it's "quoted" here"#]);
        // `\"` then `"""` closes the block string for juniper; the next literal stands alone.
        let q = "{ a(x: \"\"\"x\\\"\"\"\", y: \"\\u0027 or 1=1--\") }";
        assert_eq!(values(q), ["x\\\"", "' or 1=1--"]);
    }

    #[test]
    fn plain_values_are_borrowed_and_names_are_not_values() {
        let q = r#"query Q($s: String = "new") { leads(status: "won", limit: 5) @include(if: true) { name } }"#;
        assert_eq!(values(q), ["new", "won"]);
        assert!(string_values(q).iter().all(|v| matches!(v, Cow::Borrowed(_))));
        assert!(values("{ clients(limit: 2) { company } }").is_empty());
    }

    #[test]
    fn comments_are_skipped_and_strings_keep_their_hashes() {
        let q = "{ a(x: \"#1 \\u0027\") # \"' or 1=1--\"\n b(y: \"two\") }";
        assert_eq!(values(q), ["#1 '", "two"]);
        // A comment ends at a bare carriage return too.
        assert_eq!(values("{ a # note\r b(y: \"\\u0027x\") }"), ["'x"]);
    }

    #[test]
    fn documents_juniper_refuses_are_read_as_far_as_they_go() {
        assert_eq!(values(r#"{ a(x: 'single') b(y: "\u0027") }"#), ["'"]);
        assert_eq!(values(r#"{ a(x: "\x27 or 1=1") }"#), [r"\x27 or 1=1"]);
        assert_eq!(values("{ a(x: \"cut\n\", y: \"\\u0027\") }"), ["cut", ", y: ", ") }"]);
        assert_eq!(values("{ a(x: \"\"\"open ' or 1=1"), ["open ' or 1=1"]);
        assert_eq!(values("\"\\"), ["\\"]);
        assert_eq!(values("é\"\\é\""), ["\\é"]);
    }

    /// The literals juniper's own lexer finds, if it reads the whole document.
    fn juniper_values(query: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for token in Lexer::new(query) {
            match token.ok()?.item {
                Token::Scalar(ScalarToken::String(literal)) => out.push(literal.parse().ok()?.into_owned()),
                Token::EndOfFile => return Some(out),
                _ => {}
            }
        }
        Some(out)
    }

    #[test]
    fn literals_are_where_juniper_finds_them() {
        const PIECES: &[&str] = &[
            "\"",
            "\"\"\"",
            "\\",
            "\\\"",
            "\\\"\"\"",
            "\\u0027",
            "\\u{27}",
            "\\uD83D\\uDE00",
            "\\n",
            "#",
            "\n",
            "\r",
            "\r\n",
            " ",
            "\t",
            ",",
            "a",
            "x1",
            "{",
            "}",
            "(",
            ")",
            ":",
            "$",
            "1",
            "-2.5e3",
            "...",
            "'",
            "é",
            "--",
            "or",
        ];
        let mut rng = StdRng::seed_from_u64(20250314);
        let mut lexed = 0;
        for _ in 0..200_000 {
            let n = rng.gen_range(1..14);
            let doc: String = (0..n).map(|_| PIECES[rng.gen_range(0..PIECES.len())]).collect();
            if let Some(expected) = juniper_values(&doc) {
                lexed += 1;
                assert_eq!(values(&doc), expected, "{doc:?}");
            }
        }
        assert!(lexed > 20_000, "only {lexed} documents lexed");
    }
}
