//! The shapes of an attack, judged on a token list. Each rule names a construct an injection
//! needs and prose does not form: a string broken out of and followed by logic, a clause or
//! a comment; `UNION SELECT`; a second statement; time, error and encoding functions;
//! tautologies; subqueries; `ORDER BY n` probes; catalog tables.

use super::breaks::{after_break, Break};
use super::grammar::{ends_validly, expression};
use super::tokenizer::{Kind, Token};
use super::Finding;

pub(super) const STACKABLE: &[&str] = &[
    "drop", "insert", "update", "delete", "select", "create", "alter", "truncate", "exec", "execute", "shutdown",
    "declare", "waitfor", "grant", "revoke", "rename", "set", "desc", "describe", "copy", "backup", "restore", "load",
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

pub(super) fn is_literal(t: &Token) -> bool {
    matches!(t.kind, Kind::Num | Kind::Str | Kind::Hex)
        || (t.kind == Kind::Keyword && matches!(t.text, "true" | "false" | "null"))
}

pub(super) fn is_comparison(t: &Token) -> bool {
    (t.kind == Kind::Op && matches!(t.text, "=" | "<" | ">" | "<>" | "!=" | "<=" | ">=" | "<=>" | "==" | "::"))
        || (t.kind == Kind::Keyword
            && matches!(t.text, "like" | "rlike" | "regexp" | "is" | "in" | "between" | "sounds"))
        || (t.kind == Kind::Logic && t.text == "not")
}

pub(super) fn kw(t: Option<&Token>, words: &[&str]) -> bool {
    t.is_some_and(|x| x.kind == Kind::Keyword && words.contains(&x.text))
}

pub(super) fn kind(t: Option<&Token>, k: Kind) -> bool {
    t.is_some_and(|x| x.kind == k)
}

/// Index of the next token that is not `(`.
pub(super) fn skip_open(t: &[Token], mut j: usize) -> usize {
    while kind(t.get(j), Kind::Open) {
        j += 1;
    }
    j
}

/// Index of the next token that is not `)`.
pub(super) fn skip_close(t: &[Token], mut j: usize) -> usize {
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
    let Some(e) = expression(t, j) else { return After::Prose };
    let next = t.get(e.end);
    let continues = ends_validly(t, e.end)
        || next.is_some_and(|n| {
            n.kind == Kind::Logic
                || kw(Some(n), &["union", "order", "group", "limit", "having", "into", "procedure", "where"])
        });
    if !continues {
        return After::Prose;
    }
    let number_cut = t.get(j).is_some_and(|x| x.kind == Kind::Num) && next.is_some_and(|n| n.kind == Kind::Comment);
    let true_ = e.operands == 1 && t.get(j).is_some_and(|x| x.text == "true");
    if e.compares || e.calls || number_cut || true_ {
        After::Strong
    } else if !e.only_names && e.operands == 1 && e.end == t.len() && j <= 2 {
        After::Weak
    } else {
        After::Prose
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
            // `select` and a column list that reads, or `select` glued to what follows it
            // (`select1`), not "selected" or "Union select beer".
            at(j).is_some_and(|x| match x.text.strip_prefix("select") {
                Some("") => select_list(t, j),
                Some(rest) => !rest.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()),
                None => false,
            })
        };
        if tok.text.ends_with("union") && matches!(tok.kind, Kind::Keyword | Kind::Word) && next_select(i + 1) {
            return Some("union select");
        }
        let name_like = matches!(tok.kind, Kind::Word | Kind::Func)
            && (tok.text.contains(['_', '.', '$']) || tok.text.starts_with("sys") || tok.text.starts_with("msys"));
        if name_like && DANGEROUS_NAMES.iter().any(|n| tok.text.contains(n)) {
            return Some("database internals");
        }
        if i == 0
            && STACKABLE.contains(&tok.text)
            && tok.text != "select"
            && stacked_follows(t, 0)
            && statement_parses(t)
        {
            return Some("statement");
        }
        match tok.kind {
            Kind::Semi => {
                if let Some(next) = at(i + 1) {
                    if STACKABLE.contains(&next.text) && stacked_follows(t, i + 1) {
                        return Some("stacked statement");
                    }
                    // `; xp_cmdshell 'dir'`, `;if(1=1) select 1`, `;call f(1)`, `;do (1=1)`.
                    let procedure = next.kind == Kind::Word
                        && (next.text.starts_with("xp_") || next.text.starts_with("sp_"))
                        && at(i + 2)
                            .is_none_or(|a| matches!(a.kind, Kind::Str | Kind::Var | Kind::Num | Kind::Comment));
                    let control = next.kind == Kind::Func && next.text == "if" && called_with_sql_argument(t, i + 1);
                    let call = matches!(next.text, "call" | "do")
                        && at(i + 2).is_some_and(|a| matches!(a.kind, Kind::Func | Kind::Open));
                    if procedure || control || call {
                        return Some("stacked statement");
                    }
                }
            }
            Kind::Func if DANGEROUS_FUNCTIONS.contains(&tok.text) && evaluated_call(t, i) => {
                return Some("time or error function");
            }
            Kind::Func if ENCODING_FUNCTIONS.contains(&tok.text) => {
                let args: Vec<&Token> = t[i + 1..].iter().take(12).collect();
                // Character codes a string is spelt with: printable ASCII (`char(83,69,76)`).
                let numbers = args
                    .iter()
                    .filter(|x| x.kind == Kind::Num && x.text.parse::<u32>().is_ok_and(|n| (32..127).contains(&n)))
                    .count();
                let concatenated =
                    kind(at(i + 3), Kind::Close) && at(i + 4).is_some_and(|x| x.text == "||" || x.text == "+");
                if args.iter().any(|x| x.kind == Kind::Hex && x.text.len() > 3) || numbers >= 3 || concatenated {
                    return Some("encoded string");
                }
                if kw(at(skip_open(t, i + 1)), &["select"]) && select_list(t, skip_open(t, i + 1)) {
                    return Some("subquery in function");
                }
            }
            Kind::Func if kw(at(skip_open(t, i + 1)), &["select"]) && select_list(t, skip_open(t, i + 1)) => {
                return Some("subquery in function")
            }
            Kind::Open if kw(at(i + 1), &["select"]) && select_reads(t, i + 1) => return Some("subquery"),
            Kind::Keyword => match tok.text {
                "waitfor" if kw(at(i + 1), &["delay", "time"]) => return Some("waitfor delay"),
                "declare" if kind(at(i + 1), Kind::Var) => return Some("declare variable"),
                "into"
                    if at(i + 1).is_some_and(|x| x.text == "outfile" || x.text == "dumpfile")
                        && at(i + 2).is_some_and(|x| {
                            matches!(x.kind, Kind::Str | Kind::Open)
                                || (x.kind == Kind::Word && kind(at(i + 3), Kind::Comment))
                        }) =>
                {
                    return Some("into outfile")
                }
                "update"
                    if i >= 2
                        && t[i - 2].text == "duplicate"
                        && t[i - 1].text == "key"
                        && at(i + 2).is_some_and(|x| x.text == "=") =>
                {
                    return Some("on duplicate key update")
                }
                "order" | "group" if kw(at(i + 1), &["by"]) && order_probe(t, i + 2) => return Some("order by probe"),
                "having" | "where" | "when" if literal_comparison(t, i + 1) => return Some("tautology"),
                "case" if kw(at(i + 1), &["when"]) && case_expression(t, i + 2) => return Some("case when"),
                "procedure" if at(i + 1).is_some_and(|x| x.text == "analyse" || x.text == "analyze") => {
                    return Some("procedure analyse")
                }
                "select" if i > 0 && kind(at(i - 1), Kind::Semi) && select_reads(t, i) => return Some("statement"),
                "select" if i == 0 && select_acts(t) => return Some("statement"),
                _ => {}
            },
            // `@@version` as an operand (after an operator, a call's parenthesis, `select`, a
            // comma), not named in a sentence ("e.g. @@rowcount").
            Kind::Var
                if tok.text.starts_with("@@")
                    && (i == 0
                        || matches!(
                            t[i - 1].kind,
                            Kind::Op | Kind::Logic | Kind::Comma | Kind::Keyword | Kind::Str
                        )
                        || (t[i - 1].kind == Kind::Open && (i == 1 || t[i - 2].kind == Kind::Func))) =>
            {
                return Some("server variable")
            }
            Kind::Var if at(i + 1).is_some_and(|x| x.text == ":=") && kw(at(skip_open(t, i + 2)), &["select"]) => {
                return Some("variable assigned a subquery")
            }
            Kind::Hex
                if tok.text.len() >= 8
                    && spells_text(tok.text)
                    && i > 0
                    && matches!(t[i - 1].kind, Kind::Op | Kind::Logic | Kind::Open | Kind::Comma | Kind::Keyword) =>
            {
                return Some("hex literal");
            }
            Kind::Logic => {
                // `1 and 1=1`, `x' or 'a'='a`, `) or 1=1`: near the start or right after a
                // break; "3 < 5 and 7 > 2" is arithmetic prose.
                let injected_here = i <= 2 || matches!(t[i - 1].kind, Kind::Close | Kind::Str | Kind::Comment);
                // `or not 1=2` is the same tautology.
                let operand = i + 1 + usize::from(at(i + 1).is_some_and(|x| x.text == "not"));
                if injected_here && literal_comparison(t, operand) {
                    return Some("tautology");
                }
                // Right after the injected value (`1 and …`, `x' or …`, `) or …`) or opening it.
                let after = after_logic(t, i + 1);
                // A quoted word in balanced prose ("the 'OR' in our name") needs a strong sign,
                // and so does text that starts with its own literal ("1950 or 1960",
                // `"sweater" AND "christmas"`): an injection has to follow something.
                let own_literal = !broken && i == 1 && matches!(t[0].kind, Kind::Num | Kind::Str);
                // A value that opens with `or 1` has nothing for the condition to follow.
                let needed = if (broken && !(unbalanced || trailing_comment)) || own_literal || i == 0 {
                    After::Strong
                } else {
                    After::Weak
                };
                // "Not null means …": `not` opens prose, not an injected condition.
                let opens = (i == 0 && tok.text != "not")
                    || ((1..=4).contains(&i)
                        && t[..i].iter().all(|x| matches!(x.kind, Kind::Num | Kind::Close | Kind::Str | Kind::Hex)))
                    || kind(at(i.wrapping_sub(1)), Kind::Close) && broken;
                // Right after a break, what follows is read by `after_break`.
                let at_break = broken && i == skip_close(t, 1);
                if opens && !at_break && after >= needed {
                    return Some("injected condition");
                }
                let k = skip_open(t, i + 1);
                let subquery = (kw(at(k), &["select"]) && select_reads(t, k))
                    || (kw(at(k), &["exists"]) && kind(at(k + 1), Kind::Open) && kw(at(k + 2), &["select"]));
                // `or @a := …`, `and @@version`, `or @v=1`; not `@types/node or @types/react`.
                let variable = at(i + 1).is_some_and(|v| {
                    v.kind == Kind::Var
                        && (v.text.starts_with("@@") || at(i + 2).is_some_and(|x| x.text == ":=" || is_comparison(x)))
                });
                if subquery || variable {
                    return Some("injected subquery");
                }
            }
            _ => {}
        }
    }
    if let Some(q) = quote {
        if let Some(Break::Proof(rule)) = after_break(t, q, unbalanced) {
            return Some(rule);
        }
    }
    None
}

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

