#!/usr/bin/env bash
# Installs the pinned moto SNS/SQS emulator into .venv-moto (idempotent).
# Tests and the demo start it on 127.0.0.1 on a free port; nothing here talks to AWS.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION="5.2.5"
VENV=".venv-moto"
stamp="$VENV/.moto-$MOTO_VERSION"
if [ -f "$stamp" ] && [ -x "$VENV/bin/moto_server" ]; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
touch "$stamp"
echo "moto $MOTO_VERSION installed in $VENV"
