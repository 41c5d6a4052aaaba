#!/usr/bin/env bash
# The README's test command: installs what it needs, then runs every test:
#   1. native Rust tests (release build: Burn in debug is too slow to train in a test),
#   2. the page's unit tests (Vitest: URL ↔ config, message protocol, smoothing, images),
#   3. the browser end-to-end test (the built dist/ in headless Chromium, WebGPU + CPU).
# Set CARGO_TARGET_DIR to keep a warm cache (default ~/.cache/sslp-target).
set -euo pipefail # pipefail: a failing cargo test fails the script through tee
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh --test
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sslp-target}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# --no-default-features: the native tests run on the CPU backend; leaving out the native
# wgpu stack saves about ten minutes of a cold build (the browser test covers WebGPU).
cargo test --release --locked --no-default-features -- --test-threads=2 2>&1 | tee "$log"
./scripts/build-web.sh 2>&1 | tee -a "$log"
(cd www && npx vitest run) 2>&1 | tee -a "$log"
E2E_OUT="${E2E_OUT:-$CARGO_TARGET_DIR/e2e}" node www/tests/e2e/run.mjs 2>&1 | tee -a "$log"

# One closing line over every suite, so the totals are read in one place.
rust=$(grep -E '^test result:' "$log" | awk '{p += $4; f += $6} END {print p + 0, f + 0}')
vitest=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ +Tests +[0-9]+ passed' | awk '{print $2}' | tail -1)
e2e=$(grep -E '^browser e2e:' "$log" | awk '{print $3, $5}' | tail -1)
read -r rp rf <<<"$rust"
read -r ep ef <<<"$e2e"
echo "$((rp + ${vitest:-0} + ep)) passed, $((rf + ef)) failed (rust $rp/$rf, vitest ${vitest:-0}, browser $ep/$ef) in $(( ($(date +%s) - start) / 60 )) min"
