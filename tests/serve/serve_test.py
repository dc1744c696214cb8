#!/usr/bin/env python3
"""Scripted protocol sessions against `mailblock serve` (the Postfix policy server).

Hermetic: every DNS question is answered from tests/golden/zones/*.zone (--zone) and
tests/golden/golden.cf sends anything else to a dead loopback forwarder. Each server listens
on 127.0.0.1 on a port picked here and on a unix socket in the temporary directory.

Usage: serve_test.py TMPDIR   (env MAILBLOCK = the binary, MB_SOURCE_DIR = the repo root)
The pid of every server started is appended to TMPDIR/pids so that the calling shell's trap
can kill what is left. Prints "ok"/"FAIL" per assertion and "serve: N passed, M failed".
Python 3 standard library only.
"""
import errno
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import traceback

MAILBLOCK = os.environ.get("MAILBLOCK", "")
SRC = os.environ.get("MB_SOURCE_DIR", "")
TMP = sys.argv[1] if len(sys.argv) > 1 else ""
GOLDEN = os.path.join(SRC, "tests", "golden")
GOLDEN_CF = os.path.join(GOLDEN, "golden.cf")
OVERRIDES = os.path.join(GOLDEN, "overrides")
ZONES = sorted(
    os.path.join(GOLDEN, "zones", z)
    for z in os.listdir(os.path.join(GOLDEN, "zones"))
    if z.endswith(".zone")
) if SRC else []
DEAD_ZONE = "dead.test=127.0.0.1:1"

IO_TIMEOUT = 6.0     # any single reply (the slow ones take ~2 s: dns_timeout=2s)
START_TIMEOUT = 5.0  # a server to accept connections
STOP_TIMEOUT = 6.0   # a server to exit after SIGTERM

PASSED = 0
FAILED = 0
VERBOSE = os.environ.get("MB_SERVE_VERBOSE", "") not in ("", "0")


def ok(name):
    global PASSED
    PASSED += 1
    print("ok   %s" % name)


def fail(name, detail=""):
    global FAILED
    FAILED += 1
    print("FAIL %s%s" % (name, (": " + detail) if detail else ""))


def check(name, cond, detail=""):
    if cond:
        ok(name)
    else:
        fail(name, detail)
    return cond


def expect_eq(name, got, want):
    return check(name, got == want, "got %r, want %r" % (got, want))


# ---------------------------------------------------------------------------------------------
# the catalog: code and enhanced code of every finding id

