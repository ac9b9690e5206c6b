#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (playwright-core drives it), if it
# is missing. Needs root, as on CI and the project's machines.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing and installing it needs root: apt-get install chromium" >&2
  exit 1
fi
echo "installing chromium (Debian package) for the browser test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
