"""Shared by the three Python clients' scenario programs (compat/README.md): the names, the
records every client produces, the RESULT/CLIENT output, per-scenario deadlines, and the
checks of what the consumers received. The client programs only make the client calls.

A scenario is a function that returns a detail string (pass), raises NotAvailable (n/a) or
Failed (fail) with the detail, or raises anything else (fail, with the exception)."""

import asyncio
import os
import sys
import threading
import time
import traceback
from collections import defaultdict, namedtuple

TOPIC = "compat"
SPLIT_TOPIC = "compat-split"
RESUME_GROUP = "compat-resume"
SPLIT_GROUP = "compat-split"
PARTITIONS = 6
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 10_000
RESUME_FIRST = 3_000  # consumer A of group-resume processes at least this many
RESUME_FIRST_PARTITIONS = 2  # ... from at least this many partitions
SPLIT_RECORDS = 6_000
DEADLINE = 60.0
GRACE = 5.0  # after its deadline a scenario has this long to clean up before it is abandoned

# One consumed record; headers as a list of (str, bytes) in the order received.
Record = namedtuple("Record", "partition offset key value headers")


class Failed(Exception):
    """The scenario failed; the message is the detail."""


class NotAvailable(Exception):
    """The client lacks the feature; the message says which."""


def describe(exc):
    """An exception as detail text, its type named even when its message is empty."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# --- the records -----------------------------------------------------------------------


def record(codec, i):
    """(key, value, headers) of record i of a codec, as bytes; headers [(str, bytes)]."""
    key = f"{codec}-{i}".encode()
    value = f"value-{codec}-{i}-".encode() + b"x" * (i % 100)
    headers = [("codec", codec.encode()), ("index", str(i).encode())]
    return key, value, headers


def parse_key(key):
    """(codec, i) of a produced key, or None if it is not one."""
    try:
        codec, index = key.decode().rsplit("-", 1)
        i = int(index)
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    if codec not in CODECS or not 0 <= i < PER_CODEC or str(i) != index:
        return None
    return codec, i


def norm_headers(headers):
    """A client's headers as [(str, bytes)]; None and [] are both no headers."""
    out = []
    for name, value in headers or []:
        if isinstance(name, bytes):
            name = name.decode("utf-8", "replace")
        out.append((name, bytes(value) if value is not None else None))
    return out


def split_record(i):
    return f"split-{i}".encode(), str(i).encode()


# --- output and scenario running ---------------------------------------------------------


