//! The secret texts a token carries, each in a type whose `Debug` prints nothing of it and
//! whose text is reached only through `expose`, so every use of a secret is written out.

/// A token in plaintext: shown once at creation, never stored or logged. Its text is
/// reachable only through [`PlainToken::expose`], so every use of it is written out.
pub struct PlainToken(pub(super) String);

impl PlainToken {
    /// The token's text, for the one place it is shown (creation) or sent (tests, clients).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainToken(..)")
    }
}

/// A token as a request presents it (`Authorization: Bearer …`), borrowed from the header
/// for the one comparison that reads it. Its `Debug` prints nothing of it.
#[derive(Clone, Copy)]
pub struct BearerToken<'a>(&'a str);

impl<'a> BearerToken<'a> {
    pub fn new(text: &'a str) -> Self {
        Self(text)
    }

    /// The presented text, for hashing and parsing only.
    pub fn expose(&self) -> &'a str {
        self.0
    }
}

impl std::fmt::Debug for BearerToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// The HMAC key of a signing token, held in memory only while the server runs.
#[derive(Clone)]
pub struct SigningSecret(pub(super) String);

impl SigningSecret {
    /// The key's text, for the HMAC only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_debug() {
        assert_eq!(format!("{:?}", PlainToken("pal_x".into())), "PlainToken(..)");
        assert_eq!(format!("{:?}", SigningSecret("pals_x".into())), "SigningSecret(..)");
        assert_eq!(format!("{:?}", BearerToken::new("pal_x")), "BearerToken(..)");
    }
}
