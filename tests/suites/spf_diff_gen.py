#!/usr/bin/python3
"""spf_diff_gen: random SPF worlds and queries, with pyspf's results (differential tests).

Usage: spf_diff_gen.py [SEED [WORLDS [QUERIES]]]  (default 1 120 100), lines on stdout.

Each world is a set of DNS records (SPF TXT records with nested includes and redirects,
a/mx/ptr/exists/ip4/ip6 with CIDR lengths, macros, qualifiers, exp=, A/AAAA/MX/PTR records,
names that do not exist, occasional syntax errors and multiple records); each query is a
client address (IPv4, IPv6 or IPv4-mapped IPv6), a MAIL FROM address (or the null sender)
and a HELO name. pyspf (python3-spf, the reference implementation) evaluates every query with
check2(), its DNS answered from the world (spf.DNSLookup replaced, as pyspf's own testspf.py
does). tests/unit/test_spf_diff.c loads the same world into mailblock's real resolver as zone
files and compares.

Where pyspf and mailblock may differ for a documented reason (a choice the RFC leaves open, or
a pyspf departure from the RFC: docs/SPF-DIFFERENCES.md), the case also carries the results
pyspf gives when patched to behave as mailblock in those categories (alone and combined), with
the categories' names; the C side accepts such a result for those categories only, and counts
it.

Output (tab-separated, strings hex-encoded, "." for an empty string):
  world  INDEX
  timeout NAME  (every query at or under NAME times out)
  rr     OWNER  A|AAAA  ADDRESS
  rr     OWNER  MX  PREF  EXCHANGE
  rr     OWNER  PTR  TARGET
  rr     OWNER  TXT  NSTRINGS  STRING...
  case   IP  SENDER  HELO  PYSPF_RESULT  ALTERNATIVES ("-", or CATEGORY=RESULT,...)
Exit status 77 when the spf module cannot be imported.
"""
import ipaddress
import random
import sys

try:
    import spf
except ImportError:
    sys.exit(77)


def hx(s):
    if isinstance(s, str):
        s = s.encode()
    return s.hex() if s else "."


# ---- the world's DNS, as pyspf sees it -------------------------------------------------

WORLD = {}  # (name, qtype) -> list of values
SLOW = []  # names at and under which every query times out


def lookup(name, qtype, strict=True, timeout=None):
    name = name.lower().rstrip(".")
    if any(name == t or name.endswith("." + t) for t in SLOW):
        raise spf.TempError("DNS timeout")  # what pyspf's own DNSLookup raises
    return [((name, qtype), v) for v in WORLD.get((name, qtype), [])]


spf.DNSLookup = lookup


# The "void-addr" variant: pyspf made to count void lookups per term as mailblock does
# (RFC 7208 4.6.4): the address lookups of MX and PTR names are not counted.
def dns_mx_novoid(self, domainname):
    mxnames = self.dns(domainname, "MX")
    if len(mxnames) > spf.MAX_MX:
        raise spf.PermError("More than %d MX records returned" % spf.MAX_MX)
    mxnames.sort()
    return [a for mx in mxnames[: spf.MAX_MX] for a in self.dns(mx[1], self.A, ignore_void=True)]


def validated_ptrs_novoid(self):
    return [p for p in self.dns_ptr(self.i)[: spf.MAX_PTR]
            if self.cidrmatch(self.dns(p, self.A, ignore_void=True), self.cidrmax)]


# The "exp-eager" variant: pyspf fetches and expands the exp= text when it reads the record,
# before the evaluation (RFC 7208 6.2 evaluates it only for a fail result), and the PTR
# lookups of a %{p} in it count as void lookups; made to leave the void count untouched.
_get_explanation = spf.query.get_explanation


def get_explanation_novoid(self, spec):
    saved = self.void_lookups
    try:
        return _get_explanation(self, spec)
    finally:
        self.void_lookups = saved


