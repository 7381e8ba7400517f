"""compat/README.md's scenarios with confluent-kafka (librdkafka inside the wheel).
usage: scenarios.py BOOTSTRAP   (prints CLIENT and RESULT lines on stdout)"""

import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import confluent_kafka  # noqa: E402
from confluent_kafka import (  # noqa: E402
    OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions, KafkaError, KafkaException,
    Producer, TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec  # noqa: E402

import compat_checks as cc  # noqa: E402
from compat_checks import Failed, Record  # noqa: E402

BOOTSTRAP = sys.argv[1]
run = cc.Run(scenarios=13)
base = {"bootstrap.servers": BOOTSTRAP, "log_level": 4}  # librdkafka warnings and worse


def await_topic_futures(futures, deadline, what):
    """Waits for an admin call's per-topic futures; any error fails the scenario."""
    errors = []
    for topic, future in futures.items():
        try:
            future.result(timeout=deadline.remaining(20))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{topic}: {cc.describe(exc)}")
    if errors:
        raise Failed(f"{what} reported " + "; ".join(errors))


def admin():
    return AdminClient(dict(base))


def topic_partitions(metadata, topic):
    """{partition: leader} of a topic in a ClusterMetadata, or None."""
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        return None
    return {p.id: p.leader for p in found.partitions.values()}


def metadata(deadline):
    md = admin().list_topics(timeout=deadline.remaining(10))
    brokers = [(b.id, b.host, b.port) for b in md.brokers.values()]
    return cc.check_broker(brokers, BOOTSTRAP) + f"; {len(md.topics)} topics listed"


def create_topic(deadline):
    client = admin()
    futures = client.create_topics(
        [NewTopic(t, num_partitions=cc.PARTITIONS, replication_factor=1)
         for t in (cc.TOPIC, cc.SPLIT_TOPIC)],
        request_timeout=deadline.remaining(15), operation_timeout=deadline.remaining(15))
    await_topic_futures(futures, deadline, "create_topics")
    problem = cc.wait_until(deadline, lambda: cc.check_partitions(
        cc.TOPIC, topic_partitions(client.list_topics(timeout=5), cc.TOPIC)) is None, limit=10)
    if not problem:
        raise Failed(cc.check_partitions(
            cc.TOPIC, topic_partitions(client.list_topics(timeout=5), cc.TOPIC)) + " after 10 s")
    return "both created; compat has partitions 0..5 led by broker 1"


def produce(codec):
    def scenario(deadline):
        producer = Producer(dict(base, **{"compression.type": codec, "acks": "all"}))
        acked = []
        errors = []

        def delivered(err, msg):
            if err is not None:
                errors.append(f"{msg.key()!r}: {err}")
            else:
                acked.append(msg.offset())

        for i in range(cc.PER_CODEC):
            key, value, headers = cc.record(codec, i)
            while True:
                try:
                    producer.produce(cc.TOPIC, value=value, key=key, headers=headers,
                                     on_delivery=delivered)
                    break
                except BufferError:  # the local queue is full: serve delivery reports
                    producer.poll(0.1)
                    if deadline.expired():
                        raise Failed(f"queue still full at record {i} when the deadline passed")
            producer.poll(0)
        left = producer.flush(deadline.remaining())
        if errors:
            raise Failed(f"{len(errors)} records failed, first: {errors[0]}")
        if left or len(acked) != cc.PER_CODEC:
            raise Failed(f"{len(acked)} of {cc.PER_CODEC} acknowledged, {left} still queued "
                         "at the deadline")
        return f"{cc.PER_CODEC} records acknowledged"
    return scenario


class Adapter:
    """compat_checks' consumer adapter over a confluent_kafka.Consumer."""

    def __init__(self, consumer):
        self.consumer = consumer

    def poll(self, timeout):
        out = []
        errors = []  # every error but _PARTITION_EOF (not an error: the end of a partition)
        for msg in self.consumer.consume(num_messages=1000, timeout=timeout):
            if msg.error() is not None:
                if msg.error().fatal():
                    raise KafkaException(msg.error())
                cc.log(f"consumer error: {msg.error()}")
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    errors.append(f"{msg.topic()}/{msg.partition()}: {msg.error()}")
                continue
            out.append(Record(msg.partition(), msg.offset(), msg.key(), msg.value(),
                              msg.headers()))
        if errors:
            raise Failed(f"the consumer reported {len(errors)} error(s): " + "; ".join(errors))
        return out

    def assignment(self):
        return {tp.partition for tp in self.consumer.assignment()}

    def end_offsets(self, timeout):
        end = time.monotonic() + timeout
        out = {}
        for p in range(cc.PARTITIONS):
            marks = self.consumer.get_watermark_offsets(
                TopicPartition(cc.TOPIC, p), timeout=max(0.1, end - time.monotonic()), cached=False)
            if marks is None:
                raise Failed(f"get_watermark_offsets of partition {p}: no answer in {timeout:.0f} s")
            out[p] = marks[1]
        return out

    def commit_offsets(self, offsets):
        self._check(self.consumer.commit(
            offsets=[TopicPartition(cc.TOPIC, p, o) for p, o in sorted(offsets.items())],
            asynchronous=False))

    def commit(self):
        self._check(self.consumer.commit(asynchronous=False))

    @staticmethod
    def _check(committed):
        bad = [f"{tp.partition}: {tp.error}" for tp in committed or [] if tp.error is not None]
        if bad:
            raise Failed("commit failed for partitions " + ", ".join(bad))

    def close(self):
        self.consumer.close()


def open_assigned():
    # confluent-kafka's Consumer refuses to start without a group.id, even for assign():
    # this one is never joined and nothing is committed (automatic commit off).
    consumer = Consumer(dict(base, **{"group.id": "compat-assign-unused",
                                      "enable.auto.commit": False,
                                      "enable.auto.offset.store": False}))
    consumer.assign([TopicPartition(cc.TOPIC, p, OFFSET_BEGINNING) for p in range(cc.PARTITIONS)])
    return Adapter(consumer)


def open_group(group, topic):
    # group-resume commits by hand; group-split keeps the client's default (automatic commit).
    config = dict(base, **{"group.id": group, "auto.offset.reset": "earliest"})
    if group == cc.RESUME_GROUP:
        config["enable.auto.commit"] = False
    consumer = Consumer(config)
    consumer.subscribe([topic])
    return Adapter(consumer)


def produce_split():
    producer = Producer(dict(base, acks="all"))
    errors = []
    for i in range(cc.SPLIT_RECORDS):
        key, value = cc.split_record(i)
        producer.produce(cc.SPLIT_TOPIC, value=value, key=key,
                         on_delivery=lambda err, msg: err and errors.append(str(err)))
        producer.poll(0)
    left = producer.flush(20)
    if errors or left:
        raise Failed(f"producing the 6,000 records: {left} undelivered, errors {errors[:2]}")


def admin_groups(deadline):
    client = admin()
    problems = []
    listed = client.list_consumer_groups(request_timeout=deadline.remaining(10)).result(
        timeout=deadline.remaining(15))
    names = sorted(g.group_id for g in listed.valid)
    for group in (cc.RESUME_GROUP, cc.SPLIT_GROUP):
        if group not in names:
            problems.append(f"list_consumer_groups lacks '{group}' (got {names}, "
                            f"errors {listed.errors})")
    described = client.describe_consumer_groups(
        [cc.RESUME_GROUP], request_timeout=deadline.remaining(10))[cc.RESUME_GROUP].result(
        timeout=deadline.remaining(15))
    # ConsumerGroupDescription has no protocol type; the older list_groups() (DescribeGroups
    # underneath too) reports it as the broker sent it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = client.list_groups(group=cc.RESUME_GROUP, timeout=deadline.remaining(10))
    protocol_type = legacy[0].protocol_type if legacy else None
    state = getattr(described.state, "name", str(described.state))
    state = {"EMPTY": "Empty"}.get(state, state)
    problems += cc.check_group_description(state, protocol_type, described.members)
    if described.is_simple_consumer_group:
        problems.append("described as a simple consumer group (empty protocol type)")
    fetched = client.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(cc.RESUME_GROUP)],
        request_timeout=deadline.remaining(10))[cc.RESUME_GROUP].result(
        timeout=deadline.remaining(15))
    committed = {}
    for tp in fetched.topic_partitions:
        if tp.error is not None:
            problems.append(f"committed offset of {tp.topic}/{tp.partition}: {tp.error}")
        elif tp.topic == cc.TOPIC:
            committed[tp.partition] = tp.offset
    ends = client.list_offsets(
        {TopicPartition(cc.TOPIC, p): OffsetSpec.latest() for p in range(cc.PARTITIONS)},
        request_timeout=deadline.remaining(10))
    end_offsets = {tp.partition: f.result(timeout=deadline.remaining(15)).offset
                   for tp, f in ends.items()}
    problems += cc.check_committed(committed, end_offsets, run.codecs_passed())
    if problems:
        raise Failed(cc.summarize(problems))
    return (f"listed {len(names)} groups; compat-resume Empty, consumer, no members; "
            f"committed {dict(sorted(committed.items()))}")


