//! What `palisade token create` (and the admin API) is given, checked against the schema
//! before anything is stored: every refusal names the flag and the value.

use std::collections::BTreeSet;

use ipnet::IpNet;

use super::{Perms, ScopeEntry, TokenError, TokenSpec};
use crate::schema::Schema;

/// The spec's scopes and networks, or why it cannot be a token.
pub(super) fn validate_spec(spec: &TokenSpec, schema: &Schema) -> Result<(Vec<ScopeEntry>, Vec<IpNet>), TokenError> {
    let invalid = |m: String| Err(TokenError::Invalid(m));
    if spec.name.trim().is_empty() || spec.name.len() > 128 {
        return invalid("--name must be 1 to 128 characters".into());
    }
    let mut scopes = Vec::new();
    let mut seen = BTreeSet::new();
    for raw in &spec.scopes {
        let Some((table, letters)) = raw.rsplit_once(':') else {
            return invalid(format!("--scope {raw:?}: expected TABLE:PERMS, e.g. clients:rc"));
        };
        let Some(perms) = Perms::parse(letters) else {
            return invalid(format!("--scope {raw:?}: PERMS is a non-empty subset of rcud"));
        };
        if table != "*" {
            let Some(def) = schema.table(table) else {
                return invalid(format!("--scope {raw:?}: unknown table {table:?}"));
            };
            if def.sensitive && !spec.allow_sensitive {
                return invalid(format!("--scope {raw:?}: {table} is sensitive; add --allow-sensitive"));
            }
        }
        if !seen.insert(table.to_string()) {
            return invalid(format!("--scope {raw:?}: table {table:?} named twice"));
        }
        scopes.push(ScopeEntry { table: table.to_string(), perms });
    }
    for view in &spec.views {
        if schema.view(view).is_none() {
            return invalid(format!("--view {view:?}: unknown view"));
        }
    }
    if !spec.views.is_empty() && !spec.scopes.is_empty() {
        // A view-limited token reads only its views: a scope beside them would be dropped.
        return invalid(
            "--scope and --view cannot be combined: a --view token reads only its views; make a second token for the tables".into(),
        );
    }
    for origin in &spec.origins {
        let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
            && !origin.trim_end_matches('/').contains(['*', ' '])
            && origin.matches('/').count() == 2;
        if !ok {
            return invalid(format!("--origin {origin:?}: expected scheme://host[:port], no path or wildcard"));
        }
    }
    let mut cidrs = Vec::new();
    for raw in &spec.cidrs {
        let net = raw
            .parse::<IpNet>()
            .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| TokenError::Invalid(format!("--cidr {raw:?}: expected a CIDR like 10.0.0.0/8")))?;
        cidrs.push(net.trunc());
    }
    if spec.rate == Some(0) || spec.window == Some(0) {
        return invalid("--rate and --window must be positive".into());
    }
    if spec.expires == Some(0) {
        return invalid("--expires must be positive".into());
    }
    Ok((scopes, cidrs))
}
