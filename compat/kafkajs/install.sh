#!/usr/bin/env bash
# Installs kafkajs 2.2.4 and its codecs exactly as package-lock.json pins them, with `npm ci`,
# into ${RIFFLE_CACHE_DIR:-~/.cache/riffle}/compat/kafkajs/ (never into the repo). Skips `npm ci`
# when that directory already holds an install made from the same package.json and lock file
# by the same node binary with the same module ABI (the native codecs are built for it); either
# way it then checks that kafkajs and every codec load, and fails if one does not.
#   install.sh [variant]     (the variant is ignored: kafkajs has one column)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/compat/kafkajs
stamp=$cache/.installed-from

command -v node >/dev/null || { echo "node is not installed (Node.js 20 is expected)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is not installed" >&2; exit 1; }

# Every codec must load (the native ones are compiled for the node that built them).
check_codecs() {
  (cd "$cache" && node -e '
    require("kafkajs"); require("kafkajs-snappy"); require("kafkajs-lz4"); require("@kafkajs/zstd");
    require("lz4"); require("cppzst");
    console.log("kafkajs " + require("kafkajs/package.json").version + ": codecs load");
  ')
}

# The native modules must be rebuilt when node changes: the stamp covers node's module ABI
# and binary path too.
node_bin=$(command -v node)
wanted=$( { cat "$here/package.json" "$here/package-lock.json"; node -p process.versions.modules; echo "$node_bin"; } |
  sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && [ -f "$cache/node_modules/kafkajs/package.json" ]; then
  if ! check_codecs; then
    echo "kafkajs: the install in $cache does not load (see above); remove that directory to reinstall" >&2
    exit 1
  fi
  echo "kafkajs: already installed in $cache"
  exit 0
fi

# Native builds (lz4, cppzst, segfault-handler) need a C++ compiler, make and Node's headers.
if ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  # A fresh machine's first boot may hold the dpkg lock: wait for it (up to 5 min).
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 update -qq &&
    $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 install -y -qq g++ make python3 >/dev/null
fi

# node-gyp must find Node's headers locally (it cannot download them here): point it at the
# running node's own prefix when it has them.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -f "$node_prefix/include/node/node.h" ]; then
  export npm_config_nodedir=$node_prefix
fi

rm -rf "$cache"
mkdir -p "$cache"
cp "$here/package.json" "$here/package-lock.json" "$cache/"
cd "$cache"
# cppzst 2.0.6 (under @kafkajs/zstd) asks for -std=c++11, but Node 20's headers need C++17;
# gyp puts CXXFLAGS after the target's own flags, so this later -std wins.
export CXXFLAGS="${CXXFLAGS:-} -std=gnu++17"
npm ci --no-audit --no-fund --loglevel=warn
check_codecs
echo "$wanted" >"$stamp"
