"""Builds names_addresses_faker.txt: names, companies and addresses in 50 locales from Faker
(pip install faker; MIT). Run from the repository root: python3 tests/corpus/real/make_faker.py"""
import random
from faker import Faker
locales = ["en_US","en_GB","en_IE","en_AU","en_CA","en_IN","fr_FR","fr_CA","de_DE","de_AT","it_IT","es_ES","es_MX","pt_BR","pt_PT","nl_NL","nl_BE","no_NO","sv_SE","da_DK","fi_FI","pl_PL","cs_CZ","hu_HU","ro_RO","tr_TR","ru_RU","uk_UA","el_GR","he_IL","ar_AA","fa_IR","hi_IN","ja_JP","ko_KR","zh_CN","zh_TW","th_TH","vi_VN","id_ID","fil_PH","en_NZ","ga_IE","hr_HR","sk_SK","sl_SI","bg_BG","lt_LT","lv_LV","et_EE"]
out, seen = [], set()
rng = random.Random(20261206)
for loc in locales:
    try:
        f = Faker(loc)
    except Exception:
        continue
    f.seed_instance(20261206)
    for _ in range(260):
        kind = rng.random()
        if kind < 0.35:
            v = f.address().replace("\n", ", ")
        elif kind < 0.6:
            v = f.name()
        elif kind < 0.75:
            v = f.company()
        elif kind < 0.85:
            v = f.street_address()
        else:
            v = f"{f.name()}, {f.city()}"
        if v not in seen and not v.startswith("# "):
            seen.add(v); out.append(v)
print(len(out))
with open("tests/corpus/real/names_addresses_faker.txt", "w", encoding="utf-8") as fh:
    fh.write("""# Personal names, company names and postal addresses in 50 locales (scripts and address
# formats of each), as Faker composes them from its per-locale lists of real given names,
# family names, street names, cities and company suffixes (apostrophes, `#`, `/`, `No.`, `Apt.`
# included). BENIGN: expected not to be an attack.
# Source: generated with the Python package Faker 40.63 (MIT License, (c) joke2k and
# contributors), seed 20261206, 260 draws per locale, deduplicated.
""")
    fh.write(f"# {len(out)} lines. Lines starting with \"# \" are comments.\n")
    for v in out:
        fh.write(v + "\n")
