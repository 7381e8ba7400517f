"""compat/README.md's scenarios with kafka-python (pure Python).
usage: scenarios.py BOOTSTRAP   (prints CLIENT and RESULT lines on stdout)"""

import importlib
import logging
import os
import sys
from importlib.metadata import version

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import kafka  # noqa: E402
from kafka import (  # noqa: E402
    KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata, OffsetSpec,
    TopicPartition,
)
from kafka import codec as kafka_codec  # noqa: E402

import compat_checks as cc  # noqa: E402
from compat_checks import Failed, Record  # noqa: E402

BOOTSTRAP = sys.argv[1]
run = cc.Run(scenarios=13)
idempotent = {}  # codec: whether its producer was idempotent
# COMPAT_LOG=INFO (or DEBUG) shows more of the client's own logging on stderr.
logging.basicConfig(stream=sys.stderr, level=os.environ.get("COMPAT_LOG", "WARNING"),
                    format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")

# kafka-python names "no compression" None. kafka/codec.py imports a module per codec and
# quietly goes without a codec whose import fails; requirements.txt pins each of them.
COMPRESSION = {"none": None, "gzip": "gzip", "snappy": "snappy", "lz4": "lz4", "zstd": "zstd"}
AVAILABLE = {"none": lambda: True, "gzip": kafka_codec.has_gzip,
             "snappy": kafka_codec.has_snappy, "lz4": kafka_codec.has_lz4,
             "zstd": kafka_codec.has_zstd}
CODEC_MODULE = {"snappy": "snappy", "lz4": "lz4.frame", "zstd": "zstandard"}


def codec_import_error(codec):
    """Why kafka/codec.py found no module for a codec: the error of importing it again."""
    try:
        importlib.import_module(CODEC_MODULE[codec])
    except Exception as exc:  # noqa: BLE001
        return cc.describe(exc)
    return f"{CODEC_MODULE[codec]} imports now, but kafka.codec found it missing"


def admin():
    return KafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=15000)


def topic_partitions(client, topic):
    """{partition: leader} of a topic as a Metadata request reports it, or None."""
    for t in client.describe_topics([topic]):
        if t["name"] == topic and t["error_code"] == 0:
            return {p["partition_index"]: p["leader_id"] for p in t["partitions"]}
    return None


def metadata(deadline):
    client = admin()
    try:
        topics = client.list_topics()  # a Metadata request for every topic
        # The brokers the client learned from that Metadata response.
        brokers = [(b.node_id, b.host, b.port) for b in client._manager.cluster.brokers()]
    finally:
        client.close()
    return cc.check_broker(brokers, BOOTSTRAP) + f"; {len(topics)} topics listed"


def create_topic(deadline):
    client = admin()
    try:
        response = client.create_topics(
            {t: {"num_partitions": cc.PARTITIONS, "replication_factor": 1}
             for t in (cc.TOPIC, cc.SPLIT_TOPIC)},
            timeout_ms=10000, raise_errors=False)
        errors = [f"{t['name']}: error {t['error_code']} {t.get('error_message')}"
                  for t in response["topics"] if t["error_code"] != 0]
        names = sorted(t["name"] for t in response["topics"])
        if errors or names != sorted([cc.TOPIC, cc.SPLIT_TOPIC]):
            raise Failed(f"create_topics answered {names} with errors {errors}")

        def ready():
            return cc.check_partitions(cc.TOPIC, topic_partitions(client, cc.TOPIC)) is None
        if not cc.wait_until(deadline, ready, limit=10):
            raise Failed(cc.check_partitions(cc.TOPIC, topic_partitions(client, cc.TOPIC))
                         + " after 10 s")
    finally:
        client.close()
    return "both created; compat has partitions 0..5 led by broker 1"


def produce(codec):
    def scenario(deadline):
        if not AVAILABLE[codec]():
            raise Failed(f"kafka-python's {codec} codec did not load (the pinned "
                         f"{CODEC_MODULE[codec]} import failed): {codec_import_error(codec)}")
        producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all",
                                 compression_type=COMPRESSION[codec])
        try:
            futures = []
            for i in range(cc.PER_CODEC):
                key, value, headers = cc.record(codec, i)
                futures.append(producer.send(cc.TOPIC, value=value, key=key, headers=headers))
            producer.flush(timeout=deadline.remaining())
            errors = []
            pending = 0
            for future in futures:
                if not future.is_done:
                    pending += 1
                elif future.failed():
                    errors.append(repr(future.exception))
            if errors or pending:
                raise Failed(f"{cc.PER_CODEC - len(errors) - pending} of {cc.PER_CODEC} "
                             f"acknowledged, {pending} pending at the deadline, "
                             f"{len(errors)} failed{': ' + errors[0] if errors else ''}")
        finally:
            producer.close(timeout=5)
        idempotent[codec] = producer.config["enable_idempotence"]
        return f"{cc.PER_CODEC} records acknowledged (idempotent: {idempotent[codec]})"
    return scenario


