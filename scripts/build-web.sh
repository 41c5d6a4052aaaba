#!/usr/bin/env bash
# Builds the static site into www/dist/: the wasm crate (release, profile `wasm`), its JS glue
# (wasm-bindgen --target web → pkg/), wasm-opt (npm binaryen), then the page and worker (Vite).
# The result needs no server logic and makes no request outside its origin.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sslp-target}"

cargo build --lib --locked --target wasm32-unknown-unknown --profile wasm
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/ssl_playground.wasm"
rm -rf pkg
# The name section is 9 MB of function names that only a debugger reads.
wasm-bindgen --target web --out-dir pkg --remove-name-section --remove-producers-section "$raw"
# Passes chosen by measurement (README, "Size of the download"): merging duplicate functions
# saves 2.3 % gzipped in 30 s. -O3 made the gzipped file 4 % larger; -O1 saved 3.3 % but took
# 2.5 min, and -Oz ran over 12 CPU minutes (npm's wasm-opt is binaryen compiled to wasm).
www/node_modules/.bin/wasm-opt ${WASM_OPT_FLAGS:---duplicate-function-elimination} pkg/ssl_playground_bg.wasm -o pkg/ssl_playground_bg.wasm

(cd www && npm run --silent build)

wasm=pkg/ssl_playground_bg.wasm
printf 'wasm: %s bytes raw, %s bytes gzipped (-9)\n' "$(wc -c < "$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"
echo "site: www/dist ($(du -sh www/dist | cut -f1)); serve it with: node www/scripts/serve.mjs www/dist"
