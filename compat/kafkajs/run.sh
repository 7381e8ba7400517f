#!/usr/bin/env bash
# Runs compat/README.md's scenarios with kafkajs (installed by install.sh) against BOOTSTRAP.
#   run.sh BOOTSTRAP [variant]    (the variant is ignored)
# Prints CLIENT/RESULT lines on stdout; kafkajs' log and diagnostics go to stderr.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/compat/kafkajs
# kafkajs 2 logs a notice about its (Java-compatible) default partitioner on every producer.
export KAFKAJS_NO_PARTITIONER_WARNING=1
exec node "$here/compat.js" "${1:?usage: run.sh BOOTSTRAP [variant]}" "$cache"