class Adapter:
    """compat_checks' consumer adapter over a KafkaConsumer."""

    def __init__(self, consumer):
        self.consumer = consumer

    def poll(self, timeout):
        out = []
        for tp, records in self.consumer.poll(timeout_ms=int(timeout * 1000)).items():
            for r in records:
                out.append(Record(r.partition, r.offset, r.key, r.value, r.headers))
        return out

    def assignment(self):
        return {tp.partition for tp in self.consumer.assignment()}

    def end_offsets(self, timeout):
        ends = self.consumer.end_offsets(
            [TopicPartition(cc.TOPIC, p) for p in range(cc.PARTITIONS)], timeout_ms=int(timeout * 1000))
        return {tp.partition: offset for tp, offset in ends.items()}

    def commit_offsets(self, offsets):
        self.consumer.commit({TopicPartition(cc.TOPIC, p): OffsetAndMetadata(o, "", -1)
                              for p, o in offsets.items()})

    def commit(self):
        self.consumer.commit()

    def close(self):
        self.consumer.close(autocommit=self.consumer.config["enable_auto_commit"])


def open_assigned():
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None,
                             enable_auto_commit=False)
    partitions = [TopicPartition(cc.TOPIC, p) for p in range(cc.PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    return Adapter(consumer)


def open_group(group, topic):
    # group-resume commits by hand; group-split keeps the client's default (automatic commit).
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group,
                             auto_offset_reset="earliest",
                             enable_auto_commit=group != cc.RESUME_GROUP)
    consumer.subscribe([topic])
    return Adapter(consumer)


def produce_split():
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    try:
        futures = [producer.send(cc.SPLIT_TOPIC, key=key, value=value)
                   for key, value in map(cc.split_record, range(cc.SPLIT_RECORDS))]
        producer.flush(timeout=20)
        bad = [f for f in futures if not f.is_done or f.failed()]
        if bad:
            raise Failed(f"producing the 6,000 records: {len(bad)} not acknowledged, "
                         f"e.g. {bad[0].exception!r}")
    finally:
        producer.close(timeout=5)


def admin_groups(deadline):
    client = admin()
    problems = []
    try:
        names = sorted(g["group_id"] for g in client.list_groups())
        for group in (cc.RESUME_GROUP, cc.SPLIT_GROUP):
            if group not in names:
                problems.append(f"list_groups lacks '{group}' (got {names})")
        described = client.describe_groups([cc.RESUME_GROUP])[cc.RESUME_GROUP]
        if described.get("error"):
            problems.append(f"describe_groups: {described['error']}")
        problems += cc.check_group_description(described.get("group_state"),
                                               described.get("protocol_type"),
                                               described.get("members"))
        fetched = client.list_group_offsets({cc.RESUME_GROUP: None})[cc.RESUME_GROUP]
        committed = {tp.partition: om.offset for tp, om in fetched.items() if tp.topic == cc.TOPIC}
        ends = client.list_partition_offsets(
            {TopicPartition(cc.TOPIC, p): OffsetSpec.LATEST for p in range(cc.PARTITIONS)})
        end_offsets = {tp.partition: o.offset for tp, o in ends.items()}
        problems += cc.check_committed(committed, end_offsets, run.codecs_passed())
    finally:
        client.close()
    if problems:
        raise Failed(cc.summarize(problems))
    return (f"listed {len(names)} groups; compat-resume Empty, consumer, no members; "
            f"committed {dict(sorted(committed.items()))}")


def delete_topic(deadline):
    client = admin()
    try:
        response = client.delete_topics([cc.TOPIC, cc.SPLIT_TOPIC], timeout_ms=10000,
                                        raise_errors=False)
        errors = [f"{t['name']}: error {t['error_code']} {t.get('error_message')}"
                  for t in response["topics"] if t["error_code"] != 0]
        if errors:
            raise Failed("delete_topics reported " + "; ".join(errors))

        def gone():
            return not ({cc.TOPIC, cc.SPLIT_TOPIC} & set(client.list_topics()))
        if not cc.wait_until(deadline, gone, limit=10):
            left = sorted({cc.TOPIC, cc.SPLIT_TOPIC} & set(client.list_topics()))
            raise Failed(f"10 s after deletion metadata still lists {left}")
    finally:
        client.close()
    return "both deleted and gone from metadata"


def main():
    codecs = ", ".join(f"{name} {version(name)}" for name in
                       ("python-snappy", "cramjam", "lz4", "zstandard", "crc32c"))
    run.client(f"kafka-python {kafka.__version__} ({codecs})")
    cc.run_threaded_scenarios(
        run, metadata=metadata, create_topic=create_topic, produce=produce,
        open_assigned=open_assigned, idempotent=idempotent, open_group=open_group,
        produce_split=produce_split, admin_groups=admin_groups, delete_topic=delete_topic)


if __name__ == "__main__":
    main()
