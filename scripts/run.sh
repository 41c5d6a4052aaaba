#!/usr/bin/env bash
# The README's run command. Until the browser playground lands, it trains SimCLR on the
# bundled Fashion-MNIST pack with the native CLI and prints the progress and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sslp-target}"
cargo run --release --locked --bin sslp -- train --method simclr --dataset fashion-mnist --backbone small-cnn \
  --steps "${STEPS:-600}" --batch 128 --device cpu --seed 1 --eval-every 200 "$@"
