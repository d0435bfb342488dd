//! The guards every GraphQL request passes before juniper executes it. Each refusal is one
//! error with a code, and none names a field or type.
//!
//! **One reader.** The guards measure the document *juniper itself* parsed
//! (`juniper::parser::parse_document_source` with the root's own schema), never a second
//! reading of the text: a hand-written reader once ended a `#` comment only at `\n` where
//! juniper also ends it at `\r`, so `{ __typename #\r <anything> }` was measured as
//! `{ __typename }` while juniper ran `<anything>` — every guard skipped. Tokens are counted
//! with juniper's own lexer for the same reason.
//!
//! - **depth** ≤ `max_depth`: field levels, the outermost being 1, leaves included;
//!   fragments and inline fragments add no level. Fragment depths are computed once each
//!   (memoised), so one fragment spread along many paths costs linear time, and a fragment
//!   cycle is refused (`fragment_cycle`).
//! - **complexity** ≤ `max_complexity`, counting the rows a query can fetch: a scalar field
//!   costs 0; an object field costs 1 plus its selections; a list field costs its `limit`
//!   argument (a literal, a variable's value — the request's, else the default the document
//!   declares for it — or the default page of 50; at most 500) times (1 plus its
//!   selections). `{ clients(limit: 10) { invoices(limit: 5) { total } } }` costs
//!   10 × (1 + 5 × (1 + 0)) = 60; `{ clients { invoices { total } } }` costs 2550.
//! - **aliases** ≤ `max_aliases` (15; `__typename` aliases count) and **directives** ≤
//!   `max_directives` (10), both counted with fragments expanded; **tokens** ≤ `max_tokens`
//!   and **bytes** ≤ `max_query_bytes`.
//! - **introspection** (`__schema`, `__type`) only for tokens created with `--introspection`.
//! - **writes**: the number of mutation fields (aliases and fragments expanded) is returned,
//!   so each counts once against the token's rate limit like a REST write.
//!
//! The measure also says what the audit record keeps of the operation: its type, its name
//! and the tables its fields ask for (fragments it spreads included, unused ones not).
//!
//! What the guards cannot see — rows actually produced, time actually spent — is bounded
//! during execution by [`super::budget::Budget`].

use std::collections::{BTreeSet, HashMap};

use juniper::parser::{parse_document_source, Lexer, ParseError};
use juniper::{DefaultScalarValue, Definition, InputValue, OperationType, SchemaType, Selection};
use serde_json::Value;

use super::model::{FieldKind, Model, MUTATION, QUERY};
use crate::api::rest::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::config::GraphqlConfig;
use crate::store::audit::OperationKind;

type S = DefaultScalarValue;

/// What the walker needs of a fragment (juniper's AST types for it are not nameable).
struct Fragment<'d, 'a> {
    type_condition: &'a str,
    directives: u64,
    selections: &'d [Selection<'a, S>],
}

/// A refusal: code and message (no type or field names).
#[derive(Debug, Clone, PartialEq)]
pub struct GuardError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> GuardError {
    GuardError { code, message: message.into() }
}

/// What the guards measured (for tests, logs and the rate limiter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    pub depth: usize,
    pub complexity: u64,
    pub aliases: u64,
    pub directives: u64,
    pub tokens: usize,
    /// Mutation fields the operation runs (0 for a query).
    pub writes: u64,
    pub operation: OperationKind,
    /// The operation's name as the document declares it (at most 64 characters).
    pub name: Option<String>,
    /// The tables the operation's fields ask for, sorted.
    pub tables: Vec<String>,
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
    /// Fields with a write kind (create, update, delete).
    writes: u64,
}

impl Totals {
    fn add(&mut self, t: Totals) {
        self.depth = self.depth.max(t.depth);
        self.meta_depth = self.meta_depth.max(t.meta_depth);
        self.complexity = self.complexity.saturating_add(t.complexity);
        self.aliases = self.aliases.saturating_add(t.aliases);
        self.directives = self.directives.saturating_add(t.directives);
        self.writes = self.writes.saturating_add(t.writes);
    }
}

/// One field as the walker measures it.
struct FieldShape<'a> {
    name: &'a str,
    aliased: bool,
    directives: u64,
    /// The page size it can fetch, were it a list.
    limit: u64,
}

struct Walker<'d, 'a> {
    fragments: HashMap<&'a str, Fragment<'d, 'a>>,
    model: &'d Model,
    /// Variable values: the request's, else the operation's declared defaults.
    variables: HashMap<String, Option<i64>>,
    memo: HashMap<&'a str, Totals>,
    visiting: Vec<&'a str>,
    introspection: bool,
    /// Tables the operation's fields ask for; collected only while walking the operation.
    tables: BTreeSet<String>,
    collecting: bool,
}