class Run:
    """Prints CLIENT and RESULT lines, remembers outcomes, and runs scenarios with deadlines."""

    def __init__(self, scenarios, budget=270.0):
        """scenarios: how many this program will run; budget: seconds for all of them (run.sh
        is killed after 300 s): a deadline is cut short so that the scenarios still to come
        keep a few seconds each, and every scenario reports even when the broker hangs."""
        self.outcomes = {}
        self.details = {}
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.scenarios = scenarios
        self.budget = budget
        self.begun = 0

    def client(self, text):
        with self.lock:
            print("CLIENT " + text, flush=True)

    def result(self, scenario, outcome, detail=""):
        detail = " ".join(str(detail).split())
        if len(detail) > 600:
            detail = detail[:600] + "..."
        with self.lock:
            if scenario in self.outcomes:
                return  # a scenario reports once (a late thread after its deadline, say)
            self.outcomes[scenario] = outcome
            self.details[scenario] = detail
            print(f"RESULT {scenario} {outcome} {detail}".rstrip(), flush=True)
        log(f"[{time.monotonic() - self.started:6.1f}s] RESULT {scenario} {outcome} {detail}")

    def passed(self, scenario):
        return self.outcomes.get(scenario) == "pass"

    def codecs_passed(self):
        return [c for c in CODECS if self.passed("produce-" + c)]

    def _report(self, name, started, outcome_of):
        try:
            detail = outcome_of()
            self.result(name, "pass", detail or "")
        except NotAvailable as exc:
            self.result(name, "n/a", str(exc))
        except Failed as exc:
            self.result(name, "fail", str(exc))
        except BaseException as exc:  # noqa: BLE001 - any exception is the scenario's failure
            log(f"scenario {name} raised:\n{traceback.format_exc()}")
            self.result(name, "fail", describe(exc))
        finally:
            log(f"scenario {name} took {time.monotonic() - started:.1f}s")

    def _deadline(self, wanted):
        self.begun += 1
        left = self.budget - (time.monotonic() - self.started)
        return max(5.0, min(wanted, left - GRACE - 10.0 * (self.scenarios - self.begun)))

    def scenario(self, name, fn, deadline=DEADLINE):
        """Runs fn(Deadline) in a thread; reports fail if it has not returned by the deadline
        (plus a grace period for the scenario's own clean-up), without waiting for it."""
        deadline = self._deadline(deadline)
        log(f"--- {name} (deadline {deadline:.0f} s)")
        started = time.monotonic()
        limit = Deadline(deadline)
        thread = threading.Thread(target=self._report, args=(name, started, lambda: fn(limit)),
                                  name=name, daemon=True)
        thread.start()
        thread.join(deadline + GRACE)
        if thread.is_alive():
            self.result(name, "fail", f"no outcome within its deadline of {deadline:.0f} s "
                        "(a client call hung)")

    async def scenario_async(self, name, fn, deadline=DEADLINE):
        """The asyncio form: awaits fn(Deadline), cancelled after the deadline plus grace."""
        deadline = self._deadline(deadline)
        log(f"--- {name} (deadline {deadline:.0f} s)")
        started = time.monotonic()
        limit = Deadline(deadline)
        try:
            detail = await asyncio.wait_for(fn(limit), deadline + GRACE)
            self.result(name, "pass", detail or "")
        except asyncio.TimeoutError:
            self.result(name, "fail", f"no outcome within its deadline of {deadline:.0f} s "
                        "(a client call hung)")
        except NotAvailable as exc:
            self.result(name, "n/a", str(exc))
        except Failed as exc:
            self.result(name, "fail", str(exc))
        except Exception as exc:  # noqa: BLE001
            log(f"scenario {name} raised:\n{traceback.format_exc()}")
            self.result(name, "fail", describe(exc))
        finally:
            log(f"scenario {name} took {time.monotonic() - started:.1f}s")


class Deadline:
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self, cap=None):
        left = max(0.0, self.end - time.monotonic())
        return left if cap is None else min(left, cap)

    def expired(self):
        return time.monotonic() >= self.end


def wait_until(deadline, check, interval=0.2, limit=None):
    """Calls check() until it returns a true value or `limit` seconds (or the deadline) pass;
    returns the last value. check may raise: the exception is remembered and re-raised if
    nothing succeeded in time."""
    end = time.monotonic() + (limit if limit is not None else deadline.remaining())
    end = min(end, deadline.end)
    error = None
    while True:
        try:
            value = check()
            error = None
            if value:
                return value
        except Exception as exc:  # noqa: BLE001
            error = exc
            value = None
        if time.monotonic() >= end:
            if error is not None:
                raise error
            return value
        time.sleep(interval)


async def wait_until_async(deadline, check, interval=0.2, limit=None):
    """wait_until with an async check()."""
    end = time.monotonic() + (limit if limit is not None else deadline.remaining())
    end = min(end, deadline.end)
    error = None
    while True:
        try:
            value = await check()
            error = None
            if value:
                return value
        except Exception as exc:  # noqa: BLE001
            error = exc
            value = None
        if time.monotonic() >= end:
            if error is not None:
                raise error
            return value
        await asyncio.sleep(interval)


# --- checks ----------------------------------------------------------------------------


def check_broker(brokers, bootstrap):
    """brokers: [(node_id, host, port)] as the client sees them."""
    host, port = bootstrap.rsplit(":", 1)
    seen = sorted(brokers)
    if (1, host, int(port)) not in [(b[0], b[1], int(b[2])) for b in seen]:
        raise Failed(f"expected broker 1 at {bootstrap}, the client sees {seen}")
    return f"broker 1 at {bootstrap}"


