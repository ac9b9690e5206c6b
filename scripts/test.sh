#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, and runs every test layer:
# Rust unit tests of the core, then the node tests of the JS surface against moto
# (fault injection and child processes included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/setup-chromium.sh
bash scripts/setup-faketime.sh
source scripts/cargo-env.sh

echo "== cargo test (core, no Node; property tests over hostile input, bounded by PROPTEST_CASES)"
PROPTEST_CASES="${PROPTEST_CASES:-1000}" cargo test --quiet

echo "== node --test __test__/ (JS surface against moto on 127.0.0.1, signatures checked by botocore; headless Chromium for the widget; libfaketime for clock skew)"
node --test --test-reporter=spec __test__/
