"""compat/README.md's scenarios with aiokafka (asyncio).
usage: scenarios.py BOOTSTRAP   (prints CLIENT and RESULT lines on stdout)"""

import asyncio
import importlib
import logging
import os
import sys
import time
from importlib.metadata import version

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import aiokafka  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.codec import has_gzip, has_lz4, has_snappy, has_zstd  # noqa: E402

import compat_checks as cc  # noqa: E402
from compat_checks import Failed, Record  # noqa: E402

BOOTSTRAP = sys.argv[1]
run = cc.Run(scenarios=13)
idempotent = {}  # codec: whether its producer was idempotent
# COMPAT_LOG=INFO (or DEBUG) shows more of the client's own logging on stderr.
logging.basicConfig(stream=sys.stderr, level=os.environ.get("COMPAT_LOG", "WARNING"),
                    format="%(asctime)s %(name)s %(levelname)s %(message)s")

# aiokafka names "no compression" None; its codecs need cramjam (pinned in requirements.txt),
# which aiokafka/codec.py imports quietly going without the codecs if the import fails.
COMPRESSION = {"none": None, "gzip": "gzip", "snappy": "snappy", "lz4": "lz4", "zstd": "zstd"}
AVAILABLE = {"none": lambda: True, "gzip": has_gzip, "snappy": has_snappy, "lz4": has_lz4,
             "zstd": has_zstd}


class Admin:
    """async with Admin() as client: a started AIOKafkaAdminClient, closed on exit."""

    async def __aenter__(self):
        self.client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)
        await self.client.start()
        return self.client

    async def __aexit__(self, *exc):
        await self.client.close()


async def topic_partitions(client, topic):
    """{partition: leader} of a topic as a Metadata request reports it, or None."""
    for t in await client.describe_topics([topic]):
        if t["topic"] == topic and t["error_code"] == 0:
            return {p["partition"]: p["leader"] for p in t["partitions"]}
    return None


async def metadata(deadline):
    async with Admin() as client:
        cluster = await client.describe_cluster()  # a Metadata request for every topic
        topics = await client.list_topics()
    brokers = [(b["node_id"], b["host"], b["port"]) for b in cluster["brokers"]]
    return cc.check_broker(brokers, BOOTSTRAP) + f"; {len(topics)} topics listed"


async def create_topic(deadline):
    async with Admin() as client:
        response = await client.create_topics(
            [NewTopic(t, cc.PARTITIONS, 1) for t in (cc.TOPIC, cc.SPLIT_TOPIC)],
            timeout_ms=10000)
        answered = response.to_object()["topic_errors"]
        errors = [f"{t['topic']}: error {t['error_code']} {t.get('error_message')}"
                  for t in answered if t["error_code"] != 0]
        names = sorted(t["topic"] for t in answered)
        if errors or names != sorted([cc.TOPIC, cc.SPLIT_TOPIC]):
            raise Failed(f"create_topics answered {names} with errors {errors}")

        async def ready():
            return cc.check_partitions(cc.TOPIC, await topic_partitions(client, cc.TOPIC)) is None
        if not await cc.wait_until_async(deadline, ready, limit=10):
            raise Failed(cc.check_partitions(cc.TOPIC, await topic_partitions(client, cc.TOPIC))
                         + " after 10 s")
    return "both created; compat has partitions 0..5 led by broker 1"


def produce(codec):
    async def scenario(deadline):
        if not AVAILABLE[codec]():
            raise Failed(f"aiokafka's {codec} codec did not load (the pinned cramjam import "
                         f"failed): {cramjam_import_error()}")
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all",
                                    compression_type=COMPRESSION[codec])
        await producer.start()
        try:
            futures = []
            for i in range(cc.PER_CODEC):
                key, value, headers = cc.record(codec, i)
                futures.append(await producer.send(cc.TOPIC, value=value, key=key,
                                                   headers=headers))
            await producer.flush()
            results = await asyncio.gather(*futures, return_exceptions=True)
        finally:
            await producer.stop()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise Failed(f"{len(results) - len(errors)} of {cc.PER_CODEC} acknowledged, "
                         f"{len(errors)} failed, first: {errors[0]!r}")
        idempotent[codec] = getattr(producer, "_txn_manager", None) is not None
        return f"{cc.PER_CODEC} records acknowledged (idempotent: {idempotent[codec]})"
    return scenario


def cramjam_import_error():
    """Why aiokafka/codec.py found no cramjam: the error of importing it again."""
    try:
        importlib.import_module("cramjam")
    except Exception as exc:  # noqa: BLE001
        return cc.describe(exc)
    return "cramjam imports now, but aiokafka.codec found it missing"