def check_partitions(topic, partitions):
    """partitions: {partition: leader id} of one topic, or None if the topic is missing.
    Returns a problem text or None."""
    if partitions is None:
        return f"metadata does not list '{topic}'"
    if sorted(partitions) != list(range(PARTITIONS)):
        return f"'{topic}' has partitions {sorted(partitions)}, expected 0..{PARTITIONS - 1}"
    leaders = {p: l for p, l in partitions.items() if l != 1}
    if leaders:
        return f"'{topic}' partitions not led by broker 1: {leaders}"
    return None


def expected_keys(codecs):
    return {record(c, i)[0] for c in codecs for i in range(PER_CODEC)}


def record_problems(records):
    """Each record's value and headers against its key; key repeats. Returns a list."""
    problems = []
    seen = {}
    for r in records:
        where = f"{r.key!r} at {r.partition}/{r.offset}"
        if r.key in seen:
            problems.append(f"key {r.key!r} twice: at {seen[r.key]} and {r.partition}/{r.offset}")
            continue
        seen[r.key] = f"{r.partition}/{r.offset}"
        parsed = parse_key(r.key)
        if parsed is None:
            problems.append(f"unexpected key {where}")
            continue
        _, value, headers = record(*parsed)
        if r.value != value:
            problems.append(f"value of {where}: expected {value[:40]!r}..., got {r.value[:40]!r}...")
        got = norm_headers(r.headers)
        if got != headers:
            problems.append(f"headers of {where}: expected {headers}, got {got}")
    return problems


def order_problems(records):
    """Per partition: offsets 0, 1, 2, ... with no gap; per codec, i increases with offset."""
    problems = []
    by_partition = defaultdict(list)
    for r in records:
        by_partition[r.partition].append(r)
    for partition in sorted(by_partition):
        rows = sorted(by_partition[partition], key=lambda r: r.offset)
        offsets = [r.offset for r in rows]
        if offsets != list(range(len(rows))):
            first = next(k for k, o in enumerate(offsets) if o != k)
            problems.append(f"partition {partition}: {len(rows)} records but offsets are not "
                            f"0..{len(rows) - 1} (at position {first}: offset {offsets[first]})")
        last = {}
        for r in rows:
            parsed = parse_key(r.key)
            if parsed is None:
                continue
            codec, i = parsed
            if codec in last and last[codec][0] >= i:
                problems.append(f"partition {partition}: {codec} index {i} at offset {r.offset} "
                                f"after index {last[codec][0]} at offset {last[codec][1]}")
            last[codec] = (i, r.offset)
    return problems


def summarize(problems, limit=4):
    if not problems:
        return ""
    extra = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + extra


def end_offset_problems(records, end_offsets, n):
    """The partitions' end offsets (high watermarks) after reading, {partition: offset}: they
    must sum to n and each must be right after the highest offset read in its partition, so
    no record hides past the ones read (reading stops at n)."""
    problems = []
    total = sum(o for o in end_offsets.values() if o is not None)
    if total != n:
        problems.append(f"end offsets {dict(sorted(end_offsets.items()))} sum to {total}, "
                        f"expected N = {n}")
    after = last_offsets_plus_one(records)
    differ = [f"{p}: end {end_offsets.get(p)} vs {after.get(p, 0)}" for p in range(PARTITIONS)
              if end_offsets.get(p) != after.get(p, 0)]
    if differ:
        problems.append("end offset != highest offset read + 1 in partition " + ", ".join(differ))
    return problems


