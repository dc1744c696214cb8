#!/usr/bin/env bash
# bench/run-explain.sh: bounces per second of `mailblock explain --batch --json` and of
# sisimai (libsisimai-perl, Sisimai->dump: decode and print JSON) on the same input in the
# same run (issue 4), and the floor GMime's parse alone sets (bench/gmime_parse): every
# message file of the bounce corpus in
# ../shared/testsuites/bounces-sisimai/set-of-emails/maildir, copied COPIES times into a
# scratch folder so that each run takes long enough to time. Each tool runs RUNS times as a
# whole process on one core; the median wall time gives bounces per second.
#
#   bench/run-explain.sh                 COPIES=8 RUNS=5 (well under a minute)
#
# Settings: COPIES, RUNS, CPU (the core, default 0), CORPUS (a maildir tree of .eml files).
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
COPIES=${COPIES:-8}
RUNS=${RUNS:-5}
CPU=${CPU:-0}
CORPUS=${CORPUS:-$root/../shared/testsuites/bounces-sisimai/set-of-emails/maildir}

die() {
    echo "run-explain: $*" >&2
    exit 2
}
[ -d "$CORPUS" ] || die "no corpus at $CORPUS"
for t in taskset perl python3; do command -v $t >/dev/null || die "$t not found"; done
perl -MSisimai -e 1 2>/dev/null || die "sisimai not found: apt-get install libsisimai-perl"
make -s -C "$root" >/dev/null || die "cannot build mailblock (make at the top)"
make -s -C "$here" gmime_parse >/dev/null || die "cannot build bench/gmime_parse (libgmime-3.0-dev)"
mb=$root/build/mailblock

work=$(mktemp -d /tmp/mb-explain.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
n=0
for i in $(seq 1 "$COPIES"); do
    mkdir -p "$work/c$i"
    # one flat folder per copy: every .eml of every subfolder (bsd, dos, mac, err, not, tmp)
    for f in "$CORPUS"/*/*.eml; do
        sub=$(basename "$(dirname "$f")")
        cp "$f" "$work/c$i/$sub-$(basename "$f")"
        n=$((n + 1))
    done
done
echo "input: $n message files ($COPIES copies of $((n / COPIES)))"

cat > "$work/sisimai.pl" <<'PERL'
use strict;
use warnings;
use Sisimai;
# decode every folder and print the results as JSON, as mailblock explain --json does
for my $dir (@ARGV) {
    my $json = Sisimai->dump($dir);
    print $json, "\n" if defined $json;
}
PERL

# median wall seconds of RUNS runs of "$@"
median() {
    python3 - "$RUNS" "$@" <<'PY'
import subprocess, sys, time
runs = int(sys.argv[1]); cmd = sys.argv[2:]
t = []
for _ in range(runs):
    t0 = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    t.append(time.monotonic() - t0)
t.sort()
print("%.4f" % t[len(t) // 2])
PY
}
dirs=("$work"/c*)
results_mb=$("$mb" explain --batch --json "${dirs[@]}" | tail -1)
echo "mailblock summary: ${results_mb:0:160}..."
t_mb=$(median taskset -c "$CPU" "$mb" explain --batch --json "${dirs[@]}")
t_si=$(median taskset -c "$CPU" perl "$work/sisimai.pl" "${dirs[@]}")
# the floor the MIME library sets: GMime's parse and release of each file, nothing else
t_gm=$(median taskset -c "$CPU" "$here/gmime_parse" "${dirs[@]}")
python3 - "$n" "$t_mb" "$t_si" "$t_gm" <<'PY'
import sys
n, a, b, g = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print("mailblock explain: %.3f s  %8.0f bounces/s" % (a, n / a))
print("sisimai (perl)   : %.3f s  %8.0f bounces/s" % (b, n / b))
print("ratio            : %.1fx" % (b / a))
print("GMime parse only : %.3f s  %8.0f bounces/s (%.1fx sisimai: the ceiling of any reader on GMime)"
      % (g, n / g, b / g))
PY
