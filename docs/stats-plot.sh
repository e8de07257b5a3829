#!/usr/bin/env bash
# Regenerates docs/stats.png: a 45-second session recorded by one of two bots while six more
# players join in two groups, then `tilegame-replay stats --plot`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p tilegame-server -p tilegame-client -p tilegame-replay
bin=target/debug
dir=$(mktemp -d)
port=35917
"$bin/tilegame-server" --bind "127.0.0.1:$port" --seed docs --size small >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1
"$bin/tilegame" --headless --connect "127.0.0.1:$port" --bots 2 --seconds 45 \
    --keyframe-interval 200 --record "$dir/session.tgr" >/dev/null 2>&1 &
recorder=$!
sleep 10
"$bin/tilegame" --headless --connect "127.0.0.1:$port" --bots 3 --seconds 15 >/dev/null 2>&1 &
sleep 15
"$bin/tilegame" --headless --connect "127.0.0.1:$port" --bots 3 --seconds 15 >/dev/null 2>&1 &
wait "$recorder"
"$bin/tilegame-replay" verify --no-timing "$dir/session.tgr"
"$bin/tilegame-replay" stats "$dir/session.tgr" --plot docs/stats.png
# Optional: a 48-colour palette keeps the committed picture small (about 40 KB).
if command -v convert >/dev/null; then convert docs/stats.png -colors 48 PNG8:docs/stats.png; fi
rm -rf "$dir"
