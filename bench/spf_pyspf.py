#!/usr/bin/python3
"""bench/spf_pyspf.py: SPF evaluations per second of pyspf (python3-spf) over the queries of
bench/run-spf.sh, for comparison with bench/spf_bench (issue 3).

    spf_pyspf.py QUERIES SECS dns|dict RESULTS

dns:  every spf.check2() asks the resolver of /etc/resolv.conf (nsd in the namespace): pyspf
      keeps no cache between checks, which is its real behaviour.
dict: one pass records every DNS answer pyspf asks for, then spf.DNSLookup is replaced by a
      dict lookup, so that only the evaluation itself is measured.
Writes "IP SENDER RESULT" per query to RESULTS (from the first pass) and one line of figures.
"""
import sys, time
import spf

qfile, secs, mode, out = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
queries = []
for line in open(qfile):
    f = line.split()
    if not f or f[0].startswith('#'):
        continue
    queries.append((f[0], f[1], f[2] if len(f) > 2 else ''))

real = spf.DNSLookup
recorded = {}


def recording(name, qtype, *a, **k):
    key = (name.lower().rstrip('.'), qtype)
    try:
        r = list(real(name, qtype, *a, **k))
    except Exception as e:
        recorded[key] = e
        raise
    recorded[key] = r
    return r


def from_dict(name, qtype, *a, **k):
    r = recorded[(name.lower().rstrip('.'), qtype)]
    if isinstance(r, Exception):
        raise r
    return r


spf.DNSLookup = recording
with open(out, 'w') as o:
    for ip, s, h in queries:
        res, expl = spf.check2(i=ip, s=s, h=h)
        o.write('%s %s %s\n' % (ip, s, res))
if mode == 'dict':
    spf.DNSLookup = from_dict
else:
    spf.DNSLookup = real

n = 0
nq = len(queries)
t0 = time.monotonic()
c0 = time.process_time()
while True:
    for _ in range(16):
        ip, s, h = queries[n % nq]
        spf.check2(i=ip, s=s, h=h)
        n += 1
    t1 = time.monotonic()
    if t1 - t0 >= secs:
        break
c1 = time.process_time()
print('pyspf (%s): %d evaluations in %.3f s: %.0f evaluations/s (%.1f us CPU each)'
      % (mode, n, t1 - t0, n / (t1 - t0), (c1 - c0) * 1e6 / n))
