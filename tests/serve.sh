# Sourced by the scripts that test a live server (tests/contract/run.sh, tests/browser/run.sh).
# `serve_palisade BIN ARGS...` starts `BIN ARGS... --data-dir DIR serve --listen
# 127.0.0.1:0` on a fresh temp data dir and waits until it listens. It sets `work` (a temp dir,
# removed on exit), `data` (the data dir), `server` (the pid) and `addr` (http://host:port),
# and stops the server on exit. Every ARGS must come before `serve`.
serve_palisade() {
  work="$(mktemp -d)"
  data="$work/data"
  mkdir -m 0700 "$data"
  "$@" --data-dir "$data" serve --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do
    grep -q "listening on" "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  addr="$(sed -n 's/^listening on //p' "$work/server.out" | head -n1)"
  if [ -z "$addr" ]; then
    echo "the server did not start:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
}