def load_catalog():
    out = subprocess.run([MAILBLOCK, "catalog", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=10)
    data = json.loads(out.stdout.decode())
    return {f["id"]: f for f in data["findings"]}


CATALOG = {}


def reject_prefix(fid):
    """'550 5.7.25 ' for a finding id, from `mailblock catalog --json`."""
    f = CATALOG[fid]
    return "%d %s " % (f["code"], f["enhanced"])


# ---------------------------------------------------------------------------------------------
# Postfix policy requests

_instance_counter = [0]


def new_instance():
    """A Postfix-like instance value (changes per message)."""
    _instance_counter[0] += 1
    return "%x.%x.%x.%d" % (os.getpid(), int(time.time()) & 0xffffff, _instance_counter[0], 0)


def request(state="RCPT", client="192.0.2.10", helo="mail.good.test", sender="alice@good.test",
            rcpt="bob@example.com", instance=None, client_name=None, sasl_username="",
            extra=None, drop=(), raw=None):
    """The attribute list of one Postfix 3.x policy request, as smtpd sends it: every
    attribute, empty where not known yet at that protocol state, plus an unknown one."""
    if client_name is None:
        client_name = "mail.good.test" if client in ("192.0.2.10", "2001:db8::10") else "unknown"
    if state == "CONNECT":
        helo, sender, rcpt = "", "", ""
    elif state in ("EHLO", "HELO"):
        sender, rcpt = "", ""
    elif state == "MAIL":
        rcpt = ""
    attrs = [
        ("request", "smtpd_access_policy"),
        ("protocol_state", state),
        ("protocol_name", "ESMTP"),
        ("helo_name", helo),
        ("queue_id", "8045F2AB23" if state in ("RCPT", "DATA", "END-OF-MESSAGE") else ""),
        ("sender", sender),
        ("recipient", rcpt),
        ("recipient_count", "0"),
        ("client_address", client),
        ("client_name", client_name),
        ("reverse_client_name", client_name),
        ("instance", instance if instance is not None else new_instance()),
        ("sasl_method", "plain" if sasl_username else ""),
        ("sasl_username", sasl_username),
        ("sasl_sender", ""),
        ("size", "12345" if state not in ("CONNECT", "EHLO", "HELO") else "0"),
        ("ccert_subject", ""),
        ("ccert_issuer", ""),
        ("ccert_fingerprint", ""),
        ("ccert_pubkey_fingerprint", ""),
        ("encryption_protocol", "TLSv1.3"),
        ("encryption_cipher", "TLS_AES_256_GCM_SHA384"),
        ("encryption_keysize", "256"),
        ("etrn_domain", ""),
        ("stress", ""),
        ("client_port", "54321"),
        ("policy_context", ""),
        ("server_address", "192.0.2.1"),
        ("server_port", "25"),
        ("compatibility_level", "3.6"),
        ("mail_version", "3.7.11"),
        ("x_future_attribute", "must be ignored=really"),
    ]
    if extra:
        attrs.extend(extra)
    attrs = [(k, v) for k, v in attrs if k not in drop]
    return attrs


def encode(attrs, eol=b"\n"):
    out = b""
    for k, v in attrs:
        kb = k.encode() if isinstance(k, str) else k
        vb = v.encode("latin-1") if isinstance(v, str) else v
        out += kb + b"=" + vb + eol
    return out + eol


# ---------------------------------------------------------------------------------------------
# a client connection

class Closed(Exception):
    pass


class Conn:
    def __init__(self, addr, timeout=IO_TIMEOUT):
        fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def read_reply(self, timeout=IO_TIMEOUT):
        """One reply: lines up to an empty line. Returns the list of lines (bytes)."""
        deadline = time.monotonic() + timeout
        while b"\n\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no reply within %.1fs" % timeout)
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed("connection closed, %d bytes pending: %r" % (len(self.buf),
                                                                         self.buf[:80]))
            self.buf += chunk
        i = self.buf.index(b"\n\n")
        head, self.buf = self.buf[:i], self.buf[i + 2:]
        return head.split(b"\n")

    def ask(self, attrs, timeout=IO_TIMEOUT):
        """Sends a request, returns the action value (str) of its reply."""
        self.send(encode(attrs))
        return self.action(timeout)

    def action(self, timeout=IO_TIMEOUT):
        lines = self.read_reply(timeout)
        if len(lines) != 1 or not lines[0].startswith(b"action="):
            raise AssertionError("malformed reply %r" % lines)
        return lines[0][len(b"action="):].decode("latin-1")

    def closed_by_peer(self, timeout=3.0):
        """True when the server closes the connection (EOF or reset) within timeout; data
        that arrives first is ignored."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except ConnectionResetError:
                return True
            except socket.timeout:
                return False
            if not chunk:
                return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# a server

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, name, opts=(), config=GOLDEN_CF, zones=True, unix=True, spf_header=False):
        self.name = name
        # Received-SPF is prepended to the first accepting answer of a message; the
        # scenarios that expect DUNNO turn it off, s14 tests it.
        self.opts = list(opts) + ([] if spf_header else ["spf_received_header=no"])
        self.config = config
        self.zones = zones
        self.unix_path = os.path.join(TMP, name + ".sock") if unix else None
        self.log_path = os.path.join(TMP, name + ".log")
        self.proc = None
        self.port = None
        self.log_mark = 0

    def argv(self):
        listen = "inet:127.0.0.1:%d" % self.port
        if self.unix_path:
            listen += ", unix:" + self.unix_path
        a = [MAILBLOCK, "serve"]
        if self.config:
            a += ["-c", self.config]
        if self.zones:
            for z in ZONES:
                a += ["--zone", z]
        for o in self.opts:
            a += ["-o", o]
        a += ["-o", "policy_listen=" + listen]
        return a

    def start(self):
        for attempt in range(3):
            self.port = free_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=log,
                                             cwd=TMP)
            with open(os.path.join(TMP, "pids"), "a") as p:
                p.write("%d\n" % self.proc.pid)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    if self.unix_path is None or os.path.exists(self.unix_path):
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            self.kill()
            if "address already in use" not in self.log().lower():
                break
        raise RuntimeError("server %s did not start; log:\n%s" % (self.name, self.log()))

    def addr(self):
        return ("127.0.0.1", self.port)

    def conn(self, unix=False):
        return Conn(self.unix_path if unix else self.addr())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_bytes(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def log(self):
        return self.log_bytes().decode("latin-1")

    def mark(self):
        """Remembers the end of the log; new_log() returns what came after. The server
        buffers its log and writes it every 100 ms, a moment after the replies: wait until
        the log has been still for 150 ms (at most 1 s) so that earlier lines fall before
        the mark."""
        deadline = time.monotonic() + 1.0
        size = len(self.log_bytes())
        while time.monotonic() < deadline:
            time.sleep(0.15)
            now = len(self.log_bytes())
            if now == size:
                break
            size = now
        self.log_mark = size

    def new_log(self):
        return self.log_bytes()[self.log_mark:].decode("latin-1")

    def wait_log(self, pattern, timeout=5.0):
        """Waits for a regex in the log after the mark; returns the match or None."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            m = rx.search(self.new_log())
            if m or time.monotonic() >= deadline:
                return m
            time.sleep(0.05)

    def decisions(self, want, timeout=2.0):
        """The decision lines after the mark, once at least want of them are there (the
        server buffers its log and writes it every 100 ms, so a line may follow the reply
        by a moment), or whatever is there after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            d = decisions(self.new_log())
            if len(d) >= want or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        time.sleep(0.15)  # anything more that was coming
        return decisions(self.new_log())

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status (None if killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                pass


SERVERS = []


def start_server(*a, **kw):
    s = Server(*a, **kw)
    SERVERS.append(s)
    return s.start()


# ---------------------------------------------------------------------------------------------
# log lines

KV_RX = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|[^ ]*)')


def decisions(text):
    """The decision lines of a log text, each as a dict of its key=value fields."""
    out = []
    for line in text.splitlines():
        i = line.find(" decision ")
        if i < 0 or ": info: decision" not in line:
            continue
        fields = {}
        for m in KV_RX.finditer(line[i + len(" decision "):]):
            v = m.group(2)
            if v.startswith('"') and v.endswith('"') and len(v) >= 2:
                v = v[1:-1]
            fields[m.group(1)] = v
        fields["_line"] = line
        out.append(fields)
    return out


def raw_control_bytes(data):
    """Bytes of a log that must never appear raw: C0 controls other than newline, DEL."""
    return sorted({b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f})


def is_reject(action, fid):
    return action.startswith(reject_prefix(fid)) and ("(%s)" % fid) in action


def short(a):
    return a if len(a) < 140 else a[:137] + "..."


# ---------------------------------------------------------------------------------------------
# scenarios on the main server (golden.cf, zones, overrides, dead zone, inet + unix)

def s1_full_requests(srv):
    """A persistent connection with full Postfix 3.x requests."""
    c = srv.conn()
    srv.mark()
    answered = 0

    a = c.ask(request(client="192.0.2.10", helo="mail.good.test", sender="alice@good.test"))
    answered += 1
    expect_eq("s1 good transaction -> DUNNO", a, "DUNNO")

    a = c.ask(request(client="192.0.2.11"))
    answered += 1
    check("s1 no-PTR client -> 550 5.7.25 (client.no_ptr)",
          is_reject(a, "client.no_ptr")
          and a.endswith("https://mx.example.com/why/client.no_ptr")
          and "192.0.2.11" in a, short(a))

    a = c.ask(request(client="192.0.2.45", helo="listed.good.test",
                      client_name="listed.good.test"))
    answered += 1
    check("s1 DNSBL client -> 554 5.7.1 (client.dnsbl) naming bl.test",
          is_reject(a, "client.dnsbl") and "bl.test" in a, short(a))

    # one instance through its protocol states: a no-PTR client is refused at CONNECT
    inst = new_instance()
    a = c.ask(request("CONNECT", client="192.0.2.11", instance=inst))
    answered += 1
    check("s1 CONNECT, no-PTR client -> 550 5.7.25 (client.no_ptr)",
          is_reject(a, "client.no_ptr"), short(a))
    for st in ("EHLO", "MAIL", "RCPT"):
        a = c.ask(request(st, client="192.0.2.11", instance=inst))
        answered += 1
        check("s1 %s, no-PTR client (same instance) -> client.no_ptr" % st,
              is_reject(a, "client.no_ptr"), short(a))

    # a bad HELO name: accepted at CONNECT (not known yet), refused from EHLO on
    inst = new_instance()
    a = c.ask(request("CONNECT", helo="MYPC", instance=inst))
    answered += 1
    expect_eq("s1 CONNECT, good client (helo to come) -> DUNNO", a, "DUNNO")
    for st in ("EHLO", "MAIL", "RCPT"):
        a = c.ask(request(st, helo="MYPC", instance=inst))
        answered += 1
        check("s1 %s, HELO MYPC -> 504 5.5.2 (helo.not_fqdn)" % st,
              is_reject(a, "helo.not_fqdn") and "MYPC" in a, short(a))

    # a null-MX sender: accepted before MAIL, refused from MAIL on
    inst = new_instance()
    for st in ("CONNECT", "EHLO"):
        a = c.ask(request(st, sender="a@nullmx.good.test", instance=inst))
        answered += 1
        expect_eq("s1 %s before a null-MX sender -> DUNNO" % st, a, "DUNNO")
    for st in ("MAIL", "RCPT"):
        a = c.ask(request(st, sender="a@nullmx.good.test", instance=inst))
        answered += 1
        check("s1 %s, null-MX sender -> %s(sender.null_mx)" % (st, reject_prefix("sender.null_mx")),
              is_reject(a, "sender.null_mx") and "nullmx.good.test" in a, short(a))

    # a missing HELO is only known at MAIL
    inst = new_instance()
    a = c.ask(request("CONNECT", helo="", instance=inst))
    answered += 1
    expect_eq("s1 CONNECT without HELO yet -> DUNNO", a, "DUNNO")
    a = c.ask(request("MAIL", helo="", instance=inst))
    answered += 1
    check("s1 MAIL without HELO -> (helo.missing)", is_reject(a, "helo.missing"), short(a))

    # other states: VRFY and ETRN are not mail transactions
    a = c.ask(request("VRFY", client="192.0.2.11", sender="", rcpt="bob@example.com"))
    answered += 1  # logged too, as action=accept with the reason
    expect_eq("s1 VRFY (even from a no-PTR client) -> DUNNO", a, "DUNNO")
    a = c.ask(request("ETRN", client="192.0.2.11", sender="", rcpt="",
                      extra=[("etrn_domain", "example.com")]))
    answered += 1
    expect_eq("s1 ETRN -> DUNNO", a, "DUNNO")

    # DATA and END-OF-MESSAGE of a clean transaction
    inst = new_instance()
    for st in ("RCPT", "DATA", "END-OF-MESSAGE"):
        a = c.ask(request(st, instance=inst, extra=[("recipient_count", "1")]))
        answered += 1
        expect_eq("s1 %s of a clean transaction -> DUNNO" % st, a, "DUNNO")

    # CRLF line ends are accepted
    c.send(encode(request(client="192.0.2.11"), eol=b"\r\n"))
    a = c.action()
    answered += 1
    check("s1 CRLF request -> answered (client.no_ptr)", is_reject(a, "client.no_ptr"), short(a))

    # a request without protocol_state (Postfix < 2.1 asked only at RCPT)
    a = c.ask(request(client="192.0.2.11", drop=("protocol_state",)))
    answered += 1
    check("s1 request without protocol_state -> decided as RCPT",
          is_reject(a, "client.no_ptr"), short(a))
    c.close()

    d = srv.decisions(answered)
    expect_eq("s1 one decision line per request", len(d), answered)
    return answered


def s1_vrfy_logging(srv):
    """Every request gets one decision line: VRFY and ETRN too (they are answered)."""
    c = srv.conn()
    srv.mark()
    c.ask(request("VRFY", client="192.0.2.11", sender=""))
    c.ask(request("ETRN", client="192.0.2.11", sender="", rcpt=""))
    c.close()
    d = srv.decisions(2, timeout=0.5)
    check("s6 VRFY/ETRN requests are logged with one decision line each", len(d) == 2,
          "%d decision line(s) for 2 answered requests" % len(d))


def s1_address_forms(srv):
    """Postfix's internal address form, the null sender, IPv6 clients, address literals."""
    c = srv.conn()
    a = c.ask(request(sender="john doe@good.test"))
    expect_eq("s1 internal-form sender with a space (\"john doe\"@good.test) -> DUNNO", a, "DUNNO")
    a = c.ask(request(sender=""))
    expect_eq("s1 null sender at RCPT -> DUNNO", a, "DUNNO")
    a = c.ask(request(client="2001:db8::10", helo="mail.good.test"))
    check("s1 IPv6 client listed on bl.test -> 554 5.7.1 (client.dnsbl)",
          is_reject(a, "client.dnsbl") and "2001:db8::10" in a, short(a))
    a = c.ask(request(helo="[192.0.2.10]"))
    expect_eq("s1 HELO address literal of the client -> DUNNO", a, "DUNNO")
    a = c.ask(request(helo="[192.0.2.99]"))
    check("s1 HELO address literal of another address -> helo.ip_literal_mismatch",
          is_reject(a, "helo.ip_literal_mismatch"), short(a))
    a = c.ask(request(sender="a@spammer.good.test"))
    check("s1 sender on the RHSBL -> sender.rhsbl", is_reject(a, "sender.rhsbl"), short(a))
    a = c.ask(request(sender="ceo@example.com"))
    check("s1 sender forging a local domain -> sender.forged_local",
          is_reject(a, "sender.forged_local"), short(a))
    a = c.ask(request(rcpt="bob@[192.0.2.1]"))
    check("s1 recipient with an IP literal domain -> rcpt.ip_domain",
          is_reject(a, "rcpt.ip_domain"), short(a))
    a = c.ask(request(extra=[("size", "999999999")]))
    check("s1 announced SIZE over message_size_limit -> message.too_big",
          is_reject(a, "message.too_big"), short(a))
    a = c.ask([("request", "something_else"), ("protocol_state", "RCPT"),
               ("client_address", "192.0.2.11")])
    expect_eq("s1 a request that is not smtpd_access_policy -> DUNNO", a, "DUNNO")
    c.close()