# The "self-include" variant: pyspf rejects a record holding include:<its own domain> when it
# reads it ("trivial recursion"), even when an earlier mechanism decides the result; RFC 7208
# has no such rule (4.6: only syntax errors make the whole record fail; a loop is caught by
# the limit of 10 DNS-querying terms, 4.6.4, when it is reached). Made to evaluate it as the
# RFC says: validate_mechanism() recompiled from pyspf's own source without that test.
def recompiled(method, edits):
    """pyspf's query.<method> compiled from its own source with each (old, new) of edits
    applied (old must occur once); the method unchanged when the source is not as expected
    (another pyspf version)."""
    import inspect
    import textwrap
    orig = getattr(spf.query, method)
    src = textwrap.dedent(inspect.getsource(orig))
    for old, new in edits:
        if src.count(old) != 1:
            return orig
        src = src.replace(old, new)
    ns = {}
    exec(compile(src, spf.__file__, "exec"), vars(spf), ns)
    return ns[method]


# The "self-include" variant: pyspf rejects a record holding include:<its own domain> when it
# reads it ("trivial recursion"), even when an earlier mechanism decides the result; RFC 7208
# has no such rule (4.6: only syntax errors make the whole record fail; a loop is caught by
# the limit of 10 DNS-querying terms, 4.6.4, when it is reached). Made to evaluate it as the
# RFC says: validate_mechanism() recompiled from pyspf's own source without that test.
validate_mechanism_noself = recompiled("validate_mechanism", [(
    "if arg == self.d:", "if arg == self.d and mech == 'include':")])

# The "upper-mod" variant: pyspf compares modifier names in lower case only, so that
# REDIRECT= and EXP= are unknown modifiers (ignored); RFC 7208 12 gives the names in ABNF,
# whose literals are case-insensitive (RFC 5234 2.3).
CHECK0_UPPER_MOD = [("mod,arg = m\n", "mod, arg = m[0].lower(), m[1]\n")]

# The "redirect-eager" variant: pyspf counts redirect= towards the limit of 10 DNS-querying
# terms when it reads the record, even when a mechanism matches and the redirect is never
# followed (RFC 7208 4.6.4 counts the terms evaluated; 6.1: redirect is used only when no
# mechanism matched). Made to count it when it is followed.
CHECK0_REDIRECT_LATE = [
    ("self.check_lookups()\n            redirect = self.expand_domain(arg)",
     "redirect = self.expand_domain(arg)"),
    ("redirect_record = self.dns_spf(redirect)",
     "self.check_lookups(); redirect_record = self.dns_spf(redirect)"),
]
CHECK0 = {
    (False, False): spf.query.check0,
    (True, False): recompiled("check0", CHECK0_UPPER_MOD),
    (False, True): recompiled("check0", CHECK0_REDIRECT_LATE),
    (True, True): recompiled("check0", CHECK0_UPPER_MOD + CHECK0_REDIRECT_LATE),
}
RE_UPPER_MOD = spf.re.compile(r"(^| )(?![a-z]+=)[A-Za-z]+=")

# The "upper-r" variant: pyspf reads the transformers of a macro only in lower case, so that
# %{d2R} or %{L1R-} lose their digits, reversal and delimiters; RFC 7208 7.1 gives the grammar
# in ABNF, whose literals are case-insensitive (RFC 5234 2.3), so "R" is "r".
RE_ARGS_ANYCASE = spf.re.compile(r"([0-9]*)([rR]?)([^0-9a-zA-Z]*)")
RE_UPPER_R = spf.re.compile(r"%\{[A-Za-z][0-9]*R")

VARIANTS = ["void-addr", "exp-eager", "self-include", "redirect-eager", "upper-r", "upper-mod"]


# Variants that only ever remove a cause of permerror (a static check, a count): each only
# turns a permerror into another result, and all of them together do whenever any subset does.
PERMERROR_ONLY = ["void-addr", "exp-eager", "self-include", "redirect-eager"]


def variants(names):
    """Every non-empty combination of names, joined by '+'."""
    out = []
    for m in range(1, 1 << len(names)):
        out.append("+".join(v for k, v in enumerate(names) if m & (1 << k)))
    return out


