#!/usr/bin/env python3
"""Turns the OpenSPF test suite (YAML, e.g. rfc7208-tests.yml) into a line format that the C
test tests/unit/test_spf_suite.c reads. Only the YAML is read here; the zone files, the DNS
and the SPF evaluation are all done by the C test.

Usage: spf_suite_lines.py SUITE.yml > OUT

Every field is separated by one TAB. Byte strings are written as lower-case hex, "." for the
empty string (YAML strings are decoded, then each code point U+0000..U+00FF is one byte, as
the suite's SOURCE.txt says).

  scenario  INDEX  DESCRIPTION
  rr        NAME   TYPE  VALUES...
            TYPE is A, AAAA (VALUES: the address as text), MX (preference, exchange),
            PTR or CNAME (target), TXT or SPF (a count, then that many character-strings),
            TXTNONE or SPFNONE (the "TXT: NONE" marker), TIMEOUT (no values).
            Records of one name keep their order in the YAML.
  test      NAME   HELO  HOST  MAILFROM  RESULTS  EXPLANATION  SPEC
            RESULTS: acceptable results joined with ","; EXPLANATION: "!" when none is given.

Exit status: 0, or 2 when PyYAML is missing (the C test then skips), 1 on a malformed suite.
"""
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("spf_suite_lines.py: PyYAML (python3-yaml) is not installed\n")
    sys.exit(2)


def to_bytes(value):
    if value is None:
        return b""
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, (int, float)):
        value = str(value)
    if isinstance(value, list):  # e.g. spec: [4.3/1, 5/10/3]
        value = ", ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ValueError("not a string: %r" % (value,))
    if all(ord(ch) < 256 for ch in value):
        return value.encode("latin-1")
    return value.encode("utf-8")


def hx(value):
    b = to_bytes(value)
    return b.hex() if b else "."


def strings(value):
    """A TXT/SPF value: one string, or a list of character-strings of ONE record."""
    if isinstance(value, list):
        return [hx(v) for v in value]
    return [hx(value)]


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: spf_suite_lines.py SUITE.yml\n")
        return 1
    with open(sys.argv[1], encoding="latin-1") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    out = []
    for index, doc in enumerate(docs):
        out.append("\t".join(["scenario", str(index), hx(doc.get("description", ""))]))
        for name, records in (doc.get("zonedata") or {}).items():
            for rr in records or []:
                if rr == "TIMEOUT":
                    out.append("\t".join(["rr", hx(name), "TIMEOUT"]))
                    continue
                if not isinstance(rr, dict) or len(rr) != 1:
                    raise ValueError("bad record for %s: %r" % (name, rr))
                (rtype, value), = rr.items()
                rtype = rtype.upper()
                if rtype in ("TXT", "SPF"):
                    if value == "NONE":
                        out.append("\t".join(["rr", hx(name), rtype + "NONE"]))
                        continue
                    parts = strings(value)
                    out.append("\t".join(["rr", hx(name), rtype, str(len(parts))] + parts))
                elif rtype == "MX":
                    out.append("\t".join(["rr", hx(name), "MX", str(int(value[0])), hx(value[1])]))
                elif rtype in ("A", "AAAA"):
                    out.append("\t".join(["rr", hx(name), rtype, str(value)]))
                elif rtype in ("PTR", "CNAME"):
                    out.append("\t".join(["rr", hx(name), rtype, hx(value)]))
                else:
                    raise ValueError("unknown record type %s" % rtype)
        for name, test in (doc.get("tests") or {}).items():
            results = test["result"]
            if not isinstance(results, list):
                results = [results]
            exp = test.get("explanation")
            out.append("\t".join([
                "test", hx(name), hx(test.get("helo", "")), str(test["host"]),
                hx(test.get("mailfrom", "")), ",".join(str(r) for r in results),
                "!" if exp is None else hx(exp), hx(test.get("spec", "")),
            ]))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
