#!/usr/bin/env bash
# Builds every fuzz target once, then runs each for a fixed time over its committed seeds.
#
#   fuzz/ci.sh [SECONDS_PER_TARGET] [TARGET...]      (default 20 s, every target)
#
# Each target runs in a fresh temporary corpus directory plus `seeds/<target>/` (read, never
# written). Any crash, panic, leak, timeout or out-of-memory fails the script; the reproducer is
# left in fuzz/artifacts/<target>/ (`cargo +nightly fuzz run <target> <file>` replays it).
# FUZZ_JOBS targets run side by side (default 2, one per core). A summary line per target gives
# executions, execs/s, coverage (edges) and peak RSS.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
shift || true
jobs="${FUZZ_JOBS:-2}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo +nightly fuzz build

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Longest input per target: a few frames for the per-state decoders, whole small maps and
# replay files for the others.
max_len() {
    case "$1" in
        map_payload | map_transfer | replay_reader | engine_feed) echo 65536 ;;
        *) echo 16384 ;;
    esac
}

run_one() {
    local target="$1"
    mkdir -p "$work/$target/corpus"
    local seeds=()
    [ -d "seeds/$target" ] && seeds=("seeds/$target")
    if cargo +nightly fuzz run "$target" "$work/$target/corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=1024 \
        -max_len="$(max_len "$target")" -timeout=10 -print_final_stats=1 \
        >"$work/$target/log" 2>&1; then
        local status=ok
    else
        local status=FAILED
    fi
    local runs eps rss cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target/log")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$target/log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$work/$target/log")
    cov=$(grep -o 'cov: [0-9]*' "$work/$target/log" | tail -1 | cut -d' ' -f2)
    printf '%-24s %-6s %10s execs %8s/s  cov %6s  rss %5s MB\n' \
        "$target" "$status" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${rss:-?}"
    if [ "$status" != ok ]; then
        tail -n 60 "$work/$target/log"
        return 1
    fi
}

failed=0
running=0
for target in "${targets[@]}"; do
    run_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done

if [ "$failed" -ne 0 ]; then
    echo "fuzzing found a crash: see the log above and fuzz/artifacts/" >&2
    exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${seconds} s each, no crash"
