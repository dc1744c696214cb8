# lib.sh: reusable pieces of the end-to-end tests (POSIX sh; source it).
#
# Starts and stops private instances of real programs, each on 127.0.0.1 ports picked at run
# time and with all state in one temporary directory:
#   Postfix  own config_directory and queue, smtpd on a loopback port, local (virtual) delivery
#            only; never a DNS lookup, never a remote delivery
#   NSD      authoritative DNS for the zone files in tests/e2e/zones
#   rbldnsd  the DNS blocklists
# plus waiting for ports, a swaks wrapper and a raw SMTP dialogue (helper.py).
#
# Every wait is bounded; e2e_cleanup (installed by e2e_init as an EXIT trap) stops everything
# this library started, by pid, and removes the temporary directory (MB_E2E_KEEP=1 keeps it).
# Fatal set-up problems: e2e_die (exit 1); missing prerequisites: e2e_skip (exit 77, ctest's
# skip code); a failed assertion: e2e_fail (counted, the test goes on; e2e_finish exits 1).

E2E_LIB_DIR=$(cd "$(dirname "${E2E_LIB:-$0}")" && pwd)
E2E_HELPER="$E2E_LIB_DIR/helper.py"
E2E_ZONES="$E2E_LIB_DIR/zones"
E2E_T=
E2E_PIDS=
E2E_POSTFIX_DIRS=
E2E_LOGS=
E2E_FAILS=0
E2E_PASSES=0
E2E_LAST_PID=

e2e_log() { printf 'e2e: %s\n' "$*" >&2; }
e2e_skip() { printf 'SKIPPED: %s\n' "$*"; exit 77; }
e2e_die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }
e2e_ok() { E2E_PASSES=$((E2E_PASSES + 1)); printf 'ok   %s\n' "$*"; }
e2e_fail() { E2E_FAILS=$((E2E_FAILS + 1)); printf 'FAIL %s\n' "$*"; }

# e2e_require_root; e2e_require_progs PROG...: skip (77) when not met.
e2e_require_root() {
    [ "$(id -u)" = 0 ] || e2e_skip "must run as root (Postfix instance, privilege drop)"
}
e2e_require_progs() {
    for _p in "$@"; do
        command -v "$_p" >/dev/null 2>&1 || e2e_skip "program '$_p' not found in PATH"
    done
}

# e2e_enter_netns SCRIPT ARGS...: re-runs the test in a fresh network namespace holding only
# a loopback interface, so that no packet can reach a non-loopback address even by mistake
# (swaks, for one, resolves the local host name). Falls back to the host's loopback when
# namespaces are unavailable (MB_E2E_NO_NETNS=1 forces that).
e2e_enter_netns() {
    [ -n "${MB_E2E_IN_NETNS:-}" ] && return 0
    [ "${MB_E2E_NO_NETNS:-0}" = 1 ] && return 0
    command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || {
        e2e_log "no unshare/ip: running on the host loopback"; return 0; }
    if unshare --net sh -c 'ip link set lo up' 2>/dev/null; then
        MB_E2E_IN_NETNS=1 exec unshare --net sh -c 'ip link set lo up && exec sh "$@"' sh "$@"
    fi
    e2e_log "network namespaces unavailable: running on the host loopback"
}

