#!/usr/bin/env bash
# bench/run-spf.sh: SPF evaluations per second of mailblock's evaluator (warm cache), pyspf
# and libspf2's spfquery on the same world (bench/spf-zones/) and the same queries, in one
# bounded run (issue 3). Like run-gate.sh it re-runs itself in a network and mount namespace
# of its own (unshare -m -n): nsd serves bench/spf-zones/*.zone on 127.0.0.1:53 there and
# /etc/resolv.conf is bind-mounted to "nameserver 127.0.0.1" for pyspf and spfquery. Needs root.
#
#   sudo bench/run-spf.sh           SECS=5 per measurement (about a minute in all)
#
# Settings: SECS (seconds per measurement, default 5), CPU (the evaluators' core, default 0),
# DNS_CPU (nsd's core, default 1), QUERIES (default bench/spf-zones/queries.txt).
#
# Against spfquery the fair figure is the whole-process one: spfquery is timed from exec to
# exit over N evaluations, and so is spf_bench -n N (same world, same nsd, same N), start-up
# and cold first pass included; the in-loop rates of spf_bench and pyspf are printed too.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
SECS=${SECS:-5}
CPU=${CPU:-0}
DNS_CPU=${DNS_CPU:-1}
QUERIES=${QUERIES:-$here/spf-zones/queries.txt}

die() {
    echo "run-spf: $*" >&2
    exit 2
}

if [ -z "${MB_SPF_WORK:-}" ]; then
    [ "$(id -u)" = 0 ] || die "needs root (unshare -m -n; nsd on port 53 inside it): sudo $0"
    for t in taskset unshare ip make cc nsd timeout /usr/bin/python3 spfquery; do
        command -v "$t" >/dev/null || die "$t not found (see bench/README.md for the packages)"
    done
    /usr/bin/python3 -c 'import spf' 2>/dev/null || die "pyspf not found: apt-get install python3-spf"
    make -s -C "$root" >/dev/null || die "cannot build the library (make at the top)"
    make -s -C "$here" spf_bench || die "cannot build bench/spf_bench"
    work=$(mktemp -d /tmp/mb-spf.XXXXXX) || die "mktemp failed"
    cp "$here/spf_bench" "$work/" || die "copy failed"
    MB_SPF_WORK=$work unshare -m -n --propagation private -- "$0" "$@"
    status=$?
    rm -rf "$work"
    exit $status
fi

# ---- inside the namespace ----------------------------------------------------------------
work=$MB_SPF_WORK
ip link set lo up || die "cannot bring up lo"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT
rel() { sed "s#$work/#TMP/#g; s#$root/##g"; }

