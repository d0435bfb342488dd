//! The shapes of an attack, judged on a token list. Each rule names a construct an injection
//! needs and prose does not form: a string broken out of and followed by logic, a clause or
//! a comment; `UNION SELECT`; a second statement; time, error and encoding functions;
//! tautologies; subqueries; `ORDER BY n` probes; catalog tables.

use super::tokenizer::{Kind, Token};
use super::Finding;

const STACKABLE: &[&str] = &[
    "drop", "insert", "update", "delete", "select", "create", "alter", "truncate", "exec", "execute", "shutdown",
    "declare", "waitfor", "grant", "revoke", "rename", "set", "desc", "describe", "copy", "backup", "load",
];

const DANGEROUS_FUNCTIONS: &[&str] = &[
    "sleep",
    "pg_sleep",
    "benchmark",
    "extractvalue",
    "updatexml",
    "load_file",
    "xp_cmdshell",
    "dbms_pipe.receive_message",
    "dbms_lock.sleep",
    "utl_inaddr.get_host_name",
    "utl_http.request",
    "randomblob",
    "geometrycollection",
    "multipoint",
    "polygon",
    "linestring",
    "name_const",
    "exp",
    "pg_read_file",
    "sys_eval",
    "sys_exec",
    "make_set",
    "elt",
    "load_extension",
    "gtid_subset",
    "json_keys",
    "uuid_to_bin",
    "xmltype",
    "dbms_utility.sqlid_to_sqlhash",
];

/// Names no business value contains: stored procedures, catalogs, packages.
const DANGEROUS_NAMES: &[&str] = &[
    "xp_cmdshell",
    "sp_addlogin",
    "sp_addsrvrolemember",
    "sp_configure",
    "sp_executesql",
    "sp_oacreate",
    "sp_password",
    "utl_http",
    "utl_inaddr",
    "dbms_pipe",
    "dbms_lock",
    "information_schema",
    "sysobjects",
    "syscolumns",
    "sysusers",
    "pg_shadow",
    "pg_catalog",
    "sqlite_master",
    "all_tab_tables",
    "all_tables",
    "v$version",
    "mysql.user",
    "master..",
    "msysobjects",
];

const ENCODING_FUNCTIONS: &[&str] =
    &["char", "chr", "nchar", "concat", "concat_ws", "unhex", "cast", "convert", "ascii"];

fn is_literal(t: &Token) -> bool {
    matches!(t.kind, Kind::Num | Kind::Str | Kind::Hex)
        || (t.kind == Kind::Keyword && matches!(t.text, "true" | "false" | "null"))
}

fn is_comparison(t: &Token) -> bool {
    (t.kind == Kind::Op && matches!(t.text, "=" | "<" | ">" | "<>" | "!=" | "<=" | ">=" | "<=>" | "==" | "::"))
        || (t.kind == Kind::Keyword
            && matches!(t.text, "like" | "rlike" | "regexp" | "is" | "in" | "between" | "sounds"))
        || (t.kind == Kind::Logic && t.text == "not")
}

fn kw(t: Option<&Token>, words: &[&str]) -> bool {
    t.is_some_and(|x| x.kind == Kind::Keyword && words.contains(&x.text))
}

fn kind(t: Option<&Token>, k: Kind) -> bool {
    t.is_some_and(|x| x.kind == k)
}

/// Index of the next token that is not `(`.
fn skip_open(t: &[Token], mut j: usize) -> usize {
    while kind(t.get(j), Kind::Open) {
        j += 1;
    }
    j
}

/// Index of the next token that is not `)`.
fn skip_close(t: &[Token], mut j: usize) -> usize {
    while kind(t.get(j), Kind::Close) {
        j += 1;
    }
    j
}

/// `a op b` at `j` with both sides literals (parentheses allowed): `1=1`, `(1)=(1)`, `'a'='b'`.
fn literal_comparison(t: &[Token], j: usize) -> bool {
    let a = skip_open(t, j);
    let op = skip_close(t, a + 1);
    let b = skip_open(t, op + 1);
    match (t.get(a), t.get(op), t.get(b)) {
        (Some(x), Some(o), Some(y)) => {
            is_comparison(o)
                && ((is_literal(x) && is_literal(y))
                    || (x.kind == Kind::Word && y.kind == Kind::Word && x.text == y.text))
        }
        _ => false,
    }
}

