#!/usr/bin/env bash
# The contract fuzzer: schemathesis (pinned in requirements.txt, installed into a local virtual
# environment) against a server started on a temp data dir, with a full-access token, with a
# read-only one and with none (the public views), every phase (examples, coverage, fuzzing, stateful links). A run
# fails on any 5xx and on any response that does not match the document: status, content
# type, body schema, headers — every check schemathesis has (`--checks all`, with the one
# per-operation expectation in schemathesis.toml). Before that, the document itself is validated against the
# OpenAPI 3.1 meta-schema (openapi-spec-validator), offline and as each token receives it.
#
#   tests/contract/run.sh            (MAX_EXAMPLES=N to change the cases per operation)
#
# One worker: schemathesis' workers are threads, and hypothesis parsing lambda sources with
# `ast` from two threads at once trips CPython 3.11's "AST constructor recursion depth
# mismatch" now and then (a tool error, not a finding).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/target/contract-venv"
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi

cargo build --quiet
bin="$root/target/debug/palisade"
. "$root/tests/serve.sh"
serve_palisade "$bin" --config "$here/contract.toml"
pal() { "$bin" --config "$here/contract.toml" --data-dir "$data" "$@"; }
full="$(pal token create --name contract-full --scope '*:crud')"
readonly_token="$(pal token create --name contract-read --scope '*:r')"

echo "contract: the document against the OpenAPI 3.1 meta-schema"
"$bin" --config "$here/contract.toml" schema openapi >"$work/offline.json"
curl -sf "$addr/api/v1/openapi.json" >"$work/anonymous.json"
curl -sf -H "Authorization: Bearer $full" "$addr/api/v1/openapi.json" >"$work/full.json"
curl -sf -H "Authorization: Bearer $readonly_token" "$addr/api/v1/openapi.json" >"$work/read.json"
for doc in offline anonymous full read; do
  "$venv/bin/openapi-spec-validator" "$work/$doc.json"
done

checks="all"
status=0
for who in full read public; do
  auth=()
  case "$who" in
    full) auth=(-H "Authorization: Bearer $full") ;;
    read) auth=(-H "Authorization: Bearer $readonly_token") ;;
  esac
  echo "contract: schemathesis as the $who token"
  # A lock from the previous run's injection-shaped cases lasts a second (contract.toml):
  # let it expire before loading the document again.
  for _ in $(seq 50); do
    curl -sf -o /dev/null "$addr/health" && break
    sleep 0.1
  done
  # (run from the temp dir: schemathesis keeps a cache in its working directory)
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "$addr/api/v1/openapi.json" \
    --url "$addr" \
    "${auth[@]}" \
    --checks "$checks" \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${MAX_EXAMPLES:-40}" \
    --workers 1 \
    --seed 20261204 \
    --suppress-health-check all \
    --warnings off \
    --report junit --report-junit-path "$work/$who.xml") || status=1
  python3 - "$work/$who.xml" "$who" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
print(f"contract ({sys.argv[2]} token): {tests} operations, {failures} failing")
PY
done
kill -0 "$server" || { echo "contract: the server died"; cat "$work/server.err"; exit 1; }
exit "$status"
