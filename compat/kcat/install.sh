#!/usr/bin/env bash
# Installs Debian's kcat (bookworm: 1.7.1 on librdkafka 2.0.2) unless it is there, and
# refuses any other version: the column exists for that old librdkafka.
set -euo pipefail
pinned="Version 1.7.1 .*librdkafka 2.0.2"
if ! command -v kcat >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  apt=(apt-get -o DPkg::Lock::Timeout=300)
  $sudo "${apt[@]}" install -y -qq kcat >/dev/null 2>&1 ||
    { $sudo "${apt[@]}" update -qq && $sudo "${apt[@]}" install -y -qq kcat; }
fi
kcat -V 2>&1 | grep -qE "$pinned" ||
  { echo "kcat is not the pinned 1.7.1 on librdkafka 2.0.2: $(kcat -V 2>&1 | grep Version)" >&2; exit 1; }
