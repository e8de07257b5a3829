#!/bin/sh
# Prints the browser figures the README quotes: the bundle's size (wasm + js, gzip -9; the
# fonts are inside the wasm), and from the browser test (headless Chromium on loopback) the
# time from navigation to the first frame drawn over the map (a `?join&name=` link in a fresh
# browser), to the menu's first frame, and the Snapshots received per second while moving.
# Build the bundle first: web/build.sh.
set -eu
cd "$(dirname "$0")/.."
for f in web/dist/tilegame_bg.wasm web/dist/tilegame.js; do
    [ -f "$f" ] || { echo "web/figures.sh: $f is missing: run web/build.sh" >&2; exit 1; }
done
raw=$(($(wc -c < web/dist/tilegame_bg.wasm) + $(wc -c < web/dist/tilegame.js)))
gz=$(($(gzip -9c web/dist/tilegame_bg.wasm | wc -c) + $(gzip -9c web/dist/tilegame.js | wc -c)))
echo "bundle: wasm + js $raw bytes, $gz bytes gzipped ($(awk "BEGIN { printf \"%.2f\", $gz / 1048576 }") MiB)"
cargo test --locked -p tilegame-tests --test browser -- --nocapture 2>&1 | grep "browser figure" ||
    { echo "web/figures.sh: the browser test printed no figures (run it for its failure)" >&2; exit 1; }
