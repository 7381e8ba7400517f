#!/usr/bin/env bash
# Runs the compat scenarios with the rdkafka crate: run.sh BOOTSTRAP
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec "$root/target/debug/examples/rdkafka_compat" "$1"
