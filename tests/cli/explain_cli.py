"""`mailblock explain` end to end (run by test_explain_cli.sh).

Round trip: every verdict the golden decision tests record (tests/golden/cases/*.ref, made by
`mailblock check`, the gate's own decision code) is given back to `mailblock explain` as a
bare reply, as a multi-line reply and inside a Postfix log line, and must come back as
exactly the finding that produced it; ids no golden case reaches are rebuilt from
`mailblock catalog --json` the way the gate writes its replies. Then provider replies, a
bounce, --batch, --check over the golden zones, and the exit codes."""
import glob
import json
import os
import subprocess
import sys
import tempfile

MB, ROOT = sys.argv[1], sys.argv[2]
GOLDEN = os.path.join(ROOT, "tests", "golden")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, detail[:600]))


def explain(*args, stdin=None):
    p = subprocess.run([MB, "explain", *args], input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def explain_json(text):
    rc, out, err = explain("--json", "--text", text)
    try:
        return rc, json.loads(out)
    except ValueError:
        return rc, {"error": out + err}


def first_result(j):
    """The first result of an explain --json object, or {} when it has none."""
    return (j.get("results") or [{}])[0]


def json_lines(out):
    """The JSON objects of a --batch --json output, one a non-blank line."""
    return [json.loads(x) for x in out.splitlines() if x.strip()]


# ---- round trip ----
verdicts = {}
for ref in sorted(glob.glob(os.path.join(GOLDEN, "cases", "*.ref"))):
    with open(ref) as f:
        body = f.read().split("\n", 1)[1]
    v = json.loads(body)["verdict"]
    if "finding" in v:
        verdicts.setdefault(v["finding"], []).append((os.path.basename(ref), v))
catalog = json.loads(subprocess.check_output([MB, "catalog", "--json"]))["findings"]
for e in catalog:
    if e["id"] not in verdicts:
        text = "%s: 192.0.2.1 (%s) https://mx.example.com/why/%s" % (e["reason"], e["id"], e["id"])
        verdicts[e["id"]] = [("catalog", {"code": e["code"], "enhanced": e["enhanced"],
                                          "text": text, "finding": e["id"]})]
check("round trip: every catalog id has a reply to explain",
      set(verdicts) == {e["id"] for e in catalog}, repr(sorted(verdicts)))
for fid, cases in sorted(verdicts.items()):
    for i, (src, v) in enumerate(cases):
        reply = "%d %s %s" % (v["code"], v["enhanced"], v["text"])
        rc, j = explain_json(reply)
        r = first_result(j)
        check("round trip %s (%s): bare reply" % (fid, src),
              rc == 0 and r.get("finding") == fid and r.get("reply_code") == v["code"] and
              r.get("status") == v["enhanced"], json.dumps(j)[:400])
        if i > 0:
            continue  # the bare reply for every case; the multi-line and log forms for the first
        # the same reply split over two lines as a server sends a long one
        words = v["text"].split(" ")
        half = len(words) // 2
        multi = "%d-%s %s\r\n%d %s %s" % (v["code"], v["enhanced"], " ".join(words[:half]),
                                          v["code"], v["enhanced"], " ".join(words[half:]))
        rc, j = explain_json(multi)
        r = first_result(j)
        check("round trip %s (%s): multi-line reply" % (fid, src),
              rc == 0 and r.get("finding") == fid, json.dumps(j)[:400])
        log = ("Nov 22 10:00:00 mx postfix/smtp[4711]: 4F2A11C0: to=<bob@example.org>, "
               "relay=mx.example.org[192.0.2.25]:25, delay=1.2, delays=0.1/0/0.5/0.6, "
               "dsn=%s, status=bounced (host mx.example.org[192.0.2.25] said: %s "
               "(in reply to RCPT TO command))" % (v["enhanced"], reply))
        rc, j = explain_json(log)
        r = first_result(j)
        check("round trip %s (%s): Postfix log line" % (fid, src),
              rc == 0 and r.get("finding") == fid and r.get("recipient") == "bob@example.org"
              and j.get("input") == "log", json.dumps(j)[:400])

# ---- the result's fields ----
rc, j = explain_json("550 5.7.25 no reverse DNS (PTR) for the client address: 192.0.2.11 "
                     "(client.no_ptr) https://mx.example.com/why/client.no_ptr")
r = j["results"][0]
for key in ("recipient", "reason", "finding", "reply_code", "status", "remote_mta", "blocklist",
            "sending_ip", "hard", "explanation", "fix"):
    check("JSON result has %s" % key, key in r, json.dumps(r))
check("client.no_ptr -> reason requireptr, soft", r["reason"] == "requireptr" and
      r["hard"] is False, json.dumps(r))
cat = {e["id"]: e for e in catalog}
check("explanation and fix come from the catalog",
      r["explanation"] == cat["client.no_ptr"]["explanation"] and
      r["fix"] == cat["client.no_ptr"]["fix"])

# ---- provider replies ----
provider_cases = [
    ("550-5.7.27 The sender's domain does not pass SPF checks, so this mail was blocked.",
     "authfailure"),
    ("550 5.1.1 The email account that you tried to reach does not exist. Please try "
     "double-checking the recipient's email address for typos or unnecessary spaces. "
     "https://support.google.com/mail/?p=NoSuchUser", "userunknown"),
    ("550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To "
     "request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 "
     "AS(1450) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]", "blocked"),
    ("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume "
     "or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
     ("badreputation", "speeding")),
]
for text, want in provider_cases:
    want = want if isinstance(want, tuple) else (want,)
    rc, j = explain_json(text)
    r = first_result(j)
    check("provider reply -> %s" % "/".join(want), rc == 0 and r.get("reason") in want,
          json.dumps(j)[:400])

# ---- a bounce, batch and --check ----
bounce = """From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: alice@good.test
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; bob@example.org
Action: failed
Status: 5.7.25
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.7.25 no reverse DNS (PTR) for the client address: 192.0.2.11
 (client.no_ptr) https://mx.example.org/why/client.no_ptr

--B1
Content-Type: text/rfc822-headers

Received: from out.good.test (unknown [192.0.2.11])
\tby mx.example.org (Postfix) with ESMTP id 1234ABCD
\tfor <bob@example.org>; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)
From: alice@good.test
To: bob@example.org
Subject: hello
Message-ID: <1@good.test>

--B1--
"""
tmpdir = tempfile.TemporaryDirectory()  # removed at the end, whatever the outcome
tmp = tmpdir.name
path = os.path.join(tmp, "bounce.eml")
with open(path, "w") as f:
    f.write(bounce)
rc, out, err = explain("--json", path)
j = json.loads(out) if rc == 0 else {}
r = first_result(j)
check("DSN bounce: recipient, finding, remote MTA",
      r.get("recipient") == "bob@example.org" and r.get("finding") == "client.no_ptr" and
      r.get("remote_mta") == "mx.example.org" and j.get("kind") == "dsn", out[:600])
check("DSN bounce: the sending IP from the returned headers", r.get("sending_ip") == "192.0.2.11",
      out[:600])
rc, out, err = explain(path)
check("text output names the recipient, reason and fix",
      rc == 0 and "bob@example.org: requireptr" in out and "fix:" in out, out)

# The SMTP command has one name in a log line, a bare reply and a bounce, and the same effect:
# a sender-address wording in reply to HELO or EHLO refuses the client (blocked).
helo_reply = "550 5.7.1 <bad>: sender address rejected"
rc, j = explain_json("Jan  1 00:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: HELO from "
                     "x[192.0.2.1]: %s; from=<a@example.org> proto=ESMTP helo=<bad>" % helo_reply)
r = first_result(j)
check("Postfix smtpd HELO reject -> command HELO, blocked",
      r.get("command") == "HELO" and r.get("reason") == "blocked", json.dumps(j)[:400])
rc, j = explain_json(helo_reply + " (in reply to EHLO command)")
r = first_result(j)
check("reply in reply to EHLO -> command EHLO, blocked",
      r.get("command") == "EHLO" and r.get("reason") == "blocked", json.dumps(j)[:400])
helo_bounce = bounce.replace(
    "I'm sorry to have to inform you that your message could not be delivered.",
    "<bob@example.org>: host mx.example.org[192.0.2.2] said: %s\n"
    "    (in reply to EHLO command)" % helo_reply).replace(
    "550 5.7.25 no reverse DNS (PTR) for the client address: 192.0.2.11\n"
    " (client.no_ptr) https://mx.example.org/why/client.no_ptr", helo_reply)
path2 = os.path.join(tmp, "bounce-ehlo.eml")
with open(path2, "w") as f:
    f.write(helo_bounce)
rc, out, err = explain("--json", path2)
r = first_result(json.loads(out) if rc == 0 else {})
check("bounce in reply to EHLO -> command EHLO, blocked",
      r.get("command") == "EHLO" and r.get("reason") == "blocked", out[:600])
rc, j = explain_json("Jan  1 00:00:00 h sm-mta[1]: x: ruleset=check_relay, arg1=h.example.org, "
                     "relay=h.example.org [192.0.2.4], reject=554 xyzzy")
r = first_result(j)
check("Sendmail check_relay reject -> command CONN, blocked",
      r.get("command") == "CONN" and r.get("reason") == "blocked", json.dumps(j)[:400])

zones = []
for z in sorted(glob.glob(os.path.join(GOLDEN, "zones", "*.zone"))):
    zones += ["--zone", z]
rc, out, err = explain("--check", "-c", os.path.join(GOLDEN, "golden.cf"), *zones, path)
check("--check: the sending IP still has no PTR",
      rc == 0 and "still wrong: client.no_ptr" in out, out + err)
rc, out, err = explain("--check", "--json", "-c", os.path.join(GOLDEN, "golden.cf"), *zones,
                       path)
j = json.loads(out) if rc == 0 else {}
fails = {x["id"]: x for x in j.get("check", {}).get("failing", [])}
check("--check --json: client.no_ptr failing and related",
      fails.get("client.no_ptr", {}).get("related") is True, out[:800])

# a receiving-side log line naming a blocklist, checked with no dnsbl_sites configured: the
# list the line names is asked (here answered from a zone file)
log = ("Nov 22 10:00:00 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT from unknown[192.0.2.66]: "
       "554 5.7.1 Service unavailable; Client host [192.0.2.66] blocked using "
       "zen.spamhaus.org; from=<alice@good.test> to=<bob@example.org> proto=ESMTP "
       "helo=<mail.good.test>")
rc, out, err = explain("--check", "-o", "dns_forwarders=127.0.0.1:1", "-o", "dns_timeout=1s",
                       "--zone", os.path.join(ROOT, "tests", "cli", "zones",
                                              "zen.spamhaus.org.zone"),
                       *zones, "--text", log)
check("--check asks the blocklist the reply names", rc == 0 and
      "still wrong: client.dnsbl" in out and "blocklist: Spamhaus" in out, out + err)

mbox = os.path.join(tmp, "box")
with open(mbox, "w") as f:
    for i in range(3):
        f.write("From MAILER-DAEMON Sun Nov 22 10:00:00 2026\n" + bounce + "\n")
    f.write("From alice@good.test Sun Nov 22 10:00:00 2026\nFrom: alice@good.test\n"
            "To: bob@example.org\nSubject: lunch\n\nSee you at noon.\n")
rc, out, err = explain("--batch", "--json", mbox)
lines = json_lines(out)
check("--batch: one object per message, then the summary",
      rc == 0 and len(lines) == 5 and "summary" in lines[-1], out[:800])
if lines and "summary" in lines[-1]:
    s = lines[-1]["summary"]
    check("--batch summary counts", s["messages"] == 4 and s["bounces"] == 3 and
          s["not_bounces"] == 1 and s["by_reason"].get("requireptr") == 3, json.dumps(s))
rc, out, err = explain(mbox)
check("an mbox of several messages without --batch -> 64 saying so",
      rc == 64 and "holds 4 messages: use --batch" in err, err)
rc, out, err = explain(tmp)
check("a directory without --batch -> 64 saying so", rc == 64 and "use --batch" in err, err)
one_mbox = os.path.join(tmp, "one.mbox")
with open(one_mbox, "w") as f:
    f.write("From MAILER-DAEMON Sun Nov 22 10:00:00 2026\n" + bounce)
rc, out, err = explain("--json", one_mbox)
check("an mbox of one message is one input", rc == 0 and
      json.loads(out)["results"][0]["recipient"] == "bob@example.org", out[:300] + err)
rc, out, err = explain("--batch", tmp)
check("--batch over a directory (maildir without cur/new)", rc == 0 and "== summary" in out,
      out[-400:])

# a mail log in --batch: each line reporting a failure or a rejection is one input
maillog = os.path.join(tmp, "mail.log")
with open(maillog, "w") as f:
    f.write("Nov 22 10:00:00 mx postfix/smtpd[10]: connect from unknown[192.0.2.66]\n" + log +
            "\nNov 22 10:00:02 mx postfix/smtp[11]: 4F2A11C0: to=<carol@example.net>, "
            "relay=mx.example.net[192.0.2.25]:25, delay=1.2, dsn=2.0.0, status=sent (250 2.0.0 "
            "Ok: queued as 123)\nNov 22 10:00:03 mx postfix/smtp[11]: 4F2A11C1: "
            "to=<dave@example.net>, relay=mx.example.net[192.0.2.25]:25, delay=1.2, dsn=5.1.1, "
            "status=bounced (host mx.example.net[192.0.2.25] said: 550 5.1.1 "
            "<dave@example.net>: Recipient address rejected: User unknown in virtual mailbox "
            "table (in reply to RCPT TO command))\n")
rc, out, err = explain("--batch", "--json", maillog)
lines = json_lines(out)
check("--batch over a mail log: the two failures, named by line",
      rc == 0 and len(lines) == 3 and lines[0].get("source") == maillog + ":2" and
      lines[1].get("source") == maillog + ":4" and
      lines[1]["results"][0]["reason"] == "userunknown" and
      lines[2]["summary"]["messages"] == 2, out[:600])

# a message stored with CR-only line endings (old Mac mail stores) is a message in --batch
crdir = os.path.join(tmp, "cr-maildir")
os.makedirs(crdir)
with open(os.path.join(crdir, "1.eml"), "w", newline="") as f:
    f.write(bounce.replace("\n", "\r"))
rc, out, err = explain("--batch", "--json", crdir)
lines = json_lines(out)
check("--batch: a CR-only message is read as a message, not as a log",
      rc == 0 and len(lines) == 2 and lines[0]["results"][0]["recipient"] == "bob@example.org",
      out[:400])

empty = os.path.join(tmp, "empty-maildir")
os.makedirs(os.path.join(empty, "sub"))
rc, out, err = explain("--batch", "--json", empty)
check("--batch over a directory with no message files: an empty summary",
      rc == 0 and json.loads(out.splitlines()[-1])["summary"]["messages"] == 0, out + err)

# ---- errors ----
rc, out, err = explain("--text", "hello there")
check("no reply in the input -> 65", rc == 65 and "no SMTP reply" in err, err)
rc, out, err = explain("--bogus")
check("unknown option -> 64", rc == 64, err)
rc, out, err = explain(os.path.join(tmp, "missing.eml"))
check("missing file -> 65 naming it", rc == 65 and "missing.eml" in err, err)
rc, out, err = explain("--text", "550 5.1.1 <b\x1b[31m@x>: user \x01unknown\xff")
check("peer bytes are escaped in the output", rc == 0 and "\x1b" not in out and
      "\x01" not in out, repr(out))
rc, out, err = explain("--json", stdin=b"451 4.7.1 Greylisted, please try again later\n")
j = json.loads(out) if rc == 0 else {}
r = first_result(j)
check("standard input; a 4xx is never hard", rc == 0 and r.get("hard") is False and
      r.get("reply_code") == 451, out)

tmpdir.cleanup()
print("explain cli: %d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