fn directives_len<T>(d: &Option<Vec<T>>) -> u64 {
    d.as_ref().map_or(0, |d| d.len() as u64)
}

fn int_of(v: &InputValue<S>) -> Option<i64> {
    match v {
        InputValue::Scalar(DefaultScalarValue::Int(i)) => Some(i64::from(*i)),
        InputValue::Scalar(DefaultScalarValue::Float(f)) => Some(*f as i64),
        _ => None,
    }
}

impl<'d, 'a> Walker<'d, 'a> {
    /// The page size a list field can fetch, as its resolver will read it.
    fn limit(&self, given: Option<&InputValue<S>>) -> u64 {
        let n = match given {
            None | Some(InputValue::Null) => Some(DEFAULT_LIMIT as i64),
            Some(InputValue::Variable(name)) => {
                self.variables.get(name.as_str()).copied().flatten().or(Some(DEFAULT_LIMIT as i64))
            }
            Some(other) => int_of(other),
        };
        // An unreadable or negative limit is refused by the resolver; count it as the most
        // it could be rather than trusting it.
        n.map_or(MAX_LIMIT as u64, |n| n.max(0) as u64).min(MAX_LIMIT as u64)
    }

    fn fragment(&mut self, name: &'a str) -> Result<Totals, GuardError> {
        if let Some(t) = self.memo.get(name) {
            return Ok(*t);
        }
        if self.visiting.contains(&name) {
            return Err(refuse("fragment_cycle", "fragments spread each other in a cycle"));
        }
        let Some(&Fragment { type_condition, directives, selections }) = self.fragments.get(name) else {
            return Err(refuse("invalid_query", "a spread names a fragment that does not exist"));
        };
        self.visiting.push(name);
        let mut t = self.selections(selections, type_condition)?;
        t.directives = t.directives.saturating_add(directives);
        self.visiting.pop();
        self.memo.insert(name, t);
        Ok(t)
    }

    fn selections(&mut self, sels: &'d [Selection<'a, S>], parent: &str) -> Result<Totals, GuardError> {
        let mut total = Totals::default();
        for sel in sels {
            let t = match sel {
                Selection::Field(field) => {
                    let f = &field.item;
                    let limit = f.arguments.as_ref().and_then(|args| args.item.get("limit")).map(|v| &v.item);
                    let shape = FieldShape {
                        name: f.name.item,
                        aliased: f.alias.is_some(),
                        directives: directives_len(&f.directives),
                        limit: self.limit(limit),
                    };
                    self.field(shape, f.selection_set.as_deref().unwrap_or_default(), parent)?
                }
                Selection::FragmentSpread(spread) => {
                    let mut t = self.fragment(spread.item.name.item)?;
                    t.directives = t.directives.saturating_add(directives_len(&spread.item.directives));
                    t
                }
                Selection::InlineFragment(inline) => {
                    let ty = inline.item.type_condition.as_ref().map_or(parent, |t| t.item);
                    let mut t = self.selections(&inline.item.selection_set, ty)?;
                    t.directives = t.directives.saturating_add(directives_len(&inline.item.directives));
                    t
                }
            };
            total.add(t);
        }
        Ok(total)
    }

    fn field(
        &mut self,
        field: FieldShape<'a>,
        sels: &'d [Selection<'a, S>],
        parent: &str,
    ) -> Result<Totals, GuardError> {
        let name = field.name;
        let introspective = name == "__schema" || name == "__type";
        self.introspection |= introspective;
        let kind = self.model.field(parent, name).cloned();
        if let Some(table) = kind.as_ref().and_then(FieldKind::table).filter(|_| self.collecting) {
            if !self.tables.contains(table) {
                self.tables.insert(table.to_string());
            }
        }
        let child = kind.as_ref().and_then(|k| k.target()).map(|(t, list)| (super::model::type_name(t), list));
        let inner = self.selections(sels, child.as_ref().map_or("", |(ty, _)| ty.as_str()))?;
        let complexity = match (&kind, &child) {
            (_, Some((_, true))) => field.limit.saturating_mul(1u64.saturating_add(inner.complexity)),
            (Some(FieldKind::Delete { .. }), _) => 1,
            (_, Some((_, false))) => 1u64.saturating_add(inner.complexity),
            _ if !sels.is_empty() => 1u64.saturating_add(inner.complexity),
            _ => 0,
        };
        let writes =
            matches!(kind, Some(FieldKind::Create { .. } | FieldKind::Update { .. } | FieldKind::Delete { .. }));
        Ok(Totals {
            depth: if introspective { 0 } else { inner.depth + 1 },
            meta_depth: if introspective { inner.depth.max(inner.meta_depth) + 1 } else { inner.meta_depth },
            complexity,
            aliases: inner.aliases.saturating_add(u64::from(field.aliased)),
            directives: inner.directives.saturating_add(field.directives),
            writes: inner.writes.saturating_add(u64::from(writes)),
        })
    }
}

