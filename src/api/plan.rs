//! A list request parsed once into one plan: filters with operators, `order`, `select`,
//! `limit`/`offset` and the `after` cursor (as PostgREST parses its query string into one
//! read plan). REST lists and views, their CSV form and GraphQL's `where`/`order_by` all
//! build the same [`ListQuery`]; nothing downstream reads the query string again.
//!
//! Cursors are opaque to clients: `base64url(JSON {b, v, id})`, where `v` and `id` are the
//! last row's order values and id, and `b` binds the cursor to the table, filters and order
//! that produced it — a cursor sent with other filters or another order is refused (`400`),
//! since its position would mean nothing there. A cursor only names a position in rows the
//! token can already list, so it needs no secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorKind};
use crate::http::filter::{self, Op};
use crate::redact::truncate;
use crate::schema::{parse_filter_value, Column, ColumnType, Table, View};
use crate::store::{After, Cmp, Filter, Kind, ListQuery, OrderBy};

/// Default and maximum page sizes.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// Items an `in.(…)` list may hold.
pub const MAX_IN: usize = 500;

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct Plan {
    pub q: ListQuery,
    /// `select`: the columns to answer with (`id` first, always), if narrowed.
    pub select: Option<Vec<String>>,
    binding: String,
}

fn bad(message: String) -> ApiError {
    ApiError::with_message(ErrorKind::BadRequest, message)
}

/// What a token may name in a list request on `table`.
pub struct Allowed<'a> {
    /// A view's columns (only those), or every visible column.
    pub columns: Option<&'a [String]>,
    /// A sandbox token cannot filter or sort on personal data (its answers are fakes).
    pub sandbox: bool,
}

impl Allowed<'_> {
    /// The column `name` as a client may filter, sort or select on it.
    fn column<'t>(&self, table: &'t Table, name: &str, what: &str) -> Result<Option<&'t Column>, ApiError> {
        if name == "id" {
            return Ok(None);
        }
        table
            .column(name)
            .filter(|c| !c.secret && self.columns.is_none_or(|cols| cols.iter().any(|a| a == name)))
            // Selecting a column shows it (faked); filtering or sorting would judge the real value.
            .filter(|c| !(self.sandbox && what != "select" && c.pii().is_some()))
            .map(Some)
            .ok_or_else(|| bad(format!("unknown {what} column '{}'", truncate(name, 64))))
    }
}

fn kind_of(column: Option<&Column>) -> Kind {
    column.map_or(Kind::Number, |c| c.ty.kind())
}

/// One operand typed by its column (`id`: a positive int64).
fn operand(column: Option<&Column>, name: &str, raw: &str) -> Result<Value, ApiError> {
    match column {
        Some(c) => parse_filter_value(c, raw),
        None => raw
            .parse::<u64>()
            .ok()
            .filter(|id| *id <= i64::MAX as u64)
            .map(Value::from)
            .ok_or_else(|| bad(format!("filter '{name}' must be int"))),
    }
}

/// One `column=value` pair as a filter.
pub fn filter(table: &Table, allowed: &Allowed, name: &str, raw: &str) -> Result<Filter, ApiError> {
    let column = allowed.column(table, name, "filter")?;
    if column.is_some_and(|c| c.ty == ColumnType::Json) {
        return Err(bad(format!("filter '{name}': json columns cannot be filtered")));
    }
    let kind = kind_of(column);
    let parsed =
        filter::parse(raw).map_err(|_| bad(format!("filter '{name}': in.(…) takes a list like (a,b,\"c,d\")")))?;
    let one = || parsed.operands.first().map(|o| o.as_ref()).unwrap_or_default();
    let (cmp, values) = match parsed.op {
        Op::Is => match one() {
            "null" => (Cmp::IsNull, vec![]),
            b @ ("true" | "false") if column.is_some_and(|c| c.ty == ColumnType::Bool) => {
                (Cmp::Eq, vec![Value::Bool(b == "true")])
            }
            _ => return Err(bad(format!("filter '{name}': is. takes null, true or false"))),
        },
        Op::Like | Op::ILike => {
            if !column.is_some_and(|c| matches!(c.ty, ColumnType::String | ColumnType::Date | ColumnType::Datetime)) {
                return Err(bad(format!("filter '{name}': like and ilike need a text column")));
            }
            let cmp = if parsed.op == Op::Like { Cmp::Like } else { Cmp::ILike };
            (cmp, vec![Value::String(one().to_string())])
        }
        Op::In => {
            if parsed.operands.len() > MAX_IN {
                return Err(bad(format!("filter '{name}': in.(…) takes at most {MAX_IN} values")));
            }
            let values = parsed.operands.iter().map(|o| operand(column, name, o)).collect::<Result<_, _>>()?;
            (Cmp::In, values)
        }
        op => {
            let cmp = match op {
                Op::Gt => Cmp::Gt,
                Op::Gte => Cmp::Gte,
                Op::Lt => Cmp::Lt,
                Op::Lte => Cmp::Lte,
                _ => Cmp::Eq,
            };
            (cmp, vec![operand(column, name, one())?])
        }
    };
    Ok(Filter::new(name, kind, cmp, parsed.not, values))
}

