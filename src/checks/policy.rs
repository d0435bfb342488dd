//! Per-endpoint policies: which checks run, whether injection locks, per-IP limits.

use std::sync::Arc;

use super::SecurityCheck;
use crate::config::EndpointPolicy;

/// A resolved endpoint policy, handed to every check.
pub struct Policy {
    method: Option<String>,
    pattern: Vec<String>,
    /// `None`: the global chain.
    pub(super) checks: Option<Vec<Arc<dyn SecurityCheck>>>,
    /// Whether refusals that ask for it lock the client IP.
    pub auto_lock: bool,
    /// Whether a suspicious injection verdict is refused.
    pub refuse_suspicious: bool,
    limit: Option<(String, u32)>,
}

/// What applies where no endpoint policy matches.
pub static DEFAULT: Policy =
    Policy { method: None, pattern: Vec::new(), checks: None, auto_lock: true, refuse_suspicious: false, limit: None };

impl Policy {
    pub(super) fn new(p: &EndpointPolicy, checks: Option<Vec<Arc<dyn SecurityCheck>>>) -> Self {
        Self {
            method: p.method.as_ref().map(|m| m.to_ascii_uppercase()).filter(|m| m != "*"),
            pattern: p.path.split('/').map(str::to_string).collect(),
            checks,
            auto_lock: p.auto_lock,
            refuse_suspicious: p.refuse_suspicious,
            limit: p.per_minute().map(|n| (p.limit_id.clone().unwrap_or_else(|| p.path.clone()), n)),
        }
    }

    /// The shared counter id and per-minute limit, if any.
    pub fn limit(&self) -> Option<(&str, u32)> {
        self.limit.as_ref().map(|(id, n)| (id.as_str(), *n))
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        let mut segments = path.split('/');
        for pat in &self.pattern {
            if pat == "**" {
                return true;
            }
            match segments.next() {
                Some(seg) if segment_matches(pat, seg) => {}
                _ => return false,
            }
        }
        segments.next().is_none()
    }
}

/// `*` in a pattern segment matches any run of characters within the segment.
fn segment_matches(pattern: &str, segment: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = segment.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(pos) => rest = &rest[pos + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(method: Option<&str>, path: &str) -> Policy {
        let p = EndpointPolicy {
            method: method.map(String::from),
            path: path.into(),
            checks: None,
            auto_lock: true,
            refuse_suspicious: false,
            max_requests_per_minute: None,
            limit_id: Some("x".into()),
        };
        Policy::new(&p, None)
    }

    #[test]
    fn patterns_match_methods_and_segments() {
        let p = policy(Some("post"), "/api/v1/leads");
        assert!(p.matches("POST", "/api/v1/leads"));
        assert!(!p.matches("GET", "/api/v1/leads"));
        assert!(!p.matches("POST", "/api/v1/leads/1"));
        let p = policy(None, "/api/v1/views/*");
        assert!(p.matches("GET", "/api/v1/views/open_tickets"));
        assert!(!p.matches("GET", "/api/v1/views"));
        let p = policy(None, "/api/**");
        assert!(p.matches("DELETE", "/api/v1/clients/3"));
        let p = policy(None, "/api/v1/inv*");
        assert!(p.matches("GET", "/api/v1/invoices") && p.matches("GET", "/api/v1/invoice_items"));
        assert!(!p.matches("GET", "/api/v1/clients"));
        assert_eq!(p.limit(), Some(("x", 60)));
    }
}
