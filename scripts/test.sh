#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what CI runs.
# It installs what the tests need when it is missing and can be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is missing; install the Rust toolchain (rustup) first" >&2
  exit 1
fi

# The Redis tests start their own redis-server (and use redis-cli) from PATH.
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing redis-server (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "error: redis-server is missing; install it (e.g. sudo apt-get install redis-server)" >&2
    exit 1
  fi
fi

# The interop suites drive the examples with the official clients, and the
# chat page with Debian's Chromium.
install_apt() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $* (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "error: $* missing; install with: sudo apt-get install $*" >&2
    exit 1
  fi
}
command -v node >/dev/null 2>&1 || install_apt nodejs npm
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || install_apt chromium

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Unit, integration, UI (trybuild) and doc tests of every crate of the workspace.
cargo test --workspace --all-targets --all-features 2>&1 | tee -a "$log"
cargo test --workspace --doc --all-features 2>&1 | tee -a "$log"

# The official JavaScript client and the browser, against the real examples;
# the chat's contract checked by AsyncAPI's parser (js/contract.test.mjs) and
# by TypeScript: the chat page and the TypeScript suite type-check against it
# (tsconfig.json), then that suite runs beside the JavaScript ones (tsx,
# installed in interop/, hence the cd).
cargo build --examples
(cd interop && npm ci --no-audit --no-fund)
(cd interop && npx tsc -p tsconfig.json && npx tsc -p ../clients/js/tsconfig.json) 2>&1 | tee -a "$log"
(cd interop && node --import tsx --test --test-concurrency=1 js/ ts/chat.test.ts) 2>&1 | tee -a "$log"

# The official Python client (python-socketio), as FastApp's users run it.
venv=target/interop-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r interop/python/requirements.txt
"$venv/bin/python" -m pytest -q interop/python 2>&1 | tee -a "$log"

# One closing line for the whole run: cargo's, node's and pytest's counts.
awk '/^test result:/ || /^[0-9]+ (passed|failed)/ || / (passed|failed)(,| in )/ {
       for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "all tests: %d passed, %d failed\n", p, f; exit (f > 0 || p == 0) }' "$log"
