"""The record checks of compat/kcat/run.sh (scenarios in compat/README.md). Each command
prints one line saying what differed and exits 1, or exits 0 silently.

  check.py records CODEC                 the 10,000 "key<TAB>value" lines kcat -P reads
  check.py assign FILE CODEC...          scenario 4 on "partition offset key value headers"
  check.py resume A_FILE B_FILE TOTAL    scenario 5 on "partition offset key" lines
  check.py wait-split ERR0 ERR1          waits (30 s) for a split of partitions 0..5
  check.py split ERR0 ERR1 OUT0 OUT1     scenario 6 on "partition key" lines

kcat puts the same headers on every record it produces, so its records carry one header,
`codec=<codec>`, instead of the contract's two."""

import re
import sys
import time

RECORDS_PER_CODEC = 10_000
PARTITIONS = set(range(6))


def fail(message):
    print(message)
    sys.exit(1)


def value(codec, index):
    return f"value-{codec}-{index}-" + "x" * (index % 100)


def records(codec):
    for index in range(RECORDS_PER_CODEC):
        print(f"{codec}-{index}\t{value(codec, index)}")


def rows(path, fields):
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != fields:
                fail(f"{path}:{number}: expected {fields} fields, got {line!r}")
            yield parts


def assign(path, codecs):
    wanted = RECORDS_PER_CODEC * len(codecs)
    keys = set()
    by_partition = {}
    for partition, offset, key, text, headers in rows(path, 5):
        if key in keys:
            fail(f"key {key} arrived twice")
        keys.add(key)
        codec, _, index = key.rpartition("-")
        if codec not in codecs or not index.isdigit() or int(index) >= RECORDS_PER_CODEC:
            fail(f"unexpected key {key}")
        if text != value(codec, int(index)):
            fail(f"key {key}: value {text!r}")
        if headers != f"codec={codec}":
            fail(f"key {key}: headers {headers!r}")
        by_partition.setdefault(int(partition), []).append((int(offset), codec, int(index)))
    if len(keys) != wanted:
        fail(f"expected {wanted} records, got {len(keys)}")
    if set(by_partition) != PARTITIONS:
        fail(f"records in partitions {sorted(by_partition)}, expected 0..5")
    for partition, entries in by_partition.items():
        entries.sort()
        last = {}
        for position, (offset, codec, index) in enumerate(entries):
            if offset != position:
                fail(f"partition {partition}: offset {offset} at position {position}")
            if last.get(codec, -1) >= index:
                fail(f"partition {partition}: {codec} index {index} after {last[codec]}")
            last[codec] = index


def resume(first_path, second_path, total):
    first = [(int(p), int(o)) for p, o, _ in rows(first_path, 3)]
    second = [(int(p), int(o)) for p, o, _ in rows(second_path, 3)]
    partitions = {partition for partition, _ in first}
    if len(first) < 3000 or len(partitions) < 2:
        fail(f"consumer A got {len(first)} records from {len(partitions)} partitions, wanted 3000 from 2")
    committed = {}
    for partition, offset in first:
        committed[partition] = max(committed.get(partition, 0), offset + 1)
    started = {}
    for partition, offset in second:
        started.setdefault(partition, offset)
    for partition, offset in started.items():
        if offset != committed.get(partition, 0):
            fail(f"B started partition {partition} at {offset}, A committed {committed.get(partition, 0)}")
    if not any(offset > 0 for offset in started.values()):
        fail(f"B resumed at a non-zero offset in no partition; A committed {committed}, B started at {started}")
    seen = set(first)
    for record in second:
        if record in seen:
            fail(f"partition {record[0]} offset {record[1]} seen twice")
        seen.add(record)
    if len(seen) != total:
        fail(f"A and B hold {len(seen)} records, expected {total}")


def assignment(err_path, count_revokes=True):
    """The partitions kcat's rebalance lines on stderr say it holds, or None before any.
    A revoke empties the set, unless count_revokes is false: kcat revokes at exit."""
    latest = None
    with open(err_path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if "rebalanced" in line and "assigned:" in line:
                latest = {int(p) for p in re.findall(r"\[(\d+)\]", line.split("assigned:", 1)[1])}
            elif "rebalanced" in line and "revoked" in line and count_revokes:
                latest = set()
    return latest


def split_assignments(first_err, second_err, count_revokes=True):
    first, second = assignment(first_err, count_revokes), assignment(second_err, count_revokes)
    if first and second and not first & second and first | second == PARTITIONS:
        return first, second
    return None


def wait_split(first_err, second_err):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if split_assignments(first_err, second_err):
            return
        time.sleep(0.1)
    fail(f"no split assignment within 30 s: {assignment(first_err)} and {assignment(second_err)}")


def split(first_err, second_err, first_out, second_out):
    # The last assignment before exit; a rebalance while consuming would show up as records
    # from outside it.
    assignments = split_assignments(first_err, second_err, count_revokes=False)
    if not assignments:
        fail(f"the split did not hold: {assignment(first_err)} and {assignment(second_err)}")
    keys = set()
    for member, (owned, path) in enumerate(zip(assignments, (first_out, second_out))):
        received = list(rows(path, 2))
        if not received:
            fail(f"member {member} received nothing")
        for partition, key in received:
            if int(partition) not in owned:
                fail(f"member {member} got partition {partition} outside {sorted(owned)}")
            if key in keys:
                fail(f"key {key} arrived twice")
            keys.add(key)
    if len(keys) != 6000:
        fail(f"{len(keys)} of 6000 records arrived")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "records":
        records(args[0])
    elif command == "assign":
        assign(args[0], args[1:])
    elif command == "resume":
        resume(args[0], args[1], int(args[2]))
    elif command == "wait-split":
        wait_split(*args)
    elif command == "split":
        split(*args)
    else:
        fail(f"unknown command {command}")


if __name__ == "__main__":
    main()