def s2_instance_cache(srv):
    c = srv.conn()
    srv.mark()
    inst = new_instance()
    answers = []
    for i, r in enumerate(("a@example.com", "b@example.com", "c@example.net", "d@example.com")):
        answers.append(c.ask(request(instance=inst, rcpt=r,
                                     extra=[("recipient_count", str(i))])))
    expect_eq("s2 four RCPTs of one clean instance -> four DUNNO", answers, ["DUNNO"] * 4)

    # a new instance on the same connection, another client: decided afresh
    inst2 = new_instance()
    answers = [c.ask(request(client="192.0.2.11", instance=inst2, rcpt=r))
               for r in ("a@example.com", "b@example.com", "c@example.net")]
    check("s2 new instance, no-PTR client -> every RCPT client.no_ptr",
          all(is_reject(a, "client.no_ptr") for a in answers), repr([short(a) for a in answers]))
    # and back to the first client with a third instance: not the no-PTR verdict
    a = c.ask(request(instance=new_instance()))
    expect_eq("s2 third instance, good client again -> DUNNO", a, "DUNNO")

    # the same instance value, but another client: not the cached message
    inst3 = new_instance()
    a1 = c.ask(request(instance=inst3))
    a2 = c.ask(request(instance=inst3, client="192.0.2.11"))
    expect_eq("s2 same instance, good client -> DUNNO", a1, "DUNNO")
    check("s2 same instance, other (no-PTR) client -> client.no_ptr",
          is_reject(a2, "client.no_ptr"), short(a2))

    # same instance, a new MAIL FROM (after RSET): sender checks run again
    inst4 = new_instance()
    a1 = c.ask(request(instance=inst4))
    a2 = c.ask(request(instance=inst4, sender="a@nullmx.good.test"))
    a3 = c.ask(request(instance=inst4))
    expect_eq("s2 same instance, good sender -> DUNNO", a1, "DUNNO")
    check("s2 same instance, sender changed to null MX -> sender.null_mx",
          is_reject(a2, "sender.null_mx"), short(a2))
    expect_eq("s2 same instance, sender changed back -> DUNNO", a3, "DUNNO")

    # same instance, second EHLO with another name: HELO checks run again
    inst5 = new_instance()
    a1 = c.ask(request(instance=inst5, helo="MYPC"))
    a2 = c.ask(request(instance=inst5, helo="mail.good.test"))
    check("s2 same instance, HELO MYPC -> helo.not_fqdn", is_reject(a1, "helo.not_fqdn"), short(a1))
    expect_eq("s2 same instance, HELO corrected -> DUNNO", a2, "DUNNO")

    # the same instance value on two connections is two messages
    inst6 = new_instance()
    c2 = srv.conn()
    a1 = c.ask(request(instance=inst6))
    a2 = c2.ask(request(instance=inst6, helo="MYPC"))
    a3 = c.ask(request(instance=inst6))
    expect_eq("s2 instance X on connection 1 -> DUNNO", a1, "DUNNO")
    check("s2 instance X on connection 2 with HELO MYPC -> helo.not_fqdn",
          is_reject(a2, "helo.not_fqdn"), short(a2))
    expect_eq("s2 instance X on connection 1 again -> DUNNO", a3, "DUNNO")
    c2.close()

    # per-request facts are logged for each RCPT (the recipient of that request)
    inst7 = new_instance()
    time.sleep(0.05)
    srv.mark()
    for r in ("x1@example.com", "x2@example.com"):
        c.ask(request(instance=inst7, rcpt=r))
    d = [x for x in srv.decisions(2) if x.get("instance") == inst7]
    expect_eq("s2 each RCPT's decision line names its own recipient",
              [x.get("to") for x in d], ["x1@example.com", "x2@example.com"])
    c.close()


def s2_vrfy_between(srv):
    """A VRFY request that carries the instance of a message must not corrupt its cache."""
    c = srv.conn()
    inst = new_instance()
    a1 = c.ask(request(instance=inst, helo="MYPC"))
    c.ask(request("VRFY", instance=inst, helo="mail.good.test", sender=""))
    a2 = c.ask(request(instance=inst, helo="mail.good.test"))
    check("s2 HELO MYPC -> helo.not_fqdn", is_reject(a1, "helo.not_fqdn"), short(a1))
    expect_eq("s2 after a VRFY in the same instance, corrected HELO -> DUNNO", a2, "DUNNO")
    c.close()


def s3_overrides(srv):
    c = srv.conn()
    inst = new_instance()
    a1 = c.ask(request(client="192.0.2.11", instance=inst, rcpt="ann@example.org"))
    a2 = c.ask(request(client="192.0.2.11", instance=inst, rcpt="bob@example.com"))
    a3 = c.ask(request(client="192.0.2.11", instance=inst, rcpt="strict@example.org"))
    a4 = c.ask(request(client="192.0.2.11", instance=inst, rcpt="Ann@Example.ORG"))
    expect_eq("s3 no-PTR client, ann@example.org (client.no_ptr=ignore) -> DUNNO", a1, "DUNNO")
    check("s3 same instance, bob@example.com -> 550 5.7.25 (client.no_ptr)",
          is_reject(a2, "client.no_ptr"), short(a2))
    check("s3 same instance, strict@example.org (tempfail) -> 450 4.7.25 (client.no_ptr)",
          a3.startswith("450 4.7.25 ") and "(client.no_ptr)" in a3, short(a3))
    expect_eq("s3 domain override matches case-insensitively (Ann@Example.ORG) -> DUNNO",
              a4, "DUNNO")
    # the other order in a new instance
    inst = new_instance()
    b1 = c.ask(request(client="192.0.2.11", instance=inst, rcpt="bob@example.com"))
    b2 = c.ask(request(client="192.0.2.11", instance=inst, rcpt="ann@example.org"))
    check("s3 reversed order: bob first -> client.no_ptr", is_reject(b1, "client.no_ptr"), short(b1))
    expect_eq("s3 reversed order: ann second -> DUNNO", b2, "DUNNO")
    # before RCPT the override cannot apply: CONNECT is decided with the global setting
    a = c.ask(request("CONNECT", client="192.0.2.11"))
    check("s3 CONNECT of a no-PTR client (no recipient yet) -> client.no_ptr",
          is_reject(a, "client.no_ptr"), short(a))
    c.close()


