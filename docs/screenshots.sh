#!/bin/sh
# Regenerates the README's screenshots (docs/menu.png, docs/game.png) from the real game in a
# virtual X display, with Mesa's software renderer. Needs xvfb, xauth and imagemagick
# (apt-get install xvfb xauth imagemagick) besides the packages the game needs.
#   sh docs/screenshots.sh                   # builds and uses target/release/tilegame
#   TILEGAME_BIN=target/debug/tilegame sh docs/screenshots.sh
set -eu
cd "$(dirname "$0")/.."
bin=${TILEGAME_BIN:-target/release/tilegame}
[ -n "${TILEGAME_BIN:-}" ] || cargo build --release -p tilegame-client
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR="$tmp"
shot() {
    out=$1
    shift
    xvfb-run -a -s "-screen 0 1280x800x24" "$bin" --config-dir "$tmp/config" \
        --frames 10 --screenshot "$tmp/$out.png" "$@"
    # Half size, 64 colours: small enough to keep in the repository.
    convert "$tmp/$out.png" -resize 50% -colors 64 "docs/$out.png"
}
shot menu --lang en
shot game --lang en --host --seed readme --size small --name alice
ls -l docs/menu.png docs/game.png
