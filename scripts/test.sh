#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test.
#   1. cargo fmt --check and cargo clippy -D warnings
#   2. every unit and integration test (cargo test: in-process brokers, real rdkafka
#      clients, a real riffle process killed with SIGKILL)
#   3. scripts/compat.sh: the client compatibility matrix (compat/README.md); each client's
#      install.sh installs it (Debian packages, PyPI, npm); each cell counts as one test
# Ends with one line "N passed, M failed" and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_steps=()

# A check counts as one test.
check() { # name, command...
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failed_steps+=("$name")
  fi
}

# A suite counts the tests it reports ("N passed; M failed" or "N passed, M failed"); if it
# fails without reporting a failed test (a build error), that counts as one failure.
suite() { # name, command...
  local name=$1 output status counts ok bad
  shift
  echo "=== $name"
  output=$(mktemp)
  "$@" 2>&1 | tee "$output"
  status=${PIPESTATUS[0]}
  counts=$(grep -oE '[0-9]+ passed[;,] [0-9]+ failed' "$output" |
    awk '{ ok += $1; bad += $3 } END { print ok + 0, bad + 0 }')
  rm -f "$output"
  read -r ok bad <<<"$counts"
  passed=$((passed + ok))
  failed=$((failed + bad))
  if [ "$status" != 0 ]; then
    failed_steps+=("$name")
    [ "$bad" -gt 0 ] || failed=$((failed + 1))
  fi
}

check "cargo fmt --check" cargo fmt --all -- --check
check "cargo clippy -D warnings" cargo clippy --all-targets --quiet -- -D warnings
suite "cargo test" cargo test --all-targets
suite "compatibility matrix" scripts/compat.sh

if [ "${#failed_steps[@]}" -gt 0 ]; then
  echo "failed: ${failed_steps[*]}"
fi
echo "$passed passed, $failed failed"
[ "${#failed_steps[@]}" = 0 ]