def s4_exemptions(srv):
    c = srv.conn()
    srv.mark()
    a = c.ask(request(client="10.1.2.3", helo="MYPC", sender="a@nosuch.good.test"))
    expect_eq("s4 mynetworks client 10.1.2.3 (HELO MYPC, unknown sender) -> DUNNO", a, "DUNNO")
    a = c.ask(request("CONNECT", client="127.0.0.1"))
    expect_eq("s4 mynetworks client 127.0.0.1 at CONNECT -> DUNNO", a, "DUNNO")
    a = c.ask(request(client="192.0.2.11", helo="MYPC", sender="ceo@example.com",
                      sasl_username="ceo"))
    expect_eq("s4 SASL-authenticated no-PTR client forging a local sender -> DUNNO", a, "DUNNO")
    a = c.ask(request(client="192.0.2.11", sasl_username=""))
    check("s4 empty sasl_username is not an exemption -> client.no_ptr",
          is_reject(a, "client.no_ptr"), short(a))
    d = srv.decisions(4)
    ex = [x.get("exempt") for x in d]
    expect_eq("s4 decision lines name the exemption", ex[:3], ["mynetworks", "mynetworks", "sasl"])
    c.close()


def s6_logging(srv):
    c = srv.conn()
    srv.mark()
    inst = new_instance()
    a1 = c.ask(request(helo="bad\x01helo.good.test", instance=inst))
    a2 = c.ask(request(sender="al\x7fice@good.test", instance=new_instance()))
    a3 = c.ask(request(helo="mail.good.test", sender="\x1b[31mred@good.test",
                       rcpt="bob\x08@example.com", instance="i\x02\x7f"))
    a4 = c.ask(request(client="192.0.2.11", instance=new_instance()))
    c.close()
    for i, a in enumerate((a1, a2, a3, a4)):
        check("s6 reply %d has no raw control bytes" % (i + 1),
              not raw_control_bytes(a.encode("latin-1")), repr(a))
    check("s6 HELO with \\x01 -> refused (helo.syntax)", is_reject(a1, "helo.syntax"), short(a1))
    d = srv.decisions(4)
    log = srv.log_bytes()[srv.log_mark:]
    bad = raw_control_bytes(log)
    check("s6 no raw control byte (\\x01, \\x7f, ESC, BS, \\x02) in the log", not bad,
          "raw bytes %r" % bad)
    expect_eq("s6 exactly one decision line per request", len(d), 4)
    if len(d) == 4:
        check("s6 escaped helo in the log", "\\x01" in d[0].get("helo", "").lower(), d[0]["_line"])
        check("s6 escaped sender in the log", "\\x7f" in d[1].get("from", "").lower(), d[1]["_line"])
        for key in ("action", "client", "helo", "from", "to", "instance"):
            check("s6 decision line has %s=" % key, key in d[3], d[3]["_line"])
        expect_eq("s6 decision fields of a reject", (d[3].get("action"), d[3].get("finding"),
                                                       d[3].get("client"), d[3].get("code"),
                                                       d[3].get("enhanced")),
                  ("reject", "client.no_ptr", "192.0.2.11", "550", "5.7.25"))
        check("s6 decision line state=RCPT", d[3].get("state") == "RCPT", d[3]["_line"])


def s7_bad_input(srv):
    cases = [
        ("line of 4097 bytes", b"helo_name=" + b"a" * 4087 + b"\n"),
        ("line over 4096 bytes without newline", b"request=" + b"x" * 5000),
        ("129 attributes", b"".join(b"x%d=1\n" % i for i in range(129)) + b"\n"),
        ("binary junk with NUL bytes", b"\x00\x01\x02\xff\xfe\x00junk\n\n"),
        ("NUL in a value", b"request=smtpd_access_policy\nhelo_name=a\x00b\n\n"),
        ("line without '='", b"request=smtpd_access_policy\nhello world\n\n"),
        ("empty request (empty line first)", b"\n"),
        ("request over 32 KiB", b"".join(b"x%d=" % i + b"v" * 4000 + b"\n" for i in range(9))),
    ]
    keeper = srv.conn()
    a = keeper.ask(request())
    expect_eq("s7 keeper connection answers before", a, "DUNNO")
    for name, data in cases:
        srv.mark()
        bad = srv.conn()
        try:
            bad.send(data)
        except OSError:
            pass
        check("s7 %s -> connection closed" % name, bad.closed_by_peer(3.0))
        bad.close()
        check("s7 %s -> warning logged" % name,
              srv.wait_log(r"warning: policy: bad request from 127\.0\.0\.1:\d+", 2.0) is not None,
              srv.new_log()[-300:])
        a = keeper.ask(request(client="192.0.2.11"))
        check("s7 after %s the other connection still answers" % name,
              is_reject(a, "client.no_ptr"), short(a))
    check("s7 no raw control bytes in the warnings", not raw_control_bytes(srv.log_bytes()))

    # limits that are allowed: a 4096-byte line and 128 attributes
    c = srv.conn()
    attrs = request(helo="mail.good.test")
    long_val = "v" * (4096 - len("x_long="))
    a = c.ask(attrs + [("x_long", long_val)])
    expect_eq("s7 a line of exactly 4096 bytes is accepted", a, "DUNNO")
    attrs = request()
    attrs += [("x_fill%d" % i, "1") for i in range(128 - len(attrs))]
    a = c.ask(attrs)
    expect_eq("s7 exactly 128 attributes are accepted", a, "DUNNO")
    c.close()

    # a client that disconnects mid-request
    srv.mark()
    half = srv.conn()
    half.send(encode(request(client="192.0.2.11"))[:200])
    time.sleep(0.1)
    half.close()
    check("s7 mid-request disconnect is logged",
          srv.wait_log(r"incomplete request from .*connection closed mid-request", 2.0) is not None,
          srv.new_log()[-300:])
    a = keeper.ask(request())
    expect_eq("s7 after a mid-request disconnect the other connection still answers", a, "DUNNO")

    # a client that disconnects while its request is being decided (dead DNS, ~2 s)
    gone = srv.conn()
    gone.send(encode(request(sender="a@y.dead.test")))
    time.sleep(0.2)
    gone.close()
    a = keeper.ask(request(client="192.0.2.11"))
    check("s7 while an abandoned request is in flight, others are answered",
          is_reject(a, "client.no_ptr"), short(a))
    time.sleep(2.3)  # let the abandoned request finish and its reply be dropped
    check("s7 server alive after replying to a closed connection", srv.alive())
    a = keeper.ask(request())
    expect_eq("s7 keeper still answers after the abandoned request finished", a, "DUNNO")
    keeper.close()


def s7_stream_shapes(srv):
    """Pipelined requests, byte-by-byte requests, half-closed client, many connections."""
    c = srv.conn()
    data = (encode(request()) + encode(request(client="192.0.2.11"))
            + encode(request(helo="MYPC")))
    c.send(data)
    got = [c.action(), c.action(), c.action()]
    check("s7 three pipelined requests -> three replies in order",
          got[0] == "DUNNO" and is_reject(got[1], "client.no_ptr")
          and is_reject(got[2], "helo.not_fqdn"), repr([short(x) for x in got]))
    c.close()

    c = srv.conn()
    c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in encode(request(client="192.0.2.11")):
        c.send(bytes([b]))
    a = c.action()
    check("s7 a request sent byte by byte -> answered", is_reject(a, "client.no_ptr"), short(a))
    c.close()

    c = srv.conn()
    c.send(encode(request(client="192.0.2.11")))
    c.s.shutdown(socket.SHUT_WR)
    try:
        a = c.action()
    except (Closed, OSError) as e:
        a = "no reply: %s" % e
    check("s7 half-closed client still gets its reply", is_reject(a, "client.no_ptr"), short(a))
    check("s7 ... and then EOF", c.closed_by_peer(2.0))
    c.close()

    conns = [srv.conn() for _ in range(40)]
    for i, k in enumerate(conns):
        k.send(encode(request(client="192.0.2.11" if i % 2 else "192.0.2.10")))
    res = []
    for k in conns:
        try:
            res.append(k.action())
        except Exception as e:  # noqa: BLE001
            res.append("error %s" % e)
        k.close()
    good = all((is_reject(a, "client.no_ptr") if i % 2 else a == "DUNNO")
               for i, a in enumerate(res))
    check("s7 40 concurrent connections each get their own answer", good,
          repr([short(a) for a in res[:4]]))


