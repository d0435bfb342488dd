//! The injection detector on real input it was not written from: text people typed (search
//! terms, product titles, package descriptions, place names in a hundred languages, commit
//! subjects about SQL) and real scanner traffic (every distinct value sqlmap sent at level 5,
//! libinjection's attack samples, the OWASP CRS regression tests). Sources and licences are in
//! each file's header (`tests/corpus/real/`, `tests/corpus/attacks_waf_*.txt`).
//!
//! Every set is split by a hash of the line into a tuning part (70 %) and a held-out part
//! (30 %). Work on the detector looks only at the tuning part: this test names the tuning
//! part's misses and false verdicts (in `target/injection-tuning/`), and gives the held-out
//! part only as a figure. The held-out figures are the ones the targets apply to, and the ones
//! the README reports.

use std::fmt::Write as _;

use palisade::checks::injection::{classify, Verdict};

/// Which part of a set a line belongs to: FNV-1a of its bytes, 70 in 100 to tuning.
fn tuning(line: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in line.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 100 < 70
}

fn lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.starts_with("# ") && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// What a set expects: attacks are caught by either verdict; benign text must not get an
/// `attack` verdict (the one that refuses and locks).
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Caught,
    NotAttack,
}

struct Figure {
    tuning: f64,
    held_out: f64,
    held_out_n: usize,
}

/// Scores one set; writes the tuning part's failures (never the held-out part's) to
/// `target/injection-tuning/NAME`.
fn score(files: &[&str], expect: Expect, label: &str) -> Figure {
    let values: Vec<String> = files.iter().flat_map(|f| lines(f)).collect();
    let ok = |v: Verdict| match expect {
        Expect::Caught => !matches!(v, Verdict::Clean),
        Expect::NotAttack => !matches!(v, Verdict::Attack(_)),
    };
    let (mut t_n, mut t_fail, mut h_n, mut h_fail) = (0usize, 0usize, 0usize, 0usize);
    // Attack verdicts on the held-out part (what would refuse and lock).
    let mut h_attack = 0usize;
    let mut report = String::new();
    for v in &values {
        let verdict = classify(v);
        if tuning(v) {
            t_n += 1;
            if !ok(verdict) {
                t_fail += 1;
                let _ = writeln!(report, "{:<40} {v}", format!("{verdict:?}"));
            }
        } else {
            h_n += 1;
            h_fail += usize::from(!ok(verdict));
            h_attack += usize::from(matches!(verdict, Verdict::Attack(_)));
        }
    }
    let dir = format!("{}/target/injection-tuning", env!("CARGO_MANIFEST_DIR"));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(format!("{dir}/{label}.txt"), report);
    let share = |fail: usize, n: usize| {
        let bad = fail as f64 / n.max(1) as f64;
        if expect == Expect::Caught {
            1.0 - bad
        } else {
            bad
        }
    };
    let f = Figure { tuning: share(t_fail, t_n), held_out: share(h_fail, h_n), held_out_n: h_n };
    let what = if expect == Expect::Caught { "caught" } else { "attack verdicts" };
    let as_attack = if expect == Expect::Caught {
        format!(" ({:.1} % as attack)", 100.0 * h_attack as f64 / h_n.max(1) as f64)
    } else {
        String::new()
    };
    println!(
        "{label}: {what} {:.3} % held-out{as_attack} ({} values), {:.3} % tuning ({t_n} values)",
        100.0 * f.held_out,
        f.held_out_n,
        100.0 * f.tuning
    );
    f
}

#[test]
fn real_human_text_is_not_locked() {
    let fp = score(&["real/search_libinjection_fp.txt"], Expect::NotAttack, "search_libinjection_fp");
    let titles = score(&["real/search_product_titles.txt"], Expect::NotAttack, "search_product_titles");
    let prose = score(&["real/prose_debian_descriptions.txt"], Expect::NotAttack, "prose_debian");
    let names = score(&["real/names_places_iso_codes.txt"], Expect::NotAttack, "names_places");
    let people = score(&["real/names_addresses_faker.txt"], Expect::NotAttack, "names_addresses");
    let border = score(&["real/borderline_sqlfluff_commits.txt"], Expect::NotAttack, "borderline_sqlfluff");
    let old_border = score(&["borderline.txt"], Expect::NotAttack, "borderline_written");
    assert!(fp.held_out <= 0.005, "search input held out: {:.3} %", 100.0 * fp.held_out);
    assert!(titles.held_out <= 0.005, "product titles held out: {:.3} %", 100.0 * titles.held_out);
    assert!(prose.held_out <= 0.0001, "prose one-liners held out: {:.4} %", 100.0 * prose.held_out);
    assert!(names.held_out <= 0.0001, "names held out: {:.4} %", 100.0 * names.held_out);
    assert!(people.held_out <= 0.0001, "names and addresses held out: {:.4} %", 100.0 * people.held_out);
    assert!(border.held_out <= 0.10, "borderline held out: {:.1} %", 100.0 * border.held_out);
    assert!(old_border.held_out <= 0.10, "written borderline held out: {:.1} %", 100.0 * old_border.held_out);
}

#[test]
fn real_scanner_traffic_is_caught() {
    let sqlmap = score(&["real/attacks_sqlmap.txt"], Expect::Caught, "attacks_sqlmap");
    let lib = score(&["real/attacks_libinjection.txt"], Expect::Caught, "attacks_libinjection");
    let pl1 = score(&["attacks_waf_pl1.txt"], Expect::Caught, "crs_pl1");
    let pl12 = score(&["attacks_waf_pl1.txt", "attacks_waf_pl2.txt"], Expect::Caught, "crs_pl1_2");
    assert!(sqlmap.held_out >= 0.995, "sqlmap held out: {:.2} %", 100.0 * sqlmap.held_out);
    assert!(lib.held_out >= 0.99, "libinjection held out: {:.2} %", 100.0 * lib.held_out);
    assert!(pl1.held_out >= 0.90, "CRS paranoia 1 held out: {:.1} %", 100.0 * pl1.held_out);
    assert!(pl12.held_out >= 0.80, "CRS paranoia 1-2 held out: {:.1} %", 100.0 * pl12.held_out);
}