# e2e_init: temp dir, EXIT trap. Sets E2E_T.
e2e_init() {
    E2E_T=$(mktemp -d "${TMPDIR:-/tmp}/mb-e2e.XXXXXX") || e2e_die "mktemp failed"
    chmod 755 "$E2E_T"          # the postfix and nobody users must traverse it
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# e2e_add_log NAME FILE: shown (tail) when the test fails.
e2e_add_log() { E2E_LOGS="$E2E_LOGS $1=$2"; }

e2e_show_logs() {
    for _l in $E2E_LOGS; do
        _f=${_l#*=}
        [ -s "$_f" ] || continue
        printf '\n----- %s (%s), last 60 lines -----\n' "${_l%%=*}" "$_f"
        tail -n 60 "$_f" | LC_ALL=C tr -d '\000-\010\013-\037\177'
    done
}

e2e_cleanup() {
    _rc=$?
    set +e
    trap '' INT TERM
    for _d in $E2E_POSTFIX_DIRS; do e2e_postfix_stop "$_d"; done
    for _p in $E2E_PIDS; do kill "$_p" 2>/dev/null; done
    _n=0
    while [ $_n -lt 50 ]; do        # up to 5 s for a clean exit
        _alive=
        for _p in $E2E_PIDS; do kill -0 "$_p" 2>/dev/null && _alive="$_alive $_p"; done
        [ -z "$_alive" ] && break
        sleep 0.1; _n=$((_n + 1))
    done
    for _p in $_alive; do kill -9 "$_p" 2>/dev/null; done
    if [ "$_rc" != 0 ] && [ "$_rc" != 77 ]; then e2e_show_logs; fi
    if [ -n "$E2E_T" ] && [ -d "$E2E_T" ]; then
        if [ "${MB_E2E_KEEP:-0}" = 1 ]; then e2e_log "kept $E2E_T"; else rm -rf "$E2E_T"; fi
    fi
    exit "$_rc"
}

# e2e_finish: the summary line and the exit status.
e2e_finish() {
    printf '\n%d passed, %d failed\n' "$E2E_PASSES" "$E2E_FAILS"
    [ "$E2E_FAILS" = 0 ] || exit 1
    exit 0
}

# e2e_free_ports N: prints N distinct ports free for both TCP and UDP on 127.0.0.1.
e2e_free_ports() { python3 "$E2E_HELPER" ports "$1"; }

# e2e_spawn LOGFILE CMD...: runs CMD in the background, stdout+stderr to LOGFILE; the pid is
# tracked for cleanup and left in E2E_LAST_PID.
e2e_spawn() {
    _log=$1; shift
    "$@" >"$_log" 2>&1 </dev/null &
    E2E_LAST_PID=$!
    E2E_PIDS="$E2E_PIDS $E2E_LAST_PID"
}

# e2e_stop PID: TERM, then KILL after 5 s.
e2e_stop() {
    kill "$1" 2>/dev/null || return 0
    _n=0
    while kill -0 "$1" 2>/dev/null && [ $_n -lt 50 ]; do sleep 0.1; _n=$((_n + 1)); done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# e2e_wait_tcp HOST PORT SECS [PID]: 0 once the port accepts connections; 1 on timeout,
# 2 when PID has exited meanwhile.
e2e_wait_tcp() { python3 "$E2E_HELPER" wait-tcp "$@"; }
e2e_wait_unix() { python3 "$E2E_HELPER" wait-unix "$@"; }
# e2e_dns SERVER PORT NAME TYPE: prints "rcode=X" then "TYPE data" lines.
e2e_dns() { python3 "$E2E_HELPER" dns "$@"; }

# ----------------------------------------------------------------------------- NSD

# e2e_nsd_start DIR PORT ZONE...: serves tests/e2e/zones/ZONE.zone for each ZONE on
# 127.0.0.1@PORT (UDP and TCP), foreground process tracked by pid. NSD answers REFUSED for
# names outside its zones, so nothing is ever forwarded anywhere.
e2e_nsd_start() {
    _dir=$1; _port=$2; shift 2
    mkdir -p "$_dir/zones" "$_dir/xfr"
    {
        cat <<EOF
server:
    ip-address: 127.0.0.1@$_port
    port: $_port
    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$_dir/zones"
    pidfile: "$_dir/nsd.pid"
    database: ""
    xfrdfile: "$_dir/xfrd.state"
    xfrdir: "$_dir/xfr"
    zonelistfile: "$_dir/zone.list"
    logfile: "$_dir/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    hide-identity: yes
    refuse-any: yes
    zonefiles-check: no
    zonefiles-write: 0
remote-control:
    control-enable: no
EOF
        for _z in "$@"; do
            cp "$E2E_ZONES/$_z.zone" "$_dir/zones/$_z.zone"
            printf 'zone:\n    name: "%s"\n    zonefile: "%s.zone"\n' "$_z" "$_z"
        done
    } >"$_dir/nsd.conf"
    nsd-checkconf "$_dir/nsd.conf" >"$_dir/nsd-checkconf.out" 2>&1 ||
        e2e_die "nsd-checkconf: $(cat "$_dir/nsd-checkconf.out")"
    e2e_add_log nsd "$_dir/nsd.log"
    e2e_add_log nsd-stderr "$_dir/nsd.stderr"
    e2e_spawn "$_dir/nsd.stderr" nsd -d -c "$_dir/nsd.conf"
    E2E_NSD_PID=$E2E_LAST_PID
    python3 "$E2E_HELPER" wait-dns 127.0.0.1 "$_port" "$1" SOA 15 "$E2E_NSD_PID" ||
        e2e_die "nsd did not answer on 127.0.0.1@$_port"
}

# ----------------------------------------------------------------------------- rbldnsd

# e2e_rbldnsd_start DIR PORT ZONESPEC...: ZONESPEC as rbldnsd's (zone:type:file); the data
# files are copied from tests/e2e/zones. Foreground (-n), tracked by pid. When started as
# root rbldnsd drops to its own user (rbldns), so DIR must be readable by it.
e2e_rbldnsd_start() {
    _dir=$1; _port=$2; shift 2
    mkdir -p "$_dir"
    chmod 755 "$_dir"
    for _s in "$@"; do
        _f=${_s##*:}
        cp "$E2E_ZONES/$_f" "$_dir/$_f"
        chmod 644 "$_dir/$_f"
    done
    e2e_add_log rbldnsd "$_dir/rbldnsd.log"
    e2e_spawn "$_dir/rbldnsd.log" rbldnsd -n -4 -b "127.0.0.1/$_port" -w "$_dir" \
        -p "$_dir/rbldnsd.pid" -t 60 "$@"
    E2E_RBLDNSD_PID=$E2E_LAST_PID
    _z=${1%%:*}
    python3 "$E2E_HELPER" wait-dns 127.0.0.1 "$_port" "2.0.0.127.$_z" A 15 "$E2E_RBLDNSD_PID" ||
        e2e_die "rbldnsd did not answer on 127.0.0.1/$_port"
}

# ----------------------------------------------------------------------------- Postfix

# e2e_postfix_create DIR MAILBASE: a private Postfix instance with config in DIR/etc, queue in
# DIR/spool, log in DIR/postfix.log. Mail to *@example.test is delivered by the virtual(8)
# agent into the maildir MAILBASE/inbox/ (owned by postfix). Nothing else is delivered:
# every other transport is error:, there is no DNS (smtpd_peername_lookup = no,
# smtp_dns_support_level = disabled) and no notice mail. Add smtpd listeners with
# e2e_postfix_add_smtpd and settings with e2e_postfix_conf before e2e_postfix_start.
e2e_postfix_create() {
    _dir=$1; _mail=$2
    _uid=$(id -u postfix) && _gid=$(id -g postfix) || e2e_skip "no postfix user"
    mkdir -p "$_dir/etc" "$_dir/spool" "$_dir/data" "$_mail/inbox/new" "$_mail/inbox/cur" \
        "$_mail/inbox/tmp"
    chown -R postfix:postfix "$_dir/data" "$_mail"
    cat >"$_dir/etc/main.cf" <<EOF
# private Postfix instance of the mailblock end-to-end test
compatibility_level = 3.6
config_directory = $_dir/etc
queue_directory = $_dir/spool
data_directory = $_dir/data
mail_owner = postfix
setgid_group = postdrop
# maillog_file must start with one of maillog_file_prefixes, or "postfix start" fails
# silently (exit 1, no message anywhere)
maillog_file = $_dir/postfix.log
maillog_file_prefixes = $_dir
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtpd_banner = \$myhostname ESMTP mailblock-e2e
biff = no
notify_classes =
# never touch DNS or the network beyond loopback
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
default_transport = error:5.3.5 e2e: no remote delivery
relay_transport = error:5.3.5 e2e: no relay delivery
local_transport = error:5.3.5 e2e: no local delivery
alias_maps =
alias_database =
# delivery into a maildir in the test directory
virtual_mailbox_domains = example.test
virtual_mailbox_base = $_mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:$_uid
virtual_gid_maps = static:$_gid
virtual_minimum_uid = 1
# SMTP server policy
smtpd_helo_required = no
smtpd_delay_reject = yes
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_policy_service_default_action = 451 4.3.5 policy unavailable
smtpd_policy_service_timeout = 60s
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100
smtpd_client_connection_rate_limit = 0
EOF
    cat >"$_dir/etc/master.cf" <<'EOF'
# service type  private unpriv  chroot  wakeup  maxproc command + args
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
proxywrite unix  -       -       n       -       1       proxymap
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
virtual    unix  -       n       n       -       -       virtual
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
EOF
    e2e_add_log postfix "$_dir/postfix.log"
}

# e2e_postfix_add_smtpd DIR PORT [-o name=value]...: an smtpd on 127.0.0.1:PORT.
e2e_postfix_add_smtpd() {
    _dir=$1; _port=$2; shift 2
    printf '127.0.0.1:%s inet n - n - - smtpd' "$_port" >>"$_dir/etc/master.cf"
    for _a in "$@"; do printf ' %s' "$_a" >>"$_dir/etc/master.cf"; done
    printf '\n' >>"$_dir/etc/master.cf"
}

# e2e_postfix_conf DIR name=value...: edits main.cf (postconf -e).
e2e_postfix_conf() {
    _dir=$1; shift
    postconf -c "$_dir/etc" -e "$@" || e2e_die "postconf -c $_dir/etc -e $*"
}

# e2e_postfix_start DIR PORT: starts the instance and waits (15 s) for its smtpd on PORT.
e2e_postfix_start() {
    _dir=$1; _port=$2
    postconf -c "$_dir/etc" >/dev/null 2>"$_dir/postconf.err" ||
        e2e_die "postconf -c $_dir/etc: $(cat "$_dir/postconf.err")"
    E2E_POSTFIX_DIRS="$E2E_POSTFIX_DIRS $_dir"
    # "postfix start" runs "postfix check", which creates the queue directories and sets
    # their owners (post-install create-missing).
    timeout 60 postfix -c "$_dir/etc" start >"$_dir/start.out" 2>&1 ||
        e2e_die "postfix -c $_dir/etc start failed: $(cat "$_dir/start.out")"
    e2e_wait_tcp 127.0.0.1 "$_port" 15 ||
        e2e_die "postfix smtpd not listening on 127.0.0.1:$_port: $(cat "$_dir/start.out")"
}

# e2e_postfix_stop DIR: "postfix stop", then kills the master if it lingers.
e2e_postfix_stop() {
    _dir=$1
    [ -f "$_dir/etc/main.cf" ] || return 0
    timeout 20 postfix -c "$_dir/etc" stop >/dev/null 2>&1
    _pidf="$_dir/spool/pid/master.pid"
    [ -f "$_pidf" ] || return 0
    _mp=$(tr -dc '0-9' <"$_pidf")
    [ -n "$_mp" ] || return 0
    _n=0
    while kill -0 "$_mp" 2>/dev/null && [ $_n -lt 50 ]; do sleep 0.1; _n=$((_n + 1)); done
    if kill -0 "$_mp" 2>/dev/null; then
        # only if that pid is still this instance's master
        if tr '\0' ' ' <"/proc/$_mp/cmdline" 2>/dev/null | grep -q master; then
            kill -9 "$_mp" 2>/dev/null
        fi
    fi
    return 0
}

# e2e_wait_delivered MAILBASE CASE SECS: 0 once a message with "X-E2E-Case: CASE" is in the
# maildir MAILBASE/inbox.
e2e_wait_delivered() {
    _n=0; _max=$(($3 * 10))
    while [ $_n -lt $_max ]; do
        grep -l -x -F "X-E2E-Case: $2" "$1"/inbox/new/* >/dev/null 2>&1 && return 0
        sleep 0.1; _n=$((_n + 1))
    done
    return 1
}

# ----------------------------------------------------------------------------- SMTP clients

# e2e_swaks TRANSCRIPT PORT CLIENT_IP HELO FROM TO CASE [swaks args]: one transaction with
# swaks from source address CLIENT_IP to 127.0.0.1:PORT; prints the final reply line: the
# first 4xx/5xx reply (its last line), else the reply to the end of DATA. "ERROR ..." when
# swaks could not talk to the server. The transcript goes to the file TRANSCRIPT.
e2e_swaks() {
    _tr=$1; _port=$2; _ip=$3; _helo=$4; _from=$5; _to=$6; _case=$7; shift 7
    timeout 25 swaks --server 127.0.0.1 --port "$_port" --local-interface "$_ip" \
        --helo "$_helo" --from "$_from" --to "$_to" --timeout 15 \
        --add-header "X-E2E-Case: $_case" --header "Subject: mailblock e2e $_case" \
        "$@" >"$_tr" 2>&1
    awk '
        /^<\*\* / && !done { l = $0; sub(/^<\*\* +/, "", l)
                             if (substr(l, 4, 1) != "-") { print l; done = 1 }; next }
        /^ -> QUIT/ { quit = 1; next }
        /^<-  / && !quit { l = $0; sub(/^<- +/, "", l); last = l; next }
        /^\*\*\* / && err == "" { err = $0 }
        END { if (!done) { if (last != "" && err == "") print last; else print "ERROR " err } }
    ' "$_tr"
}

# e2e_smtp_raw TRANSCRIPT PORT CLIENT_IP CMD...: a raw dialogue (CMD may hold \xHH escapes);
# prints the final reply line as e2e_swaks does.
e2e_smtp_raw() {
    _tr=$1; _port=$2; _ip=$3; shift 3
    timeout 25 python3 "$E2E_HELPER" smtp --bind "$_ip" --port "$_port" --timeout 15 "$@" \
        2>"$_tr"
}