nsdc="$work/nsd.conf"
{
    printf 'server:\n  ip-address: 127.0.0.1@53\n  do-ip6: no\n  username: ""\n  chroot: ""\n'
    printf '  zonesdir: ""\n  database: ""\n  pidfile: "%s/nsd.pid"\n  xfrdfile: "%s/xfrd.state"\n' "$work" "$work"
    printf '  zonelistfile: "%s/zone.list"\n  xfrdir: "%s"\n  logfile: "%s/nsd.log"\n' "$work" "$work" "$work"
    printf '  server-count: 1\n  verbosity: 1\n  hide-version: yes\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n'
    for z in "$here"/spf-zones/*.zone; do
        printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$(basename "$z" .zone)" "$z"
    done
} >"$nsdc"
taskset -c "$DNS_CPU" nsd -d -c "$nsdc" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    grep -q "nsd started" "$work/nsd.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "nsd started" "$work/nsd.log" || die "nsd did not start: $(tail -3 "$work/nsd.log")"
echo "nameserver 127.0.0.1" >"$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf || die "cannot bind-mount resolv.conf"

nq=$(grep -cv '^\s*\(#\|$\)' "$QUERIES")
echo "world: bench/spf-zones/*.zone served by nsd on 127.0.0.1:53 (taskset -c $DNS_CPU); $nq queries in ${QUERIES#$root/}"
echo "evaluators on core $CPU; $SECS s per measurement"
echo
lim=$((SECS * 3 + 30))
run() { # NAME COMMAND...: prints the command, runs it bounded in time on $CPU
    echo "\$ taskset -c $CPU timeout $lim $*" | rel
    taskset -c "$CPU" timeout "$lim" "$@"
}

# 1. mailblock: DNS from nsd (libunbound forwarding), and from zone files
run "$work/spf_bench" -f "$QUERIES" -d "$SECS" -F 127.0.0.1:53 -Z test=127.0.0.1:53 -r "$work/res.mailblock" ||
    die "spf_bench failed"
ZF=()
for z in "$here"/spf-zones/*.zone; do ZF+=(-z "$z"); done
run "$work/spf_bench" -f "$QUERIES" -d "$SECS" "${ZF[@]}" -r "$work/res.mailblock-zones" ||
    die "spf_bench (zone files) failed"

# 2. pyspf: DNS from nsd for every check (no cache: its real behaviour), then DNS from a dict
run /usr/bin/python3 "$here/spf_pyspf.py" "$QUERIES" "$SECS" dns "$work/res.pyspf" || die "pyspf failed"
run /usr/bin/python3 "$here/spf_pyspf.py" "$QUERIES" "$SECS" dict "$work/res.pyspf-dict" || die "pyspf (dict) failed"

# 3. spfquery -file: one process for all queries (libspf2's resolver with its own cache).
# Results from one pass; then a calibration run decides how many copies of the queries fill
# about SECS seconds, and that run is timed (wall and CPU of the process).
grep -v '^\s*\(#\|$\)' "$QUERIES" >"$work/q1.txt"
spfq_result() { # FILE: one result per query: spfquery prints 4 lines per query, the result
    # first, after a StartError ... EndError block when libspf2 reports an error
    awk '/^StartError$/ {skip = 1} skip {if (/^EndError$/) skip = 0; next} {n++} n % 4 == 1 {print $1}' "$1"
}
echo "\$ taskset -c $CPU timeout $lim spfquery -file QUERIES" | rel
taskset -c "$CPU" timeout "$lim" spfquery -file "$work/q1.txt" >"$work/spfq.out" 2>"$work/spfq.err"
paste -d' ' <(awk '{print $1, $2}' "$work/q1.txt") <(spfq_result "$work/spfq.out") >"$work/res.spfquery"
whole() { # OUT COMMAND...: runs COMMAND on $CPU, stdout and stderr to OUT; prints "wall cpu"
    # of the whole process in seconds (wall from the clock in ns, CPU user + system as
    # /usr/bin/time reports it, in 10 ms steps); fails when COMMAND does
    local out=$1 t0 t1 rc
    shift
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S' -o "$work/time.txt" taskset -c "$CPU" timeout "$lim" "$@" >"$out" 2>&1
    rc=$?
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" '{c = $(NF - 1) + $NF} END {printf "%.4f %.2f\n", (b - a) / 1e9, c}' "$work/time.txt"
    return $rc
}
spfq_time() { # COPIES: prints "wall cpu" of spfquery over COPIES copies of the queries
    local c=$1 i
    : >"$work/qn.txt"
    for ((i = 0; i < c; i++)); do cat "$work/q1.txt"; done >"$work/qn.txt"
    whole "$work/spfqn.out" spfquery -file "$work/qn.txt"
}
read -r cw _ < <(spfq_time 100)
copies=$(awk -v s="$SECS" -v w="$cw" 'BEGIN {c = (w > 0.01 ? int(100 * s / w) : 100000); print (c < 1 ? 1 : c)}')
echo "\$ taskset -c $CPU timeout $lim spfquery -file QUERIES_x$copies   (the queries $copies times over: $((copies * nq)) queries)" | rel
read -r sw sc < <(spfq_time "$copies")
sn=$((copies * nq))
got=$(spfq_result "$work/spfqn.out" | wc -l)
[ "$got" = "$sn" ] || echo "run-spf: warning: spfquery printed $got results for $sn queries" >&2
awk -v n="$sn" -v w="$sw" -v c="$sc" 'BEGIN {printf "spfquery (whole process): %d evaluations in %.3f s: %.0f evaluations/s (%.2f us CPU each)\n", n, w, n / w, c * 1e6 / n}'

# 4. mailblock timed the way spfquery is: the whole process, from exec to exit (start-up,
# resolver set-up, the cold warm-up pass against nsd included), for the same number of
# evaluations as spfquery's timed run, DNS from nsd.
echo "\$ taskset -c $CPU timeout $lim $work/spf_bench -f QUERIES -n $sn -F 127.0.0.1:53 -Z test=127.0.0.1:53   (whole process timed)" | rel
read -r mw mc < <(whole "$work/mbn.out" "$work/spf_bench" -f "$QUERIES" -n "$sn" -F 127.0.0.1:53 -Z test=127.0.0.1:53) ||
    die "spf_bench -n failed: $(tail -3 "$work/mbn.out")"
grep -q '^mailblock: '"$sn"' evaluations' "$work/mbn.out" || die "spf_bench -n: $(tail -3 "$work/mbn.out")"
awk -v n="$sn" -v w="$mw" -v c="$mc" 'BEGIN {printf "mailblock (whole process): %d evaluations in %.3f s: %.0f evaluations/s (%.2f us CPU each)\n", n, w, n / w, c * 1e6 / n}'
awk -v n="$sn" -v sw="$sw" -v mw="$mw" -v sc="$sc" -v mc="$mc" 'BEGIN {printf "whole process, the same %d evaluations: mailblock %.1fx spfquery (wall), %.1fx (CPU)\n", n, sw / mw, (mc > 0 ? sc / mc : 0)}'
echo

# ---- agreement -----------------------------------------------------------------------------
echo "results per query (mailblock nsd / mailblock zone files / pyspf / pyspf dict / spfquery):"
paste -d' ' "$work/res.mailblock" <(awk '{print $3}' "$work/res.mailblock-zones") \
    <(awk '{print $3}' "$work/res.pyspf") <(awk '{print $3}' "$work/res.pyspf-dict") \
    <(awk '{print $3}' "$work/res.spfquery") |
    awk '{same = ($3 == $4 && $3 == $5 && $3 == $6 && $3 == $7); if (!same) bad++;
          printf "  %-18s %-22s %-9s %-9s %-9s %-9s %-9s %s\n", $1, $2, $3, $4, $5, $6, $7, same ? "" : "DIFFERENT"}
         END {print (bad ? "  " bad " queries differ" : "  all " NR " queries: the same result from all three")}'
