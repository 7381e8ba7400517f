#!/usr/bin/env bash
# Builds the example `rdkafka_compat` (compat/rdkafka/main.rs) with the rdkafka version that
# Cargo.lock pins; cargo's own cache makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --example rdkafka_compat