def check_consume_assign(records, codecs, end_offsets):
    """Scenario 4 on what the assign()ed consumer holds; end_offsets {partition: offset} as
    the consumer fetched them after reading, or an exception text if that failed."""
    n = PER_CODEC * len(codecs)
    problems = []
    if not codecs:
        raise Failed("prerequisite produce-* failed: no codec produced its records")
    if len(records) != n:
        keys = {r.key for r in records}
        missing = len(expected_keys(codecs) - keys)
        problems.append(f"expected {n} records, got {len(records)} ({missing} expected keys missing)")
    if isinstance(end_offsets, str):
        problems.append(f"fetching the end offsets failed: {end_offsets}")
    else:
        problems += end_offset_problems(records, end_offsets, n)
    problems += record_problems(records)
    partitions = sorted({r.partition for r in records})
    if partitions != list(range(PARTITIONS)):
        problems.append(f"records in partitions {partitions}, expected all of 0..{PARTITIONS - 1}")
    problems += order_problems(records)
    if problems:
        raise Failed(summarize(problems))
    counts = defaultdict(int)
    for r in records:
        counts[r.partition] += 1
    return (f"{n} records, per partition {dict(sorted(counts.items()))}, each partition's end "
            "offset right after the last record read")


def check_group_resume(a_records, a_committed, b_records, codecs):
    """Scenario 5: a_committed {partition: offset} as A committed it."""
    n = PER_CODEC * len(codecs)
    if not codecs:
        raise Failed("prerequisite produce-* failed: no codec produced its records")
    problems = []
    b_first = {}
    for r in b_records:
        if r.partition not in b_first or r.offset < b_first[r.partition]:
            b_first[r.partition] = r.offset
    for partition in sorted(b_first):
        if b_first[partition] != a_committed.get(partition, 0):
            problems.append(f"partition {partition}: B started at offset {b_first[partition]}, "
                            f"A committed {a_committed.get(partition, 'nothing')}")
    if not any(offset > 0 for offset in b_first.values()):
        problems.append(f"B resumed at a non-zero offset in no partition; A committed "
                        f"{dict(sorted(a_committed.items()))}, B started at {dict(sorted(b_first.items()))}")
    a_keys = {r.key for r in a_records}
    both = a_keys & {r.key for r in b_records}
    if both:
        problems.append(f"{len(both)} records seen by both A and B, e.g. {sorted(both)[:3]}")
    problems += record_problems(a_records)
    problems += record_problems(b_records)
    held = a_keys | {r.key for r in b_records}
    missing = expected_keys(codecs) - held
    if missing or len(held) != n:
        problems.append(f"expected A and B to hold {n} records together, they hold {len(held)} "
                        f"({len(missing)} missing, e.g. {sorted(missing)[:3]})")
    if problems:
        raise Failed(summarize(problems))
    return (f"A processed {len(a_records)} and committed {dict(sorted(a_committed.items()))}; "
            f"B read {len(b_records)} starting at A's offsets")


def split_assignment_ok(assignments):
    """The two members' assignments (sets of partitions): both non-empty, disjoint, covering."""
    a, b = assignments
    return bool(a) and bool(b) and not (a & b) and (a | b) == set(range(PARTITIONS))


def check_group_split(members):
    """Scenario 6. members: [(assignment at split time, [Record], [assignments seen later])]."""
    problems = []
    keys = defaultdict(int)
    for number, (assigned, records, later) in enumerate(members, 1):
        if not records:
            problems.append(f"member {number} (partitions {sorted(assigned)}) received nothing")
        foreign = sorted({r.partition for r in records} - set(assigned))
        if foreign:
            problems.append(f"member {number} assigned {sorted(assigned)} received records "
                            f"from partitions {foreign}")
        changed = [sorted(s) for s in later if set(s) != set(assigned)]
        if changed:
            problems.append(f"member {number}'s assignment changed after the split: "
                            f"{sorted(assigned)} then {changed[:2]}")
        for r in records:
            keys[r.key] += 1
            index = r.key.decode(errors="replace").removeprefix("split-")
            i = int(index) if index.isdigit() else -1
            if not 0 <= i < SPLIT_RECORDS or split_record(i)[0] != r.key:
                problems.append(f"unexpected key {r.key!r}")
            elif r.value != split_record(i)[1]:
                problems.append(f"key {r.key!r}: value {r.value!r}, expected {split_record(i)[1]!r}")
    twice = [k for k, c in keys.items() if c > 1]
    if twice:
        problems.append(f"{len(twice)} keys arrived twice, e.g. {sorted(twice)[:3]}")
    wanted = {split_record(i)[0] for i in range(SPLIT_RECORDS)}
    missing = wanted - set(keys)
    if missing:
        problems.append(f"expected {SPLIT_RECORDS} records, {len(missing)} missing "
                        f"(received {sum(keys.values())})")
    if problems:
        raise Failed(summarize(problems))
    return "; ".join(f"member {n} {sorted(a)}: {len(r)} records"
                     for n, (a, r, _) in enumerate(members, 1))