def s8_unix(srv):
    st = os.stat(srv.unix_path)
    check("s8 unix socket exists and is a socket", stat.S_ISSOCK(st.st_mode))
    expect_eq("s8 unix socket mode 0666", oct(st.st_mode & 0o777), oct(0o666))
    c = srv.conn(unix=True)
    a1 = c.ask(request())
    a2 = c.ask(request(client="192.0.2.11"))
    a3 = c.ask(request(client="192.0.2.45", helo="listed.good.test"))
    expect_eq("s8 unix: good transaction -> DUNNO", a1, "DUNNO")
    check("s8 unix: no-PTR client -> client.no_ptr", is_reject(a2, "client.no_ptr"), short(a2))
    check("s8 unix: DNSBL client -> client.dnsbl", is_reject(a3, "client.dnsbl"), short(a3))
    srv.mark()
    bad = srv.conn(unix=True)
    bad.send(b"junk\n")
    check("s8 unix: junk -> closed", bad.closed_by_peer(3.0))
    bad.close()
    check("s8 unix: warning names the unix socket",
          srv.wait_log(r"bad request from unix socket", 2.0) is not None, srv.new_log()[-200:])
    a = c.ask(request())
    expect_eq("s8 unix: other connection still answers", a, "DUNNO")
    c.close()


def s11_dns_tempfail(srv):
    """Answers that need the dead zone take dns_timeout (2 s): run them side by side."""
    cases = [
        ("sender domain under a dead zone at RCPT", request(sender="a@x.dead.test"),
         "4", "sender.domain_unknown"),
        ("sender domain under a dead zone at MAIL", request("MAIL", sender="b@x.dead.test"),
         "4", "sender.domain_unknown"),
        ("HELO name under a dead zone", request(helo="mail.x.dead.test"), "4", None),
        ("no-PTR client and a dead sender domain (a definite failure wins)",
         request(client="192.0.2.11", sender="c@x.dead.test"), "550", "client.no_ptr"),
    ]
    conns = []
    t0 = time.monotonic()
    for name, attrs, _, _ in cases:
        k = srv.conn()
        k.send(encode(attrs))
        conns.append(k)
    for (name, attrs, want, fid), k in zip(cases, conns):
        try:
            a = k.action(timeout=8)
        except Exception as e:  # noqa: BLE001
            a = "error %s" % e
        k.close()
        good = a.startswith(want) and (fid is None or "(%s)" % fid in a)
        if want == "4":
            good = good and re.match(r"^4\d\d 4\.\d+\.\d+ ", a) is not None
        check("s11 %s -> %s..%s" % (name, want, " (%s)" % fid if fid else ""), good, short(a))
        if want == "4":
            check("s11 %s -> never 5xx" % name, not a.startswith("5"), short(a))
    check("s11 the slow requests ran side by side (%.1fs)" % (time.monotonic() - t0),
          time.monotonic() - t0 < 5.0)
    k = srv.conn()
    a = k.ask(request(sender="a@x.dead.test"), timeout=8)
    k.close()
    check("s11 dead sender domain -> 451 4.4.3 ... temporary",
          a.startswith("451 4.4.3 ") and "temporary" in a, short(a))


def final_log_checks(srv, tag):
    data = srv.log_bytes()
    bad = raw_control_bytes(data)
    check("%s: no raw control bytes anywhere in the log" % tag, not bad, repr(bad))
    txt = data.decode("latin-1")
    check("%s: no panic/fatal/sanitizer report in the log" % tag,
          not re.search(r"panic|fatal|AddressSanitizer|runtime error|LeakSanitizer", txt),
          "\n".join(l for l in txt.splitlines()
                    if re.search(r"panic|fatal|Sanitizer|runtime error", l))[:500])


def main_server_scenarios():
    srv = start_server("main", opts=["recipient_overrides=" + OVERRIDES,
                                     "dns_forward_zones=" + DEAD_ZONE, "dns_timeout=2s"])
    for fn in (s1_full_requests, s1_address_forms, s1_vrfy_logging, s2_instance_cache, s2_vrfy_between,
               s3_overrides, s4_exemptions, s6_logging, s7_bad_input, s7_stream_shapes,
               s8_unix, s11_dns_tempfail):
        run(fn.__name__, fn, srv)
        if not srv.alive():
            fail("main server died during %s" % fn.__name__, srv.log()[-800:])
            return
    check("main server still running", srv.alive())
    path = srv.unix_path
    rc = srv.stop()
    expect_eq("main server: SIGTERM when idle -> exit 0", rc, 0)
    check("main server: unix socket removed at exit", not os.path.exists(path))
    final_log_checks(srv, "main")


# ---------------------------------------------------------------------------------------------
# scenarios that need their own server

def s5_dry_run():
    srv = start_server("dryrun", opts=["dry_run=yes"])
    check("s5 startup log says dry run", srv.wait_log(r"listening on .*\(dry run\)", 2.0)
          is not None, srv.log()[-200:])
    c = srv.conn()
    srv.mark()
    a1 = c.ask(request(client="192.0.2.11"))
    a2 = c.ask(request(client="192.0.2.45", helo="listed.good.test"))
    a3 = c.ask(request())
    expect_eq("s5 dry_run: no-PTR client -> DUNNO", a1, "DUNNO")
    expect_eq("s5 dry_run: DNSBL client -> DUNNO", a2, "DUNNO")
    expect_eq("s5 dry_run: clean client -> DUNNO", a3, "DUNNO")
    d = srv.decisions(3)
    expect_eq("s5 dry_run: one decision line per request", len(d), 3)
    if len(d) == 3:
        expect_eq("s5 dry_run: would-be decision logged (no-PTR)",
                  (d[0].get("action"), d[0].get("dry_run"), d[0].get("finding")),
                  ("reject", "yes", "client.no_ptr"))
        check("s5 dry_run: log line order action= dry_run= finding=",
              re.search(r" action=reject dry_run=yes finding=client\.no_ptr\b", d[0]["_line"])
              is not None, d[0]["_line"])
        expect_eq("s5 dry_run: would-be decision logged (DNSBL)",
                  (d[1].get("action"), d[1].get("dry_run"), d[1].get("finding")),
                  ("reject", "yes", "client.dnsbl"))
        expect_eq("s5 dry_run: a clean one is logged as accept without dry_run=",
                  (d[2].get("action"), d[2].get("dry_run")), ("accept", None))
    c.close()
    expect_eq("s5 dry_run server: SIGTERM -> exit 0", srv.stop(), 0)
    final_log_checks(srv, "dryrun")


def golden_config_text():
    with open(GOLDEN_CF) as f:
        return f.read()