def pyspf(ip, sender, helo, variant=""):
    saved = (spf.query.dns_mx, spf.query.validated_ptrs, spf.query.get_explanation,
             spf.query.validate_mechanism, spf.RE_ARGS, spf.query.check0)
    parts = variant.split("+")
    if "void-addr" in parts:
        spf.query.dns_mx, spf.query.validated_ptrs = dns_mx_novoid, validated_ptrs_novoid
    if "exp-eager" in parts:
        spf.query.get_explanation = get_explanation_novoid
    if "self-include" in parts:
        spf.query.validate_mechanism = validate_mechanism_noself
    if "upper-r" in parts:
        spf.RE_ARGS = RE_ARGS_ANYCASE
    spf.query.check0 = CHECK0[("upper-mod" in parts, "redirect-eager" in parts)]
    try:
        q = spf.query(i=ip, s=sender, h=helo, receiver="rcv.example", querytime=0)
        res, _, _ = q.check()
    finally:
        (spf.query.dns_mx, spf.query.validated_ptrs, spf.query.get_explanation,
         spf.query.validate_mechanism, spf.RE_ARGS, spf.query.check0) = saved
    return res


# ---- generating worlds -----------------------------------------------------------------

LOCALS = ["alice", "bob", "first.last", "x-y", "postmaster", "a_b"]


def nibbles(ip):
    return ".".join(ipaddress.ip_address(ip).exploded.replace(":", ""))


