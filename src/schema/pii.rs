//! PII kinds: what personal data a column holds, declared in the schema (`pii = "email"`) or
//! recognised from the column's name. The sandbox replaces such values with fakes of the
//! same shape; `palisade schema pii` shows which column got which kind and why.

use serde::Serialize;

macro_rules! pii_kinds {
    ($($variant:ident => $name:literal $(| $alias:literal)*),+ $(,)?) => {
        /// A kind of personal data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum PiiKind { $($variant),+ }

        impl PiiKind {
            /// Every kind, for listings and tests.
            pub const ALL: &'static [PiiKind] = &[$(PiiKind::$variant),+];

            pub fn name(self) -> &'static str {
                match self { $(PiiKind::$variant => $name),+ }
            }

            /// Parses a declared kind (canonical name or alias).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name $(| $alias)* => Some(PiiKind::$variant),)+ _ => None }
            }
        }
    };
}

pii_kinds! {
    Email => "email",
    Phone => "phone" | "telephone",
    Mobile => "mobile",
    Fax => "fax",
    FirstName => "first_name",
    LastName => "last_name",
    FullName => "full_name" | "name",
    Username => "username",
    StreetAddress => "street_address" | "address",
    City => "city",
    Postcode => "postcode" | "zip",
    State => "state" | "region",
    Country => "country",
    Company => "company",
    JobTitle => "job_title",
    DateOfBirth => "date_of_birth" | "dob",
    NationalId => "national_id" | "ssn",
    Vat => "vat" | "tax_id",
    Iban => "iban",
    BankAccount => "bank_account",
    CreditCard => "credit_card",
    IpAddress => "ip_address" | "ip",
    Url => "url" | "website",
    Notes => "notes" | "free_text",
    Latitude => "latitude",
    Longitude => "longitude",
    Passport => "passport",
    LicencePlate => "licence_plate" | "license_plate",
    AvatarUrl => "avatar_url" | "photo_url",
}

/// Why a column has its PII kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source", content = "pattern")]
pub enum PiiSource {
    /// `pii = "…"` in the schema.
    Declared,
    /// The column name matched this pattern.
    Name(&'static str),
}

/// Name patterns, tried in order; the first whose any token matches wins. A pattern is a list
/// of `|`-separated fragments matched against the lower-case column name: `*x*` contains x,
/// `x` equals x (or a `_`-separated part of the name equals x).
const NAME_RULES: &[(&str, PiiKind)] = &[
    ("*email*|*e_mail*", PiiKind::Email),
    ("*mobile*|*cell*", PiiKind::Mobile),
    ("*fax*", PiiKind::Fax),
    ("*phone*|tel|telephone", PiiKind::Phone),
    ("first_name|firstname|fname|given_name", PiiKind::FirstName),
    ("last_name|lastname|lname|surname|family_name", PiiKind::LastName),
    ("full_name|fullname|contact_name", PiiKind::FullName),
    ("username|user_name|login", PiiKind::Username),
    ("*avatar*|*photo*", PiiKind::AvatarUrl),
    ("*street*|address|address1|address2|address_line", PiiKind::StreetAddress),
    ("city|town", PiiKind::City),
    ("zip|zipcode|postcode|postal_code", PiiKind::Postcode),
    ("state|region|province|county", PiiKind::State),
    ("country", PiiKind::Country),
    ("*dob*|*birth*", PiiKind::DateOfBirth),
    ("ssn|national_id|*social_security*|nin", PiiKind::NationalId),
    ("*vat*|tax_id|tax_number", PiiKind::Vat),
    ("*iban*", PiiKind::Iban),
    ("bank_account|account_number", PiiKind::BankAccount),
    ("*credit_card*|card_number|ccn", PiiKind::CreditCard),
    ("ip|ip_address|*ipaddr*", PiiKind::IpAddress),
    ("website|url|homepage", PiiKind::Url),
    ("*latitude*|lat", PiiKind::Latitude),
    ("*longitude*|lng|lon", PiiKind::Longitude),
    ("*passport*", PiiKind::Passport),
    ("*licence_plate*|*license_plate*|*plate_number*", PiiKind::LicencePlate),
    ("job_title|jobtitle", PiiKind::JobTitle),
    ("company|company_name", PiiKind::Company),
    ("notes|note|comment|comments", PiiKind::Notes),
];

fn fragment_matches(fragment: &str, name: &str) -> bool {
    if let Some(inner) = fragment.strip_prefix('*').and_then(|f| f.strip_suffix('*')) {
        name.contains(inner)
    } else {
        name == fragment
    }
}

impl PiiKind {
    /// The kind a column name suggests, with the pattern that matched.
    pub fn from_column_name(name: &str) -> Option<(PiiKind, &'static str)> {
        let name = name.to_ascii_lowercase();
        NAME_RULES.iter().find_map(|(pattern, kind)| {
            pattern.split('|').any(|f| fragment_matches(f, &name)).then_some((*kind, *pattern))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_25_kinds_and_names_round_trip() {
        assert!(PiiKind::ALL.len() >= 25);
        for k in PiiKind::ALL {
            assert_eq!(PiiKind::parse(k.name()), Some(*k));
        }
    }

    #[test]
    fn names_are_recognised() {
        let kind = |n| PiiKind::from_column_name(n).map(|(k, _)| k);
        assert_eq!(kind("work_email"), Some(PiiKind::Email));
        assert_eq!(kind("mobile_phone"), Some(PiiKind::Mobile));
        assert_eq!(kind("fname"), Some(PiiKind::FirstName));
        assert_eq!(kind("zip"), Some(PiiKind::Postcode));
        assert_eq!(kind("birth_date"), Some(PiiKind::DateOfBirth));
        assert_eq!(kind("iban"), Some(PiiKind::Iban));
        assert_eq!(kind("vat_no"), Some(PiiKind::Vat));
        assert_eq!(kind("total"), None);
        assert_eq!(kind("status"), None);
    }
}
