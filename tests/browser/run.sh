#!/usr/bin/env bash
# The API Explorer's browser test: installs Debian's Chromium and playwright-core when
# missing, starts Palisade on a temp data dir, creates a sandbox token, and drives the page in
# headless Chromium (tests/browser/explorer.mjs). The screenshot lands in
# tests/browser/results/explorer.png. Usage: tests/browser/run.sh
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

token="$("$bin" --data-dir "$data" token create --name explorer --scope '*:r' --sandbox)"

BASE_URL="$addr" TOKEN="$token" SCREENSHOT="$here/results/explorer.png" node "$here/explorer.mjs"
