#!/usr/bin/env bash
# bench/run-gate.sh: throughput, latency and memory of `mailblock serve`, and the same
# requests fed to postfix-policyd-spf-python, in one bounded run (about 2.5 minutes with the
# defaults: every load run is bounded by -d SECS plus a few seconds' grace). See
# bench/README.md for what each figure means and bench/RESULTS.md for figures.
#
#   sudo bench/run-gate.sh            all of it; prints a summary at the end
#   RUNS=1 SECS=2 bench/run-gate.sh   a quick look (figures then are not the medians of 3)
#
# Everything runs inside a network and mount namespace of its own (unshare -m -n): traffic
# stays on that namespace's loopback, ports cannot clash with anything else on the machine,
# and /etc/resolv.conf can point at a DNS server serving bench/zones/ for policyd-spf
# without touching the host. Needs root for that (and for nsd on port 53 inside it).
#
# Settings (environment):
#   MAILBLOCK   the binary (default build/mailblock; built with make if missing). It is
#               copied to a temporary folder first, so a rebuild meanwhile changes nothing.
#   RUNS        runs per measurement, the median is reported (default 3)
#   SECS        seconds per throughput run (default 4)
#   CONNS       policy connections of the throughput runs (default 32)
#   SERVER_CPU, LOAD_CPU   the cores of the server and of the load generator (0 and 1)
#   MB_LOG      where mailblock's log (one line per decision) goes (default /dev/null)
#   SKIP_SPF=1  leave out the policyd-spf comparison
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
RUNS=${RUNS:-3}
SECS=${SECS:-4}
CONNS=${CONNS:-32}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MB_LOG=${MB_LOG:-/dev/null}
SKIP_SPF=${SKIP_SPF:-0}
RATE=10000        # decisions/s of the fixed-rate latency runs
IDLE_CONNS=10000  # connections of the memory runs
PORT=10040        # mailblock inside the namespace
SPF_PORT=10050    # policyd-spf (through socat) inside the namespace
SPF_CONNS=8       # "several connections/processes" of the policyd-spf comparison

die() {
    echo "run-gate: $*" >&2
    exit 2
}

# ---- outside the namespace: check, build, copy, enter ----------------------------------
if [ -z "${MB_BENCH_WORK:-}" ]; then
    [ "$(id -u)" = 0 ] || die "needs root (unshare -m -n; nsd on port 53 inside it): sudo $0"
    for t in taskset unshare ip make cc; do
        command -v "$t" >/dev/null || die "$t not found (see bench/README.md for the packages)"
    done
    if [ "$SKIP_SPF" != 1 ]; then
        for t in nsd socat /usr/bin/policyd-spf; do
            command -v "$t" >/dev/null ||
                die "$t not found: apt-get install nsd socat postfix-policyd-spf-python (or SKIP_SPF=1)"
        done
    fi
    [ "$(nproc)" -ge 2 ] || echo "run-gate: warning: fewer than 2 processors" >&2
    make -s -C "$here" policy_load || die "cannot build bench/policy_load"
    mb=${MAILBLOCK:-$root/build/mailblock}
    if [ ! -x "$mb" ]; then
        make -s -C "$root" >/dev/null || die "cannot build mailblock"
    fi
    work=$(mktemp -d /tmp/mb-bench.XXXXXX) || die "mktemp failed"
    cp "$mb" "$work/mailblock" && cp "$here/policy_load" "$work/" || die "copy failed"
    ${CC:-cc} -O2 -std=c17 -o "$work/null_policy" "$here/null_policy.c" || die "cannot build null_policy"
    MB_BENCH_WORK=$work MB_SOURCE="$mb" unshare -m -n --propagation private -- "$0" "$@"
    status=$?
    rm -rf "$work"
    exit $status
fi

