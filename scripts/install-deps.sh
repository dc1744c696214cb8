#!/bin/sh
# Installs the Debian packages mailblock needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [--run-only]
#   --run-only   only what building and running the gate needs (no test peers)
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

BUILD="build-essential cmake pkg-config libuv1-dev libunbound-dev libssl-dev libpsl-dev
  libpcre2-dev libjansson-dev liblmdb-dev libhiredis-dev libgmime-3.0-dev"
TEST="libcmocka-dev clang libclang-rt-14-dev postfix nsd rbldnsd swaks python3
  python3-spf python3-yaml postfix-policyd-spf-python spfquery iproute2 procps util-linux
  socat libsisimai-perl"

PKGS="$BUILD"
if [ "${1:-}" != "--run-only" ]; then PKGS="$PKGS $TEST"; fi

# Postfix asks debconf questions on install; answer them so the install is unattended.
if [ "${1:-}" != "--run-only" ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  echo "postfix postfix/mailname string localhost" | $SUDO debconf-set-selections
fi

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
