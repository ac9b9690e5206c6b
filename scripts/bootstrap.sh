#!/usr/bin/env bash
# Everything a fresh clone needs before it can build, test or run the demo:
# npm packages, the moto emulator, and a debug build of the addon.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/napi ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # Exactly the lock, as CI systems (Rocket.Chat's included) install.
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/setup-moto.sh

source scripts/cargo-env.sh
profile="${BUILD_PROFILE:-debug}"
profile_flag=""
if [ "$profile" = "release" ]; then profile_flag="--release"; fi
echo "building the addon ($profile; the first build takes a few minutes, later ones seconds)"
# --no-dts-cache: the generated index.d.ts must depend on the source alone.
# --js binding.js: the generated loader; index.js is ours and wraps it.
CARGO_TERM_QUIET=true npx napi build --platform $profile_flag --js binding.js --no-dts-cache >/dev/null