def check_group_description(state, protocol_type, members):
    problems = []
    if state != "Empty":
        problems.append(f"state {state!r}, expected 'Empty'")
    if protocol_type != "consumer":
        problems.append(f"protocol type {protocol_type!r}, expected 'consumer'")
    if members:
        problems.append(f"{len(members)} members, expected none")
    return problems


def check_committed(committed, end_offsets, codecs):
    """committed and end_offsets: {partition: offset} of topic compat."""
    n = PER_CODEC * len(codecs)
    problems = []
    if sorted(committed) != list(range(PARTITIONS)):
        problems.append(f"committed offsets for partitions {sorted(committed)}, "
                        f"expected 0..{PARTITIONS - 1}")
    differ = {p: (committed.get(p), end_offsets.get(p)) for p in range(PARTITIONS)
              if committed.get(p) != end_offsets.get(p)}
    if differ:
        problems.append("committed != end offset for " + ", ".join(
            f"{p}: {c} vs {e}" for p, (c, e) in sorted(differ.items())))
    total = sum(v for v in committed.values() if v is not None and v >= 0)
    if total != n:
        problems.append(f"committed offsets sum to {total}, expected N = {n}")
    return problems


# --- consumer scenarios, written once over a small adapter ---------------------------------
#
# A client program wraps its consumer in an adapter with:
#   poll(timeout_s) -> [Record]            what one poll returned (all of it is "processed")
#   assignment() -> set of partitions      the current assignment
#   commit_offsets({partition: offset})    a synchronous commit of exactly these offsets
#   commit()                               a synchronous commit of the consumed positions
#   end_offsets(timeout_s) -> {partition: offset}   the end offsets (high watermarks) of
#                                          TOPIC's partitions, asked of the broker
#   close()
# (the asyncio form has the same methods as coroutines, assignment() excepted).


def last_offsets_plus_one(records):
    out = {}
    for r in records:
        out[r.partition] = max(out.get(r.partition, 0), r.offset + 1)
    return out


def consume_assign(open_assigned, codecs, deadline, keep=None):
    """Scenario 4. open_assigned() returns an adapter assigned to all partitions of TOPIC
    from the beginning, without group management. The records are added to `keep`."""
    n = PER_CODEC * len(codecs)
    if not codecs:
        raise Failed("prerequisite produce-* failed: no codec produced its records")
    consumer = open_assigned()
    records = []
    try:
        while len(records) < n and not deadline.expired():
            records += consumer.poll(deadline.remaining(1.0))
        try:
            ends = consumer.end_offsets(max(2.0, deadline.remaining(10.0)))
        except Exception as exc:  # noqa: BLE001 - reported with the other problems
            ends = describe(exc)
    finally:
        consumer.close()
    if keep is not None:
        keep.extend(records)
    return check_consume_assign(records, codecs, ends)


def a_is_done(records):
    """Consumer A of group-resume stops at 3,000 records from at least 2 partitions."""
    return (len(records) >= RESUME_FIRST
            and len({r.partition for r in records}) >= RESUME_FIRST_PARTITIONS)


