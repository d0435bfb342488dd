#!/usr/bin/env bash
# The API Explorer's browser test: installs Debian's Chromium and playwright-core when
# missing, starts Palisade on a temp data dir, creates a sandbox token (read-only, fakes) and a
# full-access one (the write flows), and drives the page in headless Chromium
# (tests/browser/explorer.mjs). Screenshots land in tests/browser/results/ (explorer-1400.png,
# explorer-900.png, explorer-graphql-900.png). Usage: tests/browser/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y chromium >/dev/null 2>&1) || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
  else
    sudo apt-get update >/dev/null && sudo apt-get install -y chromium >/dev/null
  fi
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm install --no-audit --no-fund --silent >/dev/null)
fi

cargo build --quiet
bin="$root/target/debug/palisade"
mkdir -p "$here/results"
. "$root/tests/serve.sh"
serve_palisade "$bin"

# The page makes a request per grid page, lookup and probe: more than the default 60 a minute.
token="$("$bin" --data-dir "$data" token create --name explorer --scope '*:r' --sandbox --rate 5000)"
full="$("$bin" --data-dir "$data" token create --name explorer-admin --scope '*:crud' --introspection --rate 5000)"

BASE_URL="$addr" TOKEN="$token" FULL_TOKEN="$full" RESULTS="$here/results" node "$here/explorer.mjs"
