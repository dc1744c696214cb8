#!/usr/bin/env python3
"""Small tools for the end-to-end test (standard library only).

  helper.py ports N                      N distinct free ports (TCP and UDP) on 127.0.0.1
  helper.py dns SERVER PORT NAME TYPE    one UDP query (no recursion wanted from the server);
                                         prints "rcode=NAME" then "TYPE data" per answer
  helper.py smtp --bind IP --port P [--timeout S] CMD...
                                         a raw SMTP dialogue (for what swaks cannot do, such as
                                         MAIL without HELO); CMD may hold \\xHH escapes; the
                                         transcript goes to stderr and the "final" reply (the
                                         first 4xx/5xx reply, else the last reply before QUIT)
                                         to stdout
  helper.py wait-tcp HOST PORT SECS [PID]
                                         waits until HOST:PORT accepts a TCP connection (exit 1
                                         on timeout, or at once when process PID has died)
  helper.py wait-unix PATH SECS [PID]    the same for a unix-domain socket
  helper.py wait-dns SERVER PORT NAME TYPE SECS [PID]
                                         waits until SERVER answers NAME/TYPE (any rcode)
  helper.py catalog FILE ID              reads `mailblock catalog --json` output and prints
                                         "code enhanced action" for ID (nothing if unknown)
  helper.py stub-policy --listen inet:HOST:PORT|unix:PATH... [--dry-run]
                                         a stand-in policy server that answers the e2e
                                         scenarios by table, used to verify the harness itself
  helper.py stub-catalog                 the stub's catalog, in the `mailblock catalog --json` form

Everything here talks to 127.0.0.0/8 only; every socket operation has a timeout.
"""
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
QNAMES = {v: k for k, v in QTYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def loopback_only(host):
    if not host.startswith("127."):
        sys.exit("helper.py: refusing non-loopback address %r" % host)


# ---------------------------------------------------------------- ports

def free_ports(n):
    out = []
    tries = 0
    while len(out) < n and tries < 200:
        tries += 1
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        if port not in out:
            out.append(port)
    if len(out) < n:
        sys.exit("helper.py: could not find %d free ports" % n)
    print(" ".join(str(p) for p in out))


# ---------------------------------------------------------------- DNS

def _name(msg, off):
    labels = []
    jumps = 0
    end = None
    while True:
        ln = msg[off]
        if ln == 0:
            off += 1
            break
        if ln & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((ln & 0x3F) << 8) | msg[off + 1]
            jumps += 1
            if jumps > 50:
                raise ValueError("compression loop")
            continue
        labels.append(msg[off + 1:off + 1 + ln].decode("ascii", "backslashreplace"))
        off += 1 + ln
    return (".".join(labels) + ".") if labels else ".", (end if end is not None else off)


def dns_query(server, port, name, qtype, timeout=2.0):
    loopback_only(server)
    qid = random.randrange(65536)
    qname = b"".join(bytes([len(l)]) + l.encode("ascii") for l in name.rstrip(".").split(".") if l) + b"\0"
    pkt = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 0) + qname + struct.pack(">HH", QTYPES[qtype], 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, (server, port))
        while True:
            msg, _ = s.recvfrom(65535)
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = _name(msg, off)
        off += 4
    answers = []
    for _ in range(an):
        rname, off = _name(msg, off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rd = msg[off:off + rdlen]
        if rtype == 1:
            data = socket.inet_ntoa(rd)
        elif rtype == 28:
            data = socket.inet_ntop(socket.AF_INET6, rd)
        elif rtype in (2, 5, 12):
            data = _name(msg, off)[0]
        elif rtype == 15:
            data = "%d %s" % (struct.unpack(">H", rd[:2])[0], _name(msg, off + 2)[0])
        elif rtype == 16:
            parts, i = [], 0
            while i < len(rd):
                parts.append(rd[i + 1:i + 1 + rd[i]].decode("ascii", "backslashreplace"))
                i += 1 + rd[i]
            data = " ".join('"%s"' % p for p in parts)
        else:
            data = rd.hex()
        answers.append((rname, QNAMES.get(rtype, str(rtype)), data))
        off += rdlen
    return RCODES.get(flags & 0xF, str(flags & 0xF)), answers


def cmd_dns(args):
    server, port, name, qtype = args[0], int(args[1]), args[2], args[3].upper()
    try:
        rcode, answers = dns_query(server, port, name, qtype)
    except socket.timeout:
        print("rcode=TIMEOUT")
        return 1
    except OSError as e:
        print("rcode=ERROR %s" % e)
        return 1
    print("rcode=%s" % rcode)
    for _, t, d in answers:
        print("%s %s" % (t, d))
    return 0


# ---------------------------------------------------------------- SMTP

def cmd_smtp(args):
    bind, port, timeout, cmds = None, None, 10.0, []
    i = 0
    while i < len(args):
        if args[i] == "--bind":
            bind = args[i + 1]; i += 2
        elif args[i] == "--port":
            port = int(args[i + 1]); i += 2
        elif args[i] == "--timeout":
            timeout = float(args[i + 1]); i += 2
        else:
            cmds.append(args[i]); i += 1
    loopback_only(bind)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(bind, 0))
    f = s.makefile("rb")

    def reply():
        lines = []
        while True:
            line = f.readline(4096)
            if not line:
                raise EOFError("connection closed")
            line = line.rstrip(b"\r\n").decode("latin-1")
            sys.stderr.write("<- %s\n" % line)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    final = None
    try:
        last = reply()
        for c in cmds:
            raw = c.encode("utf-8").decode("unicode_escape").encode("latin-1")
            sys.stderr.write("-> %r\n" % raw)
            s.sendall(raw + b"\r\n")
            r = reply()
            if c.upper() == "QUIT":
                break
            last = r
            if r[-1][:1] in ("4", "5"):
                final = r[-1]
                s.sendall(b"QUIT\r\n")
                try:
                    reply()
                except (EOFError, OSError):
                    pass
                break
    except (EOFError, OSError) as e:
        sys.stderr.write("!! %s\n" % e)
        print("ERROR %s" % e)
        return 1
    finally:
        s.close()
    print(final if final is not None else last[-1])
    return 0


