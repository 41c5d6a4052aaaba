#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian-like machine (idempotent).
#   scripts/setup.sh            Rust's wasm32 target, wasm-bindgen-cli at the lockfile's version,
#                               the page's npm packages (exact versions from package-lock.json)
#   scripts/setup.sh --test     also Debian's chromium (browser tests) and Mesa's lavapipe
#                               Vulkan driver (native wgpu tests without a GPU)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_need=()
if [ "${1:-}" = "--test" ]; then
  for pkg in mesa-vulkan-drivers libvulkan1 chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || apt_need+=("$pkg")
  done
fi
if [ ${#apt_need[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  echo "setup: apt-get install ${apt_need[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_need[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The multi-threaded CPU build rebuilds std with wasm atomics (-Z build-std), from std's source.
if ! rustup component list --installed | grep -q '^rust-src'; then
  echo "setup: rustup component add rust-src"
  rustup component add rust-src
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  echo "setup: cargo install wasm-bindgen-cli $bindgen_version (about 2 minutes)"
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force --quiet # (--force: reinstall when the binary is missing but cargo remembers it; no --locked: its lockfile pins a webpki-roots that crates.io no longer serves)
fi

command -v npm >/dev/null || { echo "setup: Node.js 20+ and npm are needed (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d www/node_modules ] || [ www/package-lock.json -nt www/node_modules/.package-lock.json ]; then
  echo "setup: npm ci (www/)"
  (cd www && npm ci --no-audit --no-fund --loglevel=error)
fi