/// `order=col,-col2` (also PostgREST's `col.desc`, `col.asc`).
pub fn order(table: &Table, allowed: &Allowed, raw: &str) -> Result<Vec<OrderBy>, ApiError> {
    let mut out: Vec<OrderBy> = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let (name, descending) = match part.strip_prefix('-') {
            Some(name) => (name, true),
            None => match part.rsplit_once('.') {
                Some((name, "desc")) => (name, true),
                Some((name, "asc")) => (name, false),
                _ => (part, false),
            },
        };
        if name.is_empty() {
            return Err(bad("order: name a column, e.g. order=-total,id".into()));
        }
        let column = allowed.column(table, name, "order")?;
        if column.is_some_and(|c| c.ty == ColumnType::Json) {
            return Err(bad(format!("order '{name}': json columns cannot be sorted")));
        }
        if out.iter().any(|o| o.column == name) {
            return Err(bad(format!("order names '{name}' twice")));
        }
        out.push(OrderBy { column: name.to_string(), kind: kind_of(column), descending });
    }
    // `id` as the last key is the tie-breaker every order has already.
    if out.last().is_some_and(|o| o.column == "id") && out.len() > 1 {
        let last = out.pop().unwrap_or_else(|| unreachable!());
        if out.last().is_some_and(|o| o.descending != last.descending) {
            out.push(last);
        }
    }
    if out.len() == 1 && out[0].column == "id" && !out[0].descending {
        out.clear();
    }
    Ok(out)
}

/// Parses a list request's query parameters; `view`: its fixed filters and default order.
pub fn parse(
    table: &Table,
    params: &[(String, String)],
    allowed: &Allowed,
    view: Option<&View>,
) -> Result<Plan, ApiError> {
    let mut q = ListQuery { limit: DEFAULT_LIMIT, ..Default::default() };
    let (mut select, mut after, mut order_given) = (None, None, false);
    for (key, value) in params {
        match key.as_str() {
            "limit" => {
                let n: usize = value.parse().map_err(|_| bad("limit must be a whole number".into()))?;
                q.limit = n.min(MAX_LIMIT);
            }
            "offset" => q.offset = value.parse().map_err(|_| bad("offset must be a whole number".into()))?,
            "order" => {
                q.order = order(table, allowed, value)?;
                order_given = true;
            }
            "select" => {
                // `id` always comes along: it names the row (and its links).
                let mut named: Vec<&str> = Vec::new();
                for name in value.split(',').map(str::trim) {
                    allowed.column(table, name, "select")?;
                    if named.contains(&name) {
                        return Err(bad(format!("select names '{}' twice", truncate(name, 64))));
                    }
                    named.push(name);
                }
                let rest = named.into_iter().filter(|n| *n != "id").map(str::to_string);
                select = Some(std::iter::once("id".to_string()).chain(rest).collect());
            }
            "after" => after = Some(value.clone()),
            name => q.filters.push(filter(table, allowed, name, value)?),
        }
    }
    let binding = binding(&table.name, &q);
    if let Some(view) = view {
        for (name, value) in &view.filter {
            q.filters.push(Filter::eq(name, kind_of(table.column(name)), value.clone()));
        }
        if !order_given {
            if let Some(o) = &view.order {
                q.order = vec![OrderBy {
                    column: o.column.clone(),
                    kind: kind_of(table.column(&o.column)),
                    descending: o.descending,
                }];
            }
        }
    }
    if let Some(cursor) = after {
        if q.offset != 0 {
            return Err(bad("after: a cursor page takes no offset".into()));
        }
        q.after = Some(read_cursor(&cursor, &binding, q.order.len())?);
    }
    Ok(Plan { q, select, binding })
}

/// Ties a cursor to the list it came from.
fn binding(table: &str, q: &ListQuery) -> String {
    let filters: Vec<Value> = q.filters.iter().map(|f| json!([f.column, f.cmp.name(), f.not, f.values])).collect();
    let order: Vec<Value> = q.order.iter().map(|o| json!([o.column, o.descending])).collect();
    let text = json!([table, filters, order]).to_string();
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn read_cursor(text: &str, binding: &str, order_len: usize) -> Result<After, ApiError> {
    let not_one = || bad("after: not a cursor this API gave out".into());
    let bytes = URL_SAFE_NO_PAD.decode(text.trim().as_bytes()).map_err(|_| not_one())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| not_one())?;
    if v.get("b").and_then(Value::as_str) != Some(binding) {
        return Err(bad("after: the cursor belongs to a list with other filters or another order".into()));
    }
    let values = v.get("v").and_then(Value::as_array).filter(|a| a.len() == order_len).ok_or_else(not_one)?;
    let id = v.get("id").and_then(Value::as_u64).ok_or_else(not_one)?;
    Ok(After { values: values.clone(), id })
}

impl Plan {
    /// The cursor of the page after the one that ended at `last`.
    pub fn cursor(&self, last: &After) -> String {
        let v = json!({"b": self.binding, "v": last.values, "id": last.id});
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    /// A plan for code that builds its query itself (GraphQL).
    pub fn of(table: &str, q: ListQuery) -> Self {
        let binding = binding(table, &q);
        Self { q, select: None, binding }
    }
}
