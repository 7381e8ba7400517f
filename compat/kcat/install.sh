#!/usr/bin/env bash
# Installs Debian's kcat (bookworm: 1.7.1 on librdkafka 2.0.2) unless it is there.
set -euo pipefail
command -v kcat >/dev/null && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq kcat >/dev/null 2>&1 ||
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq kcat; }
command -v kcat >/dev/null
