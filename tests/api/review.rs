//! Findings of the source review (issue #22): header bytes that do not decode are refused,
//! never skipped (H-2, L-5, I-3); a write shows only what the token may read (M-1);
//! references are positive ids (L-1).

use std::io::Write;
use std::net::TcpStream;

use serde_json::json;

use crate::support::{read_response, Resp, TestApp};

/// Sends a GET whose head carries these raw header lines (bytes the text client cannot).
fn raw_get(app: &TestApp, path: &str, headers: &[&[u8]]) -> Resp {
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n").into_bytes();
    for h in headers {
        head.extend_from_slice(h);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let mut stream = TcpStream::connect(app.addr).unwrap();
    stream.write_all(&head).unwrap();
    read_response(&mut stream)
}

#[test]
fn an_unreadable_forwarded_for_is_refused_not_skipped() {
    let app = TestApp::start();
    let t = app.token_with(|s| {
        s.scopes = vec!["clients:r".into()];
        s.cidrs = vec!["127.0.0.0/8".into()];
    });
    let auth = format!("Authorization: Bearer {}", t.token);
    // Before: the \xff value was skipped, the client became the proxy (127.0.0.1) and the
    // CIDR list passed.
    for xff in [&b"X-Forwarded-For: \xff, 203.0.113.5"[..], "X-Forwarded-For: 203.0.113.5é".as_bytes()] {
        let r = raw_get(&app, "/api/v1/clients", &[auth.as_bytes(), xff]);
        assert_eq!((r.status, r.code().as_str()), (400, "bad_forwarded_for"), "{}", r.text());
        r.assert_security_headers();
    }
    // Two header lines, one of them unreadable: refused too.
    let r = raw_get(&app, "/api/v1/clients", &[auth.as_bytes(), b"X-Forwarded-For: \xfe", b"X-Forwarded-For: 1.2.3.4"]);
    assert_eq!(r.status, 400);
    // An injection with such a header locks nobody: the proxy's /health stays served.
    let r = raw_get(&app, "/api/v1/clients?q=1'%20OR%201=1--", &[b"X-Forwarded-For: \xff, 203.0.113.9"]);
    assert_eq!(r.status, 400);
    assert_eq!(app.req("GET", "/health").send().status, 200);
    let readable = raw_get(&app, "/api/v1/clients", &[auth.as_bytes(), b"X-Forwarded-For: 127.0.0.9"]);
    assert_eq!(readable.status, 200, "{}", readable.text());
}

#[test]
fn an_unreadable_or_repeated_authorization_is_refused() {
    let app = TestApp::start();
    let t = app.token(&["*:r"]);
    let view = "/api/v1/views/service_list";
    assert_eq!(raw_get(&app, view, &[]).status, 200, "the public view serves anonymous clients");
    // Before: a non-UTF-8 Authorization counted as absent and the view answered 200.
    let r = raw_get(&app, view, &[b"Authorization: Bearer pal_\xff\xfe"]);
    assert_eq!((r.status, r.code().as_str()), (401, "invalid_token"), "{}", r.text());
    let r = raw_get(&app, "/api/v1/clients", &[b"Authorization: Bearer \xc3\x28"]);
    assert_eq!((r.status, r.code().as_str()), (401, "invalid_token"));
    // Before: the first of two headers won.
    let good = format!("Authorization: Bearer {t}");
    for pair in
        [[good.as_bytes(), b"Authorization: Bearer pal_other"], [b"Authorization: Bearer pal_other", good.as_bytes()]]
    {
        let r = raw_get(&app, "/api/v1/clients", &pair);
        assert_eq!((r.status, r.code().as_str()), (400, "bad_request"), "{}", r.text());
        r.assert_security_headers();
    }
    assert_eq!(raw_get(&app, "/api/v1/clients", &[good.as_bytes()]).status, 200);
}

#[test]
fn a_write_without_read_scope_answers_only_the_id() {
    let app = TestApp::start();
    let writer = app.token(&["clients:u", "leads:c"]);
    // Before: PATCH with {} answered the whole row to a token that gets 403 on GET.
    assert_eq!(app.get("/api/v1/clients/3", &writer).status, 403);
    let r = app.req("PATCH", "/api/v1/clients/3").bearer(&writer).json(&json!({})).send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"], json!({"id": 3}));
    let r = app.req("POST", "/api/v1/leads").bearer(&writer).json(&json!({"name": "N", "status": "new"})).send();
    assert_eq!(r.status, 201, "{}", r.text());
    let data = r.json()["data"].clone();
    assert!(data["id"].is_u64() && data.as_object().unwrap().len() == 1, "{data}");
    // GraphQL answers the same way: the selection cannot read the row.
    let q = r#"mutation { update_clients(id: 3) { id company email } }"#;
    let r = app.req("POST", "/graphql").bearer(&writer).json(&json!({ "query": q })).send();
    assert_eq!(r.json()["data"]["update_clients"], json!({"id": 3, "company": null, "email": null}), "{}", r.text());
    // A token that reads still gets the whole row.
    let both = app.token(&["clients:ru"]);
    let r = app.req("PATCH", "/api/v1/clients/3").bearer(&both).json(&json!({})).send();
    assert!(r.json()["data"]["company"].is_string(), "{}", r.text());
}

#[test]
fn references_take_positive_ids_only() {
    let app = TestApp::start();
    let t = app.token(&["invoices:rc"]);
    let invoice = |client_id: i64| {
        json!({"client_id": client_id, "number": format!("N-{client_id}"), "status": "draft",
               "issue_date": "2026-01-02", "total": 1.0})
    };
    for bad in [-7, 0] {
        let r = app.req("POST", "/api/v1/invoices").bearer(&t).json(&invoice(bad)).send();
        assert_eq!((r.status, r.code().as_str()), (422, "validation_failed"), "{bad}: {}", r.text());
        assert!(r.text().contains("client_id"));
    }
    let q = r#"mutation { create_invoices(client_id: -7, number: "G-1", status: "draft", issue_date: "2026-01-02", total: 1.0) { id } }"#;
    let r = app.req("POST", "/graphql").bearer(&t).json(&json!({ "query": q })).send();
    assert_eq!(r.json()["errors"][0]["extensions"]["code"], "validation_failed", "{}", r.text());
    assert_eq!(app.req("POST", "/api/v1/invoices").bearer(&t).json(&invoice(1)).send().status, 201);
}