# ---- inside the namespace ----------------------------------------------------------------
work=$MB_BENCH_WORK
MB="$work/mailblock"
PL="$work/policy_load"
REQ="$here/requests/rcpt-mix.txt"
CF="$here/bench.cf"
GOLDEN_CF="$root/tests/golden/golden.cf"
ZONES=()
for z in "$here"/zones/*.zone; do ZONES+=(--zone "$z"); done
# shown in the report: paths relative to the repository
rel() { sed "s#$work/mailblock#build/mailblock#g; s#$work/policy_load#bench/policy_load#g; s#$work/null_policy#bench/null_policy#g; s#$work/#TMP/#g; s#$root/##g"; }

ip link set lo up || die "cannot bring up lo in the new namespace"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((IDLE_CONNS + 200)) ] || ulimit -n $((IDLE_CONNS * 2 + 200)) 2>/dev/null ||
    echo "run-gate: warning: open files limit $(ulimit -n) is below the memory runs' needs" >&2

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

# name run decisions/s p50 p99 p99.9 server_cpu% us_cpu/decision server_core_busy% load_core_busy%
# loadgen_cpu% us_user/decision us_system/decision
results="$work/results.tsv"
: >"$results"
cmds="$work/commands.txt"
: >"$cmds"
summary="$work/summary.txt"
: >"$summary"
T0=$(date +%s)

clk=$(getconf CLK_TCK)
# CPU ticks of a process, its reaped children included (policyd-spf runs in socat's children):
# "user system"
ticks() { awk '{sub(/^.*\) /, ""); print $12 + $14, $13 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0 0; }
# busy ticks of one core
core_busy() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# CPU ticks of the live children of a process: "user system"
kids_ticks() {
    local u=0 y=0 a b p
    for p in $(pgrep -P "$1"); do
        read -r a b < <(awk '{sub(/^.*\) /, ""); print $12, $13}' "/proc/$p/stat" 2>/dev/null || echo 0 0)
        u=$((u + ${a:-0}))
        y=$((y + ${b:-0}))
    done
    echo "$u $y"
}
# CPU ticks of this shell's reaped children (the load generator, once it has exited)
children_ticks() { awk '{sub(/^.*\) /, ""); print $14 + $15}' "/proc/$$/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "-"; else print a[int((NR + 1) / 2)]}'; }
# median of column $2 over the rows of measurement $1
med() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n {print $c}' "$results" | median; }

# Waits until something answers the policy protocol on 127.0.0.1:$1 (at most 10 s).
wait_policy() {
    for _ in $(seq 100); do
        "$PL" -t "127.0.0.1:$1" -c 1 -n 1 -d 1 -f "$REQ" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "nothing answers on 127.0.0.1:$1"
}

# Sends every request of the mix once over one connection (bash's /dev/tcp) and writes
# "N action=..." per request to $2: to check that two servers decide alike.
decide_all() { # PORT OUTFILE
    local i=0 line req
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    : >"$2"
    while IFS= read -r -d '' req; do
        printf '%s\n\n' "$req" >&3
        while IFS= read -r -t 10 -u 3 line; do
            [ -z "$line" ] && break
            echo "$i $line" >>"$2"
        done
        i=$((i + 1))
    done < <(grep -v '^#' "$REQ" |
        awk 'BEGIN {RS = ""} {gsub(/[{]msg[}]/, "c0ffee." NR); gsub(/[{]rcpt[}]|[{]conn[}]/, "0"); printf "%s%c", $0, 0}')
    exec 3>&-
}

SRV=""
start_mailblock() { # args: mailblock serve arguments
    echo "server: taskset -c $SERVER_CPU $MB serve $(printf '%q ' "$@")2>$MB_LOG" | rel >>"$cmds"
    taskset -c "$SERVER_CPU" "$MB" serve "$@" 2>"$MB_LOG" &
    SRV=$!
    pids+=("$SRV")
    wait_policy "$PORT"
}
stop_server() {
    kill "$SRV" 2>/dev/null
    wait "$SRV" 2>/dev/null
    SRV=""
}

# One measured run of the load generator against the server $SRV (pid).
#   measure NAME RUN -- policy_load arguments
measure() {
    local name=$1 run=$2
    shift 3
    local out="$work/out.$name.$run"
    [ "$run" = 1 ] && echo "$name: taskset -c $LOAD_CPU $PL $*" | rel >>"$cmds"
    local t0 c0 b0 t1 c1 b1 g0 g1 l0 l1 u0 u1 w0 w1 st lp
    g0=$(children_ticks)
    w0=$(now)
    if [ "${STEADY:-0}" = 1 ]; then
        # CPU of the server's processes (policyd-spf: socat's children) sampled in the steady
        # part of the run, after the processes' start-up and before the end
        taskset -c "$LOAD_CPU" "$PL" "$@" >"$out" 2>&1 &
        lp=$!
        sleep "$(awk -v s="$SECS" 'BEGIN {print (s >= 3 ? 1 : s * 0.3)}')"
        read -r u0 t0 < <(kids_ticks "$SRV")
        b0=$(core_busy "$SERVER_CPU")
        l0=$(core_busy "$LOAD_CPU")
        c0=$(now)
        sleep "$(awk -v s="$SECS" 'BEGIN {print (s >= 3 ? s - 1.5 : s * 0.5)}')"
        read -r u1 t1 < <(kids_ticks "$SRV")
        b1=$(core_busy "$SERVER_CPU")
        l1=$(core_busy "$LOAD_CPU")
        c1=$(now)
        wait "$lp"
        st=$?
    else
        read -r u0 t0 < <(ticks "$SRV")
        b0=$(core_busy "$SERVER_CPU")
        l0=$(core_busy "$LOAD_CPU")
        c0=$w0
        taskset -c "$LOAD_CPU" "$PL" "$@" >"$out" 2>&1
        st=$?
        # policyd-spf: its processes end when their connection closes; wait to count them
        for _ in $(seq 30); do
            [ -z "$(pgrep -P "$SRV" 2>/dev/null)" ] && break
            sleep 0.1
        done
        c1=$(now)
        read -r u1 t1 < <(ticks "$SRV")
        b1=$(core_busy "$SERVER_CPU")
        l1=$(core_busy "$LOAD_CPU")
    fi
    w1=$(now)
    g1=$(children_ticks)
    [ $st = 0 ] || echo "run-gate: $name run $run: policy_load exit $st: $(grep -v '^policy_load:' "$out" | head -3 | tr '\n' ' ')" >&2
    awk -v steady="${STEADY:-0}" -v name="$name" -v run="$run" -v clk="$clk" \
        -v dt="$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" \
        -v wt="$(awk -v a="$w0" -v b="$w1" 'BEGIN {print b - a}')" \
        -v tu=$((u1 - u0)) -v ts=$((t1 - t0)) -v bz=$((b1 - b0)) -v lz=$((l1 - l0)) -v gz=$((g1 - g0)) '
        /^requests=/ {for (i = 1; i <= NF; i++) {split($i, kv, "="); if (kv[1] == "replies") rep = kv[2]}}
        /^time=/ {split($2, kv, "="); dps = kv[2]}
        /^latency_us/ {for (i = 2; i <= NF; i++) {split($i, kv, "="); lat[kv[1]] = kv[2]}}
        END {
            cpu = (tu + ts) / clk
            n = steady ? dps * dt : rep # decisions while the CPU was counted
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.2f\t%.0f\t%.0f\t%.0f\t%.2f\t%.2f\n", name, run, dps,
                lat["p50"], lat["p99"], lat["p99.9"], 100 * cpu / dt, (n > 0 ? 1e6 * cpu / n : 0),
                100 * bz / clk / dt, 100 * lz / clk / dt, 100 * gz / clk / wt,
                (n > 0 ? 1e6 * tu / clk / n : 0), (n > 0 ? 1e6 * ts / clk / n : 0)
        }' "$out" >>"$results"
    tail -1 "$results" | awk -F'\t' '{printf "  %-22s run %s: %7s/s  p50 %7s us  p99 %8s us  server CPU %3s%%  %6s us CPU/decision (user %s, system %s) | core %s busy %3s%%, core %s busy %3s%% (load generator %s%%)\n", $1, $2, $3, $4, $5, $7, $8, $12, $13, '"$SERVER_CPU"', $9, '"$LOAD_CPU"', $10, $11}'
}

repeat() { # NAME -- policy_load arguments
    local name=$1
    shift
    for r in $(seq "$RUNS"); do measure "$name" "$r" "$@"; done
}

report() { # NAME LABEL: the medians; "per core" is 1 / (CPU per decision): what one whole core
    # would decide at that cost, a figure other processes on the machine move less
    local cpu
    cpu=$(med "$1" 8)
    printf '%-42s %7s/s  p50 %6s us  p99 %7s us  CPU %3s%%  %6s us/decision (user %5s + sys %5s) = %6s/s per core\n' "$2" \
        "$(med "$1" 3)" "$(med "$1" 4)" "$(med "$1" 5)" "$(med "$1" 7)" "$cpu" "$(med "$1" 12)" "$(med "$1" 13)" \
        "$(awk -v c="$cpu" 'BEGIN {if (c > 0) printf "%.0f", 1e6 / c; else print "-"}')" | tee -a "$summary"
}

echo "run-gate: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r)"
echo "run-gate: mailblock $(echo "${MB_SOURCE:-}" | rel) (built $(date -u -r "${MB_SOURCE:-$MB}" '+%Y-%m-%d %H:%M UTC')), HEAD $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' (work tree modified)')"
echo "run-gate: server on core $SERVER_CPU, load generator on core $LOAD_CPU; mailblock log to $MB_LOG; $RUNS run(s) each, median reported"
echo "run-gate: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1 and 2: throughput and latency, DNS answers from bench/zones/ cached ----------------
echo "== 0. the transport's ceiling: bench/null_policy answers DUNNO without reading the request"
echo "server: taskset -c $SERVER_CPU $work/null_policy $PORT" | rel >>"$cmds"
taskset -c "$SERVER_CPU" "$work/null_policy" "$PORT" &
SRV=$!
pids+=("$SRV")
wait_policy "$PORT"
repeat null_policy -- -t "127.0.0.1:$PORT" -c "$CONNS" -n 0 -d "$SECS" -f "$REQ"
stop_server

echo "== 1. decisions/s on one core, persistent connections, warm cache"
SOCK="$work/policy.sock"
start_mailblock -c "$CF" "${ZONES[@]}" -o "policy_listen=inet:127.0.0.1:$PORT unix:$SOCK"
echo "warm-up: $PL -t 127.0.0.1:$PORT -c 16 -n 100 -f $REQ" | rel >>"$cmds"
"$PL" -t "127.0.0.1:$PORT" -c 16 -n 100 -f "$REQ" >/dev/null 2>&1 || die "warm-up failed"
decide_all "$PORT" "$work/decisions.zones"
repeat new_message -- -t "127.0.0.1:$PORT" -c "$CONNS" -n 0 -d "$SECS" -f "$REQ"
repeat same_message_5rcpt -- -t "127.0.0.1:$PORT" -c "$CONNS" -n 0 -d "$SECS" -m 5 -f "$REQ"
repeat unix_new_message -- -t "unix:$SOCK" -c "$CONNS" -n 0 -d "$SECS" -f "$REQ"
repeat unix_same_message_5rcpt -- -t "unix:$SOCK" -c "$CONNS" -n 0 -d "$SECS" -m 5 -f "$REQ"
echo "== 2. latency at a fixed rate of $RATE decisions/s"
repeat rate_10k -- -t "127.0.0.1:$PORT" -c "$CONNS" -n 0 -d "$SECS" -r "$RATE" -f "$REQ"
stop_server

echo "== 1b. the golden configuration as it is (err.test, a list that refuses us, adds a warning per decision)"
start_mailblock -c "$GOLDEN_CF" "${ZONES[@]}" -o "policy_listen=inet:127.0.0.1:$PORT"
"$PL" -t "127.0.0.1:$PORT" -c 16 -n 100 -f "$REQ" >/dev/null 2>&1 || die "warm-up failed"
repeat golden_cf_new_message -- -t "127.0.0.1:$PORT" -c "$CONNS" -n 0 -d "$SECS" -f "$REQ"
stop_server

# ---- 3: memory per connection --------------------------------------------------------------
echo "== 3. memory per connection, $IDLE_CONNS connections (a fresh server each run)"
mem_run() { # NAME RUN REQUESTS_PER_CONNECTION
    local name=$1 run=$2 n=$3
    start_mailblock -c "$CF" "${ZONES[@]}" -o "policy_listen=inet:127.0.0.1:$PORT"
    "$PL" -t "127.0.0.1:$PORT" -c 16 -n 100 -f "$REQ" >/dev/null 2>&1
    sleep 0.2
    local before after err="$work/idle.$name.$run"
    before=$(rss_kib "$SRV")
    [ "$run" = 1 ] && echo "$name: taskset -c $LOAD_CPU $PL -t 127.0.0.1:$PORT -I -c $IDLE_CONNS -n $n -d 3 -f $REQ (RSS read while held)" | rel >>"$cmds"
    taskset -c "$LOAD_CPU" "$PL" -t "127.0.0.1:$PORT" -I -c "$IDLE_CONNS" -n "$n" -d 3 -f "$REQ" >"$err.out" 2>"$err" &
    local lp=$!
    for _ in $(seq 300); do
        grep -q holding "$err" && break
        sleep 0.1
    done
    sleep 0.5
    after=$(rss_kib "$SRV")
    wait "$lp"
    local st=$?
    [ $st = 0 ] || echo "run-gate: $name run $run: $(cat "$err.out")" >&2
    stop_server
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$run" "$before" "$after" \
        "$(( (after - before) * 1024 / IDLE_CONNS ))" >>"$work/mem.tsv"
    printf '  %-22s run %s: RSS %s KiB -> %s KiB: %s bytes per connection (%s)\n' "$name" "$run" \
        "$before" "$after" "$(( (after - before) * 1024 / IDLE_CONNS ))" "$(head -1 "$err.out")"
}
: >"$work/mem.tsv"
for r in $(seq "$RUNS"); do mem_run idle "$r" 0; done
for r in $(seq "$RUNS"); do mem_run one_request "$r" 1; done
memmed() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n {print $c}' "$work/mem.tsv" | median; }

# ---- 4: policyd-spf on the same requests, same namespace, DNS from nsd --------------------
if [ "$SKIP_SPF" != 1 ]; then
    echo "== 4. the same requests to postfix-policyd-spf-python (and mailblock) with DNS from nsd on 127.0.0.1:53"
    nsdc="$work/nsd.conf"
    {
        printf 'server:\n  ip-address: 127.0.0.1@53\n  do-ip6: no\n  username: ""\n  chroot: ""\n'
        printf '  zonesdir: ""\n  database: ""\n  pidfile: "%s/nsd.pid"\n  xfrdfile: "%s/xfrd.state"\n' "$work" "$work"
        printf '  zonelistfile: "%s/zone.list"\n  xfrdir: "%s"\n  logfile: "%s/nsd.log"\n' "$work" "$work" "$work"
        printf '  server-count: 1\n  verbosity: 1\n  hide-version: yes\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\nremote-control:\n  control-enable: no\n'
        for z in "$here"/zones/*.zone; do
            printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$(basename "$z" .zone)" "$z"
        done
    } >"$nsdc"
    echo "dns: taskset -c $LOAD_CPU nsd -d -c NSD_CONF (zones bench/zones/*.zone on 127.0.0.1:53); /etc/resolv.conf bind-mounted to 'nameserver 127.0.0.1'" >>"$cmds"
    taskset -c "$LOAD_CPU" nsd -d -c "$nsdc" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "nsd started" "$work/nsd.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "nsd started" "$work/nsd.log" || die "nsd did not start: $(tail -3 "$work/nsd.log")"
    echo "nameserver 127.0.0.1" >"$work/resolv.conf"
    mount --bind "$work/resolv.conf" /etc/resolv.conf || die "cannot bind-mount resolv.conf"

    # mailblock asking nsd (no zone files): same DNS server, same namespace. libunbound
    # answers test. and the RFC 5737 reverse zones itself (NXDOMAIN) unless they are forward
    # zones (see tests/e2e/README.md), so they are named as such.
    fz="test=127.0.0.1:53 2.0.192.in-addr.arpa=127.0.0.1:53 8.b.d.0.1.0.0.2.ip6.arpa=127.0.0.1:53"
    start_mailblock -c "$CF" -o "dns_forwarders=127.0.0.1:53" -o "dns_forward_zones=$fz" \
        -o "policy_listen=inet:127.0.0.1:$PORT"
    "$PL" -t "127.0.0.1:$PORT" -c 16 -n 100 -f "$REQ" >/dev/null 2>&1
    decide_all "$PORT" "$work/decisions.nsd"
    if cmp -s "$work/decisions.zones" "$work/decisions.nsd"; then
        echo "  mailblock decides alike with zone files and with nsd ($(wc -l <"$work/decisions.nsd") requests)"
    else
        echo "run-gate: warning: mailblock decides differently with nsd than with zone files:" >&2
        diff "$work/decisions.zones" "$work/decisions.nsd" | head -10 >&2
    fi
    repeat nsd_mailblock_1conn -- -t "127.0.0.1:$PORT" -c 1 -n 0 -d "$SECS" -f "$REQ"
    repeat nsd_mailblock_${SPF_CONNS}conn -- -t "127.0.0.1:$PORT" -c "$SPF_CONNS" -n 0 -d "$SECS" -f "$REQ"
    stop_server

    # policyd-spf: one process per connection, as Postfix's spawn(8) runs it
    # nofork: socat's child for the connection becomes policyd-spf itself, the socket its stdin
    # and stdout, as spawn(8) does (no relay process), and its CPU time is socat's to reap
    spf_cmd="socat TCP-LISTEN:$SPF_PORT,bind=127.0.0.1,reuseaddr,fork,backlog=128 EXEC:'/usr/bin/policyd-spf $here/policyd-spf.conf',nofork"
    echo "server: taskset -c $SERVER_CPU $spf_cmd 2>/dev/null" | rel >>"$cmds"
    taskset -c "$SERVER_CPU" socat "TCP-LISTEN:$SPF_PORT,bind=127.0.0.1,reuseaddr,fork,backlog=128" \
        "EXEC:/usr/bin/policyd-spf $here/policyd-spf.conf,nofork" 2>/dev/null &
    SRV=$!
    pids+=("$SRV")
    wait_policy "$SPF_PORT"
    decide_all "$SPF_PORT" "$work/decisions.spf"
    # start-up: a new connection's first answer includes starting the Python process
    repeat spf_first_request -- -t "127.0.0.1:$SPF_PORT" -c 1 -n 1 -d "$SECS" -f "$REQ"
    # -W 1: the first answer of each connection (the process's start-up) is not counted, and
    # the CPU is sampled in the steady part of the run (STEADY=1, see measure)
    STEADY=1 repeat spf_1conn -- -t "127.0.0.1:$SPF_PORT" -c 1 -n 0 -W 1 -d "$SECS" -f "$REQ"
    STEADY=1 repeat spf_${SPF_CONNS}conn -- -t "127.0.0.1:$SPF_PORT" -c "$SPF_CONNS" -n 0 -W 1 -d "$SECS" -f "$REQ"
    stop_server
fi

# ---- summary -------------------------------------------------------------------------------
{
    echo
    echo "==== summary (median of $RUNS; mailblock's log to $MB_LOG; $(($(date +%s) - T0)) s in all; load average at end: $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "-- 1. throughput, $CONNS connections, closed loop, warm cache (target: >= 100000/s)"
} | tee -a "$summary"
echo "decisions of mailblock on the mix ($(wc -l <"$work/decisions.zones") requests): $(sed 's/^[0-9]* action=//; s/ .*(\([a-z_.]*\)) .*/ \1/' "$work/decisions.zones" | sort | uniq -c | sort -rn | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 ($3 ? " " $3 : "")}')" | tee -a "$summary"
report null_policy "bench/null_policy (DUNNO, reads nothing)"
report new_message "each request a new message (instance)"
report same_message_5rcpt "5 RCPTs per message (same instance)"
report unix_new_message "unix socket: new messages"
report unix_same_message_5rcpt "unix socket: 5 RCPTs per message"
report golden_cf_new_message "golden.cf as is (err.test), new messages"
echo "-- 2. fixed rate $RATE/s, $CONNS connections (target: p99 < 1000 us)" | tee -a "$summary"
report rate_10k "open loop $RATE/s"
{
    echo "-- 3. memory, $IDLE_CONNS connections (target: <= 4096 bytes per idle connection)"
    printf '%-48s RSS %s -> %s KiB: %s bytes per connection\n' "idle" "$(memmed idle 3)" "$(memmed idle 4)" "$(memmed idle 5)"
    printf '%-48s RSS %s -> %s KiB: %s bytes per connection\n' "after one request each (a new message each)" "$(memmed one_request 3)" "$(memmed one_request 4)" "$(memmed one_request 5)"
    echo "  (the second includes the gate's transaction cache, filled by $IDLE_CONNS new messages: at most 4096 transactions; see RESULTS.md)"
} | tee -a "$summary"
if [ "$SKIP_SPF" != 1 ]; then
    echo "-- 4. DNS from nsd, same namespace; policyd-spf one process per connection" | tee -a "$summary"
    report nsd_mailblock_1conn "mailblock, 1 connection"
    report nsd_mailblock_${SPF_CONNS}conn "mailblock, $SPF_CONNS connections"
    report spf_1conn "policyd-spf, 1 connection (1 process)"
    report spf_${SPF_CONNS}conn "policyd-spf, $SPF_CONNS connections ($SPF_CONNS processes)"
    printf '%-48s %s us to the first answer, %s us CPU (start-up included)\n' \
        "policyd-spf, first request of a new process" "$(med spf_first_request 4)" "$(med spf_first_request 8)" | tee -a "$summary"
    echo "decisions of policyd-spf on the mix: $(sed 's/^[0-9]* action=//; s/^prepend Received-SPF: \([A-Za-z]*\).*/prepend Received-SPF: \1/; s/^\(550 5.7.23\).*/\1 SPF fail/' "$work/decisions.spf" | sort | uniq -c | sort -rn | awk '{c = $1; $1 = ""; printf "%s%s%s", (NR > 1 ? ", " : ""), c, $0}')" | tee -a "$summary"
    a1=$(med nsd_mailblock_1conn 3) b1=$(med spf_1conn 3)
    an=$(med nsd_mailblock_${SPF_CONNS}conn 3) bn=$(med spf_${SPF_CONNS}conn 3)
    ca=$(med nsd_mailblock_${SPF_CONNS}conn 8) cb=$(med spf_${SPF_CONNS}conn 8)
    {
        awk -v a="$a1" -v b="$b1" 'BEGIN {if (b > 0) printf "ratio mailblock/policyd-spf, 1 connection:      %.1fx decisions/s\n", a / b}'
        awk -v a="$an" -v b="$bn" -v n="$SPF_CONNS" 'BEGIN {if (b > 0) printf "ratio mailblock/policyd-spf, %s connections:     %.1fx decisions/s\n", n, a / b}'
        awk -v a="$ca" -v b="$cb" 'BEGIN {if (a > 0) printf "CPU per decision, policyd-spf/mailblock:         %.1fx\n", b / a}'
    } | tee -a "$summary"
fi
echo
echo "==== commands (build/mailblock and bench/policy_load ran from copies in a temporary folder)"
cat "$cmds"
