//! Sandbox mode: tokens made with `--sandbox` see fake values wherever a column holds
//! personal data, in every response (REST rows, lists, views; GraphQL trees use the same
//! function), so integrators can try every query shape without seeing a real customer.
//!
//! Each fake comes from the `fake` crate, by PII kind, with the same shape as the real value
//! (emails always `@example.com`, dates stay dates, coordinates stay numbers). It is seeded
//! by HMAC-SHA256(install sandbox key, token id ‖ kind ‖ real value): the same real value
//! always maps to the same fake for a token — joins, repeated reads and pagination stay
//! consistent — while nothing maps a fake back (no mapping is stored, and the key never
//! leaves the data dir). Ids, amounts, dates and statuses are not PII and pass unchanged.
//! Free text and `json` values are searched for PII-shaped spans (see [`spans`]); key/value
//! rows whose key names the install's identity are faked by the kind the key names.

pub mod spans;

use dashmap::DashSet;
use fake::faker::address::en::{BuildingNumber, CityName, StreetName};
use fake::faker::company::en::CompanyName;
use fake::faker::creditcard::en::CreditCardNumber;
use fake::faker::internet::en::Username;
use fake::faker::job::en::Title;
use fake::faker::lorem::en::Sentence;
use fake::faker::name::en::{FirstName, LastName, Name};
use fake::faker::phone_number::en::{CellNumber, PhoneNumber};
use fake::Fake;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

use crate::schema::{ColumnType, PiiKind, Schema, Table};
use crate::store::{KeyRing, Store, StoreError};

/// Hashes of every real PII value stored, and of every word in them, so a fake never is,
/// or contains, a real value (a fake "Kara Williams" must not carry a real customer's
/// surname). Filled at start-up and on every write; never shrinks, which only makes it more
/// careful.
#[derive(Default)]
pub struct RealValues {
    seen: DashSet<u64>,
}

/// Words shorter than this are too common to avoid (and too short to identify anyone).
const MIN_WORD: usize = 4;

/// FNV-1a of already lower-cased text (cheap enough to run on every substring).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn hash_str(s: &str) -> u64 {
    fnv(&s.trim().to_lowercase())
}

/// Kinds whose words identify people or customers; a fake must not contain one.
fn identifying(kind: PiiKind) -> bool {
    matches!(
        kind,
        PiiKind::FirstName
            | PiiKind::LastName
            | PiiKind::FullName
            | PiiKind::Username
            | PiiKind::Company
            | PiiKind::City
    )
}

impl RealValues {
    /// Reads every PII value of every table.
    pub fn load(store: &Store, schema: &Schema) -> Result<Self, StoreError> {
        let real = Self::default();
        for table in schema.tables.values() {
            if table.columns.values().any(|c| c.pii().is_some()) {
                store.for_each_row(&table.name, |row| real.remember(table, row))?;
            }
        }
        Ok(real)
    }

    /// Notes the PII values of a row being written (and the words of identifying ones).
    pub fn remember(&self, table: &Table, row: &Map<String, Value>) {
        for (name, value) in row {
            let Some((kind, _)) = table.column(name).and_then(|c| c.pii()) else { continue };
            let Some(s) = value.as_str() else { continue };
            self.seen.insert(hash_str(s));
            if identifying(kind) {
                for word in s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= MIN_WORD) {
                    self.seen.insert(hash_str(word));
                }
            }
        }
    }

    /// Whether a candidate fake is a real value or contains a real identifying word.
    fn is_real(&self, v: &Value) -> bool {
        let Some(s) = v.as_str() else { return false };
        if self.seen.is_empty() {
            return false;
        }
        if self.seen.contains(&hash_str(s)) {
            return true;
        }
        let lower: Vec<char> = s.to_lowercase().chars().collect();
        let mut buf = String::new();
        for start in 0..lower.len() {
            buf.clear();
            for (len, c) in lower[start..].iter().take(24).enumerate() {
                buf.push(*c);
                if len + 1 >= MIN_WORD && self.seen.contains(&fnv(&buf)) {
                    return true;
                }
            }
        }
        false
    }
}

/// Replaces every PII value of a row (already stripped of secret columns) with its fake:
/// by the column's kind; in a key/value table, the value of a key that names identity or
/// contact data (`company_address`, `smtp_host`, …) by the kind the key names; and in any
/// other text or `json` value, every span shaped like an e-mail address, a phone number or
/// an IBAN (`spans`), whether it is the whole value or a few words of it.
pub fn fake_row(keys: &KeyRing, real: &RealValues, token_id: &str, table: &Table, row: &mut Map<String, Value>) {
    let keyed = table.key_value().and_then(|(key, value_column)| {
        let kind = row.get(key).and_then(Value::as_str).and_then(spans::key_kind)?;
        Some((value_column.to_string(), kind))
    });
    for (name, value) in row.iter_mut() {
        if value.is_null() {
            continue;
        }
        let Some(column) = table.column(name) else { continue };
        if let Some((kind, _)) = column.pii() {
            *value = fake_value(keys, real, token_id, kind, column.ty, value);
        } else if let Some((_, kind)) = keyed.as_ref().filter(|(c, _)| c == name) {
            *value = fake_keyed(keys, real, token_id, *kind, value);
        } else {
            fake_text(keys, real, token_id, value);
        }
    }
}