/// How deep an introspection subtree may nest (the standard introspection query, with its
/// seven `ofType` levels, needs 13).
pub const MAX_INTROSPECTION_DEPTH: usize = 16;

/// Counts the document's tokens with juniper's lexer, stopping past `max`.
fn count_tokens(query: &str, max: usize) -> Result<usize, GuardError> {
    let mut n = 0;
    for token in Lexer::new(query) {
        match token {
            Ok(t) if t.item == juniper::parser::Token::EndOfFile => break,
            Ok(_) => n += 1,
            Err(_) => return Err(refuse("invalid_query", "the query cannot be parsed")),
        }
        if n > max {
            return Err(refuse("too_many_tokens", format!("the query has more than {max} tokens")));
        }
    }
    Ok(n)
}

/// Checks a query against every guard; `Ok` carries the measurements.
pub fn check(
    query: &str,
    operation_name: Option<&str>,
    variables: &Value,
    schema: &SchemaType<S>,
    model: &Model,
    config: &GraphqlConfig,
    introspection_allowed: bool,
) -> Result<Measure, GuardError> {
    if query.len() > config.max_query_bytes {
        return Err(refuse("query_too_large", format!("the query is longer than {} bytes", config.max_query_bytes)));
    }
    let tokens = count_tokens(query, config.max_tokens)?;
    let depth_exceeded = || refuse("depth_exceeded", format!("the query is nested deeper than {}", config.max_depth));
    let doc = parse_document_source(query, schema).map_err(|e| match e.item {
        ParseError::DepthLimitExceeded(_) => depth_exceeded(),
        // Fragments spread into more fields than juniper will expand: the rows such a
        // document could fetch are past any complexity limit.
        ParseError::FieldLimitExceeded(n) => {
            refuse("complexity_exceeded", format!("the query expands to more than {n} fields"))
        }
        ParseError::TokenLimitExceeded(_) => {
            refuse("too_many_tokens", format!("the query has more than {} tokens", config.max_tokens))
        }
        other => refuse("invalid_query", format!("the query cannot be parsed: {other}")),
    })?;
    let mut operations = Vec::new();
    let mut fragments = HashMap::new();
    for definition in &doc {
        match definition {
            Definition::Operation(op) => operations.push(&op.item),
            Definition::Fragment(f) => {
                let f = &f.item;
                fragments.insert(
                    f.name.item,
                    Fragment {
                        type_condition: f.type_condition.item,
                        directives: directives_len(&f.directives),
                        selections: &f.selection_set,
                    },
                );
            }
        }
    }
    let operation = match operation_name {
        Some(name) => operations.iter().find(|o| o.name.as_ref().map(|n| n.item) == Some(name)),
        None if operations.len() == 1 => operations.first(),
        None => return Err(refuse("invalid_query", "several operations: operationName is required")),
    }
    .ok_or_else(|| refuse("invalid_query", "no such operation"))?;
    let (root, kind) = match operation.operation_type {
        OperationType::Mutation => (MUTATION, OperationKind::Mutation),
        OperationType::Subscription => return Err(refuse("invalid_query", "subscriptions are not supported")),
        OperationType::Query => (QUERY, OperationKind::Query),
    };
    let mut values = HashMap::new();
    for (name, def) in operation.variables_definition.iter().flat_map(|d| d.item.iter()) {
        let given = variables.get(name.item).filter(|v| !v.is_null());
        let value = match given {
            Some(v) => v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)),
            None => def.default_value.as_ref().and_then(|d| int_of(&d.item)),
        };
        values.insert(name.item.to_string(), value);
    }
    let mut walker = Walker {
        fragments,
        model,
        variables: values,
        memo: HashMap::new(),
        visiting: Vec::new(),
        introspection: false,
        tables: BTreeSet::new(),
        collecting: true,
    };
    // The operation, then every fragment it did not spread (cycles anywhere are refused);
    // only the operation's own fields count as tables it touches.
    let t = walker.selections(&operation.selection_set, root)?;
    walker.collecting = false;
    let names: Vec<&str> = walker.fragments.keys().copied().collect();
    for name in names {
        walker.fragment(name)?;
    }
    let directives = t.directives.saturating_add(directives_len(&operation.directives));
    if walker.introspection && !introspection_allowed {
        return Err(refuse("introspection_disabled", "introspection is not allowed for this token"));
    }
    if t.depth > config.max_depth {
        return Err(depth_exceeded());
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
    Ok(Measure {
        depth: t.depth,
        complexity: t.complexity,
        aliases: t.aliases,
        directives,
        tokens,
        writes: t.writes,
        operation: kind,
        name: operation.name.as_ref().map(|n| n.item.chars().take(64).collect()),
        tables: walker.tables.into_iter().collect(),
    })
}
