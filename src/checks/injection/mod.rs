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
//! Normalisation: URL-decoding (repeated, for double encoding), ASCII lower-casing, hidden
//! bytes (NUL, `%A0`, `\x27`) made visible, MySQL versioned comments unwrapped, and inline
//! comments both removed (`UN/**/ION` → `union`) and turned into spaces
//! (`SELECT/**/password`); `+` is also read as a space. Every variant is checked.

mod rules;
mod tokenizer;

use std::borrow::Cow;

use rules::judge;
use tokenizer::tokenize;

/// Why a value was flagged (for the audit record).
pub type Finding = &'static str;

/// Scans one value; `Some(reason)` when it looks like an injection.
pub fn detect(value: &str) -> Option<Finding> {
    if value.len() < 2 {
        return None;
    }
    let decoded = url_decode_repeatedly(value);
    let lowered = decoded.to_ascii_lowercase();
    let lower = clean(&lowered);
    let unwrapped = unwrap_versioned_comments(&lower);
    let removed = strip_inline_comments(&unwrapped, "");
    let spaced = strip_inline_comments(&unwrapped, " ");
    // A `+` is a space once a form or query value is decoded; check that reading too.
    let plus = unwrapped.contains('+').then(|| spaced.replace('+', " "));
    let spaced = (spaced != removed).then_some(spaced);
    for variant in [Some(removed.as_ref()), spaced.as_deref(), plus.as_deref()].into_iter().flatten() {
        for quote in [None, Some(b'\''), Some(b'"')] {
            let quotes = quote.map(|q| variant.bytes().filter(|&b| b == q).count());
            if quotes == Some(0) {
                continue;
            }
            let tokens = tokenize(variant, quote);
            // An odd number of quotes means the value leaves a string open: it broke out.
            let unbalanced = quotes.is_some_and(|n| n % 2 == 1);
            if let Some(reason) = judge(&tokens, quote.is_some(), unbalanced) {
                return Some(reason);
            }
        }
    }
    None
}

/// Escapes and bytes that only hide tokens: `\x27`, NUL, non-breaking and invalid bytes.
fn clean(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'\\' || b == 0 || b >= 0x80) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.replace("\\x27", "'").replace("\\x22", "\"").replace(['\0', '\u{a0}', '\u{fffd}'], " "))
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

/// MySQL versioned comments execute their content: `/*!50000union*/` → ` union `.
fn unwrap_versioned_comments(s: &str) -> Cow<'_, str> {
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