def s9_sighup():
    cf = os.path.join(TMP, "hup.cf")
    base = golden_config_text().rstrip("\n") + "\n"

    def write(extra):
        tmp = cf + ".new"
        with open(tmp, "w") as f:
            f.write(base + extra)
        os.replace(tmp, cf)

    base += "dns_forward_zones = %s\n" % DEAD_ZONE
    write("client.no_ptr = reject\n")
    srv = start_server("hup", config=cf)
    slow = srv.conn()
    slow.send(encode(request(sender="a@x.dead.test")))
    time.sleep(0.2)
    srv.mark()
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"SIGHUP: configuration reloaded", 3.0)
    try:
        a = slow.action(timeout=5)
    except Exception as e:  # noqa: BLE001
        a = "no reply: %s" % e
    check("s9 a request in flight across a SIGHUP is answered (451 4.4.3)",
          a.startswith("451 4.4.3 "), short(a))
    expect_eq("s9 ... and its connection goes on", slow.ask(request()), "DUNNO")
    slow.close()
    c = srv.conn()
    inst = new_instance()
    a = c.ask(request(client="192.0.2.11", instance=inst))
    check("s9 before SIGHUP: no-PTR client -> client.no_ptr", is_reject(a, "client.no_ptr"), short(a))

    write("client.no_ptr = warn\n")
    srv.mark()
    srv.signal(signal.SIGHUP)
    m = srv.wait_log(r"SIGHUP: configuration reloaded", 5.0)
    check("s9 SIGHUP with a changed config -> 'configuration reloaded' logged", m is not None,
          srv.new_log()[-300:])
    a = c.ask(request(client="192.0.2.11", instance=new_instance()))
    expect_eq("s9 after SIGHUP (warn), same connection, new instance -> DUNNO", a, "DUNNO")
    a = c.ask(request(client="192.0.2.11", instance=inst))
    expect_eq("s9 after SIGHUP, the instance decided before the reload -> DUNNO", a, "DUNNO")
    d = srv.decisions(2)
    check("s9 warn-mode failure still visible in the log (failed=client.no_ptr:fail)",
          bool(d) and "client.no_ptr:fail" in d[-1].get("failed", "") and
          d[-1].get("action") == "accept", d[-1]["_line"] if d else "no decision line")

    # a broken configuration: unknown key on a known line
    broken_extra = "client.no_ptr = reject\nno_such_key = 1\n"
    write(broken_extra)
    bad_line = len(base.splitlines()) + 2
    srv.mark()
    srv.signal(signal.SIGHUP)
    m = srv.wait_log(r"keeping the old", 5.0)
    check("s9 SIGHUP with an unknown key -> refused, old config kept (logged)", m is not None,
          srv.new_log()[-300:])
    check("s9 the error names %s:%d" % (os.path.basename(cf), bad_line),
          ("%s:%d" % (cf, bad_line)) in srv.new_log(), srv.new_log()[-300:])
    check("s9 server alive after a broken SIGHUP", srv.alive())
    a = c.ask(request(client="192.0.2.11", instance=new_instance()))
    expect_eq("s9 after the broken SIGHUP the old config (warn) answers -> DUNNO", a, "DUNNO")
    c2 = srv.conn()
    a = c2.ask(request(client="192.0.2.11"))
    expect_eq("s9 new connection after the broken SIGHUP -> DUNNO (old config)", a, "DUNNO")
    c2.close()

    # back to reject; several quick SIGHUPs in a row are harmless
    write("client.no_ptr = reject\n")
    srv.mark()
    for _ in range(3):
        srv.signal(signal.SIGHUP)
        time.sleep(0.05)
    srv.wait_log(r"(SIGHUP: configuration reloaded[\s\S]*){3}", 5.0)
    a = c.ask(request(client="192.0.2.11", instance=new_instance()))
    check("s9 after SIGHUP back to reject -> client.no_ptr", is_reject(a, "client.no_ptr"), short(a))
    c.close()
    check("s9 server alive", srv.alive())
    expect_eq("s9 after several reloads, SIGTERM -> exit 0", srv.stop(), 0)
    final_log_checks(srv, "hup")


def s10_sigterm():
    srv = start_server("term", opts=["dns_forward_zones=" + DEAD_ZONE, "dns_timeout=2s"])
    idle = srv.conn()
    expect_eq("s10 idle connection answers before SIGTERM", idle.ask(request()), "DUNNO")
    slow = srv.conn()
    t0 = time.monotonic()
    slow.send(encode(request(sender="a@x.dead.test")))
    gone = srv.conn()  # in flight too, but its client leaves before the answer
    gone.send(encode(request(sender="b@x.dead.test")))
    time.sleep(0.4)  # the requests are in flight (their DNS answers take 2 s)
    gone.close()
    srv.mark()
    srv.signal(signal.SIGTERM)
    srv.wait_log(r"SIGTERM", 2.0)
    time.sleep(0.1)
    try:
        socket.create_connection(srv.addr(), timeout=1.0).close()
        refused = False
    except OSError as e:
        refused = e.errno == errno.ECONNREFUSED or isinstance(e, ConnectionRefusedError)
    check("s10 after SIGTERM new TCP connections are refused", refused)
    unix_gone = not os.path.exists(srv.unix_path)
    if not unix_gone:
        try:
            u = socket.socket(socket.AF_UNIX)
            u.settimeout(1.0)
            u.connect(srv.unix_path)
            u.close()
        except OSError:
            unix_gone = True
    check("s10 after SIGTERM the unix socket is gone or refuses", unix_gone)
    check("s10 an idle connection is closed at SIGTERM", idle.closed_by_peer(2.0))
    idle.close()
    try:
        a = slow.action(timeout=6)
    except Exception as e:  # noqa: BLE001
        a = "no reply: %s" % e
    el = time.monotonic() - t0
    check("s10 the in-flight request still gets its answer: 451 4.4.3 ... temporary",
          a.startswith("451 4.4.3 ") and "temporary" in a, short(a))
    check("s10 ... after the DNS timeout (%.1fs)" % el, 1.5 < el < 5.0)
    check("s10 the answered connection is closed after its reply", slow.closed_by_peer(2.0))
    slow.close()
    try:
        rc = srv.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        rc = "still running"
        srv.kill()
    expect_eq("s10 the process exits 0 after draining", rc, 0)
    check("s10 'stopped: every request answered' logged",
          "stopped: every request answered" in srv.new_log(), srv.new_log()[-300:])
    final_log_checks(srv, "term")


def s10_sigterm_idle_after_hup():
    """SIGHUP (a new resolver for the zone files) then SIGINT: still exits promptly."""
    srv = start_server("term2")
    c = srv.conn()
    c.ask(request(client="192.0.2.11"))
    srv.mark()
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"SIGHUP: configuration reloaded", 5.0)
    c.ask(request())
    c.close()
    t0 = time.monotonic()
    srv.signal(signal.SIGINT)
    try:
        rc = srv.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        rc = "still running"
        srv.kill()
    expect_eq("s10 SIGINT after a SIGHUP -> exit 0", rc, 0)
    check("s10 ... within 3 s (%.1fs)" % (time.monotonic() - t0), time.monotonic() - t0 < 3.0)


def slot_hash(conn_id, inst):
    """gate.c's transaction slot of (connection number, instance): FNV-1a over 64 bits."""
    m = (1 << 64) - 1
    h = (1469598103 ^ conn_id) & m
    for b in inst.encode()[:64]:
        h = ((h ^ b) * 16777619) & m
    return h % 4096


def s2_slot_collision():
    """Two connections whose (connection, instance) fall in one cache slot while the first
    request is in flight: the second is decided uncached; with reloads in between, the
    generation it used is released from inside its own DNS callback."""
    srv = start_server("collide", opts=["dns_forward_zones=" + DEAD_ZONE, "dns_timeout=2s"])
    inst_a = "A.collide.1"
    want = slot_hash(1, inst_a)
    inst_b = next("B.%d" % i for i in range(1, 1000000) if slot_hash(2, "B.%d" % i) == want)
    ca, cb = srv.conn(), srv.conn()
    ca.send(encode(request(sender="a@x.dead.test", instance=inst_a)))
    time.sleep(0.2)
    srv.mark()
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"SIGHUP: configuration reloaded", 3.0)
    cb.send(encode(request(sender="b@x.dead.test", instance=inst_b)))
    time.sleep(0.2)
    srv.mark()
    srv.signal(signal.SIGHUP)
    srv.wait_log(r"SIGHUP: configuration reloaded", 3.0)
    res = []
    for k in (ca, cb):
        try:
            res.append(k.action(timeout=6))
        except Exception as e:  # noqa: BLE001
            res.append("error %s" % e)
    check("s2 colliding cache slots across reloads: both in-flight requests answered 451 4.4.3",
          all(a.startswith("451 4.4.3 ") for a in res), repr([short(a) for a in res]))
    check("s2 ... server alive", srv.alive())
    a = cb.ask(request(client="192.0.2.11", instance=inst_b))
    check("s2 ... and still deciding (no-PTR on the uncached connection)",
          is_reject(a, "client.no_ptr"), short(a))
    a = ca.ask(request(instance=inst_a))
    expect_eq("s2 ... and the cached one (good client, new generation)", a, "DUNNO")
    ca.close()
    cb.close()
    expect_eq("s2 collision server: SIGTERM -> exit 0", srv.stop(), 0)
    final_log_checks(srv, "collide")