def group_resume(open_group, codecs, deadline):
    """Scenario 5. open_group(group, topic) returns an adapter subscribed to the topic."""
    n = PER_CODEC * len(codecs)
    if not codecs:
        raise Failed("prerequisite produce-* failed: no codec produced its records")
    a = open_group(RESUME_GROUP, TOPIC)
    a_records = []
    try:
        while not a_is_done(a_records) and not deadline.expired():
            a_records += a.poll(deadline.remaining(1.0))
        if not a_is_done(a_records):
            raise Failed(f"consumer A got only {len(a_records)} records from "
                         f"{len({r.partition for r in a_records})} partitions before the deadline")
        a_committed = last_offsets_plus_one(a_records)
        a.commit_offsets(a_committed)
    finally:
        a.close()
    log(f"group-resume: A processed {len(a_records)}, committed {a_committed}")
    b = open_group(RESUME_GROUP, TOPIC)
    b_records = []
    try:
        while len(a_records) + len(b_records) < n and not deadline.expired():
            b_records += b.poll(deadline.remaining(1.0))
        if b_records:
            b.commit()
    finally:
        b.close()
    return check_group_resume(a_records, a_committed, b_records, codecs)


class SplitMember:
    def __init__(self):
        self.assignment = set()
        self.split_assignment = set()  # the assignment when the records were produced
        self.changes = []  # (monotonic time, assignment) each time it changed
        self.records = []
        self.error = None


def _split_outcome(members, split_at):
    _raise_member_error(members)
    return check_group_split([(m.split_assignment, m.records,
                               [a for t, a in m.changes if t > split_at]) for m in members])


