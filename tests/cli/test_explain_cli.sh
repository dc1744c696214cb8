#!/bin/sh
# `mailblock explain` end to end: the round trip from the gate's replies back to their
# finding ids, provider replies, log lines, bounces, --batch, --check and the exit codes.
# See explain_cli.py.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=${MB_SOURCE_DIR:-$here/../..}
mb=${MAILBLOCK:-$root/build/mailblock}
[ -x "$mb" ] || { echo "skip: no mailblock binary at $mb"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
exec python3 "$here/explain_cli.py" "$mb" "$root"