def s14_spf():
    """spf.mailfrom / spf.helo in the gate, and Received-SPF once per message."""
    srv = start_server("spf", opts=["dns_forward_zones=" + DEAD_ZONE, "dns_timeout=2s"],
                       spf_header=True)
    c = srv.conn()
    inst = new_instance()
    srv.mark()
    a1 = c.ask(request(instance=inst, sender="alice@pass.spf.test", rcpt="a@example.com"))
    a2 = c.ask(request(instance=inst, sender="alice@pass.spf.test", rcpt="b@example.com"))
    check("s14 first RCPT of a message -> PREPEND Received-SPF: pass",
          a1.startswith("PREPEND Received-SPF: pass (mx.example.com: domain of "
                        "alice@pass.spf.test designates 192.0.2.10 as permitted sender)"), a1)
    for key in ("receiver=mx.example.com;", "client-ip=192.0.2.10;",
                'envelope-from="alice@pass.spf.test";', 'helo="mail.good.test";',
                "identity=mailfrom;", 'mechanism="mx";'):
        check("s14 Received-SPF has " + key, key in a1, a1)
    expect_eq("s14 second RCPT of the same message -> DUNNO (one header per message)", a2,
              "DUNNO")
    d = [x for x in srv.decisions(2) if x.get("instance") == inst]
    expect_eq("s14 the decision log says which answer prepended",
              [x.get("prepend") for x in d], ["Received-SPF", None])

    # the header goes with the MAIL answer when the policy is asked there first
    inst = new_instance()
    a1 = c.ask(request("MAIL", instance=inst, sender="alice@pass.spf.test"))
    a2 = c.ask(request(instance=inst, sender="alice@pass.spf.test"))
    check("s14 MAIL state -> PREPEND Received-SPF", a1.startswith("PREPEND Received-SPF: pass"), a1)
    expect_eq("s14 RCPT after it -> DUNNO", a2, "DUNNO")

    # after the content (END-OF-MESSAGE) Postfix cannot prepend: no header there, and the
    # message's first RCPT later still gets none twice
    inst = new_instance()
    a1 = c.ask(request("END-OF-MESSAGE", instance=inst, sender="alice@pass.spf.test"))
    expect_eq("s14 END-OF-MESSAGE -> DUNNO, no PREPEND", a1, "DUNNO")

    # results and their default actions
    a = c.ask(request(sender="alice@spf.test"))
    check("s14 fail -> 550 5.7.23 spf.mailfrom", is_reject(a, "spf.mailfrom"), a)
    a = c.ask(request(sender="alice@exp.spf.test"))
    check("s14 fail with exp= -> the domain's explanation in the reply",
          "192.0.2.10 is not a mail server of exp.spf.test" in a, a)
    inst = new_instance()
    a1 = c.ask(request(instance=inst, sender="alice@soft.spf.test", rcpt="a@example.com"))
    check("s14 softfail (warn) -> accepted with Received-SPF: softfail",
          a1.startswith("PREPEND Received-SPF: softfail "), a1)
    a = c.ask(request(sender="alice@neutral.spf.test"))
    check("s14 neutral -> accepted, Received-SPF: neutral",
          a.startswith("PREPEND Received-SPF: neutral "), a)
    a = c.ask(request(sender="alice@broken.spf.test"))
    check("s14 permerror (warn) -> accepted, Received-SPF: permerror with problem=",
          a.startswith("PREPEND Received-SPF: permerror ") and 'problem="' in a, a)
    a = c.ask(request(helo="bad.spf.test", sender="alice@good.test"))
    check("s14 HELO fail -> 550 5.7.23 spf.helo", is_reject(a, "spf.helo"), a)
    a = c.ask(request(helo="bad.spf.test", sender=""))
    check("s14 null sender: postmaster@HELO checked -> spf.mailfrom",
          is_reject(a, "spf.mailfrom"), a)
    a = c.ask(request(sender="alice@good.test"))
    check("s14 no SPF record -> accepted, Received-SPF: none",
          a.startswith("PREPEND Received-SPF: none "), a)
    # temperror: always 4xx, whatever the action
    t0 = time.monotonic()
    a = c.ask(request(sender="alice@temp.spf.test"), timeout=10)
    check("s14 temperror -> 451 4.7.24 spf.mailfrom",
          a.startswith("451 4.7.24 ") and "(spf.mailfrom)" in a, a)
    check("s14 ... after the DNS timeout (%.1fs)" % (time.monotonic() - t0),
          time.monotonic() - t0 < 8)
    c.close()
    rc = srv.stop()
    expect_eq("s14 server: SIGTERM -> exit 0", rc, 0)
    final_log_checks(srv, "spf")

    # per-result actions: temperror=reject still defers; softfail=reject rejects
    srv = start_server("spf2", opts=["dns_forward_zones=" + DEAD_ZONE, "dns_timeout=2s",
                                     "spf.mailfrom.temperror=reject",
                                     "spf.mailfrom.softfail=reject", "sender.syntax=ignore"],
                       spf_header=True)
    c = srv.conn()
    # peer bytes that may not go into a header are left out, never copied (the sender
    # syntax check is off on this server so that such a sender is accepted)
    a = c.ask(request(sender="al\x7fice@pass.spf.test"))
    check("s14 a sender with a control byte: header without envelope-from",
          a.startswith("PREPEND Received-SPF: ") and "envelope-from" not in a and
          "\x7f" not in a, repr(a))
    # Postfix sends the local part unquoted; the gate quotes it again (RFC 5321), and the
    # header escapes that in its quoted-string (RFC 5322 3.2.4)
    a = c.ask(request(sender='al"ice@pass.spf.test'))
    check("s14 a quoted local part is escaped in the quoted-string",
          r'envelope-from="\"al\\\"ice\"@pass.spf.test";' in a, a)
    a = c.ask(request(sender="alice@soft.spf.test"))
    check("s14 spf.mailfrom.softfail=reject -> 550 5.7.23", a.startswith("550 5.7.23 "), a)
    a = c.ask(request(sender="alice@temp.spf.test"), timeout=10)
    check("s14 spf.mailfrom.temperror=reject -> still 451 4.7.24", a.startswith("451 4.7.24 "), a)
    c.close()
    expect_eq("s14 second server: SIGTERM -> exit 0", srv.stop(), 0)


def s13_limits():
    """idle_timeout and max_connections."""
    srv = start_server("limits", opts=["dns_forward_zones=" + DEAD_ZONE, "dns_timeout=2s",
                                       "idle_timeout=1s", "max_connections=3"])
    c1 = srv.conn()
    expect_eq("s13 c1 answers", c1.ask(request()), "DUNNO")
    t_idle = time.monotonic()
    c2 = srv.conn()
    c2.send(encode(request(sender="a@x.dead.test")))
    t_slow = time.monotonic()
    c3 = srv.conn()
    c3.send(encode(request())[:100])
    time.sleep(0.1)
    srv.mark()
    c4 = srv.conn()
    check("s13 a 4th connection over max_connections=3 is closed at once", c4.closed_by_peer(1.0))
    c4.close()
    check("s13 ... with a warning", srv.wait_log(r"max_connections \(3\) reached", 1.0) is not None,
          srv.new_log()[-200:])
    check("s13 an idle connection is closed after idle_timeout=1s",
          c1.closed_by_peer(3.0) and 0.9 <= time.monotonic() - t_idle < 2.5,
          "%.2fs" % (time.monotonic() - t_idle))
    check("s13 a connection idle mid-request is closed too", c3.closed_by_peer(2.0))
    check("s13 ... and logged as timed out mid-request",
          srv.wait_log(r"incomplete request from .*timed out mid-request", 1.0) is not None,
          srv.new_log()[-300:])
    try:
        a = c2.action(timeout=5)
    except Exception as e:  # noqa: BLE001
        a = "no reply: %s" % e
    check("s13 a request in flight longer than idle_timeout still gets its answer",
          a.startswith("451 4.4.3 "), "%s after %.1fs" % (short(a), time.monotonic() - t_slow))
    c5 = srv.conn()
    expect_eq("s13 after connections closed, a new one is served", c5.ask(request()), "DUNNO")
    c2.close()
    c5.close()
    expect_eq("s13 limits server: SIGTERM -> exit 0", srv.stop(), 0)
    final_log_checks(srv, "limits")


