#!/usr/bin/env bash
# The fan-out benchmark: fast-app and the reference stacks (rust-raw, Node
# socket.io, FastApp's python-socketio) one after another, in one run, on a
# private redis-server. Usage: bash bench/run.sh [a|b|c|paced|all] [STACK...]
# (default: all shapes, every stack). REPEAT=N runs every stack N times per
# shape, rotating their order, and reports medians. Results go to stdout.
# Stack `fast-app-axum` (never by default) is fast-app's server on
# `axum::serve` instead of `fast_app::serve`: what the serving path costs.
# Stack `fast-app-history` (never by default) is fast-app with the chat rooms
# keeping history (`#[room(history = 100)]`, the `history` feature, built in
# target/bench-history): what history on Redis costs.
# Two more shapes, not part of `all` (python is left out of both, as of (c)):
#   bash bench/run.sh storm [STACK...]  every client connects and joins at
#     once; sizes STORM_SIZES (default "10000 19000"), STORM_ROOMS (1000).
#   bash bench/run.sh soak [STACK...]   SOAK_CLIENTS (10000) in SOAK_ROOMS
#     (1000), SOAK_RATE events/s (500) for SOAK_SECS (600); server RSS every
#     SOAK_SAMPLE_SECS (30), latency per SOAK_WINDOW_SECS (60).
set -euo pipefail
cd "$(dirname "$0")/.."
anchors=$(realpath "${ANCHORS:-../shared/anchors}")
work=target/bench
bin=${CARGO_TARGET_DIR:-target}/release
shape=${1:-all}
shift || true
stacks=("$@")
case $shape in storm | soak) all_stacks=(fast-app rust-raw node) ;; *) all_stacks=(fast-app rust-raw node python) ;; esac
[ ${#stacks[@]} -gt 0 ] || stacks=("${all_stacks[@]}")
want() { local s; for s in "${stacks[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
mkdir -p "$work"

cargo build --release -q -p fast-app-bench
history_bin=target/bench-history/release
if want fast-app-history; then
  cargo build --release -q -p fast-app-bench --features history --target-dir target/bench-history
fi
if want rust-raw; then
  rm -rf "$work/rust-raw" && cp -r "$anchors/rust-raw" "$work/rust-raw" && chmod -R u+w "$work/rust-raw"
  (cd "$work/rust-raw" && CARGO_TARGET_DIR=../rust-raw-target cargo build --release -q)
fi
if want node; then
  rm -rf "$work/node" && cp -r "$anchors/node" "$work/node" && chmod -R u+w "$work/node"
  (cd "$work/node" && npm ci --no-audit --no-fund --silent)
fi
if want python; then
  rm -rf "$work/python" && cp -r "$anchors/python" "$work/python" && chmod -R u+w "$work/python"
  [ -x "$work/py/bin/python" ] || python3 -m venv "$work/py"
  "$work/py/bin/pip" install -q --disable-pip-version-check -r "$work/python/requirements.txt"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
# Every client is an open file in the generator and one more in the server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

stack_args() {
  local args=()
  want fast-app && args+=(--stack "fast-app=$bin/fanout-server;;$bin/fanout-emitter")
  want fast-app-axum && args+=(--stack "fast-app-axum=env FAST_APP_SERVE=axum $bin/fanout-server;;$bin/fanout-emitter")
  want fast-app-history && args+=(--stack "fast-app-history=$history_bin/fanout-server;;$history_bin/fanout-emitter")
  want rust-raw && args+=(--stack "rust-raw=$work/rust-raw-target/release/server;;$work/rust-raw-target/release/emitter")
  want node && args+=(--stack "node=node $work/node/server.js;;node $work/node/emitter.js")
  [ "${1:-}" != no-python ] && want python && args+=(--stack "python=$work/py/bin/python $work/python/server.py;;$work/py/bin/python $work/python/emitter.py")
  printf '%s\n' "${args[@]}"
}
run() { # clients rooms events rate [no-python]
  mapfile -t args < <(stack_args "${5:-}")
  "$bin/fanout" --redis "redis://127.0.0.1:$port/14" --repeat "${REPEAT:-1}" \
    --clients "$1" --rooms "$2" --events "$3" --rate "$4" "${args[@]}"
  echo
}

storm() { # clients
  mapfile -t args < <(stack_args no-python)
  "$bin/fanout" --mode storm --redis "redis://127.0.0.1:$port/14" --repeat "${REPEAT:-1}" \
    --clients "$1" --rooms "${STORM_ROOMS:-1000}" "${args[@]}"
  echo
}
soak() {
  mapfile -t args < <(stack_args no-python)
  "$bin/fanout" --mode soak --redis "redis://127.0.0.1:$port/14" --repeat "${REPEAT:-1}" \
    --clients "${SOAK_CLIENTS:-10000}" --rooms "${SOAK_ROOMS:-1000}" --rate "${SOAK_RATE:-500}" \
    --duration "${SOAK_SECS:-600}" --sample-secs "${SOAK_SAMPLE_SECS:-30}" \
    --window-secs "${SOAK_WINDOW_SECS:-60}" "${args[@]}"
  echo
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); $(date -u +%F); open files $(ulimit -n)"
case $shape in a | all) run 1000 100 20000 0 ;; esac
case $shape in b | all) run 200 1 2000 0 ;; esac
case $shape in c | all) run 10000 1000 20000 0 no-python ;; esac
case $shape in paced | all) run 1000 100 10000 1000 ;; esac
case $shape in storm) for n in ${STORM_SIZES:-10000 19000}; do storm "$n"; done ;; esac
case $shape in soak) soak ;; esac