/// How strongly what follows `and`/`or` reads as SQL.
#[derive(PartialEq, Eq, PartialOrd)]
enum After {
    Prose,
    /// A bare literal ending the value (`' or '1`): SQL only if the value broke out.
    Weak,
    /// A call, variable, subquery, or a comparison (`' or uid like '%`).
    Strong,
}

/// What may follow `and`/`or` when it comes right after an injected value.
fn after_logic(t: &[Token], j: usize) -> After {
    let k = skip_open(t, j);
    let Some(x) = t.get(k) else { return After::Prose };
    match x.kind {
        Kind::Func | Kind::Var => After::Strong,
        Kind::Keyword if matches!(x.text, "select" | "exists" | "case" | "true" | "false" | "null") => After::Strong,
        Kind::Num | Kind::Str | Kind::Word => {
            let after = skip_close(t, k + 1);
            match t.get(after) {
                Some(n) if is_comparison(n) || (x.kind != Kind::Word && n.kind == Kind::Op) => After::Strong,
                Some(n) if x.kind == Kind::Num && n.kind == Kind::Comment => After::Strong,
                None if x.kind != Kind::Word && j <= 2 => After::Weak,
                _ => After::Prose,
            }
        }
        _ => After::Prose,
    }
}

/// The shapes of an attack. `broken`: the first token is the string the value broke out of;
/// `unbalanced`: the value leaves a quote open.
pub fn judge(t: &[Token], quote: Option<u8>, unbalanced: bool) -> Option<Finding> {
    let broken = quote.is_some();
    let at = |i: usize| t.get(i);
    let trailing_comment = t.last().is_some_and(|x| x.kind == Kind::Comment || x.kind == Kind::Semi);
    for i in 0..t.len() {
        let tok = &t[i];
        let next_select = |j: usize| {
            let mut j = j;
            while kw(at(j), &["all", "distinct"]) || kind(at(j), Kind::Open) || kind(at(j), Kind::Comment) {
                j += 1;
            }
            at(j).is_some_and(|x| x.text.starts_with("select"))
        };
        if tok.text.ends_with("union") && matches!(tok.kind, Kind::Keyword | Kind::Word) && next_select(i + 1) {
            return Some("union select");
        }
        let name_like = matches!(tok.kind, Kind::Word | Kind::Func)
            && (tok.text.contains(['_', '.', '$']) || tok.text.starts_with("sys") || tok.text.starts_with("msys"));
        if name_like && DANGEROUS_NAMES.iter().any(|n| tok.text.contains(n)) {
            return Some("database internals");
        }
        if i == 0 && STACKABLE.contains(&tok.text) && tok.text != "select" && stacked_follows(t, 0) && !prose_verb(t) {
            return Some("statement");
        }
        match tok.kind {
            Kind::Semi => {
                if let Some(next) = at(i + 1) {
                    if STACKABLE.contains(&next.text) && stacked_follows(t, i + 1) {
                        return Some("stacked statement");
                    }
                }
            }
            Kind::Func if DANGEROUS_FUNCTIONS.contains(&tok.text) && called_with_sql_argument(t, i) => {
                return Some("time or error function");
            }
            Kind::Func if ENCODING_FUNCTIONS.contains(&tok.text) => {
                let args: Vec<&Token> = t[i + 1..].iter().take(12).collect();
                let numbers = args.iter().filter(|x| x.kind == Kind::Num).count();
                let concatenated =
                    kind(at(i + 3), Kind::Close) && at(i + 4).is_some_and(|x| x.text == "||" || x.text == "+");
                if args.iter().any(|x| x.kind == Kind::Hex && x.text.len() > 3) || numbers >= 3 || concatenated {
                    return Some("encoded string");
                }
                if kw(at(skip_open(t, i + 1)), &["select"]) {
                    return Some("subquery in function");
                }
            }
            Kind::Func if kw(at(skip_open(t, i + 1)), &["select"]) => return Some("subquery in function"),
            Kind::Open if kw(at(i + 1), &["select"]) && select_reads(t, i + 1) => return Some("subquery"),
            Kind::Keyword => match tok.text {
                "waitfor" if kw(at(i + 1), &["delay", "time"]) => return Some("waitfor delay"),
                "declare" if kind(at(i + 1), Kind::Var) => return Some("declare variable"),
                "into" if at(i + 1).is_some_and(|x| x.text == "outfile" || x.text == "dumpfile") => {
                    return Some("into outfile")
                }
                "update" if i >= 2 && t[i - 2].text == "duplicate" && t[i - 1].text == "key" => {
                    return Some("on duplicate key update")
                }
                "order" | "group" if kw(at(i + 1), &["by"]) && order_probe(t, i + 2) => return Some("order by probe"),
                "having" | "where" | "when" if literal_comparison(t, i + 1) => return Some("tautology"),
                "case" if kw(at(i + 1), &["when"]) && case_expression(t, i + 2) => return Some("case when"),
                "procedure" if at(i + 1).is_some_and(|x| x.text == "analyse" || x.text == "analyze") => {
                    return Some("procedure analyse")
                }
                "select" if (i == 0 || kind(at(i - 1), Kind::Semi)) && select_reads(t, i) => return Some("statement"),
                _ => {}
            },
            Kind::Var if tok.text.starts_with("@@") => return Some("server variable"),
            Kind::Var if at(i + 1).is_some_and(|x| x.text == ":=") && kw(at(skip_open(t, i + 2)), &["select"]) => {
                return Some("variable assigned a subquery")
            }
            Kind::Hex
                if tok.text.len() >= 8
                    && i > 0
                    && matches!(t[i - 1].kind, Kind::Op | Kind::Logic | Kind::Open | Kind::Comma | Kind::Keyword) =>
            {
                return Some("hex literal");
            }
            Kind::Logic => {
                // `1 and 1=1`, `x' or 'a'='a`, `) or 1=1`: near the start or right after a
                // break; "3 < 5 and 7 > 2" is arithmetic prose.
                let injected_here = i <= 2 || matches!(t[i - 1].kind, Kind::Close | Kind::Str | Kind::Comment);
                if injected_here && literal_comparison(t, i + 1) {
                    return Some("tautology");
                }
                // Right after the injected value (`1 and …`, `x' or …`, `) or …`) or opening it.
                let after = after_logic(t, i + 1);
                // A quoted word in balanced prose ("the 'OR' in our name") needs a strong sign,
                // and so does text that starts with its own literal ("1950 or 1960",
                // `"sweater" AND "christmas"`): an injection has to follow something.
                let own_literal = !broken && i == 1 && matches!(t[0].kind, Kind::Num | Kind::Str);
                let needed = if (broken && !(unbalanced || trailing_comment)) || own_literal {
                    After::Strong
                } else {
                    After::Weak
                };
                // "Not null means …": `not` opens prose, not an injected condition.
                let opens = (i == 0 && tok.text != "not")
                    || (i == 1 && matches!(t[0].kind, Kind::Num | Kind::Close | Kind::Str))
                    || kind(at(i.wrapping_sub(1)), Kind::Close) && broken;
                if opens && after >= needed {
                    return Some("injected condition");
                }
                let k = skip_open(t, i + 1);
                let subquery = (kw(at(k), &["select"]) && select_reads(t, k))
                    || (kw(at(k), &["exists"]) && kind(at(k + 1), Kind::Open));
                if subquery || kind(at(i + 1), Kind::Var) {
                    return Some("injected subquery");
                }
            }
            _ => {}
        }
    }
    if broken {
        // After the broken-out string: logic, a comment, a statement end, or SQL clauses.
        let j = skip_close(t, 1);
        if let Some(next) = at(j) {
            match next.kind {
                Kind::Logic if at(j + 1).is_some() && (unbalanced || trailing_comment) => {
                    return Some("quote break then logic")
                }
                // `7" #2 needle`: a number then `"` is an inch mark, not a break (suspicious only).
                Kind::Comment if quote == Some(b'"') && inch_mark(t) => {}
                Kind::Comment | Kind::Semi => return Some("quote break then comment"),
                Kind::Op
                    if matches!(next.text, "-" | "+" | "|" | "*" | "/" | "%" | "^" | "~" | "&")
                        && at(j + 1)
                            .is_some_and(|x| matches!(x.kind, Kind::Word | Kind::Num | Kind::Func | Kind::Str))
                        && (unbalanced || trailing_comment) =>
                {
                    return Some("quote break then operator")
                }
                Kind::Op if next.text == "||" || (is_comparison(next) && at(j + 1).is_some_and(is_literal)) => {
                    return Some("quote break then comparison")
                }
                Kind::Keyword
                    if matches!(
                        next.text,
                        "union"
                            | "select"
                            | "order"
                            | "group"
                            | "having"
                            | "limit"
                            | "into"
                            | "procedure"
                            | "where"
                            | "from"
                            | "create"
                            | "insert"
                            | "drop"
                            | "exec"
                            | "execute"
                            | "declare"
                            | "update"
                            | "delete"
                    ) && at(j + 1).is_some()
                        && (unbalanced || trailing_comment)
                        // "James' order by Friday": ordering needs a probe's shape.
                        && (!matches!(next.text, "order" | "group")
                            || trailing_comment
                            || (kw(at(j + 1), &["by"]) && order_probe(t, j + 2))) =>
                {
                    return Some("quote break then clause")
                }
                Kind::Word | Kind::Func if next.text.starts_with("exec") && (unbalanced || trailing_comment) => {
                    return Some("quote break then exec")
                }
                _ => {}
            }
        }
    }
    None
}

