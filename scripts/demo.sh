#!/usr/bin/env bash
# `npm run demo`: installs, builds, starts the local SNS emulator and publishes a
# realistic stream of Rocket.Chat events through the logger.
set -euo pipefail
cd "$(dirname "$0")/.."
# A release build: the demo prints what log() costs, and debug code would mislead.
BUILD_PROFILE=release bash scripts/bootstrap.sh
exec node examples/demo.js
