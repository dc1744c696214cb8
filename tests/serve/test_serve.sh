#!/bin/sh
# Protocol-session tests of `mailblock serve` (the Postfix policy delegation server): a
# python3 client (serve_test.py, standard library only) starts servers on a free 127.0.0.1
# port and a unix socket in a temporary directory, answers every DNS question from
# tests/golden/zones/ and asserts replies, log lines, reloads and shutdown.
#   env MAILBLOCK      the binary (default: build/mailblock)
#   env MB_SOURCE_DIR  the repository root (default: two levels up)
#   MB_SERVE_KEEP=1    keep the temporary directory (server logs) for a look
# Exit 0 pass, 1 fail, 77 skip (no python3, no binary). Last line: "serve: N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
MB_SOURCE_DIR=${MB_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
MAILBLOCK=${MAILBLOCK:-$MB_SOURCE_DIR/build/mailblock}
export MB_SOURCE_DIR MAILBLOCK

command -v python3 >/dev/null 2>&1 || { echo "SKIPPED: python3 not found"; exit 77; }
[ -x "$MAILBLOCK" ] || { echo "SKIPPED: no mailblock binary at $MAILBLOCK"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mb-serve.XXXXXX") || { echo "mktemp failed"; exit 1; }
py=

# shellcheck disable=SC2317  # called from the trap
cleanup() {
    # the client and every server it started (their pids are in $tmp/pids), by pid only,
    # and only while that pid is still a mailblock server (pids are reused)
    [ -n "$py" ] && kill "$py" 2>/dev/null
    if [ -f "$tmp/pids" ]; then
        while IFS= read -r pid; do
            [ -n "$pid" ] && grep -q mailblock "/proc/$pid/cmdline" 2>/dev/null &&
                kill -9 "$pid" 2>/dev/null
        done < "$tmp/pids"
    fi
    if [ "${MB_SERVE_KEEP:-0}" = 1 ]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

python3 "$here/serve_test.py" "$tmp" &
py=$!
wait "$py"
status=$?
py=
exit "$status"