/// A value starting with a verb as prose does ("Delete from the mailing list all …",
/// "Insert into the brochure the new price list"): the verb's object is not a table name
/// followed by what follows a table.
fn prose_verb(t: &[Token]) -> bool {
    let table_then = |k: usize, ok: &[&str]| {
        t.get(k).is_some_and(|x| matches!(x.kind, Kind::Word | Kind::Func))
            && t.get(k + 1).is_none_or(|n| {
                matches!(n.kind, Kind::Comment | Kind::Semi | Kind::Open)
                    || (n.kind == Kind::Keyword && ok.contains(&n.text))
            })
    };
    match t[0].text {
        "delete" => !table_then(2, &["where", "limit", "order"]),
        "insert" => !table_then(2, &["values", "select", "set"]),
        _ => false,
    }
}

/// `case when <condition> then …` reads as SQL: an operator or a literal between `when` and
/// `then`, no comma (prose: "In case when the card is declined, then call").
fn case_expression(t: &[Token], from: usize) -> bool {
    let Some(then) = t[from..].iter().take(12).position(|x| x.text == "then") else { return false };
    let condition = &t[from..from + then];
    !condition.iter().any(|x| x.kind == Kind::Comma)
        && condition.iter().any(|x| matches!(x.kind, Kind::Op | Kind::Num | Kind::Str | Kind::Func))
}

