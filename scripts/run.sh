#!/usr/bin/env bash
# The README's run command: installs what it needs, builds the playground (wasm + page) into
# www/dist/ and serves it at http://127.0.0.1:8080/ (PORT and HOST override). Open that URL in
# Chrome or Edge; without WebGPU the page trains on its CPU backend.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh
exec node www/scripts/serve.mjs www/dist "${PORT:-8080}" "${HOST:-127.0.0.1}"
