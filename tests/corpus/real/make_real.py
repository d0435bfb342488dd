#!/usr/bin/env python3
"""Builds the real-input corpus files in this folder from public sources present on the
machine that ran it (see each output file's header for source and licence). Not run by the
tests: the files are committed. Rerun to refresh (sources: `apt-get update` for the Debian
descriptions, `apt-get install iso-codes sqlmap`, and the stored copies of the public
repositories named below, each a bare git directory given by an environment variable).

Every set is deduplicated and, where large, sampled with a fixed seed. The tests split each
file into a tuning part and a held-out part by a hash of the line (see
tests/api/injection_corpus_real.rs); this script does not.

    tests/corpus/real/record_sqlmap.sh /tmp/sqlmap-values
    LIBINJECTION=… DITTO=… SQLFLUFF=… SQLMAP_VALUES=/tmp/sqlmap-values python3 tests/corpus/real/make_real.py
"""
import gettext
import glob
import os
import random
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261206)


def git_show(repo, path):
    return subprocess.run(["git", "--git-dir", repo, "show", f"HEAD:{path}"], capture_output=True,
                          check=True).stdout.decode("utf-8", "replace")


def usable(line):
    line = line.rstrip("\r\n")
    return line if line.strip() and not line.startswith("# ") and "\n" not in line else None


def write(name, header, lines, sample=None):
    seen, out = set(), []
    for line in lines:
        line = usable(line)
        if line is not None and line not in seen:
            seen.add(line)
            out.append(line)
    if sample and len(out) > sample:
        out = sorted(rng.sample(out, sample), key=out.index) if len(out) < 20000 else rng.sample(out, sample)
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for h in header.strip().splitlines():
            f.write("# " + h + "\n")
        f.write(f"# {len(out)} lines. Lines starting with \"# \" are comments.\n")
        for line in out:
            f.write(line + "\n")
    print(name, len(out))


def debian_descriptions():
    text = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, check=True).stdout.decode("utf-8", "replace")
    return [l[len("Description: "):] for l in text.splitlines() if l.startswith("Description: ")]


def cargo_descriptions():
    out = []
    for toml in glob.glob(os.path.expanduser("~/.cargo/registry/src/*/*/Cargo.toml")):
        m = re.search(r'^description\s*=\s*"((?:[^"\\]|\\.)*)"', open(toml, encoding="utf-8", errors="replace").read(), re.M)
        if m:
            out.append(" ".join(m.group(1).replace("\\n", " ").split()))
    return sorted(out)


