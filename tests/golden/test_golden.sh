#!/bin/sh
# Golden decision tests: each cases/NAME.in holds the arguments of one `mailblock check`
# (one per line) and cases/NAME.ref its expected exit status and JSON output. The zones in
# zones/ answer every lookup; nothing is asked of the network.
#   sh tests/golden/test_golden.sh           run and compare
#   sh tests/golden/test_golden.sh --update  rewrite the .ref files (review the diff!)
set -u
here=$(cd "$(dirname "$0")" && pwd)
mailblock=${MAILBLOCK:-$here/../../build/mailblock}
update=${1:-}
cd "$here" || exit 1
zones=""
for z in zones/*.zone; do zones="$zones --zone $z"; done
pass=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for in in cases/*.in; do
    name=$(basename "$in" .in)
    ref=cases/$name.ref
    # one argument per line; empty lines are empty arguments
    set --
    while IFS= read -r line || [ -n "$line" ]; do set -- "$@" "$line"; done < "$in"
    # shellcheck disable=SC2086
    "$mailblock" check --json -c golden.cf $zones "$@" > "$out.json" 2> "$out.err"
    status=$?
    { echo "exit $status"; cat "$out.json"; } > "$out"
    if [ "$update" = "--update" ]; then
        cp "$out" "$ref"
        continue
    fi
    if [ -f "$ref" ] && cmp -s "$out" "$ref"; then
        pass=$((pass + 1))
    else
        failed=$((failed + 1))
        echo "FAIL: $name"
        diff -u "$ref" "$out" | head -40
        sed 's/^/  stderr: /' "$out.err" | head -10
    fi
done
rm -f "$out.json" "$out.err"
[ "$update" = "--update" ] && { echo "updated"; exit 0; }
echo "golden: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
