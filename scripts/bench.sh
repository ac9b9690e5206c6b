#!/usr/bin/env bash
# `npm run bench`: a release build, then bench/run.js (see its header).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_PROFILE=release bash scripts/bootstrap.sh
node bench/run.js "$@"
