#!/usr/bin/env bash
# compat/README.md's scenarios with aiokafka: run.sh BOOTSTRAP [variant]. Needs install.sh
# to have run. Prints CLIENT and RESULT lines on stdout, diagnostics on stderr.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$("$here/../python/venv.sh" path aiokafka)
if [ ! -x "$venv/bin/python" ]; then
  echo "aiokafka is not installed: run compat/aiokafka/install.sh" >&2
  exit 1
fi
PYTHONDONTWRITEBYTECODE=1 exec "$venv/bin/python" -u "$here/scenarios.py" "$1"
