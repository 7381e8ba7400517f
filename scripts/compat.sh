#!/usr/bin/env bash
# The client compatibility matrix (compat/README.md): for each client, install it (pinned,
# cached), start a fresh riffle on a free port with a temporary data dir, run the client's
# scenarios, stop the broker and check its log. Prints the matrix and "N passed, M failed";
# a full run also writes compat/RESULTS.md. Exits non-zero if any cell failed.
#   scripts/compat.sh                 every client
#   scripts/compat.sh kafkajs sarama  only these columns
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Without RIFFLE_BIN, the broker of this checkout (built below; a no-op when up to date).
riffle_bin=${RIFFLE_BIN:-$root/target/debug/riffle}
build_broker=${RIFFLE_BIN:+no}
export RIFFLE_CACHE_DIR=${RIFFLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/riffle}
export RIFFLE_BIN=$riffle_bin

# column, folder, variant (passed to install.sh and run.sh)
clients=(
  "kcat kcat -"
  "rdkafka rdkafka -"
  "confluent-kafka confluent-kafka -"
  "kafka-python kafka-python -"
  "aiokafka aiokafka -"
  "kafkajs kafkajs -"
  "java-4.3 java 4.3.0"
  "java-3.9 java 3.9.1"
  "sarama sarama -"
)

selected=()
if [ "$#" = 0 ]; then
  selected=("${clients[@]}")
else
  for wanted in "$@"; do
    found=""
    for entry in "${clients[@]}"; do
      read -r column _ _ <<<"$entry"
      [ "$column" = "$wanted" ] && { selected+=("$entry"); found=1; }
    done
    [ -n "$found" ] || { echo "unknown client '$wanted'" >&2; exit 2; }
  done
fi

if [ -z "$build_broker" ]; then
  cargo build --quiet --bin riffle || exit 1
fi

work=$(mktemp -d)
logs=$root/target/compat-logs
rm -rf "$logs"
mkdir -p "$logs"
broker_pid=""
client_pid=""
cleanup() {
  # A client's run.sh runs under timeout in its own process group: kill that group too.
  [ -n "$client_pid" ] && kill -KILL -- "-$client_pid" "$client_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill -KILL "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Client text echoed into this script's output must not read as the closing count line,
# which scripts/test.sh sums.
defuse() { sed -E 's/([0-9]+) (passed|failed)/\1_\2/g'; }

# Stops the broker: SIGTERM, then SIGKILL after 20 s. Sets broker_status to its exit status,
# or "hung".
broker_status=""
stop_broker() {
  kill -TERM "$broker_pid" 2>/dev/null
  local _
  for _ in $(seq 1 200); do
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$broker_pid" 2>/dev/null; then
    kill -KILL "$broker_pid" 2>/dev/null
    wait "$broker_pid" 2>/dev/null
    broker_status=hung
  else
    wait "$broker_pid"
    broker_status=$?
  fi
  broker_pid=""
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

run_client() { # column folder variant
  local column=$1 folder=$2 variant=$3 dir=$work/$1 port status started
  mkdir -p "$dir"
  started=$(date +%s)
  echo "=== $column: install"
  if ! timeout 900 "compat/$folder/install.sh" "$variant" >"$dir/install.log" 2>&1; then
    echo "INSTALL_FAILED $(tail -3 "$dir/install.log" | tr '\n' ' ')" >"$dir/results"
    tail -20 "$dir/install.log" | defuse
    cp -r "$dir" "$logs/"
    return
  fi

  port=$(free_port)
  local extra_args=()
  [ -f "compat/$folder/riffle-args" ] && read -r -a extra_args <"compat/$folder/riffle-args"
  NO_COLOR=1 RIFFLE_LOG=warn "$riffle_bin" --listen "127.0.0.1:$port" --data-dir "$dir/data" "${extra_args[@]}" \
    >"$dir/riffle.log" 2>&1 &
  broker_pid=$!
  local listening=""
  for _ in $(seq 1 400); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { listening=1; break; }
    sleep 0.05
  done

  if [ -n "$listening" ]; then
    echo "=== $column: scenarios against 127.0.0.1:$port"
    RIFFLE_DATA_DIR=$dir/data timeout -k 10 300 "compat/$folder/run.sh" "127.0.0.1:$port" "$variant" \
      >"$dir/stdout" 2>"$dir/stderr" &
    client_pid=$!
    wait "$client_pid"
    status=$?
    client_pid=""
    grep -E '^(CLIENT|RESULT) ' "$dir/stdout" >"$dir/results"
    case $status in
    124 | 137) echo "RESULT run-sh fail killed after 300 s" >>"$dir/results" ;;
    esac
  else
    echo "RESULT broker-start fail riffle did not listen on 127.0.0.1:$port within 20 s" >"$dir/results"
  fi

  stop_broker
  status=$broker_status
  local problems
  problems=$(sed -E 's/\x1b\[[0-9;]*m//g' "$dir/riffle.log" | grep -E ' ERROR |panicked' | head -3 | tr '\n' ' ')
  if [ "$status" = hung ]; then
    echo "RESULT broker-log fail broker still running 20 s after SIGTERM $problems" >>"$dir/results"
  elif [ "$status" != 0 ]; then
    echo "RESULT broker-log fail broker exited with status $status $problems" >>"$dir/results"
  elif [ -n "$problems" ]; then
    echo "RESULT broker-log fail $problems" >>"$dir/results"
  else
    echo "RESULT broker-log pass" >>"$dir/results"
  fi

  sed 's/^/  /' "$dir/results" | defuse
  echo "  ($(($(date +%s) - started)) s)"
  if grep -qE '^RESULT [^ ]+ fail' "$dir/results"; then
    rm -rf "$dir/data"
    cp -r "$dir" "$logs/"
    echo "  logs kept in target/compat-logs/$column; stderr tail:"
    tail -15 "$dir/stderr" | sed 's/^/    /' | defuse
  fi
}

columns=()
for entry in "${selected[@]}"; do
  read -r column folder variant <<<"$entry"
  columns+=("$column")
  run_client "$column" "$folder" "$variant"
done

results_md=""
[ "$#" = 0 ] && results_md=$root/compat/RESULTS.md
python3 "$root/compat/matrix.py" "$work" "$results_md" "${columns[@]}"
