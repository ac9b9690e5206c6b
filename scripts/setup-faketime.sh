#!/usr/bin/env bash
# Installs Debian's faketime (libfaketime) for the clock-skew test, if it is missing:
# the test runs a logger whose clock is 10 minutes fast. Needs root, as on CI and the
# project's machines.
set -euo pipefail
lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [ -f "$lib" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "libfaketime is missing and installing it needs root: apt-get install faketime" >&2
  exit 1
fi
echo "installing faketime (Debian package) for the clock-skew test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends faketime >/dev/null
test -f "$lib"
