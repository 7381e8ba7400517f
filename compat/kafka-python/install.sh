#!/usr/bin/env bash
# Installs kafka-python (requirements.txt, every version pinned) into its own venv under
# ${RIFFLE_CACHE_DIR:-~/.cache/riffle}/compat/kafka-python/venv; does nothing if it is there already.
# The variant argument of compat/README.md's contract is unused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../python/venv.sh" install kafka-python
