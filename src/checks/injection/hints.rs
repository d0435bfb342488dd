//! Hints: SQL a probe sends but that prose, code in tickets or a product's name can form as
//! well — a `version()` call, a `::int` cast, MySQL's `<=>`, a catalog name, a `CASE WHEN`. One
//! hint is worth a `suspicious` verdict (served, audited, refusable per endpoint); a lock needs
//! proof, or several independent hints (see the scoring in `super`).

use super::grammar::{ends_validly, expression, is_comparison, kind, kw};
use super::statements::{select_reads, stacked_follows, STACKABLE};
use super::tokenizer::{Kind, Token};
use super::Finding;

/// Weaker shapes: SQL that a probe would send but a confident verdict cannot rest on
/// alone — function calls such as `version()`, PostgreSQL casts, MySQL's symbolic
/// operators after a break, and a quote break before a comment that may be an inch mark.
pub fn suspicion(t: &[Token], quote: Option<u8>) -> Option<Finding> {
    if quote.is_none() {
        if let Some(rule) = fragment(t) {
            return Some(rule);
        }
    }
    // `union select` with nothing that reads after it: a probe's fragment.
    if let Some(u) = t.iter().position(|x| x.kind == Kind::Keyword && x.text == "union") {
        let s = u + 1 + usize::from(kw(t.get(u + 1), &["all", "distinct"]));
        if kw(t.get(s), &["select"]) {
            return Some("union select");
        }
    }
    for (i, tok) in t.iter().enumerate() {
        match tok.kind {
            Kind::Func | Kind::Keyword
                if SUSPICIOUS_FUNCTIONS.contains(&tok.text) && kind(t.get(i + 1), Kind::Open) =>
            {
                return Some("sql function call")
            }
            Kind::Op if tok.text == "::" && t.get(i + 1).is_some_and(|x| CAST_TYPES.contains(&x.text)) => {
                return Some("postgres cast")
            }
            Kind::Op if matches!(tok.text, "<=>" | "<<" | ">>") && i > 0 => return Some("mysql operator"),
            Kind::Keyword if matches!(tok.text, "regexp" | "rlike") && i > 0 => return Some("mysql operator"),
            Kind::Logic if quote.is_some() && i == 1 && matches!(tok.text, "&&" | "||" | "xor") => {
                return Some("quote break then logic operator")
            }
            Kind::Logic
                if quote.is_some() && i == 1 && t.get(2).is_some_and(|x| matches!(x.kind, Kind::Str | Kind::Num)) =>
            {
                return Some("quote break then logic")
            }
            Kind::Op
                if quote.is_some()
                    && i == 1
                    && matches!(tok.text, "-" | "+" | "|" | "*" | "/" | "%" | "^" | "~")
                    && t.get(2).is_some_and(|x| matches!(x.kind, Kind::Num | Kind::Word | Kind::Str)) =>
            {
                return Some("quote break then operator")
            }
            Kind::Str
                if quote.is_none()
                    && t.get(i + 1).is_some_and(is_comparison)
                    && t.get(i + 2).is_some_and(|x| x.kind == Kind::Str) =>
            {
                return Some("quoted comparison")
            }
            Kind::Comment if quote.is_some() && i == 1 => return Some("quote break then comment"),
            // Every catalog name has a `_` or `.` (or is an msys table); a quoted one is short.
            Kind::Word | Kind::Str
                if tok.text.len() <= 64
                    && (tok.text.contains(['_', '.']) || tok.text.starts_with("msys"))
                    && CATALOG_NAMES.iter().any(|n| tok.text.contains(n)) =>
            {
                return Some("database catalog name")
            }
            Kind::Keyword if tok.text == "case" && kw(t.get(i + 1), &["when"]) => {
                let then = t[i..].iter().take(14).position(|x| x.text == "then");
                if then.is_some_and(|p| !t[i..i + p].iter().any(|x| x.kind == Kind::Comma)) {
                    return Some("case when");
                }
            }
            Kind::Keyword if tok.text == "select" && t.get(i + 1).is_some_and(|x| TIME_NAMES.contains(&x.text)) => {
                return Some("select time function")
            }
            Kind::Keyword
                if matches!(tok.text, "create" | "drop" | "alter" | "truncate") && kw(t.get(i + 1), &["table"]) =>
            {
                return Some("table statement")
            }
            Kind::Func
                if matches!(tok.text, "if" | "iif" | "div" | "mod")
                    && kind(t.get(i + 1), Kind::Open)
                    && kind(t.get(i + 2), Kind::Num)
                    && t.get(i + 3).is_some_and(|x| matches!(x.kind, Kind::Op | Kind::Comma)) =>
            {
                return Some("sql conditional or arithmetic function")
            }
            Kind::Keyword
                if tok.text == "having"
                    && t[i + 1..].iter().take(4).any(|x| matches!(x.kind, Kind::Func | Kind::Op | Kind::Logic)) =>
            {
                return Some("having clause")
            }
            // `… AS x FROM`: the tail of an injected column list.
            Kind::Keyword if tok.text == "as" && kw(t.get(i + 2), &["from"]) => return Some("alias then from"),
            _ => {}
        }
    }
    None
}