def served_conn(srv, tries=20):
    """A connection that gets an answer, retried while max_connections is reached because
    connections the client closed a moment ago are not closed on the server's side yet."""
    for _ in range(tries):
        c = srv.conn()
        try:
            return c, c.ask(request(), timeout=2)
        except (Closed, OSError) as e:
            a = "no reply: %s" % e
            c.close()
            time.sleep(0.1)
    return srv.conn(), a


def s9_reload_limits():
    """SIGHUP re-reads the whole file: max_connections changes take effect."""
    cf = os.path.join(TMP, "hup2.cf")
    base = golden_config_text().rstrip("\n") + "\n"
    with open(cf, "w") as f:
        f.write(base + "max_connections = 1\nidle_timeout = 1000s\n")
    srv = start_server("hup2", config=cf)
    c1, a = served_conn(srv)
    expect_eq("s9 max_connections=1: first connection answers", a, "DUNNO")
    c2 = srv.conn()
    check("s9 max_connections=1: second connection closed", c2.closed_by_peer(1.0))
    c2.close()
    with open(cf, "w") as f:
        f.write(base + "max_connections = 5\nidle_timeout = 1s\n")
    srv.mark()
    srv.signal(signal.SIGHUP)
    check("s9 SIGHUP max_connections=5, idle_timeout=1s reloaded",
          srv.wait_log(r"SIGHUP: configuration reloaded", 3.0) is not None)
    c3 = srv.conn()
    try:
        a = c3.ask(request(), timeout=2)
    except Exception as e:  # noqa: BLE001
        a = "no reply: %s" % e
    expect_eq("s9 after SIGHUP to max_connections=5, a second connection is served", a, "DUNNO")
    c1.close()
    c3.close()
    c4, a = served_conn(srv)
    expect_eq("s9 a connection after the reload answers", a, "DUNNO")
    t0 = time.monotonic()
    closed = c4.closed_by_peer(2.5)
    check("s9 after SIGHUP to idle_timeout=1s, an idle connection is closed within 2.5 s",
          closed, "still open after %.1fs" % (time.monotonic() - t0))
    c4.close()
    srv.stop()


def s12_bad_config():
    cf = os.path.join(TMP, "bad.cf")
    with open(cf, "w") as f:
        f.write("# a comment\nmyhostname = mx.example.com\nno_such_key = yes\n")
    port = free_port()
    try:
        p = subprocess.run([MAILBLOCK, "serve", "-c", cf, "-o",
                            "policy_listen=inet:127.0.0.1:%d" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
        rc, err = p.returncode, p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        rc, err = "still running after 5 s", ""
    check("s12 unknown key in the config file -> non-zero exit", isinstance(rc, int) and rc != 0,
          "exit %r" % rc)
    check("s12 ... stderr names %s:3" % os.path.basename(cf), "%s:3" % cf in err, err.strip())
    check("s12 ... and the key", "no_such_key" in err, err.strip())

    try:
        p = subprocess.run([MAILBLOCK, "serve", "-o", "no_such_key=1", "-o",
                            "policy_listen=inet:127.0.0.1:%d" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
        rc, err = p.returncode, p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        rc, err = "still running after 5 s", ""
    check("s12 unknown -o key -> non-zero exit naming '-o no_such_key'",
          isinstance(rc, int) and rc != 0 and "-o no_such_key" in err, "exit %r: %s" % (rc, err))

    try:
        p = subprocess.run([MAILBLOCK, "serve", "-c", os.path.join(TMP, "missing.cf"), "-o",
                            "policy_listen=inet:127.0.0.1:%d" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
        rc, err = p.returncode, p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        rc, err = "still running after 5 s", ""
    check("s12 missing config file -> non-zero exit naming it",
          isinstance(rc, int) and rc != 0 and "missing.cf" in err, "exit %r: %s" % (rc, err))

    # a bad policy_listen endpoint, and a port already in use
    try:
        p = subprocess.run([MAILBLOCK, "serve", "-o", "policy_listen=inet:127.0.0.1:99999"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
        rc, err = p.returncode, p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        rc, err = "still running after 5 s", ""
    check("s12 bad port in policy_listen -> non-zero exit", isinstance(rc, int) and rc != 0,
          "exit %r: %s" % (rc, err))
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        p = subprocess.run([MAILBLOCK, "serve", "-o", "policy_listen=inet:127.0.0.1:%d" % busy],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
        rc, err = p.returncode, p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        rc, err = "still running after 5 s", ""
    holder.close()
    check("s12 port already in use -> non-zero exit with the reason",
          isinstance(rc, int) and rc != 0 and "in use" in err.lower(), "exit %r: %s" % (rc, err))

    regular = os.path.join(TMP, "regular.sock")
    with open(regular, "w") as f:
        f.write("not a socket\n")
    try:
        p = subprocess.run([MAILBLOCK, "serve", "-o", "policy_listen=unix:" + regular],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
        rc, err = p.returncode, p.stderr.decode("latin-1")
    except subprocess.TimeoutExpired:
        rc, err = "still running after 5 s", ""
    check("s12 unix socket path that is a regular file -> non-zero exit, file kept",
          isinstance(rc, int) and rc != 0 and "not a socket" in err and os.path.isfile(regular),
          "exit %r: %s" % (rc, err))

    # a stale socket file (nobody listening) is replaced; a live one is an error
    stale = os.path.join(TMP, "stale.sock")
    u = socket.socket(socket.AF_UNIX)
    u.bind(stale)
    u.close()
    srv = Server("stale2")
    srv.unix_path = stale
    SERVERS.append(srv)
    try:
        srv.start()
        started = True
    except RuntimeError:
        started = False
    check("s12 a stale unix socket file is replaced", started, srv.log()[-300:])
    if started:
        try:
            p = subprocess.run([MAILBLOCK, "serve", "-o", "policy_listen=unix:" + stale],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5, cwd=TMP)
            rc, err = p.returncode, p.stderr.decode("latin-1")
        except subprocess.TimeoutExpired:
            rc, err = "still running after 5 s", ""
        check("s12 a unix socket another server listens on -> non-zero exit",
              isinstance(rc, int) and rc != 0 and "listening" in err, "exit %r: %s" % (rc, err))
        c = srv.conn(unix=True)
        expect_eq("s12 ... and the first server still answers on it", c.ask(request()), "DUNNO")
        c.close()
        srv.stop()


# ---------------------------------------------------------------------------------------------

def run(name, fn, *args):
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001  (any exception is one failed scenario)
        fail("%s raised %s: %s" % (name, type(e).__name__, e))
        if VERBOSE:
            traceback.print_exc()


def on_alarm(signum, frame):
    raise TimeoutError("serve tests: overall time limit reached")


def main():
    if not TMP or not os.path.isdir(TMP):
        print("usage: serve_test.py TMPDIR", file=sys.stderr)
        return 2
    if not MAILBLOCK or not os.access(MAILBLOCK, os.X_OK):
        print("SKIPPED: no mailblock binary at %r" % MAILBLOCK)
        return 77
    global CATALOG
    CATALOG = load_catalog()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(90)  # a hard bound far above the ~25 s this takes
    t0 = time.monotonic()
    try:
        run("main", main_server_scenarios)
        run("s5_dry_run", s5_dry_run)
        run("s9_sighup", s9_sighup)
        run("s9_reload_limits", s9_reload_limits)
        run("s2_slot_collision", s2_slot_collision)
        run("s13_limits", s13_limits)
        run("s14_spf", s14_spf)
        run("s10_sigterm", s10_sigterm)
        run("s10_sigterm_idle_after_hup", s10_sigterm_idle_after_hup)
        run("s12_bad_config", s12_bad_config)
    finally:
        signal.alarm(0)
        for s in SERVERS:
            s.kill()
    print("(%.1fs)" % (time.monotonic() - t0))
    print("serve: %d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
