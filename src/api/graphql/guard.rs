//! The guards every GraphQL request passes before juniper sees it. Each refusal is one
//! error with a code, and none names a field or type.
//!
//! - **depth** ≤ `max_depth`: field levels, the outermost being 1, leaves included;
//!   fragments and inline fragments add no level. Fragment depths are computed once each
//!   (memoised), so one fragment spread along many paths costs linear time, and a fragment
//!   cycle is refused (`fragment_cycle`).
//! - **complexity** ≤ `max_complexity`, counting the rows a query can fetch: a scalar field
//!   costs 0; an object field costs 1 plus its selections; a list field costs its `limit`
//!   argument (a literal, a variable's value, or the default page of 50; at most 500) times
//!   (1 plus its selections). `{ clients(limit: 10) { invoices(limit: 5) { total } } }`
//!   costs 10 × (1 + 5 × (1 + 0)) = 60; `{ clients { invoices { total } } }` costs 2550.
//! - **aliases** ≤ `max_aliases` (15; `__typename` aliases count) and **directives** ≤
//!   `max_directives` (10), both counted with fragments expanded; **tokens** ≤ `max_tokens`
//!   and **bytes** ≤ `max_query_bytes`.
//! - **introspection** (`__schema`, `__type`) only for tokens created with `--introspection`.

use std::collections::HashMap;

use serde_json::Value;

use super::model::{FieldKind, Model, MUTATION, QUERY};
use super::parse::{parse, Document, Limit, ParseFailure, Sel};
use crate::api::rest::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::config::GraphqlConfig;

/// A refusal: code and message (no type or field names).
#[derive(Debug, Clone, PartialEq)]
pub struct GuardError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> GuardError {
    GuardError { code, message: message.into() }
}

/// What the guards measured (for tests and logs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    pub depth: usize,
    pub complexity: u64,
    pub aliases: u64,
    pub directives: u64,
    pub tokens: usize,
}

#[derive(Clone, Copy, Default)]
struct Totals {
    /// Depth of data fields.
    depth: usize,
    /// Depth of introspection (`__schema`, `__type`) subtrees, limited on its own: the
    /// standard introspection query nests type references far past any data depth limit.
    meta_depth: usize,
    complexity: u64,
    aliases: u64,
    directives: u64,
}

struct Walker<'a> {
    doc: &'a Document,
    model: &'a Model,
    variables: &'a Value,
    memo: HashMap<String, Totals>,
    visiting: Vec<String>,
    introspection: bool,
}

impl Walker<'_> {
    fn limit(&self, limit: &Limit) -> u64 {
        let n = match limit {
            Limit::Default => DEFAULT_LIMIT as u64,
            Limit::Literal(n) => *n,
            Limit::Variable(v) => self.variables.get(v).and_then(Value::as_u64).unwrap_or(DEFAULT_LIMIT as u64),
        };
        n.min(MAX_LIMIT as u64)
    }

    fn fragment(&mut self, name: &str) -> Result<Totals, GuardError> {
        if let Some(t) = self.memo.get(name) {
            return Ok(*t);
        }
        if self.visiting.iter().any(|v| v == name) {
            return Err(refuse("fragment_cycle", "fragments spread each other in a cycle"));
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Err(refuse("invalid_query", "a spread names a fragment that does not exist"));
        };
        self.visiting.push(name.to_string());
        let mut t = self.selections(&fragment.sels, &fragment.type_condition)?;
        t.directives = t.directives.saturating_add(fragment.directives as u64);
        self.visiting.pop();
        self.memo.insert(name.to_string(), t);
        Ok(t)
    }

    fn selections(&mut self, sels: &[Sel], parent: &str) -> Result<Totals, GuardError> {
        let mut total = Totals::default();
        for sel in sels {
            let t = match sel {
                Sel::Field { name, aliased, limit, directives, sels } => {
                    if name == "__schema" || name == "__type" {
                        self.introspection = true;
                    }
                    let kind = self.model.field(parent, name).cloned();
                    let child_type =
                        kind.as_ref().and_then(|k| k.target()).map(|(t, list)| (super::model::type_name(t), list));
                    let inner = match &child_type {
                        Some((ty, _)) => self.selections(sels, ty)?,
                        None => self.selections(sels, "")?,
                    };
                    let own = match (&kind, &child_type) {
                        (_, Some((_, true))) => self.limit(limit).saturating_mul(1u64.saturating_add(inner.complexity)),
                        (Some(FieldKind::Delete { .. }), _) => 1,
                        (_, Some((_, false))) => 1u64.saturating_add(inner.complexity),
                        _ if !sels.is_empty() => 1u64.saturating_add(inner.complexity),
                        _ => 0,
                    };
                    let introspective = name == "__schema" || name == "__type";
                    Totals {
                        depth: if introspective { 0 } else { inner.depth + 1 },
                        meta_depth: if introspective {
                            inner.depth.max(inner.meta_depth) + 1
                        } else {
                            inner.meta_depth
                        },
                        complexity: own,
                        aliases: inner.aliases.saturating_add(u64::from(*aliased)),
                        directives: inner.directives.saturating_add(*directives as u64),
                    }
                }
                Sel::Spread { name, directives } => {
                    let mut t = self.fragment(name)?;
                    t.directives = t.directives.saturating_add(*directives as u64);
                    t
                }
                Sel::Inline { type_condition, directives, sels } => {
                    let ty = type_condition.clone().unwrap_or_else(|| parent.to_string());
                    let mut t = self.selections(sels, &ty)?;
                    t.directives = t.directives.saturating_add(*directives as u64);
                    t
                }
            };
            total.depth = total.depth.max(t.depth);
            total.meta_depth = total.meta_depth.max(t.meta_depth);
            total.complexity = total.complexity.saturating_add(t.complexity);
            total.aliases = total.aliases.saturating_add(t.aliases);
            total.directives = total.directives.saturating_add(t.directives);
        }
        Ok(total)
    }
}

