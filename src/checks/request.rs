//! What a check is: the trait a built-in or a user's own check implements, what it sees of a
//! request, and how it refuses. The one public surface of the chain (see `server::Launch`).

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

use super::Policy;
use crate::error::ErrorKind;
use crate::http::literals;
use crate::http::route::GRAPHQL_PATH;
use crate::store::IpKey;

/// What a check sees of a request (decoded, bounded, no secrets).
pub struct CheckRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a [(String, String)],
    /// Decoded path segments, when the path holds anything but names and numbers (an
    /// injection in a path is one too: `/api/v1/clients/1%20OR%201=1`).
    pub path_segments: &'a [String],
    /// The JSON body, if the request sent one.
    pub json: Option<&'a Value>,
    /// Decoded `application/x-www-form-urlencoded` body fields.
    pub form: &'a [(String, String)],
    /// The string literals of a GraphQL query, decoded as they will be executed: in the
    /// JSON body they still hold GraphQL escapes (`\u0027`, `\"`). Empty off `/graphql`.
    pub graphql_strings: &'a [Cow<'a, str>],
    pub ip: IpAddr,
    /// The address's keyed hash (the subject of IP locks).
    pub ip_key: IpKey,
    /// The owner (`--name`) of the presented token, if it names a known token.
    pub user: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub now_ms: u64,
    /// What a check noticed without refusing (a suspicious value): it goes to the audit
    /// record's `reason`.
    pub notes: std::cell::RefCell<Vec<String>>,
}

impl CheckRequest<'_> {
    /// Every client-supplied string: query keys and values, form fields, every key and
    /// string value of the JSON body at any depth, and the decoded GraphQL literals. On
    /// `/graphql` the query text itself is read through its literals only: outside them
    /// GraphQL holds names, numbers, punctuation and comments, none of which reach a
    /// resolver, while scanning the text whole would read one literal's closing quote and a
    /// `#` in the next as an injection (`create_leads(name: "#hashtags")`).
    pub fn strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.path_segments.iter().map(String::as_str).collect();
        // A query value is read through its operands: `in.(…)`, `ilike.*x*` and `not.is.null`
        // are filter syntax (`http::filter`), not text a client typed.
        for (k, v) in self.query {
            out.push(k);
            out.extend(crate::http::filter::operands(v));
        }
        for (k, v) in self.form {
            out.push(k);
            out.push(v);
        }
        out.extend(self.graphql_strings.iter().map(AsRef::as_ref));
        let mut stack: Vec<&Value> = Vec::new();
        match self.json {
            Some(Value::Object(body)) if self.path == GRAPHQL_PATH => {
                for (k, v) in body {
                    out.push(k);
                    match v {
                        // Read through its literals, unless it is not GraphQL at all.
                        Value::String(query) if k == "query" => {
                            if !literals::lexes(query) {
                                out.push(query);
                            }
                        }
                        _ => stack.push(v),
                    }
                }
            }
            json => stack.extend(json),
        }
        while let Some(v) = stack.pop() {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => {
                    for (k, v) in map {
                        out.push(k);
                        stack.push(v);
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// A body field by name (JSON top level or form).
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.json.and_then(|j| j.get(name))
    }
}

/// A check's refusal.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// What the client is told (403 kinds).
    pub kind: ErrorKind,
    /// The exact cause, for the audit record.
    pub reason: String,
    /// Also lock the client IP for `checks.lock_secs` (honoured where the endpoint allows).
    pub lock_ip: bool,
    /// The offending value; stored redacted and truncated with the lock.
    pub sample: Option<String>,
}

/// A security check. Implement it, register it by name with the server
/// (`server::Launch::checks`), and name it in `[checks] chain`.
///
/// ```
/// use palisade::checks::{CheckRequest, Policy, Refusal, SecurityCheck};
/// use palisade::error::ErrorKind;
///
/// /// Refuses requests without a User-Agent.
/// struct RequireUserAgent;
///
/// impl SecurityCheck for RequireUserAgent {
///     fn name(&self) -> &str {
///         "require_user_agent"
///     }
///     fn check(&self, req: &CheckRequest<'_>, _policy: &Policy) -> Result<(), Refusal> {
///         match req.user_agent {
///             Some(ua) if !ua.is_empty() => Ok(()),
///             _ => Err(Refusal {
///                 kind: ErrorKind::CheckFailed,
///                 reason: "no user agent".into(),
///                 lock_ip: false,
///                 sample: None,
///             }),
///         }
///     }
/// }
/// ```
pub trait SecurityCheck: Send + Sync + 'static {
    /// The name used in config and audit records.
    fn name(&self) -> &str;
    /// What the check looks at. The chain is skipped for a request that carries none of
    /// what its checks read, so the default — everything — makes a check run on every
    /// request; narrow it only when the check cannot refuse without those facts.
    fn reads(&self) -> Reads {
        Reads::EVERYTHING
    }
    /// `Ok(())` to let the request go on.
    fn check(&self, request: &CheckRequest<'_>, policy: &Policy) -> Result<(), Refusal>;
}

/// The request facts a check can refuse on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// Query names and values.
    pub query: bool,
    /// The body (JSON, form, GraphQL literals).
    pub body: bool,
    /// The lock records (client IP, token owner).
    pub locks: bool,
    /// The headers an attacker controls that the product reads (`User-Agent`, `Referer`).
    pub headers: bool,
    /// Anything else about the request (headers, path, address): it must always run.
    pub anything: bool,
}

impl Reads {
    pub const EVERYTHING: Reads = Reads { query: true, body: true, locks: true, headers: true, anything: true };
    pub const NOTHING: Reads = Reads { query: false, body: false, locks: false, headers: false, anything: false };
}
