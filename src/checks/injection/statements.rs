//! Statements and column lists: whether a verb at the start of a value or after a `;` is a
//! statement a database would run (`drop table users;`, `insert into t values (…)`, `select *
//! from t where 1=1`) or prose that starts with the same word ("Copy data from the old sheet to
//! the new one", "drop table legs", "select x from y where"), and whether what follows
//! `select` is a column list. A stacked statement is the strongest evidence there is, so its
//! reading is strict: verb, object, and what follows the object in that statement.

use super::grammar::{called_with_sql_argument, expression, is_literal, kind, kw};
use super::tokenizer::{Kind, Token};

/// A value that is a statement of its own, not prose starting with a verb ("Delete from the
/// mailing list all …", "Copy data from the old sheet to the new one", "Create table with
/// WITH fixed", "create database and tests"): the verb's object is a name followed by what
/// follows a name in that statement.
pub(super) fn statement_parses(t: &[Token]) -> bool {
    let ends = |k: usize| t.get(k).is_none_or(|n| matches!(n.kind, Kind::Comment | Kind::Semi));
    let name = |k: usize| t.get(k).is_some_and(|x| matches!(x.kind, Kind::Word | Kind::Func));
    let table_then = |k: usize, ok: &[&str]| {
        name(k)
            && t.get(k + 1).is_none_or(|n| {
                matches!(n.kind, Kind::Comment | Kind::Semi | Kind::Open)
                    || (n.kind == Kind::Keyword && ok.contains(&n.text))
            })
    };
    match t[0].text {
        "delete" => table_then(2, &["where", "limit", "order"]),
        "insert" => table_then(2, &["values", "select", "set"]),
        // "Drop table legs" is a search for furniture; `drop table users;` is a statement.
        "drop" | "truncate" => {
            name(2) && (t.get(3).is_some_and(|n| matches!(n.kind, Kind::Comment | Kind::Semi | Kind::Comma)))
        }
        "create" if !kw(t.get(1), &["user"]) => {
            name(2) && (ends(3) || kind(t.get(3), Kind::Open) || kw(t.get(3), &["as"]))
        }
        "alter" => {
            name(2) && t.get(3).is_some_and(|x| matches!(x.text, "add" | "drop" | "modify" | "rename" | "alter"))
        }
        "rename" => kw(t.get(1), &["table", "user"]) && name(2) && t.get(3).is_some_and(|x| x.text == "to"),
        "create" if kw(t.get(1), &["user"]) => name(2) && t.get(3).is_some_and(|x| x.text == "identified"),
        // `copy t from '/etc/passwd'`, `backup database master to disk='…'`: a file or a device.
        "copy" => kind(t.get(3), Kind::Str),
        "backup" | "restore" => name(2) && t.get(3).is_some_and(|x| matches!(x.text, "to" | "from")),
        "load" | "set" | "desc" | "describe" => false,
        _ => true,
    }
}

/// A value that starts with `select` and reads something a probe wants: a call, a variable,
/// everything (`select *`), or a table with a condition (`select x from y where 1=1`), not
/// "select x from y where" or `select 'and'` typed into a search box.
pub(super) fn select_acts(t: &[Token]) -> bool {
    let Some(first) = t.get(1) else { return false };
    if !select_reads(t, 0) {
        return false;
    }
    // `select @@version`, `select @a`; not an address glued on (`select@example.com`).
    if first.kind == Kind::Var {
        return first.text.starts_with("@@")
            || (!first.text.contains('.')
                && t.get(2)
                    .is_none_or(|n| matches!(n.kind, Kind::Comma | Kind::Comment | Kind::Semi) || n.text == "from"));
    }
    if first.kind == Kind::Func {
        return true;
    }
    if first.text == "*" {
        let ends = t.get(2).is_none_or(|x| matches!(x.kind, Kind::Comment | Kind::Semi));
        return ends
            || (kw(t.get(2), &["from"]) && t.get(3).is_some_and(|x| matches!(x.kind, Kind::Word | Kind::Func)));
    }
    let clause =
        |x: &Token| x.kind == Kind::Keyword && matches!(x.text, "where" | "limit" | "union" | "order" | "group");
    let Some(w) = t.iter().take(12).position(clause) else {
        return t.last().is_some_and(|x| x.kind == Kind::Comment) && t.len() > 4;
    };
    expression(t, w + 1).is_some_and(|e| e.compares || e.calls) || kind(t.get(w + 1), Kind::Num)
}

