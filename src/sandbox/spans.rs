//! Personal data *inside* free text: the spans of a string shaped like an e-mail address, a
//! phone number or an IBAN (`"Call me on +44 20 7946 0958 or jo@acme.com"`), and the kind of
//! an identity key in a key/value table (`company_address`, `smtp_host`, `logo_url`).
//!
//! Whole-value shapes are not enough: a ticket's subject or a `json` tag list carries an
//! e-mail address among other words, and a sandbox token must not read it. The scan is
//! linear, allocation-free until it finds something, and errs towards faking (a fake where
//! none was needed costs nothing; a real address shown is a leak).

use crate::schema::PiiKind;

/// Characters that may stand inside an e-mail address's local part or domain.
fn email_char(c: char) -> bool {
    c.is_alphanumeric() || ".-_+%".contains(c)
}

/// Characters a phone number is written with.
fn phone_char(c: char) -> bool {
    c.is_ascii_digit() || " +-().".contains(c)
}

/// Byte ranges of `text` shaped like personal data, in order, never overlapping.
pub fn find(text: &str) -> Vec<(usize, usize, PiiKind)> {
    let mut out = Vec::new();
    if !text.contains(['@', '+', '0', '(']) && !text.bytes().any(|b| b.is_ascii_uppercase()) {
        return out;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        // An e-mail address: a run of address characters around one '@' with a dotted domain.
        if c == '@' {
            let mut s = i;
            while s > 0 && email_char(chars[s - 1].1) {
                s -= 1;
            }
            let mut e = i + 1;
            while e < chars.len() && email_char(chars[e].1) {
                e += 1;
            }
            // Trailing dots belong to the sentence, not the domain.
            while e > i + 1 && chars[e - 1].1 == '.' {
                e -= 1;
            }
            let domain = &text[end_of(i + 1)..end_of(e)];
            let from = end_of(s);
            if s < i && domain.contains('.') && !domain.starts_with('.') && out.last().is_none_or(|l| l.1 <= from) {
                out.push((from, end_of(e), PiiKind::Email));
                i = e;
                continue;
            }
        }
        // A phone number: starts with '+', '0' or '(' after a non-digit, 8–15 digits.
        let starts_phone = matches!(c, '+' | '0' | '(') && (i == 0 || !chars[i - 1].1.is_alphanumeric());
        if starts_phone {
            let mut e = i;
            while e < chars.len() && phone_char(chars[e].1) {
                e += 1;
            }
            while e > i && !(chars[e - 1].1.is_ascii_digit() || chars[e - 1].1 == ')') {
                e -= 1;
            }
            let run = &text[start..end_of(e)];
            let digits = run.chars().filter(char::is_ascii_digit).count();
            let next_is_word = chars.get(e).is_some_and(|(_, n)| n.is_alphanumeric());
            if (8..=15).contains(&digits) && !next_is_word {
                out.push((start, end_of(e), PiiKind::Phone));
                i = e;
                continue;
            }
        }
        // An IBAN: two capitals, two digits, then 11–30 letters and digits, as one word.
        if c.is_ascii_uppercase() && (i == 0 || !chars[i - 1].1.is_alphanumeric()) {
            let mut e = i;
            while e < chars.len() && chars[e].1.is_ascii_alphanumeric() {
                e += 1;
            }
            let word = &text[start..end_of(e)];
            let b = word.as_bytes();
            let iban = (15..=34).contains(&b.len())
                && b[..2].iter().all(u8::is_ascii_uppercase)
                && b[2..4].iter().all(u8::is_ascii_digit)
                && b[4..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if iban {
                out.push((start, end_of(e), PiiKind::Iban));
            }
            i = e.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// The PII kind a key/value row's key names (identity or contact data of the install:
/// its company name, address, VAT number, host names, URLs), if any.
pub fn key_kind(key: &str) -> Option<PiiKind> {
    if let Some((kind, _)) = PiiKind::from_column_name(key) {
        return Some(kind);
    }
    let key = key.to_ascii_lowercase();
    let parts: Vec<&str> = key.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).collect();
    let has = |names: &[&str]| parts.iter().any(|p| names.contains(p));
    // Most specific first: `company_address` is an address, `company_vat` a VAT number.
    let rules: &[(&[&str], PiiKind)] = &[
        (&["address", "street", "addr"], PiiKind::StreetAddress),
        (&["host", "hostname", "domain", "server"], PiiKind::Url),
        (&["url", "uri", "logo", "website", "homepage", "site", "link"], PiiKind::Url),
        (&["email", "mail"], PiiKind::Email),
        (&["phone", "tel", "telephone", "fax", "mobile"], PiiKind::Phone),
        (&["city", "town"], PiiKind::City),
        (&["zip", "postcode", "postal"], PiiKind::Postcode),
        (&["country"], PiiKind::Country),
        (&["company", "business", "organisation", "organization", "legal", "brand"], PiiKind::Company),
    ];
    rules.iter().find(|(names, _)| has(names)).map(|(_, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<(&str, PiiKind)> {
        find(text).into_iter().map(|(s, e, k)| (&text[s..e], k)).collect()
    }

    #[test]
    fn finds_addresses_phones_and_ibans_inside_text() {
        assert_eq!(
            spans("Call +44 20 7946 0958 or write to jo.lee@acme.co.uk."),
            vec![("+44 20 7946 0958", PiiKind::Phone), ("jo.lee@acme.co.uk", PiiKind::Email)]
        );
        assert_eq!(spans("[\"vip\",\"ann@example.org\"]"), vec![("ann@example.org", PiiKind::Email)]);
        assert_eq!(spans("pay to GB82WEST12345698765432 today"), vec![("GB82WEST12345698765432", PiiKind::Iban)]);
        assert_eq!(spans("(020) 7946-0958"), vec![("(020) 7946-0958", PiiKind::Phone)]);
        assert_eq!(spans("jo@acme.com"), vec![("jo@acme.com", PiiKind::Email)]);
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for text in [
            "Invoice INV-2025-0221 due 2026-01-02",
            "total 0.20 of 1000",
            "meet @ noon",
            "user@localhost",
            "Order 0221",
            "ABC",
            "ISO8601",
            "café 0",
        ] {
            assert!(find(text).is_empty(), "{text}: {:?}", spans(text));
        }
    }

    #[test]
    fn identity_keys_are_recognised() {
        assert_eq!(key_kind("company_name"), Some(PiiKind::Company));
        assert_eq!(key_kind("company_address"), Some(PiiKind::StreetAddress));
        assert_eq!(key_kind("company_vat_number"), Some(PiiKind::Vat));
        assert_eq!(key_kind("smtp_host"), Some(PiiKind::Url));
        assert_eq!(key_kind("logo_url"), Some(PiiKind::Url));
        assert_eq!(key_kind("support_email"), Some(PiiKind::Email));
        for plain in ["default_currency", "timezone", "invoice_prefix", "smtp_port", "locale", "maintenance_message"] {
            assert_eq!(key_kind(plain), None, "{plain}");
        }
    }
}
