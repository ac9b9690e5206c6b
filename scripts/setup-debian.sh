#!/usr/bin/env bash
# Installs a Debian package the tests need, if a file it provides is missing:
#   setup-debian.sh PACKAGE FILE WHAT
# e.g. chromium for the browser test, faketime for the clock-skew test. Needs root,
# as on CI and the project's machines.
set -euo pipefail
package="$1" file="$2" what="$3"
if [ -e "$file" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "$package is missing and installing it needs root: apt-get install $package" >&2
  exit 1
fi
echo "installing $package (Debian package) for $what"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$package" >/dev/null
test -e "$file"