# ---------------------------------------------------------------- waiting

def _alive(pid):
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has exited too
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _wait(probe, secs, pid):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if probe():
            return 0
        if not _alive(pid):
            sys.stderr.write("helper.py: process %d exited\n" % pid)
            return 2
        time.sleep(0.1)
    return 1


def cmd_wait_tcp(args):
    host, port, secs = args[0], int(args[1]), float(args[2])
    pid = int(args[3]) if len(args) > 3 else None
    loopback_only(host)

    def probe():
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            return False
    return _wait(probe, secs, pid)


def cmd_wait_unix(args):
    path, secs = args[0], float(args[1])
    pid = int(args[2]) if len(args) > 2 else None

    def probe():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()
    return _wait(probe, secs, pid)


def cmd_wait_dns(args):
    server, port, name, qtype, secs = args[0], int(args[1]), args[2], args[3].upper(), float(args[4])
    pid = int(args[5]) if len(args) > 5 else None

    def probe():
        try:
            dns_query(server, port, name, qtype, timeout=0.3)
            return True
        except OSError:
            return False
    return _wait(probe, secs, pid)


# ---------------------------------------------------------------- catalog

def load_catalog(path):
    with open(path) as fh:
        data = json.load(fh)
    if isinstance(data, dict):
        for key in ("catalog", "findings", "entries", "ids"):
            if isinstance(data.get(key), list):
                return data[key]
        if all(isinstance(v, dict) for v in data.values()):
            return [dict(v, id=k) for k, v in data.items()]
        return []
    return data


def cmd_catalog(args):
    for e in load_catalog(args[0]):
        if isinstance(e, dict) and e.get("id") == args[1]:
            action = e.get("action") or e.get("default_action") or "-"
            print("%s %s %s" % (e.get("code", "-"), e.get("enhanced", "-"), action))
            return 0
    return 0


# ---------------------------------------------------------------- the stand-in policy server

STUB_CATALOG = [
    {"id": "helo.missing", "code": 550, "enhanced": "5.5.1", "action": "reject"},
    {"id": "helo.syntax", "code": 550, "enhanced": "5.5.2", "action": "reject"},
    {"id": "helo.not_fqdn", "code": 550, "enhanced": "5.5.2", "action": "reject"},
    {"id": "helo.forged_self", "code": 550, "enhanced": "5.7.1", "action": "reject"},
    {"id": "helo.ip_literal_mismatch", "code": 550, "enhanced": "5.7.1", "action": "reject"},
    {"id": "helo.no_dns", "code": 550, "enhanced": "5.7.1", "action": "reject"},
    {"id": "client.no_ptr", "code": 550, "enhanced": "5.7.25", "action": "reject"},
    {"id": "client.ptr_mismatch", "code": 550, "enhanced": "5.7.25", "action": "reject"},
    {"id": "client.ptr_generic", "code": 550, "enhanced": "5.7.25", "action": "reject"},
    {"id": "client.dnsbl", "code": 554, "enhanced": "5.7.1", "action": "reject"},
    {"id": "sender.domain_unknown", "code": 550, "enhanced": "5.1.8", "action": "reject"},
    {"id": "sender.null_mx", "code": 556, "enhanced": "5.1.10", "action": "reject"},
    {"id": "sender.forged_local", "code": 550, "enhanced": "5.7.1", "action": "reject"},
    {"id": "sender.rhsbl", "code": 554, "enhanced": "5.7.1", "action": "reject"},
]


