#!/bin/sh
# `mailblock spf` end to end: evaluation (every result, include/redirect chains, exp text,
# JSON fields, --trace, the null sender, IPv6, escaping of peer bytes) and --check-record
# (each problem kind), over the zone in zones/spf.test.zone. Every other name goes to a
# forwarder at 127.0.0.1:1 that never answers, so nothing leaves the machine; names under
# dead.test go to a dead port with a 1 s timeout (temperror).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=${MB_SOURCE_DIR:-$here/../..}
mb=${MAILBLOCK:-$root/build/mailblock}
[ -x "$mb" ] || { echo "skip: no mailblock binary at $mb"; exit 77; }
zone=$root/tests/cli/zones/spf.test.zone
pass=0
failed=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# run ARGS...: runs mailblock spf with the test world; sets $status, output in $out/$err
run() {
    "$mb" spf --zone "$zone" -o dns_forwarders=127.0.0.1:1 \
        -o dns_forward_zones=dead.test=127.0.0.1:1 -o dns_timeout=1s "$@" >"$out" 2>"$err"
    status=$?
}
ok() { pass=$((pass + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL: $1"
    sed 's/^/  out: /' "$out" | head -30
    sed 's/^/  err: /' "$err" | head -5
}
# expect NAME STATUS PATTERN...: the exit status and fixed strings that must all appear
expect() {
    name=$1 want=$2
    shift 2
    if [ "$status" != "$want" ]; then
        bad "$name: exit $status, wanted $want"
        return
    fi
    for p in "$@"; do
        if ! grep -qF -- "$p" "$out"; then
            bad "$name: no \"$p\""
            return
        fi
    done
    ok
}
# absent NAME PATTERN: a fixed string that must not appear
absent() {
    if grep -qF -- "$2" "$out"; then bad "$1: unexpected \"$2\""; else ok; fi
}

# ---- evaluation: results ----
run --ip 192.0.2.5 --sender user@pass.spf.test
expect pass 0 "pass: 192.0.2.5 for pass.spf.test" "record: v=spf1 ip4:192.0.2.0/24 -all" \
    "mechanism: ip4:192.0.2.0/24" "lookups: 0 of 10"
run --ip 198.51.100.5 --sender user@pass.spf.test
expect fail 0 "fail: 198.51.100.5" "mechanism: -all"
run --ip 192.0.2.9 --sender user@softfail.spf.test
expect softfail 0 "softfail:" "mechanism: ~all"
run --ip 192.0.2.9 --sender user@neutral.spf.test
expect neutral 0 "neutral:" "mechanism: ?all"
run --ip 192.0.2.9 --sender user@default.spf.test
expect neutral-default 0 "neutral:" "mechanism: none matched" "reason: no mechanism matched"
run --ip 192.0.2.9 --sender user@nospf.spf.test
expect none 0 "none: 192.0.2.9 for nospf.spf.test"
run --ip 192.0.2.9 --sender user@two.spf.test
expect permerror-two-records 0 "permerror:" "reason:"
run --ip 192.0.2.9 --sender user@syntax.spf.test
expect permerror-syntax 0 "permerror:" 'ip4:192.0.2.300'
run --ip 192.0.2.9 --sender user@tempinc.spf.test
expect temperror 0 "temperror:" "include tempinc.spf.test -> x.dead.test: temperror"
run --ip 192.0.2.9 --sender user@x.dead.test --json
expect temperror-json 0 '"result": "temperror"'

# ---- include chains, redirect, exp ----
run --ip 198.51.100.7 --sender a@inc.spf.test
expect include-chain 0 "pass:" "mechanism: include:inc1.spf.test" "lookups: 2 of 10" \
    "include inc.spf.test -> inc1.spf.test: pass" "  include inc1.spf.test -> inc2.spf.test: pass"
run --ip 192.0.2.77 --sender a@inc.spf.test
expect include-chain-fail 0 "fail:" "include inc1.spf.test -> inc2.spf.test: fail" \
    "include inc.spf.test -> inc1.spf.test: softfail"
run --ip 192.0.2.5 --sender a@redir.spf.test
expect redirect 0 "pass:" "redirect redir.spf.test -> pass.spf.test: pass"
run --ip 192.0.2.5 --sender a@fail.spf.test
expect exp 0 "fail:" \
    "explanation: 192.0.2.5 is not one of our servers, see https://spf.test/why?d=fail.spf.test"

# ---- a, mx, HELO identity, null sender, IPv6 ----
run --ip 192.0.2.81 --sender a@amx.spf.test
expect mx 0 "pass:" "mechanism: mx"
run --ip 192.0.2.80 --helo amx.spf.test --helo-identity
expect helo-identity 0 "pass:" "HELO identity" "mechanism: a"
run --ip 192.0.2.25 --sender '<>' --helo mail.spf.test
expect null-sender 0 "pass: 192.0.2.25 for mail.spf.test" "<postmaster@mail.spf.test>"
run --ip 192.0.2.25 --sender '' --helo mail.spf.test --json
expect null-sender-empty 0 '"sender": "postmaster@mail.spf.test"'
run --ip 2001:db8:1::9 --sender x@v6.spf.test
expect ipv6-pass 0 "pass: 2001:db8:1::9"
run --ip 2001:db8:9::9 --sender x@v6.spf.test
expect ipv6-fail 0 "fail: 2001:db8:9::9"
run --ip 2001:db8:3::25 --sender x@mail.spf.test
expect ipv6-a 0 "pass:" "mechanism: a"
run --ip ::ffff:192.0.2.5 --sender x@pass.spf.test
expect ipv4-mapped 0 "pass:"

# ---- JSON and trace ----
run --ip 198.51.100.7 --sender a@inc.spf.test --json
expect json 0 '"result": "pass"' '"domain": "inc.spf.test"' \
    '"record": "v=spf1 include:inc1.spf.test -all"' '"mechanism": "include:inc1.spf.test"' \
    '"lookups": 2' '"void_lookups": 0' '"chain": [' '"type": "include"' \
    '"domain": "inc2.spf.test"' '"explanation": null' '"reason": null'
if command -v python3 >/dev/null 2>&1; then
    if python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["chain"]) == 2' <"$out"; then
        ok
    else
        bad "json parses, chain of 2"
    fi
fi
run --ip 192.0.2.5 --sender a@fail.spf.test --json
expect json-exp 0 '"result": "fail"' '"explanation": "192.0.2.5 is not one of our servers'
run --ip 198.51.100.7 --sender a@inc.spf.test --trace
expect trace 0 "trace:" "check_host inc.spf.test" "      include:inc1.spf.test" \
    "check_host inc2.spf.test" "match: pass"
run --ip 198.51.100.7 --sender a@inc.spf.test --trace --json
expect trace-json 0 '"trace": [' '"text": "check_host inc2.spf.test"'

# ---- peer bytes are escaped ----
run --ip 192.0.2.5 --sender a@weird.spf.test
expect escape-text 0 "permerror:" 'a:\xC3\xA9\x07.spf.test'
absent escape-text-raw "$(printf '\303\251')"
run --ip 192.0.2.5 --sender a@weird.spf.test --json
expect escape-json 0 '"reason_term": "a:\\xC3\\xA9\\x07.spf.test"'

# ---- usage and bad input ----
run --ip 192.0.2.300 --sender a@pass.spf.test
expect bad-ip 65
run --sender a@pass.spf.test
expect no-ip 64
run --ip 192.0.2.5 --sender '<>'
expect null-sender-needs-helo 64
run --ip 192.0.2.5 --sender a@b.test --bogus
expect unknown-option 64
run --help
expect help 0 "--check-record" "exit (--check-record)"

# ---- --check-record ----
run --check-record clean.spf.test
expect lint-clean 0 "ok: clean.spf.test: no problem found"
run --check-record many.spf.test
expect lint-lookups 65 "lookups   m3.spf.test:" '"a:h.spf.test"' "(12 in all; via many.spf.test > m3.spf.test)" \
    "include m1.spf.test: 3 DNS-querying terms"
run --check-record many.spf.test --json
expect lint-lookups-json 65 '"kind": "lookups"' '"count": 12' '"path": "many.spf.test > m3.spf.test"' \
    '"lookups": 12'
run --check-record void.spf.test
expect lint-void 65 'void      void.spf.test:' '"a:nothere.spf.test"' '"mx:h.spf.test"'
run --check-record ptr.spf.test
expect lint-ptr 65 "ptr       ptr.spf.test:" "RFC 7208 5.5"
run --check-record plusall.spf.test
expect lint-plusall 65 "pass-all" '"+all"'
run --check-record bareall.spf.test
expect lint-bareall 65 "pass-all" '"all"'
run --check-record two.spf.test
expect lint-multiple 65 "multiple" "(2 records)"
run --check-record long.spf.test
expect lint-too-long 65 "too-long" "512-octet"
run --check-record noinc.spf.test
expect lint-no-record 65 'no-record noinc.spf.test: the target has no SPF record (permerror): "include:nospf.spf.test"' \
    'the target does not exist (permerror): "include:missing.spf.test"'
run --check-record loop1.spf.test
expect lint-loop 65 "loop      loop2.spf.test:" '"redirect=loop1.spf.test"'
run --check-record syntax.spf.test --json
expect lint-syntax 65 '"kind": "syntax"' '"term": "ip4:192.0.2.300"'
run --check-record nospf.spf.test
expect lint-none 65 "none      nospf.spf.test: the domain publishes no SPF record"
run --check-record tempinc.spf.test
expect lint-dns 69 "dns       tempinc.spf.test:" '"include:x.dead.test"'
run --check-record clean.spf.test --ip 192.0.2.1
expect lint-usage 64

echo "spf cli: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