/// `7" …`: the string broken out of is a measurement.
fn inch_mark(t: &[Token]) -> bool {
    t.first().is_some_and(|s| {
        let v = s.text.trim();
        !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'/' | b' ' | b'-'))
    })
}

/// Weaker shapes: SQL that a probe would send but a confident verdict cannot rest on
/// alone — function calls such as `version()`, PostgreSQL casts, MySQL's symbolic
/// operators after a break, and a quote break before a comment that may be an inch mark.
pub fn suspicion(t: &[Token], quote: Option<u8>) -> Option<Finding> {
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
                    && t[i + 1..].iter().take(4).any(|x| matches!(x.kind, Kind::Func | Kind::Op)) =>
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

/// `ORDER BY 3` / `GROUP BY 1,2` ending the value (or followed by a comment or another
/// clause), or ordering by an expression: how column counts are probed.
fn order_probe(t: &[Token], j: usize) -> bool {
    match t.get(j) {
        Some(x) if x.kind == Kind::Num => match t.get(j + 1) {
            None => true,
            Some(n) => {
                matches!(n.kind, Kind::Comment | Kind::Comma | Kind::Semi | Kind::Close)
                    || (n.kind == Kind::Keyword && matches!(n.text, "asc" | "desc" | "limit" | "having" | "procedure"))
                    || n.text == "+"
            }
        },
        Some(x) => x.kind == Kind::Func,
        None => false,
    }
}

/// `select` at `i` reads like a query: `select *`, `select f(…)`, `select @v`, a literal
/// column list ending the value, or `select … from T` followed by what follows a table.
fn select_reads(t: &[Token], i: usize) -> bool {
    let Some(first) = t.get(i + 1) else { return false };
    let has_from = t[i + 1..].iter().take(8).any(|x| x.kind == Kind::Keyword && x.text == "from");
    let star_ends = first.text == "*" && t.get(i + 2).is_none_or(|x| matches!(x.kind, Kind::Comment | Kind::Semi));
    if matches!(first.kind, Kind::Func | Kind::Var | Kind::Str)
        || ((first.text == "*" || first.text == "top") && has_from)
        || star_ends
    {
        return true;
    }
    if first.kind == Kind::Num
        && t.get(i + 2).is_none_or(|x| matches!(x.kind, Kind::Comment | Kind::Semi | Kind::Comma))
    {
        return true;
    }
    let from = t[i + 1..].iter().take(8).position(|x| x.kind == Kind::Keyword && x.text == "from");
    let Some(f) = from.map(|p| i + 1 + p) else { return false };
    if f == i + 1 {
        return false;
    }
    match (t.get(f + 1), t.get(f + 2)) {
        (Some(table), next) if matches!(table.kind, Kind::Word | Kind::Func | Kind::Str) => next.is_none_or(|n| {
            matches!(n.kind, Kind::Close | Kind::Comma | Kind::Semi | Kind::Comment)
                || (n.kind == Kind::Keyword
                    && matches!(n.text, "where" | "limit" | "group" | "order" | "union" | "join"))
        }),
        _ => false,
    }
}

/// `f(` followed by a literal, a call, a variable, an operator or a subquery — not prose
/// like "sleep (lots)".
fn called_with_sql_argument(t: &[Token], i: usize) -> bool {
    t.get(i + 1).is_some_and(|x| x.kind == Kind::Open)
        && t.get(i + 2).is_some_and(|x| {
            matches!(x.kind, Kind::Num | Kind::Str | Kind::Hex | Kind::Func | Kind::Open | Kind::Var | Kind::Op)
                || (x.kind == Kind::Keyword && x.text == "select")
        })
}

/// Whether what follows a `;`+keyword reads as a real statement, not prose.
fn stacked_follows(t: &[Token], k: usize) -> bool {
    let next = |n: usize| t.get(k + n);
    let next_is = |n: usize, words: &[&str]| next(n).is_some_and(|x| words.contains(&x.text));
    let ends = |n: usize| next(n).is_none_or(|x| matches!(x.kind, Kind::Comment | Kind::Semi));
    match t[k].text {
        "drop" | "truncate" | "rename" => {
            next_is(1, &["table", "database", "schema", "view", "index", "user", "procedure", "function", "trigger"])
                || (k > 0 && kind(next(1), Kind::Word) && ends(2))
        }
        "create" | "alter" => {
            next_is(1, &["table", "database", "schema", "view", "user", "procedure", "function", "login", "trigger"])
        }
        "insert" => next_is(1, &["into"]),
        "delete" => next_is(1, &["from"]),
        "update" => next_is(2, &["set"]) || next_is(3, &["set"]),
        "select" => select_reads(t, k) || (next(1).is_some_and(is_literal) && ends(2)),
        "exec" | "execute" => next(1).is_some_and(|x| {
            matches!(x.kind, Kind::Var | Kind::Func | Kind::Open)
                || x.text.starts_with("xp_")
                || x.text.starts_with("sp_")
                || x.text.starts_with("master.")
                || x.text == "immediate"
        }),
        "shutdown" => ends(1),
        "declare" | "set" => kind(next(1), Kind::Var),
        "waitfor" => next_is(1, &["delay", "time"]),
        "grant" | "revoke" => {
            next_is(1, &["all", "select", "insert", "update", "delete", "execute", "usage", "create"])
        }
        "desc" | "describe" => kind(next(1), Kind::Word) && ends(2),
        "copy" => kind(next(1), Kind::Word) && next_is(2, &["from", "to"]),
        "backup" => next_is(1, &["database"]),
        "load" => next(1).is_some_and(|x| x.text == "data"),
        _ => false,
    }
}