/// Names of catalogs, system tables and their columns.
const CATALOG_NAMES: &[&str] = &[
    "information_schema",
    "schema_name",
    "table_name",
    "column_name",
    "mysql.db",
    "mysql.user",
    "msysaccessobjects",
    "msysobjects",
    "sysdatabases",
    "pg_database",
    "pg_user",
    "pg_tables",
    "sqlite_master",
    "sys.tables",
    "all_tables",
];

const TIME_NAMES: &[&str] = &["sleep", "pg_sleep", "benchmark", "waitfor"];

const SUSPICIOUS_FUNCTIONS: &[&str] = &[
    "database",
    "user",
    "current_user",
    "session_user",
    "system_user",
    "version",
    "schema",
    "cast",
    "convert",
    "coalesce",
    "json_object",
    "json_array",
    "json_arrayagg",
    "json_objectagg",
    "group_concat",
    "string_agg",
    "substring",
    "substr",
    "mid",
    "ord",
    "ascii",
    "hex",
    "unhex",
    "ifnull",
    "nullif",
    "iif",
    "md5",
    "sha1",
    "sleep",
    "benchmark",
    "pg_sleep",
    "char",
    "chr",
    "concat",
    "row_count",
    "last_insert_id",
    "connection_id",
    "uuid",
    "db_name",
    "find_in_set",
    "load_file",
    "lo_import",
    "lo_get",
    "current_database",
    "json_extract",
    "extractvalue",
    "updatexml",
];

const CAST_TYPES: &[&str] = &[
    "int", "integer", "bigint", "smallint", "text", "varchar", "json", "jsonb", "numeric", "bool", "boolean", "float",
    "double", "real", "date", "regclass", "oid",
];