def group_split(open_group, produce_split, deadline, assignment_wait=30.0):
    """Scenario 6 with two threads. produce_split() sends the 6,000 records."""
    members = [SplitMember(), SplitMember()]
    barrier = threading.Barrier(2)
    stop = threading.Event()

    def member(m):
        consumer = None
        try:
            barrier.wait(10)
            consumer = open_group(SPLIT_GROUP, SPLIT_TOPIC)
            while not stop.is_set() and not deadline.expired():
                records = consumer.poll(0.2)
                assignment = set(consumer.assignment())
                if assignment != m.assignment:
                    m.changes.append((time.monotonic(), assignment))
                    m.assignment = assignment
                m.records += records
        except Exception as exc:  # noqa: BLE001
            log(f"group-split member:\n{traceback.format_exc()}")
            m.error = exc
        finally:
            if consumer is not None:
                try:
                    consumer.close()
                except Exception as exc:  # noqa: BLE001
                    log(f"group-split: close failed: {exc!r}")

    threads = [threading.Thread(target=member, args=(m,), daemon=True) for m in members]
    for t in threads:
        t.start()
    try:
        ok = wait_until(deadline, lambda: split_assignment_ok([m.assignment for m in members])
                        or any(m.error for m in members), limit=assignment_wait)
        if not ok or any(m.error for m in members):
            _raise_member_error(members)
            raise Failed(f"after {assignment_wait:.0f} s the members' assignments are "
                         f"{sorted(members[0].assignment)} and {sorted(members[1].assignment)}, "
                         f"expected two non-empty disjoint sets covering 0..{PARTITIONS - 1}")
        split_at = time.monotonic()
        for m in members:
            m.split_assignment = set(m.assignment)
        log(f"group-split: assignments {[sorted(m.split_assignment) for m in members]}")
        produce_split()
        wait_until(deadline, lambda: sum(len(m.records) for m in members) >= SPLIT_RECORDS
                   or any(m.error for m in members), interval=0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(max(5.0, deadline.remaining()))
    if any(t.is_alive() for t in threads):
        raise Failed("a member did not close within the deadline")
    return _split_outcome(members, split_at)


def _raise_member_error(members):
    for number, m in enumerate(members, 1):
        if m.error is not None:
            raise Failed(f"member {number} raised {describe(m.error)}")


async def consume_assign_async(open_assigned, codecs, deadline, keep=None):
    n = PER_CODEC * len(codecs)
    if not codecs:
        raise Failed("prerequisite produce-* failed: no codec produced its records")
    consumer = await open_assigned()
    records = []
    try:
        while len(records) < n and not deadline.expired():
            records += await consumer.poll(deadline.remaining(1.0))
        try:
            ends = await consumer.end_offsets(max(2.0, deadline.remaining(10.0)))
        except Exception as exc:  # noqa: BLE001 - reported with the other problems
            ends = describe(exc)
    finally:
        await consumer.close()
    if keep is not None:
        keep.extend(records)
    return check_consume_assign(records, codecs, ends)


async def group_resume_async(open_group, codecs, deadline):
    n = PER_CODEC * len(codecs)
    if not codecs:
        raise Failed("prerequisite produce-* failed: no codec produced its records")
    a = await open_group(RESUME_GROUP, TOPIC)
    a_records = []
    try:
        while not a_is_done(a_records) and not deadline.expired():
            a_records += await a.poll(deadline.remaining(1.0))
        if not a_is_done(a_records):
            raise Failed(f"consumer A got only {len(a_records)} records from "
                         f"{len({r.partition for r in a_records})} partitions before the deadline")
        a_committed = last_offsets_plus_one(a_records)
        await a.commit_offsets(a_committed)
    finally:
        await a.close()
    log(f"group-resume: A processed {len(a_records)}, committed {a_committed}")
    b = await open_group(RESUME_GROUP, TOPIC)
    b_records = []
    try:
        while len(a_records) + len(b_records) < n and not deadline.expired():
            b_records += await b.poll(deadline.remaining(1.0))
        if b_records:
            await b.commit()
    finally:
        await b.close()
    return check_group_resume(a_records, a_committed, b_records, codecs)


async def group_split_async(open_group, produce_split, deadline, assignment_wait=30.0):
    """Scenario 6 with two asyncio tasks. produce_split() is a coroutine function."""
    members = [SplitMember(), SplitMember()]
    stop = asyncio.Event()

    async def member(m):
        consumer = None
        try:
            consumer = await open_group(SPLIT_GROUP, SPLIT_TOPIC)
            while not stop.is_set() and not deadline.expired():
                records = await consumer.poll(0.2)
                assignment = set(consumer.assignment())
                if assignment != m.assignment:
                    m.changes.append((time.monotonic(), assignment))
                    m.assignment = assignment
                m.records += records
        except Exception as exc:  # noqa: BLE001
            log(f"group-split member:\n{traceback.format_exc()}")
            m.error = exc
        finally:
            if consumer is not None:
                try:
                    await consumer.close()
                except Exception as exc:  # noqa: BLE001
                    log(f"group-split: close failed: {exc!r}")

    tasks = [asyncio.create_task(member(m)) for m in members]

    async def assigned():
        return split_assignment_ok([m.assignment for m in members]) or any(m.error for m in members)

    async def all_arrived():
        return sum(len(m.records) for m in members) >= SPLIT_RECORDS or any(m.error for m in members)

    try:
        ok = await wait_until_async(deadline, assigned, limit=assignment_wait)
        if not ok or any(m.error for m in members):
            _raise_member_error(members)
            raise Failed(f"after {assignment_wait:.0f} s the members' assignments are "
                         f"{sorted(members[0].assignment)} and {sorted(members[1].assignment)}, "
                         f"expected two non-empty disjoint sets covering 0..{PARTITIONS - 1}")
        split_at = time.monotonic()
        for m in members:
            m.split_assignment = set(m.assignment)
        log(f"group-split: assignments {[sorted(m.split_assignment) for m in members]}")
        await produce_split()
        await wait_until_async(deadline, all_arrived, interval=0.1)
    finally:
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=max(5.0, deadline.remaining()))
        for task in pending:
            task.cancel()
    if pending:
        raise Failed("a member did not close within the deadline")
    return _split_outcome(members, split_at)


# --- an extra check on the stored log (RIFFLE_DATA_DIR) ------------------------------------

CODEC_ATTRIBUTE = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_batches(data_dir, topic, partition):
    """(base offset, last offset, attributes, producer id) of each v2 batch in a partition's
    segment files, read from the v2 batch headers."""
    import os
    import struct
    directory = os.path.join(data_dir, f"{topic}-{partition}")
    out = []
    for name in sorted(n for n in os.listdir(directory) if n.endswith(".log")):
        with open(os.path.join(directory, name), "rb") as segment:
            data = segment.read()
        pos = 0
        while pos + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            magic = data[pos + 16]
            if magic != 2:
                raise Failed(f"{topic}-{partition}/{name}: batch at byte {pos} has magic {magic}")
            attributes, last_delta = struct.unpack_from(">hi", data, pos + 21)
            producer_id, = struct.unpack_from(">q", data, pos + 43)
            out.append((base, base + last_delta, attributes, producer_id))
            pos += 12 + length
    return out


