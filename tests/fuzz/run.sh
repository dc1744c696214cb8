#!/bin/sh
# Runs every libFuzzer harness in BUILD_DIR for SECONDS each, starting from its seed corpus
# (copied to a scratch folder so the repository's corpus is not changed).
set -eu
build=$1
secs=${2:-20}
src=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
# GMime's own leak on some malformed headers is not ours (see tests/lsan.supp)
export LSAN_OPTIONS="suppressions=$src/../lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
for h in "$build"/fuzz_*; do
    [ -x "$h" ] || continue
    name=$(basename "$h" | sed 's/^fuzz_//')
    mkdir -p "$scratch/$name"
    cp -r "$src/corpus/$name/." "$scratch/$name/" 2>/dev/null || true
    echo "fuzz $name for ${secs}s"
    if ! "$h" -max_total_time="$secs" -max_len=8192 -print_final_stats=0 "$scratch/$name" \
        >"$scratch/$name.log" 2>&1; then
        tail -50 "$scratch/$name.log"
        status=1
    fi
done
exit $status
