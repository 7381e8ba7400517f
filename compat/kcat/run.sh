#!/usr/bin/env bash
# The compat scenarios (compat/README.md) with Debian's kcat 1.7.1 (librdkafka 2.0.2):
#   run.sh BOOTSTRAP
# kcat has no admin API: its topics are auto-created (riffle-args sets num.partitions=6),
# and create-topic, admin-groups and delete-topic are n/a. The record checks are in check.py.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
broker=$1
work=$(mktemp -d)
cleanup() {
  # The group-split members, should that scenario have stopped before stopping them.
  [ -f "$work/members" ] && kill -KILL $(cat "$work/members") 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

kc() { timeout 60 kcat -b "$broker" "$@"; }
result() { echo "RESULT $*"; }
# Runs a scenario function; its status decides, and its stdout (last line) is the detail.
scenario() { # id, function...
  local id=$1 detail
  shift
  if detail=$("$@" 2>>"$work/errors"); then
    result "$id" pass
  else
    result "$id" fail "$(tail -1 <<<"$detail")"
  fi
}

echo "CLIENT kcat $(kcat -V 2>&1 | grep -oE '^Version [^ ]+' | cut -d' ' -f2) ($(kcat -V 2>&1 | grep -oE 'librdkafka [0-9.]+'))"

metadata() {
  local out
  out=$(kc -L) || { echo "kcat -L failed"; return 1; }
  grep -q "broker 1 at $broker" <<<"$out" || { echo "no 'broker 1 at $broker' in: $(head -3 <<<"$out" | tr '\n' ' ')"; return 1; }
}
scenario metadata metadata
result create-topic n/a "kcat has no admin API; its topics are auto-created with num.partitions=6"

# Scenario 3: one kcat -P per codec, records from a file ("key<TAB>value" lines). kcat sets the
# same headers on every record of a run, so its records carry only the `codec` header.
codecs_ok=()
for codec in none gzip snappy lz4 zstd; do
  python3 "$here/check.py" records "$codec" >"$work/records-$codec.txt"
  produce() {
    local status
    kc -P -t compat -K $'\t' -z "$1" -X acks=all -H "codec=$1" -l "$work/records-$1.txt" 2>"$work/produce-$1.err"
    status=$?
    if [ "$status" != 0 ] || grep -qiE 'fail|error' "$work/produce-$1.err"; then
      echo "kcat -P exited $status: $(head -2 "$work/produce-$1.err" | tr '\n' ' ')"
      return 1
    fi
  }
  if scenario_detail=$(produce "$codec"); then
    codecs_ok+=("$codec")
    result "produce-$codec" pass
  else
    result "produce-$codec" fail "$scenario_detail"
  fi
done
total=$((10000 * ${#codecs_ok[@]}))

# The metadata half of create-topic that kcat can check: the auto-created topic has
# partitions 0..5, each led by broker 1.
six_partitions() { # topic; waits up to 10 s
  local _ leaders
  for _ in $(seq 1 50); do
    leaders=$(kc -L -t "$1" 2>/dev/null | grep -oE 'partition [0-9]+, leader 1' | sort | tr '\n' ' ')
    [ "$leaders" = "partition 0, leader 1 partition 1, leader 1 partition 2, leader 1 partition 3, leader 1 partition 4, leader 1 partition 5, leader 1 " ] && return 0
    sleep 0.2
  done
  echo "$1: expected partitions 0..5 led by broker 1, got '$leaders'"
  return 1
}
scenario x-auto-create six_partitions compat

# Scenario 4: kcat -C assigns every partition (no group) and reads to the end (-e).
consume_assign() {
  kc -C -t compat -o beginning -e -q -f '%p\t%o\t%k\t%s\t%h\n' >"$work/assign.txt" || { echo "kcat -C failed"; return 1; }
  python3 "$here/check.py" assign "$work/assign.txt" "${codecs_ok[@]}"
}
scenario consume-assign consume_assign

# Scenario 5: -G joins the group; -c stops after a count, and the close commits the offsets
# of exactly the records kcat printed (auto offset store); B reads to the end (-e). kcat
# cannot stop "once it holds 2 partitions", so A's count is one more than the largest
# partition holds (from scenario 4's output, else 10,001): it must cross a partition.
group_consume() { kc -G compat-resume -q -f '%p\t%o\t%k\n' -X auto.offset.reset=earliest "$@" compat; }
group_resume() {
  local count=10001
  [ -s "$work/assign.txt" ] && count=$(cut -f1 "$work/assign.txt" | sort | uniq -c | sort -n | tail -1 | awk '{ print $1 + 1 }')
  [ "$count" -ge 3000 ] || count=3000
  group_consume -c "$count" >"$work/resume-a.txt" || { echo "consumer A failed"; return 1; }
  group_consume -e >"$work/resume-b.txt" || { echo "consumer B failed"; return 1; }
  python3 "$here/check.py" resume "$work/resume-a.txt" "$work/resume-b.txt" "$total"
}
scenario group-resume group_resume

# Scenario 6: two balanced consumers on the empty topic compat-split; their assignments are
# read from kcat's "rebalanced ... assigned:" lines on stderr.
group_split() {
  # Metadata for the topic (a producer's request) auto-creates it with 6 partitions.
  six_partitions compat-split || return 1
  local members=()
  for member in 0 1; do
    kcat -b "$broker" -G compat-split -u -f '%p\t%k\n' -X auto.offset.reset=earliest compat-split \
      >"$work/split-$member.txt" 2>"$work/split-$member.err" &
    members+=($!)
  done
  echo "${members[*]}" >"$work/members"
  python3 "$here/check.py" wait-split "$work/split-0.err" "$work/split-1.err" || return 1
  seq 0 5999 | awk '{ print "split-" $1 "\t" $1 }' >"$work/split-records.txt"
  kc -P -t compat-split -K $'\t' -X acks=all -l "$work/split-records.txt" || { echo "produce to compat-split failed"; return 1; }
  local _
  for _ in $(seq 1 600); do
    [ "$(cat "$work/split-0.txt" "$work/split-1.txt" | wc -l)" -ge 6000 ] && break
    sleep 0.1
  done
  # SIGTERM makes kcat leave the group and commit before it exits.
  kill -TERM "${members[@]}" 2>/dev/null
  wait "${members[@]}" 2>/dev/null
  rm -f "$work/members"
  python3 "$here/check.py" split "$work/split-0.err" "$work/split-1.err" "$work/split-0.txt" "$work/split-1.txt"
}
scenario group-split group_split

result admin-groups n/a "kcat cannot list or describe groups"
result delete-topic n/a "kcat cannot delete topics"

# Extra checks of kcat's own features.
partition_from_offset() {
  local lines
  lines=$(kc -C -t compat -p 0 -o 2 -c 3 -e -q -f '%p:%o\n' | tr '\n' ' ')
  [ "$lines" = "0:2 0:3 0:4 " ] || { echo "got '$lines'"; return 1; }
}
scenario x-partition-from-offset partition_from_offset
offsets_for_times() {
  kc -Q -t compat:0:0 | grep -q "compat \[0\] offset 0" || { echo "timestamp 0 is not offset 0"; return 1; }
  kc -Q -t compat:0:99999999999999 | grep -q "compat \[0\] offset -1" || { echo "a future timestamp is not offset -1"; return 1; }
}
scenario x-offsets-for-times offsets_for_times
