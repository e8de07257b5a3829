#!/bin/sh
# Builds the browser bundle into web/dist, which `tilegame-server --web` serves by default.
#
#   web/build.sh            (from anywhere; needs the wasm32-unknown-unknown target:
#                            rustup target add wasm32-unknown-unknown)
#
# Steps: a release build of the tilegame-web crate for wasm32-unknown-unknown; wasm-bindgen
# (the CLI pinned to exactly the wasm-bindgen version in Cargo.lock, installed with
# `cargo install --locked` only when missing or another version); wasm-opt from binaryen when
# installed and version 116 or newer; then index.html next to the bundle.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$version" ]; then
    echo "web/build.sh: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
    echo "web/build.sh: installing wasm-bindgen-cli $version"
    # --locked builds the CLI with the versions its release was tested with; when one of
    # them has since been yanked from the registry, cargo cannot use it, so resolve afresh.
    cargo install --locked wasm-bindgen-cli --version "$version" ||
        cargo install wasm-bindgen-cli --version "$version"
fi

# The wasm-release profile (Cargo.toml): release, optimised for size, symbols stripped.
# With wasm SIMD (simd128, in every current browser): egui's text rasterizer (vello_cpu on
# fearless_simd) then compiles its SIMD path only, instead of the scalar fallback.
# RUSTFLAGS with --target reaches the wasm crates only, not build scripts or proc-macros.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+simd128" \
    cargo build --locked --profile wasm-release -p tilegame-web --target wasm32-unknown-unknown
target_dir=${CARGO_TARGET_DIR:-$root/target}
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/tilegame_web.wasm"

out="$root/web/dist"
rm -rf "$out"
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name tilegame "$wasm"

# wasm-opt from binaryen when present and new enough: binaryen 108 (Debian bookworm) rewrites
# the function table wasm-bindgen sets up so that the page fails to start
# ("WebAssembly.Table.set(): Argument 1 is invalid"), caught by tests/tests/browser.rs.
opt_version=$(wasm-opt --version 2>/dev/null | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p')
if [ -n "$opt_version" ] && [ "$opt_version" -ge 116 ]; then
    if wasm-opt -O2 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$out/tilegame_bg.wasm" -o "$out/tilegame_bg.opt.wasm"; then
        mv "$out/tilegame_bg.opt.wasm" "$out/tilegame_bg.wasm"
    else
        rm -f "$out/tilegame_bg.opt.wasm"
        echo "web/build.sh: wasm-opt failed; keeping the unoptimised wasm" >&2
    fi
elif [ -n "$opt_version" ]; then
    echo "web/build.sh: wasm-opt $opt_version is older than 116 (it breaks the bundle); not used" >&2
else
    echo "web/build.sh: wasm-opt not found (binaryen); keeping the unoptimised wasm" >&2
fi

cp "$root/web/index.html" "$out/index.html"
echo "web/build.sh: bundle in $out:"
ls -l "$out"