def mk_world(r, w, nq):
    S = "w%d.example" % w
    recs = {}

    def add(name, qtype, v):
        rrset = recs.setdefault((name.lower(), qtype), [])
        if v not in rrset:  # an RRset holds no duplicates (RFC 2181 5)
            rrset.append(v)

    v4 = ["192.0.2.%d" % r.randint(1, 254) for _ in range(3)] + \
         ["198.51.100.%d" % r.randint(1, 254), "203.0.113.%d" % r.randint(1, 254)]
    v6 = ["2001:db8:%x::%x" % (r.randint(0, 0xffff), r.randint(1, 0xffff)) for _ in range(3)]
    clients = v4 + v6
    doms = ["d%d.%s" % (k, S) for k in range(8)]
    hosts = ["h%d.%s" % (k, S) for k in range(6)]
    nx = ["nx%d.%s" % (k, S) for k in range(3)]
    # one world in ten has a name that never answers (outside the world's zone: an
    # authoritative zone would answer before the forward zone that times out)
    slow = ["t%d.slow" % w] if w % 10 == 3 else []

    def near(ip):
        a = ipaddress.ip_address(ip)
        if r.random() < 0.5:
            return str(a)
        bits = 32 if a.version == 4 else 128
        return str(ipaddress.ip_address(int(a) ^ (1 << r.randint(0, bits // 2))))

    for h in hosts:
        for _ in range(r.choice([0, 1, 1, 2])):
            add(h, "A", near(r.choice(v4)))
        for _ in range(r.choice([0, 0, 1])):
            add(h, "AAAA", near(r.choice(v6)))
    for d in doms:
        if r.random() < 0.5:
            add(d, "A", near(r.choice(v4)))
        if r.random() < 0.3:
            add(d, "AAAA", near(r.choice(v6)))
        for _ in range(r.choice([0, 1, 2, 3])):
            add(d, "MX", (r.randint(0, 20), r.choice(hosts * 3 + nx + doms)))
        if r.random() < 0.03:
            for k in range(11):
                add(d, "MX", (k, r.choice(hosts)))
    for ip in clients:
        for _ in range(r.choice([0, 1, 1, 2])):
            name = (".".join(reversed(nibbles(ip).split("."))) + ".ip6.arpa") if ":" in ip \
                else ".".join(reversed(ip.split("."))) + ".in-addr.arpa"
            add(name, "PTR", r.choice(hosts + doms + nx))

    helos = hosts[:3] + [doms[0], nx[0]]

    # names that exists: mechanisms may find
    for ip in clients:
        if r.random() < 0.5:
            add((ip if ":" not in ip else nibbles(ip)) + ".bl." + S, "A", "127.0.0.2")
        if r.random() < 0.5:
            rv = ".".join(reversed((ip if ":" not in ip else nibbles(ip)).split(".")))
            add(rv + "." + ("in-addr" if ":" not in ip else "ip6") + ".rbl." + S, "A", "127.0.0.2")
    for lp in LOCALS:
        if r.random() < 0.5:
            add(lp + ".users." + S, "A", "127.0.0.3")
    for d in doms + helos:
        if r.random() < 0.5:
            add(d + ".doms." + S, "A", "127.0.0.4")
    if r.random() < 0.5:
        add("example.ok." + S, "A", "127.0.0.5")

    # explanation records
    add("exp." + S, "TXT", [b"denied %{i} for %{s} via %{d} (%{o} %{h} %{v} %{l})"])
    add("exp2." + S, "TXT", [b"see %{p} and %{ir}"])
    add("exp3." + S, "TXT", [b"one", b"two"])

    def target():
        x = r.random()
        if x < 0.6:
            return r.choice(doms)
        if x < 0.88:
            return r.choice(hosts)
        if slow and x < 0.9:
            return slow[0]
        return r.choice(nx)

    def cidr(v=None):
        s = ""
        if r.random() < 0.3:
            s += "/" + str(r.choice([32, 24, 16, 8, 0, r.randint(0, 32)]))
        if r.random() < 0.2:
            s += "//" + str(r.choice([128, 64, 48, 32, r.randint(0, 128)]))
        return s

    EXISTS = ["%{i}.bl." + S, "%{ir}.%{v}.rbl." + S, "%{l}.users." + S, "%{d}.doms." + S,
              "%{o}.doms." + S, "%{h}.doms." + S, "%{d3}.ok." + S, "%{d2}.ok." + S,
              "%{l1r-}.users." + S, "%{ir}.%{l}._spf.%{d}", "%{s}.users." + S,
              "%{d1r}.ok." + S, "%{i}.%{d}", "%{l2}.users." + S] + \
        ["%{l}." + t for t in slow]

    def mech(own):
        x = r.random()
        if x < 0.14:
            ip = near(r.choice(v4))
            ln = r.choice([32, 24, 16, 8, r.randint(0, 32), None])
            return "ip4:" + ip + ("/%d" % ln if ln is not None else "")
        if x < 0.24:
            ip = near(r.choice(v6))
            ln = r.choice([128, 64, 48, r.randint(0, 128), None])
            return "ip6:" + ip + ("/%d" % ln if ln is not None else "")
        if x < 0.40:
            return "a" + (":" + target() if r.random() < 0.6 else "") + cidr()
        if x < 0.52:
            return "mx" + (":" + target() if r.random() < 0.6 else "") + cidr()
        if x < 0.57:
            return "ptr" + (":" + r.choice(doms + hosts + [S]) if r.random() < 0.5 else "")
        if x < 0.72:
            return "exists:" + r.choice(EXISTS)
        if x < 0.92:
            t = target()
            if t == own and r.random() < 0.8:  # pyspf: "trivial recursion" (self-include)
                t = r.choice(doms)
            return "include:" + t
        return "a:%{d}" if r.random() < 0.5 else "mx:%{o}"

    BAD = ["ip4:300.1.2.3", "a:", "mx/33", "ip6:2001:db8::/129", "foo", "include",
           "exists:%{z}.x", "a:%{d", "ip4:1.2.3", "-", "all:x", "a//129", "exists:%%{i}",
           "ip4:1.2.3.4/", "mx:%{d}.%", "ptr:", "include:%{", "redirect=", "exp=%{i"]

    for k, d in enumerate(doms):
        if r.random() < 0.08 and k > 0:
            continue  # no record: include/redirect here is permerror
        terms = []
        for _ in range(r.choice([0, 1, 2, 3, 3, 4, 5])):
            q = r.choice(["", "", "", "+", "-", "~", "?"])
            terms.append(q + mech(d))
        if r.random() < 0.65:
            terms.append(r.choice(["-", "~", "?", "+", ""]) + "all")
        elif r.random() < 0.6:
            terms.append("redirect=" + target())
        if r.random() < 0.3:
            terms.append("exp=" + r.choice(["exp.", "exp2.", "exp3.", "nxexp."]) + S)
        if r.random() < 0.1:
            terms.insert(r.randint(0, len(terms)), "moo=%{d}.cow")
        if r.random() < 0.05:
            terms.insert(r.randint(0, len(terms)), r.choice(BAD))
        rec = " ".join(["v=spf1"] + terms)
        if r.random() < 0.05:
            rec = rec.upper() if r.random() < 0.5 else rec.replace(" ", "  ")
        rb = rec.encode()
        if len(rb) > 20 and r.random() < 0.2:
            cut = r.randint(1, len(rb) - 1)
            strs = [rb[:cut], rb[cut:]]
        else:
            strs = [rb[i:i + 255] for i in range(0, len(rb), 255)]
        add(d, "TXT", strs)
        if r.random() < 0.1:
            add(d, "TXT", [b"google-site-verification=abc"])
        if r.random() < 0.03:
            add(d, "TXT", [b"v=spf1 -all"])
        if r.random() < 0.02:
            add(d, "TXT", [b"v=spf10 +all"])
    for h in hosts:
        if r.random() < 0.85:
            add(h, "TXT", [("v=spf1 " + r.choice(["a", "mx", "ip4:" + r.choice(v4), "ptr",
                                                  "exists:%{i}.bl." + S]) +
                            " " + r.choice(["-all", "~all", "?all"])).encode()])

    queries = []
    for _ in range(nq):
        x = r.random()
        if x < 0.55:
            ip = r.choice(v4)
        elif x < 0.9:
            ip = r.choice(v6)
        elif x < 0.95:
            ip = "::ffff:" + r.choice(v4)
        else:
            ip = near(r.choice(v4))
        helo = r.choice(helos)
        y = r.random()
        if y < 0.05:
            sender = ""
        else:
            sender = r.choice(LOCALS) + "@" + r.choice(doms * 8 + hosts + nx)
        queries.append((ip, sender, helo))
    return recs, queries, slow


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    nworlds = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    nq = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    r = random.Random(seed)
    out = sys.stdout
    for w in range(nworlds):
        recs, queries, slow = mk_world(r, w, nq)
        WORLD.clear()
        WORLD.update(recs)
        SLOW[:] = slow
        texts = [b"".join(v).decode() for (_, qt), vals in recs.items() if qt == "TXT"
                 for v in vals]
        upper = ([] if not any(RE_UPPER_R.search(t) for t in texts) else ["upper-r"]) + \
            ([] if not any(RE_UPPER_MOD.search(t) for t in texts) else ["upper-mod"])
        out.write("world\t%d\n" % w)
        for t in slow:
            out.write("timeout\t%s\n" % hx(t))
        for (name, qt), vals in sorted(recs.items()):
            for v in vals:
                if qt in ("A", "AAAA"):
                    out.write("rr\t%s\t%s\t%s\n" % (hx(name), qt, v))
                elif qt == "MX":
                    out.write("rr\t%s\tMX\t%d\t%s\n" % (hx(name), v[0], hx(v[1])))
                elif qt == "PTR":
                    out.write("rr\t%s\tPTR\t%s\n" % (hx(name), hx(v)))
                else:
                    out.write("rr\t%s\tTXT\t%d\t%s\n" % (hx(name), len(v),
                                                         "\t".join(hx(s) for s in v)))
        for ip, sender, helo in queries:
            res = pyspf(ip, sender, helo)
            alts = []
            if upper:  # the upper-* variants change any result: every combination
                tries = variants(PERMERROR_ONLY + upper)
            elif res == "permerror" and pyspf(ip, sender, helo, "+".join(PERMERROR_ONLY)) != res:
                tries = variants(PERMERROR_ONLY)
            else:
                tries = []
            for v in tries:
                alt = pyspf(ip, sender, helo, v)
                if alt != res:
                    alts.append(v + "=" + alt)
            out.write("case\t%s\t%s\t%s\t%s\t%s\n" % (ip, hx(sender), hx(helo), res,
                                                      ",".join(alts) or "-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
