//! The injection detector against the labelled corpus in `tests/corpus/` (public attack
//! payloads with their sources and licences in the file header; realistic benign CRM text).
//! Targets: at least 95 % of attacks caught, at most 1 % of benign values flagged; and
//! written as escaped GraphQL string literals, every value reads back unchanged, no attack
//! hides and no benign value is flagged.

use palisade::checks::injection::detect;

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
