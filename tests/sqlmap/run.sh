#!/usr/bin/env bash
# sqlmap against a running Palisade: the scanner's first injected request must be refused and
# its address locked, and nothing it sends afterwards may be served. Installs Debian's sqlmap
# when missing (apt-get; CI runs as root) and skips, saying so, where it cannot be installed.
#
#   tests/sqlmap/run.sh
#
# One parameter (`status` of a token's list of clients), level 2 / risk 1, `--batch`, a short
# `--timeout`, and a wall-clock bound: the point is the first injected request, not coverage
# (the detector's coverage of sqlmap's level-5 payloads is measured in `cargo test`, on the
# values in tests/corpus/real/attacks_sqlmap.txt). sqlmap's traffic file (`-t`) gives every
# request it made with the status it got; a request whose `status` value is not the original
# one is an injected request, and each must have been answered 403.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if ! command -v sqlmap >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y sqlmap >/dev/null 2>&1) \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y sqlmap >/dev/null 2>&1; } || true
  elif command -v sudo >/dev/null; then
    (sudo -n apt-get update >/dev/null 2>&1 && sudo -n apt-get install -y sqlmap >/dev/null 2>&1) || true
  fi
fi
if ! command -v sqlmap >/dev/null; then
  echo "sqlmap: SKIPPED: the Debian package sqlmap cannot be installed here (not root, no apt-get or no network)"
  exit 0
fi

cargo build --quiet
bin="$root/target/debug/palisade"
. "$root/tests/serve.sh"
serve_palisade "$bin" --config "$here/sqlmap.toml"
pal() { "$bin" --config "$here/sqlmap.toml" --data-dir "$data" "$@"; }
token="$(pal token create --name sqlmap --scope '*:r')"

echo "sqlmap: $(sqlmap --version 2>/dev/null | head -n1) against $addr/api/v1/clients?status=active"
timeout 180 sqlmap -u "$addr/api/v1/clients?status=active" -p status \
  --headers "Authorization: Bearer $token" --level 2 --risk 1 --batch --timeout 3 --retries 0 \
  --flush-session --output-dir "$work/sqlmap" -t "$work/traffic.txt" >"$work/sqlmap.out" 2>&1 || true

python3 - "$work/traffic.txt" <<'PY'
import re, sys, urllib.parse
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
# Each exchange: "HTTP request [#N]:\nGET /path?query HTTP/1.1 …", then "HTTP response [#N] (403 Forbidden):
# … body". An injected request is any whose query is not the original one (sqlmap's first
# probe adds a parameter of its own; later ones change `status`).
requests = re.findall(r"HTTP request \[#(\d+)\]:\n\w+ (\S+) HTTP", text)
responses = {n: (status, body) for n, status, body in
             re.findall(r"HTTP response \[#(\d+)\] \((\d+)[^)]*\):\n(.*?)(?=\n#{20,}|\Z)", text, re.S)}
served, injected, refused, first = [], 0, 0, None
for n, target in requests:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query, keep_blank_values=True)
    status, body = responses.get(n, ("none", ""))
    if query != {"status": ["active"]}:
        injected += 1
        refused += status == "403"
        if first is None:
            first = (n, status, body)
        if status != "403":
            served.append(f"#{n} {status} {query}")
print(f"sqlmap: {len(requests)} requests, {injected} injected, {refused} of them refused 403")
if first is None:
    sys.exit("sqlmap: FAILED: sqlmap sent no injected request (see its output)")
if "injection_detected" not in first[2]:
    sys.exit(f"sqlmap: FAILED: the first injected request (#{first[0]}) got {first[1]}, not 403 injection_detected")
if served:
    sys.exit("sqlmap: FAILED: injected requests not refused:\n  " + "\n  ".join(served[:20]))
PY

locks="$(pal locks list --json)"
if ! grep -q '"kind":"ip"' <<<"$locks"; then
  echo "sqlmap: FAILED: no IP lock after the scan: $locks" >&2
  exit 1
fi
status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$addr/api/v1/clients?status=active")"
if [ "$status" != 403 ]; then
  echo "sqlmap: FAILED: a clean request from the locked address got $status, not 403" >&2
  exit 1
fi
echo "sqlmap: passed: refused from its first injected request, address locked"