def check_stored_batches(data_dir, records, idempotent):
    """Extra check `stored-batches`: the batches on disk that hold each codec's records (known
    by offset from consume-assign) carry that codec in their attributes, as the client
    compressed them, or none (kafka-python, aiokafka and librdkafka send a batch that
    compression would not shrink uncompressed, e.g. a lone small record), and each codec has
    at least one batch compressed with it; idempotent: {codec: whether its producer was
    idempotent}, whose batches must then carry a producer id."""
    if not data_dir:
        raise NotAvailable("RIFFLE_DATA_DIR is not set")
    if not records:
        raise Failed("prerequisite consume-assign failed: no records to locate")
    codec_at = defaultdict(dict)
    for r in records:
        parsed = parse_key(r.key)
        if parsed:
            codec_at[r.partition][r.offset] = parsed[0]
    problems = []
    counts = defaultdict(int)
    compressed = defaultdict(int)
    for partition in range(PARTITIONS):
        for base, last, attributes, producer_id in stored_batches(data_dir, TOPIC, partition):
            codecs = {codec_at[partition].get(o) for o in range(base, last + 1)}
            if len(codecs) != 1 or None in codecs:
                problems.append(f"partition {partition} batch {base}..{last} holds records of "
                                f"{sorted(map(str, codecs))}")
                continue
            codec = codecs.pop()
            counts[codec] += 1
            if attributes & 7 == CODEC_ATTRIBUTE[codec]:
                compressed[codec] += 1
            elif attributes & 7 != 0:
                problems.append(f"partition {partition} batch {base}..{last} of {codec} records "
                                f"has compression {attributes & 7}, expected "
                                f"{CODEC_ATTRIBUTE[codec]}")
            if idempotent.get(codec) and producer_id < 0:
                problems.append(f"partition {partition} batch {base}..{last} of {codec} records "
                                "has no producer id, though the producer was idempotent")
    for codec in CODECS[1:]:
        if counts[codec] and not compressed[codec]:
            problems.append(f"none of the {counts[codec]} batches of {codec} records is "
                            f"compressed with {codec}")
    if problems:
        raise Failed(summarize(problems))
    return "batches (compressed) per codec " + ", ".join(
        f"{c}: {counts[c]} ({compressed[c] if c != 'none' else '-'})" for c in CODECS if counts[c])


def run_threaded_scenarios(run, *, metadata, create_topic, produce, open_assigned, idempotent,
                           open_group, produce_split, admin_groups, delete_topic):
    """Every scenario of compat/README.md in order, for a client with blocking calls
    (confluent-kafka, kafka-python), then exits. produce(codec) returns the scenario for a
    codec; idempotent is what check_stored_batches expects of the stored producer ids."""
    run.scenario("metadata", metadata)
    run.scenario("create-topic", create_topic)
    for codec in CODECS:
        run.scenario("produce-" + codec, produce(codec))
    assigned = []
    run.scenario("consume-assign",
                 lambda d: consume_assign(open_assigned, run.codecs_passed(), d, assigned))
    run.scenario("stored-batches", lambda d: check_stored_batches(
        os.environ.get("RIFFLE_DATA_DIR"), assigned, idempotent))
    run.scenario("group-resume", lambda d: group_resume(open_group, run.codecs_passed(), d))
    run.scenario("group-split", lambda d: group_split(open_group, produce_split, d))
    run.scenario("admin-groups", admin_groups)
    run.scenario("delete-topic", delete_topic)
    log(f"all scenarios done in {time.monotonic() - run.started:.1f}s")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # a client thread stuck past its deadline must not hold the process