/// A key/value row's value faked as the kind its key names; a host name (no scheme) stays
/// a host name.
fn fake_keyed(keys: &KeyRing, real: &RealValues, token_id: &str, kind: PiiKind, value: &Value) -> Value {
    let fake = fake_value(keys, real, token_id, kind, ColumnType::String, value);
    match (kind, value.as_str(), fake.as_str()) {
        (PiiKind::Url, Some(r), Some(f)) if !r.contains("://") => {
            Value::from(f.split_once("://").map_or(f, |(_, host)| host))
        }
        _ => fake,
    }
}

/// Fakes PII-shaped text wherever it sits in a value: a whole string, spans inside it, and
/// every string inside a `json` document.
fn fake_text(keys: &KeyRing, real: &RealValues, token_id: &str, value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(kind) = shaped_like(s) {
                *value = fake_value(keys, real, token_id, kind, ColumnType::String, value);
                return;
            }
            let found = spans::find(s);
            if found.is_empty() {
                return;
            }
            let mut out = String::with_capacity(s.len());
            let mut at = 0;
            for (start, end, kind) in found {
                out.push_str(&s[at..start]);
                let fake = fake_value(keys, real, token_id, kind, ColumnType::String, &Value::from(&s[start..end]));
                out.push_str(fake.as_str().unwrap_or_default());
                at = end;
            }
            out.push_str(&s[at..]);
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fake_text(keys, real, token_id, v)),
        Value::Object(map) => map.values_mut().for_each(|v| fake_text(keys, real, token_id, v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The fake standing in for `real` (a column of type `ty` and PII kind `kind`); never a
/// value that is stored for real.
pub fn fake_value(
    keys: &KeyRing,
    real: &RealValues,
    token_id: &str,
    kind: PiiKind,
    ty: ColumnType,
    value: &Value,
) -> Value {
    let mut rng = StdRng::from_seed(keys.sandbox_seed(token_id, kind.name(), value.to_string().as_bytes()));
    let mut fake = one_fake(&mut rng, kind, ty, value);
    for _ in 0..64 {
        if !real.is_real(&fake) {
            break;
        }
        fake = one_fake(&mut rng, kind, ty, value);
    }
    fake
}

fn one_fake(rng: &mut StdRng, kind: PiiKind, ty: ColumnType, real: &Value) -> Value {
    match (kind, real) {
        (PiiKind::Latitude, Value::Number(_)) => return Value::from(round6(rng.gen_range(-90.0..90.0))),
        (PiiKind::Longitude, Value::Number(_)) => return Value::from(round6(rng.gen_range(-180.0..180.0))),
        (_, Value::Number(n)) => {
            let digits = n.to_string().len().clamp(1, 15) as u32;
            return Value::from(rng.gen_range(10u64.pow(digits - 1)..10u64.pow(digits)));
        }
        (_, Value::Bool(b)) => return Value::Bool(*b),
        _ => {}
    }
    if ty == ColumnType::Date || kind == PiiKind::DateOfBirth {
        return Value::String(fake_date(rng));
    }
    if kind == PiiKind::Vat {
        if let Some(s) = real.as_str().filter(|s| s.chars().skip(2).filter(char::is_ascii_digit).count() >= 4) {
            return Value::String(same_shape(s, rng));
        }
    }
    Value::String(fake_string(kind, rng))
}

/// A VAT number's fake: the country prefix (its first two letters) and every other letter
/// kept, each digit replaced — `NO835303798MVA` → `NO######MVA`, same length and format.
fn same_shape(real: &str, rng: &mut StdRng) -> String {
    real.chars()
        .enumerate()
        .map(|(i, c)| if c.is_ascii_digit() && i >= 2 { char::from(b'0' + rng.gen_range(0..10u8)) } else { c })
        .collect()
}

/// The PII kind a free-text value has the shape of (an e-mail address, a phone number, an
/// IBAN), whatever column it sits in.
pub fn shaped_like(s: &str) -> Option<PiiKind> {
    let t = s.trim();
    if t.is_empty() || t.len() > 254 {
        return None;
    }
    if let Some((local, domain)) = t.split_once('@') {
        let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || ".-_+%".contains(c));
        return (ok(local) && ok(domain) && domain.contains('.')).then_some(PiiKind::Email);
    }
    if looks_like_phone(t) {
        return Some(PiiKind::Phone);
    }
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let b = compact.as_bytes();
    let iban = (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric);
    iban.then_some(PiiKind::Iban)
}

fn looks_like_phone(t: &str) -> bool {
    let digits = t.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&digits)
        && t.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && (t.starts_with('+') || t.starts_with('0') || t.starts_with('('))
}

