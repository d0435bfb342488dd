//! The scope matrix's letters: what a token may do with a table (`rcud`), as one byte so the
//! per-request check is a mask.

use serde::{Deserialize, Serialize};

/// What a token may do with a table: a subset of `rcud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Perms(pub(super) u8);

/// One of the four actions the scope matrix knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    fn bit(self) -> u8 {
        match self {
            Action::Read => 1,
            Action::Create => 2,
            Action::Update => 4,
            Action::Delete => 8,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

impl Perms {
    pub fn parse(s: &str) -> Option<Self> {
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                'r' => 1,
                'c' => 2,
                'u' => 4,
                'd' => 8,
                _ => return None,
            };
        }
        (bits != 0).then_some(Perms(bits))
    }
    pub fn allows(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }
    pub fn letters(self) -> String {
        [('r', 1), ('c', 2), ('u', 4), ('d', 8)].iter().filter(|(_, b)| self.0 & b != 0).map(|(c, _)| *c).collect()
    }
}

/// `TABLE:PERMS`; table `*` means every non-sensitive table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeEntry {
    pub table: String,
    pub perms: Perms,
}

impl std::fmt::Display for ScopeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.table, self.perms.letters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perms_parse_and_check() {
        let p = Perms::parse("rc").unwrap();
        assert!(p.allows(Action::Read) && p.allows(Action::Create));
        assert!(!p.allows(Action::Delete));
        assert!(Perms::parse("rx").is_none());
        assert!(Perms::parse("").is_none());
        assert_eq!(Perms::parse("dr").unwrap().letters(), "rd");
    }
}