/// How deep an introspection subtree may nest (the standard introspection query, with its
/// seven `ofType` levels, needs 13).
pub const MAX_INTROSPECTION_DEPTH: usize = 16;

/// Checks a query against every guard; `Ok` carries the measurements.
pub fn check(
    query: &str,
    operation_name: Option<&str>,
    variables: &Value,
    model: &Model,
    config: &GraphqlConfig,
    introspection_allowed: bool,
) -> Result<Measure, GuardError> {
    if query.len() > config.max_query_bytes {
        return Err(refuse("query_too_large", format!("the query is longer than {} bytes", config.max_query_bytes)));
    }
    let doc = parse(query, config.max_tokens).map_err(|e| match e {
        ParseFailure::TooManyTokens => {
            refuse("too_many_tokens", format!("the query has more than {} tokens", config.max_tokens))
        }
        ParseFailure::TooNested => {
            refuse("depth_exceeded", format!("the query is nested deeper than {}", config.max_depth))
        }
        ParseFailure::Syntax(m) => refuse("invalid_query", format!("the query cannot be parsed: {m}")),
    })?;
    let operation = match operation_name {
        Some(name) => doc.operations.iter().find(|o| o.name.as_deref() == Some(name)),
        None if doc.operations.len() == 1 => doc.operations.first(),
        None => return Err(refuse("invalid_query", "several operations: operationName is required")),
    }
    .ok_or_else(|| refuse("invalid_query", "no such operation"))?;
    let root = match operation.kind.as_str() {
        "mutation" => MUTATION,
        "subscription" => return Err(refuse("invalid_query", "subscriptions are not supported")),
        _ => QUERY,
    };
    let mut walker =
        Walker { doc: &doc, model, variables, memo: HashMap::new(), visiting: Vec::new(), introspection: false };
    // Every fragment is checked (cycles anywhere are refused), then the operation.
    let names: Vec<String> = doc.fragments.keys().cloned().collect();
    for name in names {
        walker.fragment(&name)?;
    }
    let t = walker.selections(&operation.sels, root)?;
    let directives = t.directives.saturating_add(operation.directives as u64);
    if walker.introspection && !introspection_allowed {
        return Err(refuse("introspection_disabled", "introspection is not allowed for this token"));
    }
    if t.depth > config.max_depth {
        return Err(refuse("depth_exceeded", format!("the query is nested deeper than {}", config.max_depth)));
    }
    if t.meta_depth > MAX_INTROSPECTION_DEPTH {
        return Err(refuse("depth_exceeded", format!("introspection is nested deeper than {MAX_INTROSPECTION_DEPTH}")));
    }
    if t.aliases > config.max_aliases as u64 {
        return Err(refuse("too_many_aliases", format!("the query uses more than {} aliases", config.max_aliases)));
    }
    if directives > config.max_directives as u64 {
        return Err(refuse(
            "too_many_directives",
            format!("the query uses more than {} directives", config.max_directives),
        ));
    }
    if t.complexity > config.max_complexity as u64 {
        return Err(refuse(
            "complexity_exceeded",
            format!("the query's complexity {} exceeds {}", t.complexity, config.max_complexity),
        ));
    }
    Ok(Measure { depth: t.depth, complexity: t.complexity, aliases: t.aliases, directives, tokens: doc.tokens })
}