/// `case when <condition> then …` reads as SQL: an operator or a literal between `when` and
/// `then`, no comma (prose: "In case when the card is declined, then call").
fn case_expression(t: &[Token], from: usize) -> bool {
    let Some(then) = t[from..].iter().take(12).position(|x| x.text == "then") else { return false };
    let condition = &t[from..from + then];
    !condition.iter().any(|x| x.kind == Kind::Comma)
        && condition.iter().any(|x| matches!(x.kind, Kind::Op | Kind::Num | Kind::Str | Kind::Func))
}

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

/// `f(` with arguments that parse, closed (or left for the query to close), and not followed by
/// a word: `sleep(5)`, `updatexml(1,concat(0x7e,user()),1)` — not "sleep (lots)", "baby sleep
/// (0-3 months)" or "benchmark (2019) book".
pub(super) fn called_with_sql_argument(t: &[Token], i: usize) -> bool {
    if !kind(t.get(i + 1), Kind::Open) {
        return false;
    }
    let mut k = i + 2;
    if !kind(t.get(k), Kind::Close) {
        loop {
            let Some(e) = expression(t, k) else { return false };
            k = e.end;
            if !kind(t.get(k), Kind::Comma) {
                break;
            }
            k += 1;
        }
    }
    match t.get(k) {
        None => true,
        Some(x) if x.kind == Kind::Close => t.get(k + 1).is_none_or(|n| n.kind != Kind::Word),
        _ => false,
    }
}