/// `select` at `i` reads like a query: `select *`, `select f(…)`, `select @v`, a literal
/// column list ending the value, or `select … from T` followed by what follows a table.
pub(super) fn select_reads(t: &[Token], i: usize) -> bool {
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

/// Whether what follows a `;`+keyword reads as a real statement, not prose.
pub(super) fn stacked_follows(t: &[Token], k: usize) -> bool {
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
                || (next_is(1, &["or"]) && next_is(2, &["replace"]))
        }
        "insert" => next_is(1, &["into"]),
        "delete" => {
            let m = (1..4).find(|&n| !next_is(n, &["low_priority", "quick", "ignore"])).unwrap_or(4);
            next_is(m, &["from"])
        }
        "update" => next_is(2, &["set"]) || next_is(3, &["set"]),
        "select" => select_reads(t, k) || (next(1).is_some_and(is_literal) && ends(2)),
        "exec" | "execute" => next(1).is_some_and(|x| {
            matches!(x.kind, Kind::Var | Kind::Func | Kind::Open)
                || x.text.starts_with("xp_")
                || x.text.starts_with("sp_")
                || x.text.starts_with("master.")
                || x.text == "immediate"
                // `exec spWriteStringToFile 'x'`: a procedure name and its first argument.
                || (x.kind == Kind::Word && next(2).is_none_or(|a| matches!(a.kind, Kind::Str | Kind::Var | Kind::Num | Kind::Comment | Kind::Semi)))
        }),
        "shutdown" => ends(1),
        "declare" | "set" => kind(next(1), Kind::Var),
        "waitfor" => next_is(1, &["delay", "time"]),
        "grant" | "revoke" => next_is(
            1,
            &["all", "select", "insert", "update", "delete", "execute", "usage", "create", "connect", "resource", "dba", "file"],
        ),
        "desc" | "describe" => kind(next(1), Kind::Word) && ends(2),
        "copy" => kind(next(1), Kind::Word) && next_is(2, &["from", "to"]),
        "backup" | "restore" => next_is(1, &["database", "log"]),
        "load" => next(1).is_some_and(|x| x.text == "data" || x.text == "xml"),
        _ => false,
    }
}

/// After `select` at `j`: a column list that parses (`null,null`, `1,concat(0x71,…)`, `*`,
/// `user()`), then what follows a column list (the end, a comment, `from t`, `into`, `union`,
/// `)`); not one name ending the value ("Union select beer") or words ("select pink 4th gen").
pub(super) fn select_list(t: &[Token], j: usize) -> bool {
    let mut k = j + 1;
    while kw(t.get(k), &["all", "distinct", "top"]) || (kind(t.get(k), Kind::Num) && t[k - 1].text == "top") {
        k += 1;
    }
    let first = k;
    let mut columns = 0;
    if t.get(k).is_some_and(|x| x.text == "*") {
        k += 1;
        columns = 1;
    } else {
        while let Some(e) = expression(t, k) {
            columns += 1;
            k = e.end;
            // An alias: `as x`, or a name right after the column (`exec_clob('id') cmd`).
            if kw(t.get(k), &["as"]) {
                k += 2;
            } else if kind(t.get(k), Kind::Word)
                && matches!(t.get(k + 1).map(|x| x.kind), Some(Kind::Comma | Kind::Keyword) | None)
            {
                k += 1;
            }
            if !kind(t.get(k), Kind::Comma) {
                break;
            }
            k += 1;
        }
    }
    // `1,2,3,`, `null, listagg(…) within group (…)`: a list of several columns is a list.
    if columns >= 2 {
        return true;
    }
    let lone_name = k == first + 1 && t[first].kind == Kind::Word;
    match t.get(k) {
        _ if columns == 0 => false,
        None => !lone_name,
        Some(x) if matches!(x.kind, Kind::Comment | Kind::Semi | Kind::Close) => true,
        Some(x) if kw(Some(x), &["from"]) => {
            t.get(k + 1).is_some_and(|n| matches!(n.kind, Kind::Word | Kind::Func | Kind::Open | Kind::Keyword))
                && t.get(k + 2).is_none_or(|n| !matches!(n.kind, Kind::Str | Kind::Num))
        }
        Some(x) => kw(Some(x), &["into", "union", "limit", "where", "order", "group", "having"]),
    }
}

pub(super) const STACKABLE: &[&str] = &[
    "drop", "insert", "update", "delete", "select", "create", "alter", "truncate", "exec", "execute", "shutdown",
    "declare", "waitfor", "grant", "revoke", "rename", "set", "desc", "describe", "copy", "backup", "restore", "load",
];

/// `ORDER BY 3` / `GROUP BY 1,2` ending the value (or followed by a comment or another
/// clause), or ordering by an expression: how column counts are probed.
pub(super) fn order_probe(t: &[Token], j: usize) -> bool {
    match t.get(j) {
        Some(x) if x.kind == Kind::Num => match t.get(j + 1) {
            None => true,
            Some(n) => {
                matches!(n.kind, Kind::Comment | Kind::Comma | Kind::Semi | Kind::Close)
                    || (n.kind == Kind::Keyword && matches!(n.text, "asc" | "desc" | "limit" | "having" | "procedure"))
                    || n.text == "+"
            }
        },
        Some(x) => x.kind == Kind::Func && called_with_sql_argument(t, j),
        None => false,
    }
}