const FICTIONAL_COUNTRIES: &[&str] = &[
    "Freedonia",
    "Ruritania",
    "Genovia",
    "Latveria",
    "Elbonia",
    "Sokovia",
    "Syldavia",
    "Borduria",
    "Arstotzka",
    "Zubrowka",
    "Krakozhia",
    "Markovia",
    "Florin",
    "Grand Fenwick",
    "Molvania",
    "Nova Esperia",
];
const FICTIONAL_REGIONS: &[&str] =
    &["North Ambria", "Westmarch", "Eastvale", "Southmoor", "Highcombe", "Lowfield", "Riverlands", "Stonecrest"];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

fn letters(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'A' + rng.gen_range(0..26u8))).collect()
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn fake_date(rng: &mut StdRng) -> String {
    // 1950-01-01 .. 2005-12-31 as Julian days.
    let day = rng.gen_range(2_433_283..2_453_736);
    time::Date::from_julian_day(day)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|_| "1980-01-01".into())
}

fn fake_string(kind: PiiKind, rng: &mut StdRng) -> String {
    match kind {
        PiiKind::Email => {
            let first: String = FirstName().fake_with_rng(rng);
            let last: String = LastName().fake_with_rng(rng);
            format!("{}.{}{}@example.com", slug(&first), slug(&last), rng.gen_range(1..100))
        }
        PiiKind::Phone | PiiKind::Fax => PhoneNumber().fake_with_rng(rng),
        PiiKind::Mobile => CellNumber().fake_with_rng(rng),
        PiiKind::FirstName => FirstName().fake_with_rng(rng),
        PiiKind::LastName => LastName().fake_with_rng(rng),
        PiiKind::FullName => Name().fake_with_rng(rng),
        PiiKind::Username => Username().fake_with_rng(rng),
        PiiKind::StreetAddress => {
            let number: String = BuildingNumber().fake_with_rng(rng);
            let street: String = StreetName().fake_with_rng(rng);
            format!("{number} {street}")
        }
        PiiKind::City => CityName().fake_with_rng(rng),
        PiiKind::Postcode => format!("ZZ{} {}ZZ", digits(rng, 2), digits(rng, 1)),
        // Fictional places: a fake country or region can never be mistaken for a real one.
        PiiKind::State => pick(rng, FICTIONAL_REGIONS).into(),
        PiiKind::Country => pick(rng, FICTIONAL_COUNTRIES).into(),
        PiiKind::Company => CompanyName().fake_with_rng(rng),
        PiiKind::JobTitle => Title().fake_with_rng(rng),
        PiiKind::DateOfBirth => fake_date(rng),
        PiiKind::NationalId => format!("9{}-{}-{}", digits(rng, 2), digits(rng, 2), digits(rng, 4)),
        PiiKind::Vat => format!("XX{}", digits(rng, 9)),
        PiiKind::Iban => format!("XX{}EXMP{}", digits(rng, 2), digits(rng, 14)),
        PiiKind::BankAccount => digits(rng, 10),
        PiiKind::CreditCard => CreditCardNumber().fake_with_rng(rng),
        PiiKind::IpAddress => format!("198.51.100.{}", rng.gen_range(1..255)),
        PiiKind::Url => {
            let company: String = CompanyName().fake_with_rng(rng);
            format!("https://www.{}.example", slug(&company))
        }
        PiiKind::Notes => Sentence(6..14).fake_with_rng(rng),
        PiiKind::Latitude => format!("{:.6}", rng.gen_range(-90.0..90.0)),
        PiiKind::Longitude => format!("{:.6}", rng.gen_range(-180.0..180.0)),
        PiiKind::Passport => format!("{}{}", letters(rng, 2), digits(rng, 7)),
        PiiKind::LicencePlate => format!("{}{} {}", letters(rng, 2), digits(rng, 2), letters(rng, 3)),
        PiiKind::AvatarUrl => format!("https://avatars.example.com/{}.png", digits(rng, 12)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fakes_are_stable_per_token_and_keep_their_shape() {
        let keys = KeyRing::from_master(&[5; 32]);
        let none = RealValues::default();
        let fake_value = |keys: &KeyRing, token: &str, kind, ty, v: &Value| fake_value(keys, &none, token, kind, ty, v);
        let real = Value::from("jane.doe@acme.com");
        let a = fake_value(&keys, "tok1", PiiKind::Email, ColumnType::String, &real);
        assert_eq!(a, fake_value(&keys, "tok1", PiiKind::Email, ColumnType::String, &real));
        assert_ne!(a, fake_value(&keys, "tok2", PiiKind::Email, ColumnType::String, &real));
        assert!(a.as_str().unwrap().ends_with("@example.com"), "{a}");
        let dob = fake_value(&keys, "t", PiiKind::DateOfBirth, ColumnType::Date, &Value::from("1970-01-01"));
        assert_eq!(dob.as_str().unwrap().len(), 10);
        let lat = fake_value(&keys, "t", PiiKind::Latitude, ColumnType::Float, &Value::from(51.5));
        assert!(lat.is_f64());
        for kind in PiiKind::ALL {
            let v = fake_value(&keys, "t", *kind, ColumnType::String, &Value::from("real value"));
            assert!(v.as_str().is_some_and(|s| !s.is_empty() && s != "real value"), "{kind:?}: {v}");
        }
    }
}
