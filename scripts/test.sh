#!/usr/bin/env bash
# The README's test command: installs what it needs, then runs every test (release build:
# Burn in debug is too slow to train in a test). Set CARGO_TARGET_DIR to keep a warm cache.
set -euo pipefail # pipefail: a failing cargo test fails the script through tee
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sslp-target}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --release --locked -- --test-threads=2 2>&1 | tee "$log"
# One closing line over every test binary, so the totals are read in one place.
grep -E '^test result:' "$log" | awk '{p += $4; f += $6} END {print p " passed, " f " failed"}'