/// A time or error function where SQL would evaluate it: as an operand (after an operator,
/// logic, `(`, `,`, a keyword, a broken-out string) or as the whole value; alone, an error
/// function needs a call or a subquery inside (`exp(~(select …))`), a time function does not
/// (`sleep(5)` in a numeric field runs).
fn evaluated_call(t: &[Token], i: usize) -> bool {
    if !called_with_sql_argument(t, i) {
        return false;
    }
    let operand = i > 0
        && matches!(
            t[i - 1].kind,
            Kind::Op | Kind::Logic | Kind::Open | Kind::Comma | Kind::Keyword | Kind::Str | Kind::Semi
        );
    if operand {
        return true;
    }
    let timed = matches!(
        t[i].text,
        "sleep" | "pg_sleep" | "benchmark" | "dbms_lock.sleep" | "dbms_pipe.receive_message" | "randomblob"
    );
    let nested =
        t[i + 2..].iter().take(24).any(|x| x.kind == Kind::Func || (x.kind == Kind::Keyword && x.text == "select"));
    i == 0 && (timed || nested)
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

/// `0x61646d696e` spells "admin": a hex literal standing in for a string is mostly printable
/// ASCII; a colour or an id (`0xff00ff00`) is not.
fn spells_text(hex: &str) -> bool {
    let digits = &hex.as_bytes()[2..];
    if digits.len() % 2 != 0 {
        return false;
    }
    let bytes: Vec<u8> = digits
        .chunks(2)
        .filter_map(|p| std::str::from_utf8(p).ok().and_then(|s| u8::from_str_radix(s, 16).ok()))
        .collect();
    let printable = bytes.iter().filter(|b| (0x20..0x7f).contains(*b)).count();
    !bytes.is_empty() && printable * 4 >= bytes.len() * 3
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