def iso_names():
    out = []
    for mo in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/iso_3166-[12].mo")):
        with open(mo, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        out.extend(v for k, v in catalog.items() if k and isinstance(v, str))
    return out


def ditto_titles(repo):
    out = []
    for path in ["data/er_magellan/Structured/Walmart-Amazon", "data/er_magellan/Structured/Amazon-Google",
                 "data/er_magellan/Textual/Abt-Buy", "data/er_magellan/Structured/iTunes-Amazon",
                 "data/er_magellan/Structured/Beer"]:
        for part in ["train.txt", "valid.txt", "test.txt"]:
            try:
                text = git_show(repo, f"{path}/{part}")
            except subprocess.CalledProcessError:
                continue
            for row in text.splitlines():
                for rec in row.split("\t")[:2]:
                    m = re.search(r"COL (?:title|name|Song_Name|Beer_Name) VAL (.*?)(?: COL |$)", rec)
                    if m and m.group(1).strip():
                        out.append(m.group(1).strip())
    return out


def main():
    lib, ditto, fluff, sqlmap = (os.environ[k] for k in ["LIBINJECTION", "DITTO", "SQLFLUFF", "SQLMAP_VALUES"])
    write("search_libinjection_fp.txt", """
Search-box and form input that libinjection once flagged as SQL injection (its list of false
positives found in development, mostly shoppers' search terms, upper-cased by the site that
sent them). BENIGN: expected not to be an attack. Values are URL-encoded as in a query string.
Source: client9/libinjection, data/false_positives.txt -- BSD 3-Clause Licence,
(c) 2012-2016 Nick Galbreath.""", [l for l in git_show(lib, "data/false_positives.txt").splitlines() if not l.startswith("#")])
    write("search_product_titles.txt", """
Product titles from five entity-matching benchmarks (Walmart-Amazon, Amazon-Google, Abt-Buy,
iTunes-Amazon, Beer), as the ER-Magellan/DeepMatcher benchmark distributes them (lower-cased,
punctuation split off by spaces: an inch mark reads `24 '`). BENIGN: expected not to be an attack.
Source: megagonlabs/ditto, data/er_magellan/ -- Apache License 2.0 (c) Megagon Labs; the datasets
from the DeepMatcher benchmark (anhaidgroup/deepmatcher, BSD 3-Clause) and the Leipzig entity
resolution benchmarks (CC BY 4.0). Sampled to 12000 lines (seed 20261206).""", ditto_titles(ditto), 12000)
    write("prose_debian_descriptions.txt", """
One-line package descriptions written by Debian maintainers and upstream authors (the
`Description:` line of `apt-cache dumpavail` on Debian 12), plus the `description` of the Rust
crates in this project's dependency tree. BENIGN: expected not to be an attack.
Source: the Debian archive (every package under a DFSG-free licence; the descriptions are part
of each package's packaging), and the Cargo.toml metadata of those crates (each crate MIT and/or Apache-2.0).
Sampled to 36000 lines (seed 20261206).""", debian_descriptions() + cargo_descriptions(), 36000)
    write("names_places_iso_codes.txt", """
Country and subdivision (region, province, county, city) names in about a hundred languages and
scripts: the translations of ISO 3166-1 and ISO 3166-2 shipped by Debian's iso-codes package.
BENIGN: expected not to be an attack.
Source: Debian package iso-codes 4.x (/usr/share/locale/*/LC_MESSAGES/iso_3166-{1,2}.mo) --
GNU LGPL 2.1 or later, (c) the iso-codes translators. Sampled to 15000 lines (seed 20261206).""",
          iso_names(), 15000)
    subjects = [s for s in subprocess.run(["git", "--git-dir", fluff, "log", "--format=%s"], capture_output=True,
                                          check=True).stdout.decode("utf-8", "replace").splitlines()
                if not s.startswith(("Merge pull request", "Merge branch", "Merge remote"))]
    write("borderline_sqlfluff_commits.txt", """
Commit subjects of SQLFluff, a SQL linter: prose about SQL written by people, full of SQL
keywords, clause names and quoted fragments (`Add INSERT INTO <> DEFAULT VALUES`). BORDERLINE
BENIGN: not an attack; target at most 10 % refused as attack. Merge commits left out.
Source: sqlfluff/sqlfluff git history -- MIT License (c) 2018- Alan Cruickshank.""", subjects)
    attacks = []
    for name in ["sqli-forums.txt"]:
        forum = [l for l in git_show(lib, f"data/{name}").splitlines() if usable(l) and not l.startswith("#")]
        attacks += random.Random(7).sample(forum, 1500)
    for path in sorted(subprocess.run(["git", "--git-dir", lib, "ls-tree", "--name-only", "HEAD", "data/"],
                                      capture_output=True, check=True).stdout.decode().split()):
        if re.match(r"data/sqli-.*\.txt$", path) and not path.endswith("sqli-forums.txt"):
            try:
                attacks += [l for l in git_show(lib, path).splitlines() if not l.startswith("#")]
            except subprocess.CalledProcessError:
                pass
    write("attacks_libinjection.txt", """
SQL-injection ATTACK samples from libinjection's test data: every data/sqli-*.txt file except
the forum dump, plus 1500 lines sampled (seed 7) from data/sqli-forums.txt. URL-encoded as in a
query string, as libinjection's files give them. Expected: caught (either verdict).
Source: client9/libinjection -- BSD 3-Clause Licence, (c) 2012-2016 Nick Galbreath.""", attacks)
    values = []
    for path in sorted(glob.glob(os.path.join(sqlmap, "vals-*.txt"))):
        values += open(path, encoding="utf-8", errors="replace").read().splitlines()
    # The baseline value and the random numbers and words sqlmap compares pages with are not
    # injections: a value with nothing but letters, digits and a leading minus.
    values = [v for v in values if not re.fullmatch(r"-?[A-Za-z0-9]*", v)]
    write("attacks_sqlmap.txt", """
Every distinct value sqlmap 1.7.2 (Debian package) sent in the `id` parameter of
`http://127.0.0.1/items?id=1` at --level 5 --risk 3 (all tests, `reduce=N`), once plain and once
with each of the tamper scripts space2comment, between, charencode and randomcase, recorded by a
small HTTP server that answered every request with the same page (so sqlmap tried everything).
The baseline value and sqlmap's random page-comparison numbers and words (only letters, digits,
a leading minus) are left out. Expected: caught (either verdict). Values are as the server
decoded them from the query string; CR and LF are written %0d / %0a.
Source: generated for this corpus by running sqlmap (GPL-2.0 tool; its output payloads are data,
not code). Sampled to 10000 lines (seed 20261206).""", values, 10000)


main()
