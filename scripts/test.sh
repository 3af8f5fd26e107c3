#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what CI runs.
# It installs what the tests need when it is missing and can be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is missing; install the Rust toolchain (rustup) first" >&2
  exit 1
fi

# Unit, integration, UI (trybuild) and doc tests of every crate of the workspace.
cargo test --workspace --all-targets
cargo test --workspace --doc
