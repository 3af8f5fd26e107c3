#!/usr/bin/env bash
# Instructions per broadcast through the derive and through a hand-written
# socketioxide emit, counted by callgrind in one run (deterministic, unlike
# wall time on a shared machine). Usage: bash bench/emit-cost.sh [EVENTS]
# METRICS=1 bash bench/emit-cost.sh: with the Prometheus recorder installed.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-5000}"
command -v valgrind >/dev/null || { echo "emit-cost: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p fast-app-bench --bin emit-cost
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "${CARGO_TARGET_DIR:-target}/release/emit-cost" "$events" 2>/dev/null | grep EMIT-COST
callgrind_annotate --inclusive=yes --threshold=100 "$out/cg" 2>/dev/null | awk -v n="$events" '
    $0 ~ /:fast_app_bench::emits::derive_chunk::\{\{closure\}\} / && !derive { gsub(",", "", $1); derive = $1 }
    $0 ~ /:fast_app_bench::emits::hand_chunk::\{\{closure\}\} / && !hand { gsub(",", "", $1); hand = $1 }
    END {
        if (!derive || !hand) { print "emit-cost: chunk functions not found in the profile" > "/dev/stderr"; exit 1 }
        printf "instructions per broadcast: derive %.0f, hand-written %.0f, ratio %.3f\n", derive / n, hand / n, derive / hand
    }'
