#!/usr/bin/env bash
# Runs the sarama scenarios (compat/README.md) against BOOTSTRAP.
# usage: run.sh BOOTSTRAP [variant]   (the variant is ignored)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bootstrap=${1:?usage: run.sh BOOTSTRAP [variant]}
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/compat/sarama
bin=$cache/sarama-compat
if [ ! -x "$bin" ]; then
  "$here/install.sh" >&2 || { echo "install.sh failed" >&2; exit 1; }
fi
# sarama 1.22 carries no version string of its own; the installed Debian package is what the
# binary was built against (install.sh keys the build on it).
sarama_version=$(dpkg-query -W -f='${Version}' golang-github-shopify-sarama-dev 2>/dev/null || echo unknown)
exec "$bin" -bootstrap "$bootstrap" -sarama-version "$sarama_version"
