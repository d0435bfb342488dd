//! The GraphQL guards measure exactly the document juniper executes (source review H-1: a
//! `#` comment ended by `\r` hid a whole query from the guard's own reader), variable
//! defaults count, execution stays inside its row budget, and each mutation field counts
//! against the token's rate limit (second pen test L-4).

use palisade::api::graphql::{guard, GraphqlApi};
use palisade::config::GraphqlConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::support::{Resp, TestApp};

fn gql(app: &TestApp, token: &str, query: &str) -> Resp {
    app.req("POST", "/graphql").bearer(token).json(&json!({ "query": query })).send()
}

fn code(r: &Resp) -> String {
    r.json()["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_string()
}

const DEEP: &str = "clients { invoices { client { invoices { client { invoices { id } } } } } }";

#[test]
fn a_comment_ended_by_carriage_return_hides_nothing() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    // Before: measured as `{ __typename }`, executed as the whole document.
    let hidden_introspection = "{ __typename #\r __schema { types { name } } \n}";
    let r = gql(&app, &t, hidden_introspection);
    assert_eq!((r.status, code(&r).as_str()), (400, "introspection_disabled"), "{}", r.text());
    let hidden_depth = format!("{{ __typename #\r {DEEP} \n}}");
    assert_eq!(code(&gql(&app, &t, &hidden_depth)), "depth_exceeded");
    let crlf = format!("{{ __typename #\r\n {DEEP} }}");
    assert_eq!(code(&gql(&app, &t, &crlf)), "depth_exceeded");
    // An escaped triple quote stays inside a block string (juniper's reading).
    let block = format!(r#"{{ clients(company: """ \""" }} """) {{ {DEEP} }} }}"#);
    assert_eq!(code(&gql(&app, &t, &block)), "depth_exceeded");
    // A plain comment still ends at the line's end and the query still runs.
    let r = gql(&app, &t, "{ __typename # a comment\r clients(limit: 1) { id } }");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"]["clients"].as_array().map(Vec::len), Some(1));
}

#[test]
fn variable_defaults_count_towards_complexity() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let q = "query($l: Int = 500) { clients(limit: $l) { invoices(limit: $l) { id } } }";
    assert_eq!(code(&gql(&app, &t, q)), "complexity_exceeded");
    let small = "query($l: Int = 5) { clients(limit: $l) { invoices(limit: $l) { id } } }";
    assert_eq!(gql(&app, &t, small).status, 200);
    // A value sent with the request wins over the declared default.
    let r = app.req("POST", "/graphql").bearer(&t).json(&json!({"query": small, "variables": {"l": 500}})).send();
    assert_eq!(code(&r), "complexity_exceeded");
}

#[test]
fn execution_stops_at_the_row_budget() {
    let app = TestApp::builder().config(|c| c.graphql.max_rows = 12).start();
    let t = app.token(&["*:r"]);
    let r = gql(&app, &t, "{ clients(limit: 10) { id } }");
    assert_eq!(r.status, 200);
    assert!(r.json().get("errors").is_none(), "{}", r.text());
    let r = gql(&app, &t, "{ a: clients(limit: 10) { id } b: clients(limit: 10) { id } }");
    assert_eq!(r.status, 200);
    assert_eq!(code(&r), "row_budget_exceeded", "{}", r.text());
    assert!(r.json()["data"]["b"].is_null(), "no shorter page passes for a full one: {}", r.text());
}

#[test]
fn every_mutation_field_counts_against_the_rate_limit() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["leads:rc".into()];
        s.rate = Some(3);
    });
    let creates = |n: usize| {
        let fields: Vec<String> =
            (0..n).map(|i| format!(r#"c{i}: create_leads(name: "Lead {i}", status: "new") {{ id }}"#)).collect();
        format!("mutation {{ {} }}", fields.join(" "))
    };
    let before = app.get("/api/v1/leads?limit=1", &app.token(&["leads:r"])).json()["total"].as_u64().unwrap();
    let r = gql(&app, &t.token, &creates(15));
    assert_eq!((r.status, r.code().as_str()), (429, "rate_limited"), "{}", r.text());
    assert!(r.header("retry-after").is_some());
    let r = gql(&app, &t.token, &creates(2));
    assert_eq!(r.status, 200, "{}", r.text());
    // One request and one write are left of three: a document with two writes runs none.
    let r = gql(&app, &t.token, &creates(2));
    assert_eq!(r.status, 429, "{}", r.text());
    let after = app.get("/api/v1/leads?limit=1", &app.token(&["leads:r"])).json()["total"].as_u64().unwrap();
    assert_eq!(after, before + 2, "only the admitted document wrote");
}

/// Random documents with the same structure but different ignored bytes (commas, `\r`,
/// `\r\n`, comments ended either way, strings holding braces and `#`) measure the same.
#[test]
fn ignored_bytes_never_change_the_measure() {
    let app = TestApp::start();
    let api = GraphqlApi::new(app.state.catalog.clone());
    let config = GraphqlConfig { max_depth: 64, max_complexity: usize::MAX, max_tokens: 100_000, ..Default::default() };
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let separators = [" ", ",", "\r", "\n", "\r\n", "\t", " #x\r", " # } {\n", " #\"\"\"\r\n", "\u{feff}"];
    let chains = [
        ["clients", "invoices", "client", "invoices", "client"],
        ["invoices", "client", "invoices", "client", "invoices"],
        ["contacts", "client", "contacts", "client", "contacts"],
    ];
    for case in 0..300 {
        let depth = rng.gen_range(1..6);
        let chain = chains[rng.gen_range(0..chains.len())];
        let (mut plain, mut noisy) = (String::from("{"), String::from("{"));
        let sep = |rng: &mut StdRng| separators[rng.gen_range(0..separators.len())];
        for (level, name) in chain.iter().take(depth).enumerate() {
            let arg = if level == 0 && rng.gen_bool(0.3) { r#"(company: """ \""" } # { """)"# } else { "" };
            plain.push_str(&format!(" {name}{arg} {{ id"));
            let (a, b, c, d) = (sep(&mut rng), sep(&mut rng), sep(&mut rng), sep(&mut rng));
            noisy.push_str(&format!("{a}{name}{b}{arg}{c}{{{d}id"));
        }
        plain.push_str(&" }".repeat(depth + 1));
        for _ in 0..=depth {
            noisy.push_str(&format!("{}}}", sep(&mut rng)));
        }
        let measure = |q: &str| guard::check(q, None, &json!({}), &api.root.schema, &api.model, &config, false);
        let (a, b) = (measure(&plain), measure(&noisy));
        match (&a, &b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    (a.depth, a.complexity, a.aliases),
                    (b.depth, b.complexity, b.aliases),
                    "case {case}: {noisy:?}"
                );
                assert_eq!(a.depth, depth + 1, "case {case}: {plain:?}");
            }
            _ => assert_eq!(a.map(|m| m.depth), b.map(|m| m.depth), "case {case}: {noisy:?}"),
        }
    }
}
