//! The shapes of an attack, judged on a token list. Each rule names a construct an injection
//! needs and prose does not form: a string broken out of and followed by logic, a clause or
//! a comment; `UNION SELECT`; a second statement; time, error and encoding functions;
//! tautologies; subqueries; `ORDER BY n` probes; catalog tables.

use super::grammar::{
    called_with_sql_argument, ends_validly, expression, is_comparison, is_literal, kind, kw, skip_close, skip_open,
};
use super::statements::{
    order_probe, select_acts, select_list, select_reads, stacked_follows, statement_parses, STACKABLE,
};
use super::tokenizer::{Kind, Token};
use super::Finding;

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
                // A value opening with `or`/`and` has nothing before it for a condition to
                // follow: a call (`or sleep(5)`), `or true`, `or 1--` are SQL at work; a
                // comparison that is no tautology may be a query string (`or 123&ref=x`).
                let opens = (i == 0 && tok.text != "not" && expression(t, 1).is_some_and(|e| e.calls || !e.compares))
                    || ((1..=4).contains(&i)
                        && t[..i].iter().all(|x| matches!(x.kind, Kind::Num | Kind::Close | Kind::Str | Kind::Hex)))
                    || kind(at(i.wrapping_sub(1)), Kind::Close) && broken;
                // Right after a break, what follows is read by `after_break`.
                let at_break = broken && i == skip_close(t, 1);
                // Right after the injected value (`1 and …`, `x' or …`, `) or …`) or opening it;
                // read only then (most `and`s are prose, and the reading costs).
                if opens && !at_break && after_logic(t, i + 1) >= needed {
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
    None
}

/// `case when <condition> then …` reads as SQL: an operator or a literal between `when` and
/// `then`, no comma (prose: "In case when the card is declined, then call").
fn case_expression(t: &[Token], from: usize) -> bool {
    let Some(then) = t[from..].iter().take(12).position(|x| x.text == "then") else { return false };
    let condition = &t[from..from + then];
    !condition.iter().any(|x| x.kind == Kind::Comma)
        && condition.iter().any(|x| matches!(x.kind, Kind::Op | Kind::Num | Kind::Str | Kind::Func))
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
    // `elt(3249=5779,5779)`: a comparison inside, the boolean probe a numeric field evaluates.
    let nested = t[i + 2..]
        .iter()
        .take(24)
        .any(|x| x.kind == Kind::Func || (x.kind == Kind::Keyword && x.text == "select") || x.text == "=");
    i == 0 && (timed || nested)
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