/// A value that is nothing but a piece of SQL, as probes send them one at a time: an
/// expression cut off by a comment (`1--`, `( 'a' ) --`, `@version/*`), one that reads a
/// variable (`@a or 1`), a `select` column list, a statement opened by `;` (`;drop`), `CASE 1
/// WHEN`. Prose does not parse as an expression from its first word to its last.
fn fragment(t: &[Token]) -> Option<Finding> {
    let first = t.first()?;
    if first.kind == Kind::Semi && t.get(1).is_some_and(|x| STACKABLE.contains(&x.text)) {
        return Some("statement fragment");
    }
    if first.kind == Kind::Keyword && first.text == "select" && t.len() > 2 && select_reads(t, 0) {
        return Some("select statement");
    }
    if first.kind == Kind::Keyword
        && matches!(first.text, "select" | "insert" | "delete" | "update" | "drop")
        && stacked_follows(t, 0)
    {
        return Some("statement fragment");
    }
    if first.kind == Kind::Keyword && first.text == "case" && t[1..].iter().take(6).any(|x| x.text == "when") {
        return Some("case when");
    }
    // `select -sin(1),2 from bar`: a column list with a call, a literal or a comma, then a table.
    if first.kind == Kind::Keyword && first.text == "select" {
        let from = t.iter().take(24).position(|x| x.kind == Kind::Keyword && x.text == "from");
        if let Some(f) = from.filter(|&f| f > 1) {
            let columns = &t[1..f];
            let sql =
                columns.iter().any(|x| matches!(x.kind, Kind::Comma | Kind::Func | Kind::Num | Kind::Open | Kind::Var));
            if sql && kind(t.get(f + 1), Kind::Word) {
                return Some("select statement");
            }
        }
    }
    // `values ('a', 'b')`, `except values(1,2)`: a row of literals.
    if let Some(v) = t.iter().take(3).position(|x| x.text == "values") {
        if kind(t.get(v + 1), Kind::Open) && t.get(v + 2).is_some_and(|x| matches!(x.kind, Kind::Str | Kind::Num)) {
            return Some("values fragment");
        }
    }
    // `xor 2 <`, `)like(`, `||(null!=`, `and backend_layout!=`, `like null`: an operator
    // fragment, opened by logic or a comparison and left dangling.
    let opens = matches!(first.kind, Kind::Logic | Kind::Close)
        || (first.kind == Kind::Keyword && matches!(first.text, "like" | "rlike" | "regexp" | "between"));
    let dangles = t.last().is_some_and(|x| matches!(x.kind, Kind::Op | Kind::Open | Kind::Logic))
        || (t.len() == 2 && kw(t.get(1), &["null"]));
    if opens && dangles && t.len() <= 8 {
        return Some("operator fragment");
    }
    // `concat_ws(`: a call a probe opens and the query would close.
    if t.len() == 2
        && first.kind == Kind::Func
        && kind(t.get(1), Kind::Open)
        && SUSPICIOUS_FUNCTIONS.iter().chain(&["concat_ws", "elt", "exp"]).any(|f| first.text == *f)
    {
        return Some("function fragment");
    }
    // `-1#\n union`, `1/1/**/union`, `-1 union/*`: a union with nothing of prose around it.
    if let Some(u) = t.iter().position(|x| x.kind == Kind::Keyword && x.text == "union") {
        let before = u > 0 && matches!(t[u - 1].kind, Kind::Num | Kind::Close | Kind::Comment | Kind::Hex);
        if before && t.get(u + 1).is_none_or(|x| x.kind == Kind::Comment) {
            return Some("union fragment");
        }
    }
    // `1) from users where name=`: the tail of a query after a closed value.
    if matches!(first.kind, Kind::Num | Kind::Str)
        && kind(t.get(1), Kind::Close)
        && kw(t.get(2), &["from", "where", "union", "order", "group", "limit"])
    {
        return Some("clause fragment");
    }
    // `or x=1`, `and 1 like 1`: a condition with nothing before it.
    if first.kind == Kind::Logic
        && first.text != "not"
        && expression(t, 1).is_some_and(|e| (e.compares || e.calls) && ends_validly(t, e.end))
    {
        return Some("sql expression");
    }
    let start = usize::from(matches!(first.kind, Kind::Close | Kind::Comma));
    let e = expression(t, start).filter(|e| ends_validly(t, e.end))?;
    // `#` ends many a hashtag and password: it cuts an expression of two operands or more.
    let cut = t.len() >= 2
        && t.last().is_some_and(|x| {
            x.kind == Kind::Comment && (x.text.starts_with("--") || x.text.starts_with("/*") || e.operands >= 2)
        });
    // `@a or 1`, `@a = 1`; not a package (`@scope/name`) or a handle.
    let variable = t.iter().any(|x| x.kind == Kind::Var)
        && e.operands >= 2
        && (e.compares || t.iter().any(|x| x.kind == Kind::Logic));
    // `hope and -8=3`, `8-9 or 1 = 1`, `(1) or (1=1)`: logic over a comparison or a call.
    let logic = t.iter().any(|x| x.kind == Kind::Logic)
        && ((e.compares && t.iter().any(|x| x.text == "="))
            || ((e.compares || e.calls) && t.iter().any(|x| x.kind == Kind::Open)));
    ((cut && !e.only_names) || variable || logic).then_some("sql expression")
}
