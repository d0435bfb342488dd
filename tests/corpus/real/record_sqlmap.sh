#!/usr/bin/env bash
# Records every distinct value sqlmap sends, for attacks_sqlmap.txt (make_real.py reads the
# files this writes). A tiny HTTP server answers every request with the same page, so sqlmap
# finds nothing and tries everything; it appends each new query-parameter value to
# OUT/vals-TAMPER.txt (CR and LF written %0d / %0a). Needs python3 and Debian's sqlmap.
#
#   tests/corpus/real/record_sqlmap.sh OUT_DIR     (then SQLMAP_VALUES=OUT_DIR make_real.py)
set -euo pipefail
out="$(mkdir -p "$1" && cd "$1" && pwd)"
port=18770
for tamper in none space2comment between charencode randomcase; do
  port=$((port + 1))
  python3 - "$port" "$out/vals-$tamper.txt" <<'PY' &
import http.server, sys, threading, urllib.parse
out = open(sys.argv[2], "a", buffering=1)
seen, lock = set(), threading.Lock()
class Page(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        for _, value in urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True):
            value = value.replace("\r", "%0d").replace("\n", "%0a")
            with lock:
                if value not in seen:
                    seen.add(value)
                    out.write(value + "\n")
        body = b"<html><body><h1>Items</h1><p>Item one, a plain page.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Page).serve_forever()
PY
  recorder=$!
  sleep 1
  extra=()
  [ "$tamper" != none ] && extra=(--tamper="$tamper")
  sqlmap -u "http://127.0.0.1:$port/items?id=1" -p id --level 5 --risk 3 --batch --answers="reduce=N" \
    --flush-session --output-dir "$out/sqlmap-$tamper" --threads 4 --timeout 5 "${extra[@]}" >"$out/run-$tamper.log" 2>&1 || true
  kill "$recorder"
  wait "$recorder" 2>/dev/null || true
done