def delete_topic(deadline):
    client = admin()
    futures = client.delete_topics([cc.TOPIC, cc.SPLIT_TOPIC],
                                   request_timeout=deadline.remaining(15),
                                   operation_timeout=deadline.remaining(15))
    await_topic_futures(futures, deadline, "delete_topics")

    def gone():
        topics = client.list_topics(timeout=5).topics
        return not ({cc.TOPIC, cc.SPLIT_TOPIC} & set(topics))
    if not cc.wait_until(deadline, gone, limit=10):
        left = sorted({cc.TOPIC, cc.SPLIT_TOPIC} & set(client.list_topics(timeout=5).topics))
        raise Failed(f"10 s after deletion metadata still lists {left}")
    return "both deleted and gone from metadata"


def main():
    version = confluent_kafka.version()
    version = version[0] if isinstance(version, tuple) else version
    run.client(f"confluent-kafka {version} (librdkafka {confluent_kafka.libversion()[0]})")
    # librdkafka's default: enable.idempotence=false
    cc.run_threaded_scenarios(
        run, metadata=metadata, create_topic=create_topic, produce=produce,
        open_assigned=open_assigned, idempotent={}, open_group=open_group,
        produce_split=produce_split, admin_groups=admin_groups, delete_topic=delete_topic)


if __name__ == "__main__":
    main()
