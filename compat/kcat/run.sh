#!/usr/bin/env bash
# Debian's stock kcat (1.7.1, librdkafka 2.0.2) against a fresh Riffle on a free port:
# metadata listing, producing from a file with keys and headers in every codec, consuming
# with -C -e, partition/offset/key/header output, offset-by-time queries, and a balanced
# consumer group (-G) that commits and resumes.
# Prints one line per check and "kcat: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
riffle_bin=${RIFFLE_BIN:-$root/target/debug/riffle}

if ! command -v kcat >/dev/null; then
  echo "kcat is not installed (apt-get install -y kcat)" >&2
  exit 1
fi
if [ ! -x "$riffle_bin" ]; then
  (cd "$root" && cargo build --quiet --bin riffle) || exit 1
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
broker="127.0.0.1:$port"
RIFFLE_LOG=warn "$riffle_bin" --listen "$broker" --data-dir "$work/data" --override num.partitions=3 \
  >"$work/riffle.log" 2>&1 &
riffle_pid=$!
cleanup() {
  kill -TERM "$riffle_pid" 2>/dev/null && wait "$riffle_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

passed=0
failed=0
check() { # name, command... ; the command's status decides
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "PASS $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
  fi
}

kc() { timeout 30 kcat -b "$broker" "$@"; }

# 1. Metadata for all topics.
list_brokers() { kc -L | grep -q "broker 1 at $broker (controller)"; }
check "metadata lists the broker as controller" list_brokers

# 2. Produce 300 keyed records with headers from a file, in every codec.
seq 0 299 | sed 's/.*/key-&:value-&/' >"$work/records.txt"
for codec in none gzip snappy lz4 zstd; do
  produce() { kc -P -t "kcat-$codec" -K: -z "$codec" -H source=kcat -H "codec=$codec" -l "$work/records.txt"; }
  check "produce 300 records from a file ($codec)" produce
done

# 3. The auto-created topic has num.partitions=3.
three_partitions() { [ "$(kc -L -t kcat-none | grep -c 'partition [0-9]*, leader 1')" = 3 ]; }
check "auto-created topic has 3 partitions" three_partitions

# 4. Consume everything with -C -e; check keys, values, headers and per-partition offsets.
consume_and_verify() {
  local codec=$1 out="$work/consumed-$1.txt"
  kc -C -t "kcat-$codec" -o beginning -e -q -f '%p %o %k %s %h\n' >"$out" || return 1
  [ "$(wc -l <"$out")" = 300 ] || { echo "  expected 300 lines, got $(wc -l <"$out")"; return 1; }
  # Each key once, with its value and headers.
  for index in 0 1 150 299; do
    grep -q " key-$index value-$index source=kcat,codec=$codec$" "$out" || { echo "  key-$index missing"; return 1; }
  done
  [ "$(cut -d' ' -f3 "$out" | sort -u | wc -l)" = 300 ] || { echo "  duplicate keys"; return 1; }
  # Offsets are 0..n-1 in order within each partition.
  awk '{ if ($2 != next_offset[$1] + 0) { print "  partition " $1 " offset " $2; bad = 1 } next_offset[$1] = $2 + 1 }
       END { exit bad }' "$out"
}
for codec in none gzip snappy lz4 zstd; do
  check "consume -C -e: keys, values, headers, offsets ($codec)" consume_and_verify "$codec"
done

# 5. A partition from an offset, bounded count.
partition_from_offset() {
  local lines
  lines=$(kc -C -t kcat-none -p 0 -o 2 -c 3 -e -q -f '%p:%o\n' | tr '\n' ' ')
  [ "$lines" = "0:2 0:3 0:4 " ] || { echo "  got '$lines'"; return 1; }
}
check "consume partition 0 from offset 2, 3 records" partition_from_offset

# 6. Offsets by timestamp: from 0 gives the first offset, from the far future gives the end.
query_offsets() {
  kc -Q -t kcat-none:0:0 | grep -q "kcat-none \[0\] offset 0" || return 1
  kc -Q -t kcat-none:0:99999999999999 | grep -q "kcat-none \[0\] offset -1"
}
check "offsets by timestamp (-Q)" query_offsets

# 7. Balanced consumer (-G): the group gets every partition, reads each record once, and
# commits on exit; the next member of the group resumes at the committed offsets.
group_consume() { kc -G kcat-group -e -q -f '%p %o %k\n' -X auto.offset.reset=earliest kcat-none; }
balanced_first_run() {
  local out="$work/group-1.txt"
  group_consume >"$out" || return 1
  [ "$(wc -l <"$out")" = 300 ] || { echo "  got $(wc -l <"$out") records"; return 1; }
  [ "$(cut -d' ' -f3 "$out" | sort -u | wc -l)" = 300 ] || { echo "  duplicate keys"; return 1; }
}
check "balanced consumer (-G) reads all 300 records once" balanced_first_run
balanced_resume() {
  printf 'late-1:x\nlate-2:y\n' | kc -P -t kcat-none -K: -p 1 || return 1
  local keys
  keys=$(group_consume | cut -d' ' -f3 | sort | tr '\n' ' ')
  [ "$keys" = "late-1 late-2 " ] || { echo "  got '$keys'"; return 1; }
}
check "balanced consumer resumes at committed offsets" balanced_resume

# 8. The broker logged no errors.
no_errors() { ! grep -E " ERROR " "$work/riffle.log"; }
check "broker logged no errors" no_errors

echo "kcat: $passed passed, $failed failed"
[ "$failed" = 0 ]