def stub_decide(a):
    client = a.get("client_address", "")
    helo = a.get("helo_name", "")
    sender = a.get("sender", "")
    sdom = sender.rsplit("@", 1)[1].lower() if "@" in sender else ""
    if client == "127.0.0.1":
        return None
    if sdom.endswith("dead.test"):
        return "tempfail"
    if helo == "":
        return "helo.missing"
    table = {"127.0.0.11": "client.no_ptr", "127.0.0.12": "client.ptr_mismatch",
             "127.0.0.13": "client.ptr_generic", "127.0.0.14": "client.dnsbl"}
    if client in table:
        return table[client]
    if helo.startswith("["):
        return "helo.ip_literal_mismatch" if helo != "[%s]" % client else None
    if any(not (ch.isalnum() or ch in ".-") for ch in helo):
        return "helo.syntax"
    if "." not in helo:
        return "helo.not_fqdn"
    if helo.lower() in ("mx.example.test", "example.test"):
        return "helo.forged_self"
    if helo.lower() == "nosuch.good.test":
        return "helo.no_dns"
    return {"unknown.test": "sender.domain_unknown", "nullmx.test": "sender.null_mx",
            "example.test": "sender.forged_local", "spammer.test": "sender.rhsbl"}.get(sdom)


class StubHandler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self):
        while True:
            attrs = {}
            while True:
                line = self.rfile.readline(8192)
                if not line:
                    return
                line = line.rstrip(b"\r\n")
                if not line:
                    break
                k, _, v = line.decode("latin-1").partition("=")
                attrs[k] = v
            fid = stub_decide(attrs)
            if fid is None:
                action = "DUNNO"
            elif fid == "tempfail":
                action = "451 4.4.3 DNS temporary failure, try again later (dns.tempfail)"
            else:
                e = next(x for x in STUB_CATALOG if x["id"] == fid)
                where = {"client.dnsbl": " on bl.test", "sender.rhsbl": " on dbl.test"}.get(fid, "")
                action = "%d %s stub says %s for %s%s (%s) https://mx.example.test/why/%s" % (
                    e["code"], e["enhanced"], fid, attrs.get("client_address", "?"), where, fid, fid)
            if self.server.dry_run and fid is not None:
                logged, action = "DUNNO dry_run would=" + action.split()[0], "DUNNO"
            else:
                logged = action.split()[0]
            sys.stderr.write("stub: decision client=%s helo=%s from=%s to=%s finding=%s action=%s\n" % (
                attrs.get("client_address", ""), json.dumps(attrs.get("helo_name", "")),
                json.dumps(attrs.get("sender", "")), json.dumps(attrs.get("recipient", "")),
                fid or "-", logged))
            sys.stderr.flush()
            self.wfile.write(("action=%s\n\n" % action).encode("latin-1"))
            self.wfile.flush()


def cmd_stub_policy(args):
    servers = []
    for i, a in enumerate(args):
        if a != "--listen":
            continue
        listen = args[i + 1]
        kind, _, where = listen.partition(":")
        if kind == "inet":
            host, _, port = where.rpartition(":")
            loopback_only(host)
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            srv = socketserver.ThreadingTCPServer((host, int(port)), StubHandler)
        else:
            if os.path.exists(where):
                os.unlink(where)
            srv = socketserver.ThreadingUnixStreamServer(where, StubHandler)
            os.chmod(where, 0o666)
        srv.daemon_threads = True
        srv.dry_run = "--dry-run" in args
        servers.append(srv)
        sys.stderr.write("stub: listening on %s\n" % listen)
    sys.stderr.flush()
    for srv in servers[1:]:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ports":
        return free_ports(int(args[0]))
    if cmd == "dns":
        return cmd_dns(args)
    if cmd == "smtp":
        return cmd_smtp(args)
    if cmd == "wait-tcp":
        return cmd_wait_tcp(args)
    if cmd == "wait-unix":
        return cmd_wait_unix(args)
    if cmd == "wait-dns":
        return cmd_wait_dns(args)
    if cmd == "catalog":
        return cmd_catalog(args)
    if cmd == "stub-policy":
        return cmd_stub_policy(args)
    if cmd == "stub-catalog":
        print(json.dumps(STUB_CATALOG))
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main() or 0)
