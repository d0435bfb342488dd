//! The injection detector against the labelled corpus in `tests/corpus/` (public attack
//! payloads with their sources and licences in the file header; realistic benign CRM text).
//! Targets: at least 95 % of attacks caught, at most 1 % of benign values flagged; and
//! written as escaped GraphQL string literals, every value reads back unchanged, no attack
//! hides and no benign value is flagged.

use palisade::checks::injection::{classify, detect, Verdict};

fn lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with("# ") && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn rate(values: &[String]) -> (f64, Vec<&String>) {
    let flagged: Vec<&String> = values.iter().filter(|v| detect(v).is_some()).collect();
    (flagged.len() as f64 / values.len() as f64, flagged)
}

#[test]
fn detection_rate_is_at_least_95_percent() {
    let attacks = lines("sqli_attacks.txt");
    assert!(attacks.len() > 1000);
    let (caught, flagged) = rate(&attacks);
    let missed: Vec<&String> = attacks.iter().filter(|a| !flagged.contains(a)).collect();
    println!("attacks: {} of {} caught ({:.2} %)", flagged.len(), attacks.len(), 100.0 * caught);
    for m in missed.iter().take(400) {
        println!("  missed: {m}");
    }
    assert!(caught >= 0.95, "detection {:.2} %", 100.0 * caught);
}

#[test]
fn false_positive_rate_is_at_most_1_percent() {
    let benign = lines("benign.txt");
    assert!(benign.len() > 1500);
    let (fp, flagged) = rate(&benign);
    println!("benign: {} of {} flagged ({:.2} %)", flagged.len(), benign.len(), 100.0 * fp);
    for f in &flagged {
        println!("  flagged: {f} ({:?})", detect(f));
    }
    assert!(fp <= 0.01, "false positives {:.2} %", 100.0 * fp);
    let code = lines("benign_code.txt");
    let (code_fp, _) = rate(&code);
    println!("code snippets quoted in tickets: {:.1} % flagged", 100.0 * code_fp);
}

/// `value` as a GraphQL string literal with every quote, backslash and control character
/// escaped (`'` too, as `\u0027`), the way a client hiding it would write it.
fn graphql_literal(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\u0027"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn graphql_string_escapes_hide_no_attack_and_flag_no_benign_value() {
    use palisade::http::literals::string_values;
    let literal_flagged = |query: &str| string_values(query).iter().any(|v| detect(v).is_some());
    let query = |value: &str| {
        format!("mutation {{ create_leads(name: {}, status: \"new\") {{ id }} }}", graphql_literal(value))
    };
    for attack in lines("sqli_attacks.txt") {
        let q = query(&attack);
        assert_eq!(string_values(&q)[0], attack.as_str());
        assert!(detect(&attack).is_none() || literal_flagged(&q), "hidden by GraphQL escapes: {attack}");
    }
    let benign = lines("benign.txt");
    let flagged: Vec<&String> = benign.iter().filter(|v| literal_flagged(&query(v))).collect();
    assert!(flagged.is_empty(), "decoded GraphQL literals flagged: {flagged:?}");
}

/// Lines of a corpus file grouped by `# kind: NAME` comments (one group "all" without them).
fn kinds(name: &str) -> Vec<(String, Vec<String>)> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut groups: Vec<(String, Vec<String>)> = vec![("all".into(), Vec::new())];
    for line in text.lines() {
        if let Some(kind) = line.strip_prefix("# kind: ") {
            groups.push((kind.trim().to_string(), Vec::new()));
        } else if !line.starts_with("# ") && !line.trim().is_empty() {
            groups.last_mut().unwrap().1.push(line.to_string());
        }
    }
    groups.retain(|(_, lines)| !lines.is_empty());
    groups
}

/// Share of `values` whose verdict `counts`.
fn share(values: &[String], counts: impl Fn(Verdict) -> bool) -> f64 {
    values.iter().filter(|v| counts(classify(v))).count() as f64 / values.len() as f64
}

fn caught(v: Verdict) -> bool {
    !matches!(v, Verdict::Clean)
}

fn attack(v: Verdict) -> bool {
    matches!(v, Verdict::Attack(_))
}

/// The targets of the injection issue on corpora the detector was not built from: WAF
/// regression tests (OWASP CRS 942, paranoia 1 and 1–2), attack kinds, clean CRM text in
/// several languages, and borderline text (SQL pasted into tickets, prose about SQL).
/// "Caught" is either verdict (an `attack` refuses and locks; a `suspicious` one is audited
/// and refusable per endpoint); a false alarm on clean text is either verdict, on borderline
/// text an `attack` (only that refuses).
#[test]
fn rates_per_kind_meet_the_targets() {
    let pl1: Vec<String> = kinds("attacks_waf_pl1.txt").into_iter().flat_map(|(_, l)| l).collect();
    let pl2: Vec<String> = kinds("attacks_waf_pl2.txt").into_iter().flat_map(|(_, l)| l).collect();
    let both: Vec<String> = pl1.iter().chain(&pl2).cloned().collect();
    let (r1, r12) = (share(&pl1, caught), share(&both, caught));
    println!(
        "WAF regression SQLi, paranoia 1: {:.1} % caught ({:.1} % as attack; target 90)",
        100.0 * r1,
        100.0 * share(&pl1, attack)
    );
    println!("WAF regression SQLi, paranoia 1-2: {:.1} % caught (target 80)", 100.0 * r12);
    let mut kind_rates = Vec::new();
    for (kind, lines) in kinds("attacks_kinds.txt") {
        let r = share(&lines, caught);
        println!(
            "attack kind {kind}: {:.1} % caught of {} ({:.1} % as attack)",
            100.0 * r,
            lines.len(),
            100.0 * share(&lines, attack)
        );
        kind_rates.push((kind, r));
    }
    let public = lines("sqli_attacks.txt");
    let rp = share(&public, caught);
    println!(
        "public payload lists (libinjection, PayloadsAllTheThings, SecLists, fuzzdb): {:.1} % caught (target 99)",
        100.0 * rp
    );
    let clean: Vec<String> = kinds("clean_crm.txt").into_iter().flat_map(|(_, l)| l).collect();
    let rc = share(&clean, caught);
    println!("clean CRM text: {:.2} % flagged (target ≤ 0.5)", 100.0 * rc);
    for v in clean.iter().filter(|v| caught(classify(v))) {
        println!("  flagged: {v} ({:?})", classify(v));
    }
    let mut border_rates = Vec::new();
    for (kind, lines) in kinds("borderline.txt") {
        let r = share(&lines, attack);
        println!(
            "borderline {kind}: {:.1} % refused as attack, {:.1} % suspicious (target ≤ 10 refused)",
            100.0 * r,
            100.0 * (share(&lines, caught) - r)
        );
        border_rates.push((kind, r));
    }
    assert!(r1 >= 0.90, "paranoia 1: {r1}");
    assert!(r12 >= 0.80, "paranoia 1-2: {r12}");
    for (kind, r) in kind_rates {
        assert!(r >= 0.80, "kind {kind}: {r}");
    }
    assert!(rp >= 0.99, "public lists: {rp}");
    assert!(rc <= 0.005, "clean: {rc}");
    for (kind, r) in border_rates {
        assert!(r <= 0.10, "borderline {kind}: {r}");
    }
}
