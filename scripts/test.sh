#!/usr/bin/env bash
# The README's test command: installs what it needs, then runs every test (release build:
# Burn in debug is too slow to train in a test). Set CARGO_TARGET_DIR to keep a warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sslp-target}"
cargo test --release --locked -- --test-threads=2
