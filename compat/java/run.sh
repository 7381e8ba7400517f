#!/usr/bin/env bash
# Runs the compat scenarios (compat/README.md) with one pinned kafka-clients version against
# the broker at BOOTSTRAP:
#   compat/java/run.sh 127.0.0.1:9092 [4.3.0|3.9.1]
# The jars and the program compiled against them come from install.sh's cache (run here if
# they are missing). Prints CLIENT and RESULT lines on stdout, diagnostics on stderr.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bootstrap=${1:?usage: run.sh BOOTSTRAP [VERSION]}
version=${2:-4.3.0}
[ "$version" = - ] && version=4.3.0
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/compat/java/$version
classes=$cache/classes-$(sha256sum "$here/src/RiffleCompat.java" | cut -c1-16)

if [ ! -f "$classes/RiffleCompat.class" ] || [ ! -f "$cache/classpath" ]; then
  "$here/install.sh" "$version" >&2 || { echo "install.sh $version failed" >&2; exit 1; }
fi
exec java -Xmx512m -cp "$classes:$(cat "$cache/classpath")" RiffleCompat "$bootstrap" "$version"
