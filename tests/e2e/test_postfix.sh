#!/bin/sh
# End-to-end: mailblock as the policy server of a real Postfix, with real DNS.
#
# Starts, all on 127.0.0.1 ports picked at run time (inside a private network namespace when
# possible, so nothing can leave the host's loopback):
#   NSD       authoritative for the zones in tests/e2e/zones (.test names, 0.0.127.in-addr.arpa)
#   rbldnsd   bl.test (IP list: 127.0.0.14) and dbl.test (domain list: spammer.test)
#   mailblock `mailblock serve`: one instance on inet + unix sockets, one with dry_run = yes
#             and user = nobody
#   Postfix   a private instance with three smtpd listeners: inet policy (after
#             permit_mynetworks), unix-socket policy (no permit_mynetworks: mailblock's own
#             mynetworks exemption applies), and the dry-run instance
# then sends good and bad transactions (swaks, or a raw dialogue where swaks cannot), each
# from its own 127.0.0.N source address, and asserts Postfix's reply code, enhanced code and
# the finding id, delivery of good mail, one decision line per transaction in mailblock's log,
# and that the log holds no raw control bytes.
#
# Environment: MAILBLOCK (default $MB_SOURCE_DIR/build/mailblock), MB_SOURCE_DIR,
# MB_BUILD_DIR (unused), MB_E2E_KEEP=1 keeps the temp dir, MB_E2E_BUDGET (seconds, default
# 150) bounds the run, MB_E2E_NO_NETNS=1 stays on the host loopback, MB_E2E_STUB=1 replaces
# mailblock by the stand-in policy server of helper.py (verifies the harness itself).
# Exit: 0 pass, 1 fail, 77 skipped (not root, a program missing).

E2E_LIB=$0
. "$(dirname "$0")/lib.sh"

