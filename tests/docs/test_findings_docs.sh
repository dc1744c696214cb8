#!/bin/sh
# The finding pages in docs/findings/ must be what the catalog says: regenerate them into a
# scratch folder and compare. After a catalog change, run
#   scripts/gen-finding-docs.py build/mailblock docs/findings
set -u
src=${MB_SOURCE_DIR:?}
command -v python3 >/dev/null || { echo "SKIPPED: python3 not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$src/scripts/gen-finding-docs.py" "${MAILBLOCK:?}" "$tmp" || exit 1
if diff -r "$src/docs/findings" "$tmp" >"$tmp.diff"; then
    echo "docs: 1 passed, 0 failed"
else
    head -40 "$tmp.diff"
    echo "docs/findings is out of date: run scripts/gen-finding-docs.py build/mailblock docs/findings"
    echo "docs: 0 passed, 1 failed"
    exit 1
fi