class Adapter:
    """compat_checks' asyncio consumer adapter over an AIOKafkaConsumer."""

    def __init__(self, consumer):
        self.consumer = consumer

    async def poll(self, timeout):
        out = []
        # getmany() hands over everything buffered unless capped: 500 is kafka-python's and
        # the Java client's max.poll.records, so group-resume's A stops near 3,000.
        batches = await self.consumer.getmany(timeout_ms=int(timeout * 1000), max_records=500)
        for tp, records in batches.items():
            for r in records:
                out.append(Record(r.partition, r.offset, r.key, r.value, list(r.headers)))
        return out

    def assignment(self):
        return {tp.partition for tp in self.consumer.assignment()}

    async def commit_offsets(self, offsets):
        await self.consumer.commit({TopicPartition(cc.TOPIC, p): o for p, o in offsets.items()})

    async def commit(self):
        await self.consumer.commit()

    async def end_offsets(self, timeout):
        ends = await asyncio.wait_for(self.consumer.end_offsets(
            [TopicPartition(cc.TOPIC, p) for p in range(cc.PARTITIONS)]), timeout)
        return {tp.partition: offset for tp, offset in ends.items()}

    async def close(self):
        await self.consumer.stop()


async def open_assigned():
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(cc.TOPIC, p) for p in range(cc.PARTITIONS)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return Adapter(consumer)


async def open_group(group, topic):
    # group-resume commits by hand; group-split keeps the client's default (automatic commit).
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group,
                                auto_offset_reset="earliest",
                                enable_auto_commit=group != cc.RESUME_GROUP)
    await consumer.start()
    consumer.subscribe([topic])
    return Adapter(consumer)


async def produce_split():
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(cc.SPLIT_TOPIC, key=key, value=value)
                   for key, value in map(cc.split_record, range(cc.SPLIT_RECORDS))]
        await producer.flush()
        results = await asyncio.gather(*futures, return_exceptions=True)
    finally:
        await producer.stop()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise Failed(f"producing the 6,000 records: {len(errors)} failed, e.g. {errors[0]!r}")


async def admin_groups(deadline):
    problems = []
    async with Admin() as client:
        listed = await client.list_consumer_groups()
        names = sorted(g[0] for g in listed)
        for group in (cc.RESUME_GROUP, cc.SPLIT_GROUP):
            if group not in names:
                problems.append(f"list_consumer_groups lacks '{group}' (got {names})")
        responses = await client.describe_consumer_groups([cc.RESUME_GROUP])
        groups = [g for r in responses for g in r.to_object()["groups"]]
        described = next((g for g in groups if g["group"] == cc.RESUME_GROUP), None)
        if described is None:
            problems.append(f"describe_consumer_groups did not describe it: {groups}")
        else:
            if described["error_code"]:
                problems.append(f"describe_consumer_groups: error {described['error_code']}")
            problems += cc.check_group_description(described["state"],
                                                   described["protocol_type"],
                                                   described["members"])
        fetched = await client.list_consumer_group_offsets(cc.RESUME_GROUP)
        committed = {tp.partition: om.offset for tp, om in fetched.items() if tp.topic == cc.TOPIC}
    # aiokafka's admin client has no ListOffsets call: the end offsets come from a consumer.
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(cc.TOPIC, p)
                                           for p in range(cc.PARTITIONS)])
    finally:
        await consumer.stop()
    end_offsets = {tp.partition: o for tp, o in ends.items()}
    problems += cc.check_committed(committed, end_offsets, run.codecs_passed())
    if problems:
        raise Failed(cc.summarize(problems))
    return (f"listed {len(names)} groups; compat-resume Empty, consumer, no members; "
            f"committed {dict(sorted(committed.items()))}")


async def delete_topic(deadline):
    async with Admin() as client:
        response = await client.delete_topics([cc.TOPIC, cc.SPLIT_TOPIC], timeout_ms=10000)
        errors = [f"{t['topic']}: error {t['error_code']}"
                  for t in response.to_object()["topic_error_codes"] if t["error_code"] != 0]
        if errors:
            raise Failed("delete_topics reported " + "; ".join(errors))

        async def gone():
            return not ({cc.TOPIC, cc.SPLIT_TOPIC} & set(await client.list_topics()))
        if not await cc.wait_until_async(deadline, gone, limit=10):
            left = sorted({cc.TOPIC, cc.SPLIT_TOPIC} & set(await client.list_topics()))
            raise Failed(f"10 s after deletion metadata still lists {left}")
    return "both deleted and gone from metadata"


async def main():
    run.client(f"aiokafka {aiokafka.__version__} (cramjam {version('cramjam')})")
    await run.scenario_async("metadata", metadata)
    await run.scenario_async("create-topic", create_topic)
    for codec in cc.CODECS:
        await run.scenario_async("produce-" + codec, produce(codec))
    assigned = []
    await run.scenario_async("consume-assign", lambda d: cc.consume_assign_async(
        open_assigned, run.codecs_passed(), d, assigned))

    async def stored(d):
        return cc.check_stored_batches(os.environ.get("RIFFLE_DATA_DIR"), assigned, idempotent)
    await run.scenario_async("stored-batches", stored)
    await run.scenario_async(
        "group-resume", lambda d: cc.group_resume_async(open_group, run.codecs_passed(), d))
    await run.scenario_async(
        "group-split", lambda d: cc.group_split_async(open_group, produce_split, d))
    await run.scenario_async("admin-groups", admin_groups)
    await run.scenario_async("delete-topic", delete_topic)
    cc.log(f"all scenarios done in {time.monotonic() - run.started:.1f}s")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