MB_SOURCE_DIR=${MB_SOURCE_DIR:-$(cd "$E2E_LIB_DIR/../.." && pwd)}
MAILBLOCK=${MAILBLOCK:-$MB_SOURCE_DIR/build/mailblock}
case $MAILBLOCK in /*) ;; *) MAILBLOCK=$(pwd)/$MAILBLOCK ;; esac
STUB=${MB_E2E_STUB:-0}

e2e_require_root
e2e_require_progs postfix postconf nsd nsd-checkconf rbldnsd swaks python3 timeout awk id
_dd=$(postconf -d -h daemon_directory 2>/dev/null)
[ -x "$_dd/master" ] && [ -x "$_dd/smtpd" ] && [ -x "$_dd/virtual" ] ||
    e2e_skip "Postfix daemons not found in '$_dd'"
id postfix >/dev/null 2>&1 || e2e_skip "no 'postfix' user"
id nobody >/dev/null 2>&1 || e2e_skip "no 'nobody' user"
if [ "$STUB" != 1 ] && [ ! -x "$MAILBLOCK" ]; then
    e2e_die "mailblock binary not found at $MAILBLOCK (build it first: make)"
fi

e2e_enter_netns "$0" "$@"

python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.10", 0))' 2>/dev/null ||
    e2e_skip "cannot bind 127.0.0.10 (the test needs all of 127.0.0.0/8 on lo)"

e2e_init
START=$(date +%s)
BUDGET=${MB_E2E_BUDGET:-150}
set -- $(e2e_free_ports 8)
[ $# = 8 ] || e2e_die "could not pick ports"
SMTP=$1 SMTP_UNIX=$2 SMTP_DRY=$3 POL=$4 POL_DRY=$5 NSDP=$6 RBLP=$7 DEADP=$8
SOCK_DIR=$E2E_T/sock
SOCK=$SOCK_DIR/mailblock.sock
MAIL=$E2E_T/mail
PF=$E2E_T/postfix
MBLOG=$E2E_T/mailblock.log
DRYLOG=$E2E_T/mailblock-dry.log
CAT=$E2E_T/catalog.json
mkdir -p "$SOCK_DIR"
chmod 755 "$SOCK_DIR"
e2e_log "ports: smtp=$SMTP smtp-unix=$SMTP_UNIX smtp-dry=$SMTP_DRY policy=$POL" \
    "policy-dry=$POL_DRY nsd=$NSDP rbldnsd=$RBLP dead=$DEADP; dir $E2E_T"

# ------------------------------------------------------------------ DNS: NSD and rbldnsd

e2e_nsd_start "$E2E_T/nsd" "$NSDP" test example.test good.test nomx.test nullmx.test \
    spammer.test mismatch.test isp.test listed.test 0.0.127.in-addr.arpa
e2e_rbldnsd_start "$E2E_T/rbl" "$RBLP" bl.test:ip4set:bl.txt dbl.test:dnset:dbl.txt

# dns_expect SERVERPORT NAME TYPE EXPECTED: EXPECTED is a line of e2e_dns's output
dns_expect() {
    if e2e_dns 127.0.0.1 "$1" "$2" "$3" | grep -q -x -F "$4"; then
        e2e_ok "dns $2/$3: $4"
    else
        e2e_fail "dns $2/$3: expected '$4', got: $(e2e_dns 127.0.0.1 "$1" "$2" "$3" | tr '\n' ' ')"
    fi
}
dns_expect "$NSDP" 10.0.0.127.in-addr.arpa PTR "PTR mail.good.test."
dns_expect "$NSDP" 11.0.0.127.in-addr.arpa PTR "rcode=NXDOMAIN"
dns_expect "$NSDP" unknown.test MX "rcode=NXDOMAIN"
dns_expect "$NSDP" nullmx.test MX "MX 0 ."
dns_expect "$NSDP" example.com A "rcode=REFUSED"
dns_expect "$RBLP" 14.0.0.127.bl.test A "A 127.0.0.2"
dns_expect "$RBLP" spammer.test.dbl.test A "A 127.0.0.2"
dns_expect "$RBLP" 10.0.0.127.bl.test A "rcode=NXDOMAIN"

# ------------------------------------------------------------------ mailblock

write_conf() { # FILE LISTEN [extra lines...]
    _f=$1 _l=$2; shift 2
    {
        cat <<EOF
# mailblock configuration of the end-to-end test
policy_listen = $_l
myhostname = mx.example.test
local_domains = example.test
mynetworks = 127.0.0.1/32
# every query goes to NSD (it answers REFUSED outside its zones, so nothing leaks) ...
dns_forwarders = 127.0.0.1:$NSDP
# ... the test zones are also named as forward zones (to the same NSD): resolvers answer
# "test." and "127.in-addr.arpa." themselves by default (RFC 6761, RFC 6303) and forwarders
# do not lift that; the blocklists go to rbldnsd, and dead.test to a port where nothing listens
dns_forward_zones = test=127.0.0.1:$NSDP, 0.0.127.in-addr.arpa=127.0.0.1:$NSDP, bl.test=127.0.0.1:$RBLP, dbl.test=127.0.0.1:$RBLP, dead.test=127.0.0.1:$DEADP
dns_timeout = 3s
dnsbl_sites = bl.test
rhsbl_sites = dbl.test
explain_url = https://mx.example.test/why/
EOF
        for _x in "$@"; do printf '%s\n' "$_x"; done
    } >"$_f"
}
write_conf "$E2E_T/mailblock.conf" "inet:127.0.0.1:$POL, unix:$SOCK"
write_conf "$E2E_T/mailblock-dry.conf" "inet:127.0.0.1:$POL_DRY" "dry_run = yes" "user = nobody"
e2e_add_log mailblock "$MBLOG"
e2e_add_log mailblock-dry "$DRYLOG"

if [ "$STUB" = 1 ]; then
    e2e_log "MB_E2E_STUB=1: using the stand-in policy server, not mailblock"
    python3 "$E2E_HELPER" stub-catalog >"$CAT"
    e2e_spawn "$MBLOG" python3 "$E2E_HELPER" stub-policy --listen "inet:127.0.0.1:$POL" \
        --listen "unix:$SOCK"
    MB_PID=$E2E_LAST_PID
    e2e_spawn "$DRYLOG" python3 "$E2E_HELPER" stub-policy --listen "inet:127.0.0.1:$POL_DRY" \
        --dry-run
    DRY_PID=$E2E_LAST_PID
else
    if ! "$MAILBLOCK" catalog --json >"$CAT" 2>"$E2E_T/catalog.err" ||
        ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$CAT" 2>/dev/null; then
        e2e_log "NOTE: '$MAILBLOCK catalog --json' unusable ($(head -c 200 "$E2E_T/catalog.err"));" \
            "asserting the reply class and the id only"
        : >"$CAT"
    fi
    e2e_spawn "$MBLOG" "$MAILBLOCK" serve -c "$E2E_T/mailblock.conf"
    MB_PID=$E2E_LAST_PID
    e2e_spawn "$DRYLOG" "$MAILBLOCK" serve -c "$E2E_T/mailblock-dry.conf"
    DRY_PID=$E2E_LAST_PID
fi
e2e_wait_tcp 127.0.0.1 "$POL" 15 "$MB_PID" ||
    e2e_die "policy server not listening on 127.0.0.1:$POL: $(tail -n 20 "$MBLOG")"
e2e_wait_unix "$SOCK" 15 "$MB_PID" ||
    e2e_die "policy server not listening on unix:$SOCK: $(tail -n 20 "$MBLOG")"
e2e_wait_tcp 127.0.0.1 "$POL_DRY" 15 "$DRY_PID" ||
    e2e_die "dry-run policy server not listening on 127.0.0.1:$POL_DRY: $(tail -n 20 "$DRYLOG")"
e2e_ok "policy servers listening (inet:$POL, unix:$SOCK, dry inet:$POL_DRY)"

# privilege drop: the dry-run instance has user = nobody
if [ "$STUB" = 1 ]; then
    e2e_log "privilege drop: not checked with the stub"
else
    _want=$(id -u nobody)
    _uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$DRY_PID/status" 2>/dev/null)
    if [ "$_uids" = "$_want $_want $_want $_want" ]; then
        e2e_ok "privilege drop: user = nobody gives Uid $_uids"
    else
        e2e_fail "privilege drop: user = nobody, but /proc/$DRY_PID/status Uid: '$_uids' (want $_want)"
    fi
    _mode=$(stat -c '%a %U' "$SOCK" 2>/dev/null)
    e2e_log "unix socket $SOCK: mode/owner $_mode"
fi

# preflight: the good transaction through `mailblock check` (diagnostic only)
if [ "$STUB" != 1 ]; then
    if ! "$MAILBLOCK" check -c "$E2E_T/mailblock.conf" --json --client-ip 127.0.0.10 \
        --helo mail.good.test --from a@good.test --rcpt s00@example.test \
        >"$E2E_T/preflight.out" 2>&1; then
        e2e_log "NOTE: preflight 'mailblock check' of the good transaction did not accept:"
        head -c 2000 "$E2E_T/preflight.out" | LC_ALL=C tr -d '\000-\010\013-\037\177' >&2
        printf '\n' >&2
    fi
fi

# ------------------------------------------------------------------ Postfix

e2e_postfix_create "$PF" "$MAIL"
e2e_postfix_conf "$PF" \
    "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service inet:127.0.0.1:$POL" \
    "mb_unix_restrictions = reject_unauth_destination, check_policy_service unix:$SOCK" \
    "mb_dry_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service inet:127.0.0.1:$POL_DRY"
e2e_postfix_add_smtpd "$PF" "$SMTP"
e2e_postfix_add_smtpd "$PF" "$SMTP_UNIX" -o syslog_name=postfix/smtpd-unix \
    '-o smtpd_recipient_restrictions=$mb_unix_restrictions'
e2e_postfix_add_smtpd "$PF" "$SMTP_DRY" -o syslog_name=postfix/smtpd-dry \
    '-o smtpd_recipient_restrictions=$mb_dry_restrictions'
e2e_postfix_start "$PF" "$SMTP"
e2e_wait_tcp 127.0.0.1 "$SMTP_UNIX" 10 && e2e_wait_tcp 127.0.0.1 "$SMTP_DRY" 10 ||
    e2e_die "postfix smtpd listeners $SMTP_UNIX/$SMTP_DRY not up"
e2e_ok "postfix instance up (smtpd on $SMTP, $SMTP_UNIX, $SMTP_DRY)"

# ------------------------------------------------------------------ scenarios

# txn CASE PORT CLIENT HELO FROM LOG: one transaction to CASE@example.test; HELO "-" means
# no HELO at all (raw dialogue). Sets REPLY (final reply line) and LINES (the new lines of
# LOG that mention the recipient, in file $E2E_T/lines.CASE).
txn() {
    _case=$1 _port=$2 _ip=$3 _helo=$4 _from=$5 _log=$6
    [ $(($(date +%s) - START)) -le "$BUDGET" ] ||
        e2e_die "time budget of $BUDGET s exceeded before $_case (MB_E2E_BUDGET)"
    _off=$(wc -c <"$_log")
    if [ "$_helo" = - ]; then
        REPLY=$(e2e_smtp_raw "$E2E_T/tr.$_case" "$_port" "$_ip" "MAIL FROM:<$_from>" \
            "RCPT TO:<$_case@example.test>" QUIT)
    else
        [ "$_from" = "" ] && _from='<>'
        REPLY=$(e2e_swaks "$E2E_T/tr.$_case" "$_port" "$_ip" "$_helo" "$_from" \
            "$_case@example.test" "$_case")
    fi
    LINES=$E2E_T/lines.$_case
    _n=0
    while :; do   # the decision is logged when the reply is sent: allow a little slack
        tail -c +$((_off + 1)) "$_log" | grep -F "$_case@example.test" >"$LINES"
        [ -s "$LINES" ] || [ $_n -ge 20 ] && break
        sleep 0.1; _n=$((_n + 1))
    done
}

# postfix_dsn_fix ENH: the enhanced code Postfix sends when a restriction in
# smtpd_recipient_restrictions rejects with ENH. Postfix's smtpd_dsn_fix() rewrites
# address-status codes X.1.Y for the "Recipient address rejected" context: X.1.7 (bad sender
# syntax) becomes X.1.3, X.1.8 (bad sender system) becomes X.1.2, X.1.1-6 stay, and any other
# X.1.Y (such as X.1.10) becomes X.1.0. Other classes (X.7.Y, X.5.Y, ...) pass unchanged.
postfix_dsn_fix() {
    case $1 in
        ?.1.[1-6]) printf '%s\n' "$1" ;;
        ?.1.7) printf '%s.1.3\n' "${1%%.*}" ;;
        ?.1.8) printf '%s.1.2\n' "${1%%.*}" ;;
        ?.1.*) printf '%s.1.0\n' "${1%%.*}" ;;
        *) printf '%s\n' "$1" ;;
    esac
}

# expect ID: sets EXP_CODE, EXP_ENH ("-" when unknown; as Postfix will send it) and
# EXP_ACTION from the catalog.
expect() {
    EXP_CODE=- EXP_ENH=- EXP_ACTION=reject
    [ -s "$CAT" ] || return 0
    set -- $(python3 "$E2E_HELPER" catalog "$CAT" "$1")
    [ $# = 3 ] || return 0
    EXP_CODE=$1 EXP_ENH=$(postfix_dsn_fix "$2") EXP_ACTION=$3
}

check_log_lines() { # CASE [ID]: exactly one decision line, naming ID when given
    _c=$(wc -l <"$LINES")
    if [ "$_c" != 1 ]; then
        e2e_fail "$1: expected 1 decision line mentioning $1@example.test in the log, got $_c"
        return 1
    fi
    if [ -n "${2:-}" ] && ! grep -q -F "$2" "$LINES"; then
        e2e_fail "$1: decision line does not name $2: $(cat "$LINES")"
        return 1
    fi
    return 0
}

# t_accept CASE PORT CLIENT HELO FROM [nolog|raw] : 250, delivered, one decision line
t_accept() {
    _what=$1; _log=$MBLOG
    [ "$2" = "$SMTP_DRY" ] && _log=$DRYLOG
    txn "$1" "$2" "$3" "$4" "$5" "$_log"
    case $REPLY in
        250*) ;;
        *) e2e_fail "$_what: expected acceptance, got: $REPLY"; return ;;
    esac
    if [ "$4" != - ] && ! e2e_wait_delivered "$MAIL" "$1" 15; then
        e2e_fail "$_what: accepted but not delivered to $MAIL/inbox"; return
    fi
    if [ "${6:-}" = nolog ]; then
        # Postfix's permit_mynetworks comes first: mailblock must not have been asked
        [ -s "$LINES" ] && { e2e_fail "$_what: mailblock was consulted: $(cat "$LINES")"; return; }
    else
        check_log_lines "$1" || return
    fi
    e2e_ok "$_what: accepted and delivered ($3, helo '$4', from '<$5>')"
}

# t_reject CASE ID PORT CLIENT HELO FROM [NEEDLE]: rejected with the catalog's codes, naming
# ID (and NEEDLE) in the reply; exactly one decision line naming ID.
t_reject() {
    _case=$1 _id=$2 _needle=${7:-$2}
    expect "$_id"
    case $EXP_ACTION in
        reject | tempfail) ;;
        *)  # the catalog's default action does not reject: the mail goes through
            e2e_log "$_id: default action is '$EXP_ACTION' in the catalog; expecting acceptance"
            t_accept "$_case" "$3" "$4" "$5" "$6"
            [ "$EXP_ACTION" = warn ] && ! grep -q -F "$_id" "$E2E_T/lines.$_case" &&
                e2e_fail "$_case: $_id (warn) not in the decision line"
            return ;;
    esac
    txn "$_case" "$3" "$4" "$5" "$6" "$MBLOG"
    set -f; set -- $REPLY; set +f
    _code=${1:-} _enh=${2:-}
    _ok=1
    if [ "$EXP_ACTION" = tempfail ]; then
        case $_code in 4??) ;; *) _ok=0 ;; esac
        case $_enh in 4.*) ;; *) _ok=0 ;; esac
        [ "$EXP_ENH" != - ] && [ "${_enh#4}" != "${EXP_ENH#?}" ] && _ok=0
    elif [ "$EXP_CODE" != - ]; then
        [ "$_code" = "$EXP_CODE" ] && [ "$_enh" = "$EXP_ENH" ] || _ok=0
    else
        case $_code in 5??) ;; *) _ok=0 ;; esac
    fi
    case $REPLY in *"$_id"*) ;; *) _ok=0 ;; esac
    case $REPLY in *"$_needle"*) ;; *) _ok=0 ;; esac
    if [ $_ok = 0 ]; then
        e2e_fail "$_case $_id: expected '$EXP_CODE $EXP_ENH ... $_id ... $_needle' ($EXP_ACTION), got: $REPLY"
        return
    fi
    check_log_lines "$_case" "$_id" || return
    e2e_ok "$_case $_id: $_code $_enh"
}

# t_tempfail CASE PORT CLIENT HELO FROM: any 4xx reply with a 4.x.x code, never 5xx
t_tempfail() {
    txn "$1" "$2" "$3" "$4" "$5" "$MBLOG"
    set -f; set -- "$1" $REPLY; set +f
    case "$2 $3" in
        4??\ 4.*) ;;
        *) e2e_fail "$1: expected a temporary failure (4xx 4.x.x), got: $REPLY"; return ;;
    esac
    check_log_lines "$1" || return
    e2e_ok "$1: temporary failure: $2 $3"
}

G=mail.good.test
# (1) a good sender
t_accept s01-good "$SMTP" 127.0.0.10 $G a@good.test
# (2)-(5) the client address
t_reject s02 client.no_ptr "$SMTP" 127.0.0.11 $G a@good.test
t_reject s03 client.ptr_mismatch "$SMTP" 127.0.0.12 host.mismatch.test a@good.test
t_reject s04 client.ptr_generic "$SMTP" 127.0.0.13 127-0-0-13.dyn.isp.test a@good.test
t_reject s05 client.dnsbl "$SMTP" 127.0.0.14 mail.listed.test a@good.test bl.test
# (6)-(11) HELO
t_reject s06 helo.not_fqdn "$SMTP" 127.0.0.10 MYPC a@good.test
t_reject s07 helo.syntax "$SMTP" 127.0.0.10 'bad_name!x' a@good.test
t_reject s08 helo.forged_self "$SMTP" 127.0.0.10 mx.example.test a@good.test
t_reject s09 helo.ip_literal_mismatch "$SMTP" 127.0.0.10 '[127.0.0.99]' a@good.test
t_reject s10 helo.no_dns "$SMTP" 127.0.0.10 nosuch.good.test a@good.test
t_reject s11 helo.missing "$SMTP" 127.0.0.10 - a@good.test
# (12)-(18) the sender
t_reject s12 sender.domain_unknown "$SMTP" 127.0.0.10 $G a@unknown.test
t_reject s13 sender.null_mx "$SMTP" 127.0.0.10 $G a@nullmx.test
t_accept s14-implicit-mx "$SMTP" 127.0.0.10 $G a@nomx.test
t_reject s15 sender.forged_local "$SMTP" 127.0.0.10 $G x@example.test
t_reject s16 sender.rhsbl "$SMTP" 127.0.0.10 $G a@spammer.test dbl.test
t_accept s17-null-sender "$SMTP" 127.0.0.10 $G ''
t_accept s18-quoted-local "$SMTP" 127.0.0.10 $G '"john doe"@good.test'
# (19) DNS temporary failure: 4xx, never 5xx
t_tempfail s19-dns-tempfail "$SMTP" 127.0.0.10 $G a@dead.test
# (20) mynetworks: Postfix's permit_mynetworks comes first, so mailblock is not even asked
t_accept s20-mynetworks "$SMTP" 127.0.0.1 MYPC a@good.test nolog

# the unix-socket policy endpoint; no permit_mynetworks before it, so mailblock's own
# mynetworks exemption is what lets 127.0.0.1 through
t_accept u01-good "$SMTP_UNIX" 127.0.0.10 $G a@good.test
t_reject u02 client.no_ptr "$SMTP_UNIX" 127.0.0.11 $G a@good.test
t_accept u03-mynetworks "$SMTP_UNIX" 127.0.0.1 MYPC a@good.test

# (21) dry_run = yes: bad transactions are accepted, the would-be rejection is logged
for _s in "d02 client.no_ptr 127.0.0.11 $G a@good.test" \
    "d06 helo.not_fqdn 127.0.0.10 MYPC a@good.test" \
    "d13 sender.null_mx 127.0.0.10 $G a@nullmx.test"; do
    set -- $_s
    t_accept "$1-dry" "$SMTP_DRY" "$3" "$4" "$5"
    if [ -s "$E2E_T/lines.$1-dry" ]; then
        if grep -q -F "$2" "$E2E_T/lines.$1-dry" && grep -q -F dry_run "$E2E_T/lines.$1-dry"; then
            e2e_ok "$1-dry: dry run logged the would-be $2"
        else
            e2e_fail "$1-dry: dry-run decision line lacks '$2' or 'dry_run': $(cat "$E2E_T/lines.$1-dry")"
        fi
    fi
done

# hostile input: control bytes in HELO (Postfix replaces them before the policy request)
# and binary junk straight into the policy socket; the server must keep serving
_r=$(e2e_smtp_raw "$E2E_T/tr.x01" "$SMTP" 127.0.0.10 'EHLO \x1b[31mevil\x07%s%n' \
    'MAIL FROM:<a@good.test>' 'RCPT TO:<x01@example.test>' QUIT)
case $_r in [245]??*) e2e_ok "x01: control bytes in HELO answered: ${_r%%<*}" ;;
    *) e2e_fail "x01: control bytes in HELO: no SMTP reply: $_r" ;; esac
python3 - "$POL" <<'EOF' || e2e_fail "x02: could not send junk to the policy port"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.settimeout(5)
try:
    s.sendall(b"request=smtpd_access_policy\n\x00\x1b[2J\xff\xfe=\x07\n" + b"A" * 70000 + b"\n\n")
    s.recv(4096)
except OSError:
    pass
s.close()
EOF
kill -0 "$MB_PID" 2>/dev/null && e2e_ok "x02: policy server alive after junk input" ||
    e2e_fail "x02: policy server died after junk input"
t_accept x03-good-after-junk "$SMTP" 127.0.0.10 $G a@good.test

# Received-SPF (RFC 7208 9.1): the gate prepends it once per message, also when Postfix asks
# once per recipient; every delivered copy carries exactly one
_r=$(e2e_swaks "$E2E_T/tr.r01" "$SMTP" 127.0.0.10 "$G" a@good.test \
    "r01a@example.test,r01b@example.test" r01)
case $_r in 250*) ;; *) e2e_fail "r01: two recipients: expected acceptance, got: $_r" ;; esac
if e2e_wait_delivered "$MAIL" r01 15; then
    sleep 0.5
    _bad=0; _copies=0
    for _f in $(grep -l -x -F "X-E2E-Case: r01" "$MAIL"/inbox/new/*); do
        _copies=$((_copies + 1))
        [ "$(grep -c '^Received-SPF: pass (' "$_f")" = 1 ] || _bad=1
        grep -q 'client-ip=127.0.0.10; envelope-from="a@good.test"; helo="mail.good.test"; identity=mailfrom; mechanism="ip4:127.0.0.10";' "$_f" || _bad=1
    done
    if [ "$_bad" = 0 ] && [ "$_copies" -ge 1 ]; then
        e2e_ok "r01: $_copies delivered copies, each with one Received-SPF: pass header"
    else
        e2e_fail "r01: Received-SPF missing, repeated or wrong: $(grep -h '^Received-SPF' "$MAIL"/inbox/new/* | head -5)"
    fi
else
    e2e_fail "r01: accepted but not delivered"
fi

# the logs: no raw control bytes (tab and newline aside)
for _l in "$MBLOG" "$DRYLOG"; do
    _all=$(wc -c <"$_l")
    _clean=$(LC_ALL=C tr -d '\000-\010\013-\037\177' <"$_l" | wc -c)
    if [ "$_all" = "$_clean" ]; then
        e2e_ok "$(basename "$_l"): no raw control bytes ($_all bytes)"
    else
        e2e_fail "$(basename "$_l"): $((_all - _clean)) raw control bytes"
    fi
done

e2e_log "elapsed $(($(date +%s) - START)) s"
e2e_finish
