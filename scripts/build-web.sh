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
# wasm-ld wraps every export in a run of all static constructors unless the module calls them
# itself (src/web/mod.rs, `start`); with cubecl's thousands of them, each call from JS cost
# about 0.5 ms. The wrappers are named `<export>.command_export` in the unstripped module.
if grep -q -a -F '.command_export' "$raw"; then
  echo "build-web: $raw wraps its exports in static constructor calls (.command_export); src/web/mod.rs's start() must call __wasm_call_ctors" >&2
  exit 1
fi
rm -rf pkg
# The name section is 9 MB of function names that only a debugger reads.
wasm-bindgen --target web --out-dir pkg --remove-name-section --remove-producers-section "$raw"
# Passes chosen by measurement (README, "Size of the download"): merging duplicate functions
# saves 2.3 % gzipped in 30 s. -O3 made the gzipped file 4 % larger; -O1 saved 3.3 % but took
# 2.5 min, and -Oz ran over 12 CPU minutes (npm's wasm-opt is binaryen compiled to wasm).
www/node_modules/.bin/wasm-opt ${WASM_OPT_FLAGS:---duplicate-function-elimination} pkg/ssl_playground_bg.wasm -o pkg/ssl_playground_bg.wasm

# The CPU backend's multi-threaded build (issue 12, part 3) into www/public/pkg-mt/, which the
# worker loads for CPU runs on a cross-origin isolated page. Wasm threads need std rebuilt with
# atomics (-Z build-std; RUSTC_BOOTSTRAP=1 lets the stable toolchain do it, as wasm-bindgen-rayon's
# maintainer suggests), and shared memory that the module imports, with a declared maximum and the
# thread-local exports wasm-bindgen's thread transform reads. No wgpu here: its types are not Send
# under atomics. RUSTFLAGS replaces .cargo/config.toml's flags, so +simd128 is repeated. Its own
# target dir: other flags would otherwise rebuild the main one each time.
if [ "${SSLP_THREADS:-1}" = 1 ]; then
  mt_flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
  for arg in --shared-memory --import-memory --max-memory=4294967296 --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base; do
    mt_flags="$mt_flags -C link-arg=$arg"
  done
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="$mt_flags" CARGO_TARGET_DIR="$CARGO_TARGET_DIR-mt" \
    cargo build --lib --locked --target wasm32-unknown-unknown --profile wasm --no-default-features --features threads -Z build-std=panic_abort,std
  mt=www/public/pkg-mt
  rm -rf "$mt"
  wasm-bindgen --target web --out-dir "$mt" --remove-name-section --remove-producers-section "$CARGO_TARGET_DIR-mt/wasm32-unknown-unknown/wasm/ssl_playground.wasm"
  # The pool's workers import the package as '../../..', a bundler's package root; served as
  # static files, they need the module's own file.
  helper=$(ls "$mt"/snippets/wasm-bindgen-rayon-*/src/workerHelpers.js)
  grep -q "import('../../..')" "$helper" || { echo "build-web: wasm-bindgen-rayon's workerHelpers.js no longer imports '../../..'; check how its workers load the module" >&2; exit 1; }
  sed -i "s#import('../../..')#import('../../../ssl_playground.js')#" "$helper"
  rm -f "$mt"/*.d.ts "$mt"/.gitignore
  www/node_modules/.bin/wasm-opt ${WASM_OPT_FLAGS:---duplicate-function-elimination} "$mt/ssl_playground_bg.wasm" -o "$mt/ssl_playground_bg.wasm"
else
  rm -rf www/public/pkg-mt # SSLP_THREADS=0: the CPU backend stays on one thread
fi

# SSLP_BASELINE=1: also build pkg-base/, the CPU path as it was before issue 12 (no SIMD, one
# thread, no WebGPU), which bench.html's `cpu-base` measures beside today's build in one run.
# Off by default: it is one more cold wasm build (its own target directory).
if [ "${SSLP_BASELINE:-0}" = 1 ]; then
  RUSTFLAGS="-C target-feature=-simd128" CARGO_TARGET_DIR="$CARGO_TARGET_DIR-base" \
    cargo build --lib --locked --target wasm32-unknown-unknown --profile wasm --no-default-features
  rm -rf www/public/pkg-base
  wasm-bindgen --target web --out-dir www/public/pkg-base --remove-name-section --remove-producers-section "$CARGO_TARGET_DIR-base/wasm32-unknown-unknown/wasm/ssl_playground.wasm"
  rm -f www/public/pkg-base/*.d.ts www/public/pkg-base/.gitignore
else
  rm -rf www/public/pkg-base
fi

(cd www && npm run --silent build)

wasm=pkg/ssl_playground_bg.wasm
printf 'wasm: %s bytes raw, %s bytes gzipped (-9)\n' "$(wc -c < "$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"
mt_wasm=www/public/pkg-mt/ssl_playground_bg.wasm
[ -f "$mt_wasm" ] && printf 'wasm, multi-threaded CPU build: %s bytes raw, %s bytes gzipped (-9)\n' "$(wc -c < "$mt_wasm")" "$(gzip -9 -c "$mt_wasm" | wc -c)"
echo "site: www/dist ($(du -sh www/dist | cut -f1)); serve it with: node www/scripts/serve.mjs www/dist"
