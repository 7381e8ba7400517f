import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TopicListing;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * The scenarios of compat/README.md for the Java client (kafka-clients), plus this client's
 * extra checks (ids starting with "x-"). One source, compiled against every pinned
 * kafka-clients version, so it only uses APIs present in all of them.
 *
 * Usage: RiffleCompat BOOTSTRAP [EXPECTED_VERSION]. Prints "CLIENT ..." and one
 * "RESULT <scenario> pass|fail|n/a <detail>" line per scenario on stdout; diagnostics go to
 * stderr. RIFFLE_DATA_DIR (the broker's data directory) enables the on-disk checks.
 *
 * Every scenario runs on a thread of its own with a deadline: the scenario bounds its own
 * waits by it, and if it still has not finished 15 s after it, it is reported as failed, its
 * clients are woken up or closed, and the next scenario starts.
 */
public final class RiffleCompat {
    private static final String TOPIC = "compat";
    private static final String SPLIT_TOPIC = "compat-split";
    private static final String RESUME_GROUP = "compat-resume";
    private static final String SPLIT_GROUP = "compat-split";
    private static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    private static final int PER_CODEC = 10_000;
    private static final int PARTITIONS = 6;
    private static final int SPLIT_RECORDS = 6_000;
    private static final int RESUME_FIRST = 3_000;
    private static final int RESUME_FIRST_PARTITIONS = 2;
    // The extra checks' own topics, so the standard scenarios' topics and offsets are untouched.
    private static final String CONFIGS_TOPIC = "x-configs";
    private static final String GROW_TOPIC = "x-partitions";
    private static final String RECORDS_TOPIC = "x-records";
    private static final String DESCRIBE_TOPIC = "x-describe";
    private static final int DESCRIBE_PARTITIONS = 5;
    private static final int RECORDS_PARTITIONS = 3;
    private static final int RECORDS_COUNT = 3_000;

    /** The whole run stays well inside the 300 s after which compat.sh kills run.sh. */
    private static final int RUN_BUDGET_SECONDS = 240;
    private final long runDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(RUN_BUDGET_SECONDS);
    private final String bootstrap;
    private final String host;
    private final int port;
    private final String dataDir = System.getenv("RIFFLE_DATA_DIR");
    private final Map<String, String> outcomes = new ConcurrentHashMap<>();

    /** Codecs whose produce scenario passed, in order; N is 10,000 times their count. */
    private final List<String> passedCodecs = new CopyOnWriteArrayList<>();
    /** Where the producer was told each record of `compat` went: key to partition/offset. */
    private final Map<String, Position> acknowledged = new ConcurrentHashMap<>();
    /** Where consume-assign found each record: key to partition/offset. */
    private volatile Map<String, Position> consumedAt;
    /** What x-idempotent-on-disk read from the stored batches of x-records, per partition. */
    private final Map<Integer, StoredProducer> stored = new ConcurrentHashMap<>();
    private volatile int recordsProducedToExtraTopic = -1;

    private record Position(int partition, long offset) {
        @Override
        public String toString() {
            return partition + "@" + offset;
        }
    }

    private record StoredProducer(long producerId, short epoch, int lastSequence, long records) {
    }

    /** A scenario's failure with the detail to report. */
    private static final class Failure extends Exception {
        Failure(String detail) {
            super(detail);
        }
    }

    /** The client lacks what the scenario needs; the detail says what. */
    private static final class NotApplicable extends Exception {
        NotApplicable(String detail) {
            super(detail);
        }
    }

    private interface Body {
        /** Returns the detail of a pass; throws Failure or NotApplicable otherwise. */
        String run(Scenario scenario) throws Exception;
    }

    /** One running scenario: its deadline, what it is doing now, and the clients it opened. */
    private static final class Scenario {
        final String id;
        final long deadline;
        volatile String stage = "starting";
        final List<Object> clients = new CopyOnWriteArrayList<>();
        /** Consumers owned by other threads of the scenario: only woken up on abort. */
        final List<KafkaConsumer<?, ?>> foreignConsumers = new CopyOnWriteArrayList<>();

        Scenario(String id, int seconds) {
            this.id = id;
            this.deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        }

        long remainingMs() {
            return Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
        }

        boolean expired() {
            return System.nanoTime() >= deadline;
        }

        void stage(String what) {
            stage = what;
            System.err.println("[" + id + "] " + what);
        }

        <T> T track(T client) {
            clients.add(client);
            return client;
        }

        /** Waits for a client future within the deadline. */
        <T> T get(KafkaFuture<T> future, String what) throws Exception {
            stage(what);
            try {
                return future.get(Math.max(1, remainingMs()), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException timeout) {
                throw new Failure(what + ": no answer before the scenario's deadline");
            }
        }

        /** Closes this thread's clients, newest first, each with a bounded wait. */
        void closeAll() {
            List<Object> open = new ArrayList<>(clients);
            clients.clear();
            for (int index = open.size() - 1; index >= 0; index--) {
                Object client = open.get(index);
                try {
                    if (client instanceof KafkaConsumer) {
                        ((KafkaConsumer<?, ?>) client).close(Duration.ofSeconds(10));
                    } else if (client instanceof KafkaProducer) {
                        ((KafkaProducer<?, ?>) client).close(Duration.ofSeconds(10));
                    } else if (client instanceof Admin) {
                        ((Admin) client).close(Duration.ofSeconds(5));
                    }
                } catch (Throwable ignored) {
                    System.err.println("[" + id + "] closing " + client + ": " + ignored);
                }
            }
        }

        /** From another thread: makes the scenario's blocked calls return. */
        void abort() {
            for (Object client : clients) {
                try {
                    if (client instanceof KafkaConsumer) {
                        ((KafkaConsumer<?, ?>) client).wakeup();
                    } else if (client instanceof KafkaProducer) {
                        ((KafkaProducer<?, ?>) client).close(Duration.ZERO);
                    } else if (client instanceof Admin) {
                        ((Admin) client).close(Duration.ZERO);
                    }
                } catch (Throwable ignored) {
                    // Best effort: the process exits at the end anyway.
                }
            }
            for (KafkaConsumer<?, ?> consumer : foreignConsumers) {
                consumer.wakeup();
            }
        }
    }

    private RiffleCompat(String bootstrap) {
        this.bootstrap = bootstrap;
        int colon = bootstrap.lastIndexOf(':');
        this.host = bootstrap.substring(0, colon);
        this.port = Integer.parseInt(bootstrap.substring(colon + 1));
    }

    public static void main(String[] args) {
        String version = AppInfoParser.getVersion();
        String expected = args.length > 1 ? args[1] : version;
        System.out.println("CLIENT kafka-clients " + version + " (commit " + AppInfoParser.getCommitId() + ", Java "
            + System.getProperty("java.version") + ")" + (version.equals(expected) ? "" : " but " + expected + " was pinned"));
        System.out.flush();
        new RiffleCompat(args[0]).runAll();
        System.out.flush();
        // Threads of a scenario that missed its deadline must not keep the JVM alive.
        System.exit(0);
    }

    private void runAll() {
        run("metadata", 60, this::metadata);
        run("create-topic", 60, this::createTopic);
        for (String codec : CODECS) {
            run("produce-" + codec, 60, scenario -> produce(scenario, codec));
        }
        run("consume-assign", 60, this::consumeAssign);
        run("x-acked-offsets", 10, this::ackedOffsets);
        run("group-resume", 60, this::groupResume);
        run("group-split", 60, this::groupSplit);
        run("admin-groups", 60, this::adminGroups);
        run("delete-topic", 60, this::deleteTopic);
        // The extra checks, on topics of their own, after the standard scenarios.
        run("x-configs", 60, this::configs);
        run("x-broker-configs", 60, this::brokerConfigs);
        run("x-create-partitions", 60, this::createPartitions);
        run("x-idempotent-on-disk", 60, this::idempotentOnDisk);
        run("x-describe-producers", 60, this::describeProducers);
        run("x-describe-log-dirs", 60, this::describeLogDirs);
        run("x-delete-records", 60, this::deleteRecords);
        run("x-describe-topics", 60, this::describeTopics);
        run("x-describe-cluster", 30, this::describeCluster);
        run("x-recompressed", 60, this::recompressed);
        run("x-compacted", 60, this::compacted);
    }

    // ---------------------------------------------------------------- running and reporting

    private void run(String id, int wanted, Body body) {
        // A scenario may overrun its deadline by 15 s before it is abandoned, and by 15 s more
        // while its clients are torn down: keep that margin inside the run's budget.
        long left = TimeUnit.NANOSECONDS.toSeconds(runDeadline - System.nanoTime()) - 30;
        if (left < 5) {
            report(id, "fail", "not run: the run's " + RUN_BUDGET_SECONDS + " s budget was spent by earlier scenarios");
            return;
        }
        int seconds = (int) Math.min(wanted, left);
        Scenario scenario = new Scenario(id, seconds);
        long started = System.nanoTime();
        System.err.println("=== " + id);
        Thread thread = new Thread(() -> {
            try {
                report(id, "pass", body.run(scenario));
            } catch (Failure failure) {
                report(id, "fail", failure.getMessage());
            } catch (NotApplicable notApplicable) {
                report(id, "n/a", notApplicable.getMessage());
            } catch (Throwable thrown) {
                thrown.printStackTrace();
                report(id, "fail", describe(thrown) + " (while: " + scenario.stage + ")");
            } finally {
                scenario.closeAll();
            }
        }, "scenario-" + id);
        thread.setDaemon(true);
        thread.start();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(seconds + 15));
            if (thread.isAlive()) {
                report(id, "fail", "no result " + (seconds + 15) + " s after the start (deadline " + seconds
                    + " s); stuck while: " + scenario.stage);
                scenario.abort();
                thread.join(15_000);
            }
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
        }
        System.err.printf("=== %s: %s in %.1f s%n", id, outcomes.get(id), (System.nanoTime() - started) / 1e9);
    }

    private synchronized void report(String id, String outcome, String detail) {
        if (outcomes.putIfAbsent(id, outcome) != null) {
            System.err.println("[" + id + "] late " + outcome + " ignored: " + detail);
            return;
        }
        String text = detail == null ? "" : detail.replaceAll("\\s+", " ").trim();
        if (text.length() > 700) {
            text = text.substring(0, 700) + "...";
        }
        System.out.println("RESULT " + id + " " + outcome + (text.isEmpty() ? "" : " " + text));
        System.out.flush();
    }

    /** The exception and its causes, as "Type: message; caused by ...". */
    private static String describe(Throwable thrown) {
        StringBuilder text = new StringBuilder();
        Throwable current = thrown;
        for (int depth = 0; current != null && depth < 4; depth++) {
            if (current instanceof ExecutionException && current.getCause() != null) {
                current = current.getCause();
            }
            if (text.length() > 0) {
                text.append("; caused by ");
            }
            text.append(current.getClass().getSimpleName());
            if (current.getMessage() != null) {
                text.append(": ").append(current.getMessage());
            }
            current = current.getCause() == current ? null : current.getCause();
        }
        return text.toString();
    }

    private static Throwable rootCause(Throwable thrown) {
        Throwable current = thrown;
        while (current.getCause() != null && current.getCause() != current) {
            current = current.getCause();
        }
        return current;
    }

    // ---------------------------------------------------------------- clients

    private Admin admin(Scenario scenario) {
        Properties config = new Properties();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(AdminClientConfig.CLIENT_ID_CONFIG, "compat-" + scenario.id);
        config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return scenario.track(Admin.create(config));
    }

    /** The default producer (idempotent since Kafka 3.0) with acks=all and a codec. */
    private KafkaProducer<String, String> producer(Scenario scenario, String codec) {
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ProducerConfig.CLIENT_ID_CONFIG, "compat-" + scenario.id);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "40000");
        return scenario.track(new KafkaProducer<>(config));
    }

    /** A consumer starting at the earliest offset, committing only when told; group may be null. */
    private KafkaConsumer<String, String> consumer(Scenario scenario, String group, String name) {
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, "compat-" + scenario.id + "-" + name);
        if (group != null) {
            config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        return new KafkaConsumer<>(config);
    }

    private static String value(String codec, int index) {
        return "value-" + codec + "-" + index + "-" + "x".repeat(index % 100);
    }

    private static String header(ConsumerRecord<?, ?> record, int position, String key) {
        Header[] headers = record.headers().toArray();
        if (position >= headers.length || !headers[position].key().equals(key) || headers[position].value() == null) {
            return null;
        }
        return new String(headers[position].value(), StandardCharsets.UTF_8);
    }

    private int expectedRecords() {
        return PER_CODEC * passedCodecs.size();
    }

    /** Keeps the first few problems of a check, and counts them all. */
    private static final class Problems {
        private final List<String> first = new ArrayList<>();
        private int count;

        void add(String problem) {
            if (count++ < 5) {
                first.add(problem);
            }
        }

        boolean any() {
            return count > 0;
        }

        @Override
        public String toString() {
            return count + " problem(s): " + String.join("; ", first) + (count > first.size() ? "; ..." : "");
        }
    }

    private static List<TopicPartition> partitions(String topic, int count) {
        List<TopicPartition> partitions = new ArrayList<>();
        for (int partition = 0; partition < count; partition++) {
            partitions.add(new TopicPartition(topic, partition));
        }
        return partitions;
    }

    // ---------------------------------------------------------------- 1. metadata

    private String metadata(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        DescribeClusterResult cluster = admin.describeCluster();
        Collection<Node> nodes = scenario.get(cluster.nodes(), "describeCluster");
        String clusterId = scenario.get(cluster.clusterId(), "describeCluster: cluster id");
        Set<String> topics = scenario.get(admin.listTopics().names(), "listTopics");
        Node broker = nodes.stream().filter(node -> node.id() == 1).findFirst().orElse(null);
        if (broker == null || !broker.host().equals(host) || broker.port() != port) {
            throw new Failure("expected broker 1 at " + bootstrap + ", got nodes " + nodes);
        }
        return "broker 1 at " + broker.host() + ":" + broker.port() + ", " + nodes.size() + " node(s), cluster id "
            + clusterId + ", " + topics.size() + " topic(s) listed";
    }

    // ---------------------------------------------------------------- 2. create-topic

    private String createTopic(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        CreateTopicsResult created = admin.createTopics(List.of(
            new NewTopic(TOPIC, PARTITIONS, (short) 1), new NewTopic(SPLIT_TOPIC, PARTITIONS, (short) 1)));
        Problems problems = new Problems();
        for (String topic : List.of(TOPIC, SPLIT_TOPIC)) {
            try {
                scenario.get(created.values().get(topic), "createTopics " + topic);
                int count = scenario.get(created.numPartitions(topic), "createTopics " + topic + ": partition count");
                int factor = scenario.get(created.replicationFactor(topic), "createTopics " + topic + ": replication");
                if (count != PARTITIONS || factor != 1) {
                    problems.add(topic + " created with " + count + " partitions and replication factor " + factor
                        + ", asked for " + PARTITIONS + " and 1");
                }
            } catch (ExecutionException error) {
                problems.add("creating " + topic + ": " + describe(error));
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String last = "not described";
        while (true) {
            try {
                TopicDescription description =
                    scenario.get(admin.describeTopics(List.of(TOPIC)).allTopicNames(), "describeTopics").get(TOPIC);
                List<String> seen = new ArrayList<>();
                boolean good = description.partitions().size() == PARTITIONS;
                for (int index = 0; index < description.partitions().size(); index++) {
                    TopicPartitionInfo info = description.partitions().get(index);
                    Node leader = info.leader();
                    seen.add(info.partition() + ":" + (leader == null ? "none" : leader.id()));
                    good &= info.partition() == index && leader != null && leader.id() == 1;
                }
                last = "partition:leader " + seen;
                if (good) {
                    return "both topics created; metadata shows " + TOPIC + " with " + last;
                }
            } catch (ExecutionException error) {
                last = describe(error);
            }
            if (System.nanoTime() > until || scenario.expired()) {
                throw new Failure("after 10 s metadata shows " + TOPIC + " with " + last + ", expected partitions 0..5 led by broker 1");
            }
            Thread.sleep(200);
        }
    }

    // ---------------------------------------------------------------- 3. produce-<codec>

    private String produce(Scenario scenario, String codec) throws Exception {
        long started = System.nanoTime();
        Map<String, Position> positions = new ConcurrentHashMap<>();
        try {
            KafkaProducer<String, String> producer = producer(scenario, codec);
            sendAll(scenario, producer, PER_CODEC, index -> {
                ProducerRecord<String, String> record = new ProducerRecord<>(TOPIC, codec + "-" + index, value(codec, index));
                record.headers().add("codec", codec.getBytes(StandardCharsets.UTF_8));
                record.headers().add("index", Integer.toString(index).getBytes(StandardCharsets.UTF_8));
                return record;
            }, (record, metadata) -> positions.put(record.key(), new Position(metadata.partition(), metadata.offset())));
        } catch (Failure reported) {
            throw reported;
        } catch (Throwable error) {
            if (rootCause(error) instanceof LinkageError) {
                // The codec's jar is pinned in install.sh: failing to load it is a failure.
                throw new Failure("kafka-clients cannot load its " + codec + " codec: " + describe(error));
            }
            throw error;
        }
        acknowledged.putAll(positions);
        passedCodecs.add(codec);
        return PER_CODEC + " records acknowledged in " + (System.nanoTime() - started) / 1_000_000 + " ms";
    }

    /**
     * Sends count records made by `make`, flushes, and fails unless every one was acknowledged.
     * Stops sending at the deadline or at the first failed record (the scenario has failed).
     */
    private static void sendAll(Scenario scenario, KafkaProducer<String, String> producer, int count,
                                IntFunction<ProducerRecord<String, String>> make,
                                BiConsumer<ProducerRecord<String, String>, RecordMetadata> onAck) throws Failure {
        AtomicInteger acked = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        AtomicReference<String> firstError = new AtomicReference<>();
        scenario.stage("sending " + count + " records");
        int sent = 0;
        for (; sent < count && failed.get() == 0 && !scenario.expired(); sent++) {
            ProducerRecord<String, String> record = make.apply(sent);
            producer.send(record, (metadata, exception) -> {
                if (exception != null) {
                    failed.incrementAndGet();
                    firstError.compareAndSet(null, record.key() + ": " + describe(exception));
                } else {
                    acked.incrementAndGet();
                    onAck.accept(record, metadata);
                }
            });
        }
        scenario.stage("flush: " + acked.get() + " of " + sent + " acknowledged so far");
        producer.flush();
        if (acked.get() != count) {
            throw new Failure(acked.get() + " of " + count + " records acknowledged (" + sent + " sent, " + failed.get() + " failed"
                + (scenario.expired() ? ", deadline passed" : "") + "); first error: " + firstError.get());
        }
    }

    // ---------------------------------------------------------------- 4. consume-assign

    private String consumeAssign(Scenario scenario) throws Exception {
        if (passedCodecs.isEmpty()) {
            throw new Failure("prerequisite produce-* failed: no codec's records were produced");
        }
        int expected = expectedRecords();
        KafkaConsumer<String, String> consumer = scenario.track(consumer(scenario, null, "assign"));
        List<TopicPartition> partitions = partitions(TOPIC, PARTITIONS);
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        List<ConsumerRecord<String, String>> records = new ArrayList<>(expected);
        scenario.stage("polling for " + expected + " records");
        while (records.size() < expected && !scenario.expired()) {
            for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(Math.min(500, Math.max(1, scenario.remainingMs()))))) {
                records.add(record);
            }
        }
        Problems problems = new Problems();
        if (records.size() != expected) {
            problems.add("holds " + records.size() + " records, expected " + expected);
        }
        // Reading stops at N, so extra records would go unseen: the partitions' end offsets
        // (high watermarks) must sum to N and each be right after the highest offset read there.
        scenario.stage("endOffsets");
        try {
            Map<Integer, Long> endOffsets = new TreeMap<>();
            consumer.endOffsets(partitions, Duration.ofMillis(Math.max(2_000, Math.min(10_000, scenario.remainingMs()))))
                .forEach((partition, offset) -> endOffsets.put(partition.partition(), offset));
            Map<Integer, Long> highestPlusOne = new TreeMap<>();
            for (ConsumerRecord<String, String> record : records) {
                highestPlusOne.merge(record.partition(), record.offset() + 1, Math::max);
            }
            long endSum = endOffsets.values().stream().mapToLong(Long::longValue).sum();
            if (endSum != expected) {
                problems.add("end offsets " + endOffsets + " sum to " + endSum + ", expected N = " + expected);
            }
            for (int partition = 0; partition < PARTITIONS; partition++) {
                Long end = endOffsets.get(partition);
                long after = highestPlusOne.getOrDefault(partition, 0L);
                if (end == null || end != after) {
                    problems.add("partition " + partition + ": end offset " + end + ", highest offset read + 1 is " + after);
                }
            }
        } catch (RuntimeException error) {
            problems.add("endOffsets failed: " + describe(error));
        }
        Map<String, Position> positions = new HashMap<>();
        Map<Integer, Long> nextOffset = new TreeMap<>();
        Map<String, Integer> lastIndex = new HashMap<>(); // "<partition>/<codec>" to index
        for (ConsumerRecord<String, String> record : records) {
            String key = record.key();
            Position position = new Position(record.partition(), record.offset());
            if (key == null) {
                problems.add("record " + position + " has no key");
                continue;
            }
            if (positions.put(key, position) != null) {
                problems.add("key " + key + " twice");
            }
            long wanted = nextOffset.getOrDefault(record.partition(), 0L);
            if (record.offset() != wanted) {
                problems.add("partition " + record.partition() + ": offset " + record.offset() + " where " + wanted + " was next");
            }
            nextOffset.put(record.partition(), record.offset() + 1);
            int dash = key.lastIndexOf('-');
            String codec = dash > 0 ? key.substring(0, dash) : "";
            int index;
            try {
                index = Integer.parseInt(key.substring(dash + 1));
            } catch (NumberFormatException bad) {
                index = -1;
            }
            if (!passedCodecs.contains(codec) || index < 0 || index >= PER_CODEC) {
                problems.add("unexpected key " + key + " at " + position);
                continue;
            }
            if (!value(codec, index).equals(record.value())) {
                problems.add("key " + key + " has value " + record.value());
            }
            if (record.headers().toArray().length != 2 || !codec.equals(header(record, 0, "codec"))
                || !Integer.toString(index).equals(header(record, 1, "index"))) {
                problems.add("key " + key + " has headers " + List.of(record.headers().toArray()));
            }
            Integer previous = lastIndex.put(record.partition() + "/" + codec, index);
            if (previous != null && previous >= index) {
                problems.add("partition " + record.partition() + ": " + key + " at offset " + record.offset() + " after "
                    + codec + "-" + previous + " (send order lost)");
            }
        }
        if (nextOffset.size() != PARTITIONS) {
            problems.add("only partitions " + nextOffset.keySet() + " hold records");
        }
        consumedAt = positions;
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return records.size() + " records, per partition " + nextOffset + " (next offsets, equal to the end offsets), all intact and in send order";
    }

    /** Extra: every record sits at the partition and offset the producer was acknowledged. */
    private String ackedOffsets(Scenario scenario) throws Exception {
        Map<String, Position> consumed = consumedAt;
        if (consumed == null || consumed.isEmpty()) {
            throw new Failure("prerequisite consume-assign failed: no records were read");
        }
        Problems problems = new Problems();
        for (Map.Entry<String, Position> entry : acknowledged.entrySet()) {
            Position found = consumed.get(entry.getKey());
            if (found == null) {
                problems.add(entry.getKey() + " acknowledged at " + entry.getValue() + " but not read");
            } else if (!found.equals(entry.getValue())) {
                problems.add(entry.getKey() + " acknowledged at " + entry.getValue() + " but read at " + found);
            }
        }
        for (String key : consumed.keySet()) {
            if (!acknowledged.containsKey(key)) {
                problems.add(key + " read at " + consumed.get(key) + " but never acknowledged");
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return acknowledged.size() + " records read at exactly the partition and offset their produce acknowledgement gave";
    }

    // ---------------------------------------------------------------- 5. group-resume

    private String groupResume(Scenario scenario) throws Exception {
        if (passedCodecs.isEmpty()) {
            throw new Failure("prerequisite produce-* failed: no codec's records were produced");
        }
        int expected = expectedRecords();
        Map<String, Position> seenByA = new HashMap<>();
        Map<TopicPartition, OffsetAndMetadata> committed = new TreeMap<>(
            (left, right) -> Integer.compare(left.partition(), right.partition()));
        KafkaConsumer<String, String> first = scenario.track(consumer(scenario, RESUME_GROUP, "A"));
        first.subscribe(List.of(TOPIC));
        // A processes whole polls until it holds 3,000 records from at least 2 partitions;
        // `committed` has one entry per partition A processed records of.
        scenario.stage("A polls until it holds " + RESUME_FIRST + " records from " + RESUME_FIRST_PARTITIONS + " partitions");
        while ((seenByA.size() < RESUME_FIRST || committed.size() < RESUME_FIRST_PARTITIONS) && !scenario.expired()) {
            for (ConsumerRecord<String, String> record : first.poll(Duration.ofMillis(500))) {
                seenByA.put(record.key(), new Position(record.partition(), record.offset()));
                committed.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
            }
        }
        if (seenByA.size() < RESUME_FIRST || committed.size() < RESUME_FIRST_PARTITIONS) {
            throw new Failure("consumer A held only " + seenByA.size() + " records from " + committed.size()
                + " partitions at the deadline, expected at least " + RESUME_FIRST + " from " + RESUME_FIRST_PARTITIONS);
        }
        System.err.println("[group-resume] A processed " + seenByA.size() + " records from " + committed.size()
            + " partitions, commits " + committed);
        scenario.stage("A commits " + committed);
        first.commitSync(committed, Duration.ofMillis(Math.max(1, scenario.remainingMs())));
        scenario.stage("A closes");
        first.close(Duration.ofSeconds(10));
        scenario.clients.remove(first);

        KafkaConsumer<String, String> second = scenario.track(consumer(scenario, RESUME_GROUP, "B"));
        second.subscribe(List.of(TOPIC));
        Map<String, Position> seenByB = new HashMap<>();
        Map<Integer, Long> firstOfB = new TreeMap<>();
        Problems problems = new Problems();
        scenario.stage("B polls until A and B hold " + expected);
        while (seenByA.size() + seenByB.size() < expected && !scenario.expired()) {
            for (ConsumerRecord<String, String> record : second.poll(Duration.ofMillis(500))) {
                firstOfB.putIfAbsent(record.partition(), record.offset());
                Position position = new Position(record.partition(), record.offset());
                if (seenByA.containsKey(record.key())) {
                    problems.add("key " + record.key() + " seen by A at " + seenByA.get(record.key()) + " and by B at " + position);
                }
                if (seenByB.put(record.key(), position) != null) {
                    problems.add("B read key " + record.key() + " twice");
                }
            }
        }
        scenario.stage("B commits");
        second.commitSync(Duration.ofMillis(Math.max(1, scenario.remainingMs())));
        second.close(Duration.ofSeconds(10));
        scenario.clients.remove(second);

        Map<Integer, Long> committedByA = new TreeMap<>();
        committed.forEach((partition, offset) -> committedByA.put(partition.partition(), offset.offset()));
        for (Map.Entry<Integer, Long> entry : firstOfB.entrySet()) {
            long wanted = committedByA.getOrDefault(entry.getKey(), 0L);
            if (entry.getValue() != wanted) {
                problems.add("B's first record in partition " + entry.getKey() + " is at offset " + entry.getValue()
                    + ", A committed " + wanted);
            }
        }
        if (firstOfB.entrySet().stream().noneMatch(entry -> entry.getValue() > 0
                && entry.getValue().equals(committedByA.get(entry.getKey())))) {
            problems.add("B resumed at a non-zero offset in no partition; A committed " + committedByA
                + ", B started at " + firstOfB);
        }
        int missing = 0;
        String example = null;
        for (String codec : passedCodecs) {
            for (int index = 0; index < PER_CODEC; index++) {
                String key = codec + "-" + index;
                if (!seenByA.containsKey(key) && !seenByB.containsKey(key)) {
                    missing++;
                    example = example == null ? key : example;
                }
            }
        }
        if (missing > 0) {
            problems.add(missing + " of " + expected + " records seen by neither (e.g. " + example + "); A held " + seenByA.size()
                + ", B " + seenByB.size());
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return "A processed " + seenByA.size() + " and committed " + committedByA + "; B read " + seenByB.size()
            + " starting at those offsets " + firstOfB;
    }

    // ---------------------------------------------------------------- 6. group-split

    /** A member of the split group, polling on its own thread. */
    private final class Member implements Runnable {
        final String name;
        final Scenario scenario;
        final CountDownLatch start;
        volatile Set<Integer> assignment = Set.of();
        volatile boolean stop;
        volatile Throwable error;
        final ConcurrentLinkedQueue<ConsumerRecord<String, String>> records = new ConcurrentLinkedQueue<>();
        final AtomicInteger received = new AtomicInteger();

        Member(String name, Scenario scenario, CountDownLatch start) {
            this.name = name;
            this.scenario = scenario;
            this.start = start;
        }

        @Override
        public void run() {
            KafkaConsumer<String, String> own = null;
            try {
                own = consumer(scenario, SPLIT_GROUP, name);
                scenario.foreignConsumers.add(own);
                start.await();
                own.subscribe(List.of(SPLIT_TOPIC));
                while (!stop) {
                    for (ConsumerRecord<String, String> record : own.poll(Duration.ofMillis(200))) {
                        records.add(record);
                        received.incrementAndGet();
                    }
                    Set<Integer> now = new TreeSet<>();
                    for (TopicPartition partition : own.assignment()) {
                        now.add(partition.partition());
                    }
                    assignment = now;
                }
            } catch (WakeupException woken) {
                error = woken;
            } catch (Throwable thrown) {
                error = thrown;
                thrown.printStackTrace();
            } finally {
                if (own != null) {
                    try {
                        own.close(Duration.ofSeconds(10));
                    } catch (Throwable ignored) {
                        System.err.println("[group-split] closing " + name + ": " + ignored);
                    }
                }
            }
        }
    }

    private String groupSplit(Scenario scenario) throws Exception {
        long started = System.nanoTime();
        CountDownLatch start = new CountDownLatch(1);
        Member one = new Member("one", scenario, start);
        Member two = new Member("two", scenario, start);
        Thread first = new Thread(one, "split-one");
        Thread second = new Thread(two, "split-two");
        first.setDaemon(true);
        second.setDaemon(true);
        first.start();
        second.start();
        try {
            start.countDown();
            scenario.stage("waiting for a split assignment");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            Set<Integer> ownedByOne;
            Set<Integer> ownedByTwo;
            while (true) {
                ownedByOne = one.assignment;
                ownedByTwo = two.assignment;
                Set<Integer> union = new TreeSet<>(ownedByOne);
                union.addAll(ownedByTwo);
                boolean disjoint = union.size() == ownedByOne.size() + ownedByTwo.size();
                if (!ownedByOne.isEmpty() && !ownedByTwo.isEmpty() && disjoint && union.equals(Set.of(0, 1, 2, 3, 4, 5))) {
                    break;
                }
                if (one.error != null || two.error != null) {
                    throw new Failure("a member failed while joining: " + describe(one.error != null ? one.error : two.error));
                }
                if (System.nanoTime() > until || scenario.expired()) {
                    throw new Failure("no split assignment within 30 s: member one has " + ownedByOne + ", member two has " + ownedByTwo);
                }
                Thread.sleep(100);
            }
            long splitAfter = (System.nanoTime() - started) / 1_000_000;

            KafkaProducer<String, String> producer = producer(scenario, "none");
            sendAll(scenario, producer, SPLIT_RECORDS,
                index -> new ProducerRecord<>(SPLIT_TOPIC, "split-" + index, Integer.toString(index)), (record, metadata) -> { });
            scenario.stage("consuming " + SPLIT_RECORDS + " records");
            while (one.received.get() + two.received.get() < SPLIT_RECORDS && !scenario.expired()
                && one.error == null && two.error == null) {
                Thread.sleep(50);
            }
            // Anything beyond the 6,000 would be a duplicate: give it a moment to show up.
            Thread.sleep(Math.min(1000, scenario.remainingMs()));
            one.stop = true;
            two.stop = true;
            first.join(Math.max(1, Math.min(20_000, scenario.remainingMs() + 10_000)));
            second.join(Math.max(1, Math.min(20_000, scenario.remainingMs() + 10_000)));

            Problems problems = new Problems();
            Map<String, String> owner = new HashMap<>();
            for (Member member : List.of(one, two)) {
                Set<Integer> own = member == one ? ownedByOne : ownedByTwo;
                if (member.error != null) {
                    problems.add("member " + member.name + " failed: " + describe(member.error));
                }
                if (member.records.isEmpty()) {
                    problems.add("member " + member.name + " received nothing");
                }
                for (ConsumerRecord<String, String> record : member.records) {
                    if (!own.contains(record.partition())) {
                        problems.add("member " + member.name + " (partitions " + own + ") received " + record.key() + " from partition "
                            + record.partition());
                    }
                    String before = owner.put(record.key(), member.name);
                    if (before != null) {
                        problems.add("key " + record.key() + " arrived twice (" + before + ", " + member.name + ")");
                    }
                    if (!record.key().equals("split-" + record.value())) {
                        problems.add("key " + record.key() + " has value " + record.value());
                    }
                }
            }
            int missing = 0;
            for (int index = 0; index < SPLIT_RECORDS; index++) {
                if (!owner.containsKey("split-" + index)) {
                    missing++;
                }
            }
            if (missing > 0) {
                problems.add(missing + " of " + SPLIT_RECORDS + " records never arrived");
            }
            if (first.isAlive() || second.isAlive()) {
                problems.add("a member did not close within its time");
            }
            if (problems.any()) {
                throw new Failure(problems.toString());
            }
            return "split after " + splitAfter + " ms: one " + ownedByOne + " got " + one.records.size() + ", two " + ownedByTwo + " got "
                + two.records.size();
        } finally {
            one.stop = true;
            two.stop = true;
            start.countDown();
            first.join(20_000);
            second.join(20_000);
        }
    }

    // ---------------------------------------------------------------- 7. admin-groups

    private String adminGroups(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        Problems problems = new Problems();
        Collection<ConsumerGroupListing> listed = scenario.get(admin.listConsumerGroups().all(), "listConsumerGroups");
        Set<String> groups = new TreeSet<>();
        listed.forEach(listing -> groups.add(listing.groupId()));
        if (!groups.contains(RESUME_GROUP) || !groups.contains(SPLIT_GROUP)) {
            problems.add("listed groups " + groups + ", expected " + RESUME_GROUP + " and " + SPLIT_GROUP);
        }
        ConsumerGroupDescription description = scenario.get(
            admin.describeConsumerGroups(List.of(RESUME_GROUP)).describedGroups().get(RESUME_GROUP), "describeConsumerGroups");
        String state = String.valueOf(description.state());
        // The Java client calls a group whose protocol type is empty "simple", one of type "consumer" not.
        String protocolType = description.isSimpleConsumerGroup() ? "" : "consumer";
        if (!state.equals("Empty") || !protocolType.equals("consumer") || !description.members().isEmpty()) {
            problems.add(RESUME_GROUP + " described with state " + state + ", protocol type '" + protocolType + "', "
                + description.members().size() + " members; expected Empty, 'consumer', none");
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = scenario.get(
            admin.listConsumerGroupOffsets(RESUME_GROUP).partitionsToOffsetAndMetadata(), "listConsumerGroupOffsets");
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        partitions(TOPIC, PARTITIONS).forEach(partition -> latest.put(partition, OffsetSpec.latest()));
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = scenario.get(admin.listOffsets(latest).all(), "listOffsets");
        Map<Integer, String> compared = new TreeMap<>();
        long sum = 0;
        for (TopicPartition partition : partitions(TOPIC, PARTITIONS)) {
            OffsetAndMetadata offset = offsets.get(partition);
            long end = ends.get(partition).offset();
            compared.put(partition.partition(), (offset == null ? "none" : Long.toString(offset.offset())) + "/" + end);
            if (offset == null || offset.offset() != end) {
                problems.add("partition " + partition.partition() + " committed " + (offset == null ? "nothing" : offset.offset())
                    + ", end offset " + end);
            } else {
                sum += offset.offset();
            }
        }
        if (offsets.size() != PARTITIONS) {
            problems.add(offsets.size() + " committed offsets: " + offsets.keySet());
        }
        if (sum != expectedRecords()) {
            problems.add("committed offsets sum to " + sum + ", expected N = " + expectedRecords());
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return "groups " + groups + "; " + RESUME_GROUP + " Empty, consumer, no members; committed/end " + compared;
    }

    // ---------------------------------------------------------------- 8. delete-topic

    private String deleteTopic(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        Map<String, KafkaFuture<Void>> deleted = admin.deleteTopics(List.of(TOPIC, SPLIT_TOPIC)).topicNameValues();
        Problems problems = new Problems();
        for (String topic : List.of(TOPIC, SPLIT_TOPIC)) {
            try {
                scenario.get(deleted.get(topic), "deleteTopics " + topic);
            } catch (ExecutionException error) {
                problems.add("deleting " + topic + ": " + describe(error));
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        long started = System.nanoTime();
        long until = started + TimeUnit.SECONDS.toNanos(10);
        Set<String> topics;
        while (true) {
            topics = scenario.get(admin.listTopics().names(), "listTopics");
            if (!topics.contains(TOPIC) && !topics.contains(SPLIT_TOPIC)) {
                return "both deleted; gone from metadata after " + (System.nanoTime() - started) / 1_000_000 + " ms";
            }
            if (System.nanoTime() > until || scenario.expired()) {
                throw new Failure("10 s after deleting, metadata still lists " + topics);
            }
            Thread.sleep(200);
        }
    }

    // ---------------------------------------------------------------- extra checks

    /** describeConfigs and incrementalAlterConfigs on a topic of their own. */
    private String configs(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        scenario.get(admin.createTopics(List.of(new NewTopic(CONFIGS_TOPIC, 1, (short) 1))).all(), "createTopics " + CONFIGS_TOPIC);
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, CONFIGS_TOPIC);
        ConfigEntry before = scenario.get(admin.describeConfigs(List.of(resource)).all(), "describeConfigs").get(resource).get("retention.ms");
        if (before == null || !"604800000".equals(before.value()) || before.source() != ConfigEntry.ConfigSource.DEFAULT_CONFIG) {
            throw new Failure("describeConfigs: retention.ms is " + before + ", expected 604800000 from DEFAULT_CONFIG");
        }
        scenario.get(admin.incrementalAlterConfigs(Map.of(resource, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)))).all(),
            "incrementalAlterConfigs SET and APPEND");
        Config after = scenario.get(admin.describeConfigs(List.of(resource)).all(), "describeConfigs after").get(resource);
        ConfigEntry retention = after.get("retention.ms");
        ConfigEntry policy = after.get("cleanup.policy");
        if (retention == null || !"3600000".equals(retention.value())
            || retention.source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG || policy == null
            || !"delete,compact".equals(policy.value())) {
            throw new Failure("after SET retention.ms=3600000 and APPEND cleanup.policy=compact: retention.ms " + retention
                + ", cleanup.policy " + policy);
        }
        try {
            scenario.get(admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET)))).all(), "invalid value");
            throw new Failure("retention.ms=soon was accepted, expected INVALID_CONFIG");
        } catch (ExecutionException expected) {
            if (!(expected.getCause() instanceof InvalidConfigurationException)) {
                throw new Failure("retention.ms=soon refused with " + describe(expected) + ", expected INVALID_CONFIG");
            }
        }
        return "default retention.ms from DEFAULT_CONFIG; SET and APPEND seen as DYNAMIC_TOPIC_CONFIG; retention.ms=soon is INVALID_CONFIG";
    }

    private String brokerConfigs(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "1");
        Config config = scenario.get(admin.describeConfigs(List.of(broker)).all(), "describeConfigs broker 1").get(broker);
        ConfigEntry partitions = config.get("num.partitions");
        if (partitions == null || partitions.value() == null) {
            throw new Failure("broker 1's configs have num.partitions " + partitions);
        }
        // Dynamic broker configs: per broker and the cluster default, then back to static.
        ConfigResource clusterDefault = new ConfigResource(ConfigResource.Type.BROKER, "");
        scenario.get(admin.incrementalAlterConfigs(Map.of(
            broker, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "7200000"), AlterConfigOp.OpType.SET)),
            clusterDefault, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", "3600000"), AlterConfigOp.OpType.SET)))).all(),
            "incrementalAlterConfigs log.retention.ms on broker 1 and the cluster default");
        Map<ConfigResource, Config> described = scenario.get(admin.describeConfigs(List.of(broker, clusterDefault)).all(),
            "describeConfigs after the dynamic change");
        ConfigEntry perBroker = described.get(broker).get("log.retention.ms");
        ConfigEntry byDefault = described.get(clusterDefault).get("log.retention.ms");
        if (perBroker == null || !"7200000".equals(perBroker.value()) || perBroker.source() != ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG
            || perBroker.isReadOnly() || byDefault == null || !"3600000".equals(byDefault.value())
            || byDefault.source() != ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG) {
            throw new Failure("after SET log.retention.ms: broker 1 " + perBroker + ", cluster default " + byDefault);
        }
        try {
            scenario.get(admin.incrementalAlterConfigs(Map.of(broker, List.of(
                new AlterConfigOp(new ConfigEntry("num.partitions", "3"), AlterConfigOp.OpType.SET)))).all(), "static key");
            throw new Failure("num.partitions was changed dynamically, expected INVALID_REQUEST");
        } catch (ExecutionException expected) {
            if (!(expected.getCause() instanceof org.apache.kafka.common.errors.InvalidRequestException)) {
                throw new Failure("SET num.partitions refused with " + describe(expected) + ", expected INVALID_REQUEST");
            }
        }
        scenario.get(admin.incrementalAlterConfigs(Map.of(
            broker, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE)),
            clusterDefault, List.of(new AlterConfigOp(new ConfigEntry("log.retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all(),
            "incrementalAlterConfigs DELETE log.retention.ms");
        ConfigEntry restored = scenario.get(admin.describeConfigs(List.of(broker)).all(), "describeConfigs after DELETE")
            .get(broker).get("log.retention.ms");
        if (restored == null || restored.source() != ConfigEntry.ConfigSource.STATIC_BROKER_CONFIG
            && restored.source() != ConfigEntry.ConfigSource.DEFAULT_CONFIG) {
            throw new Failure("after DELETE log.retention.ms is " + restored);
        }
        return config.entries().size() + " broker configs, num.partitions=" + partitions.value() + " (" + partitions.source()
            + "); log.retention.ms set per broker and by default (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG) and deleted;"
            + " num.partitions is INVALID_REQUEST";
    }

    private String createPartitions(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        scenario.get(admin.createTopics(List.of(new NewTopic(GROW_TOPIC, 1, (short) 1))).all(), "createTopics " + GROW_TOPIC);
        scenario.get(admin.createPartitions(Map.of(GROW_TOPIC, NewPartitions.increaseTo(3))).all(), "createPartitions to 3");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        int grown;
        while (true) {
            grown = scenario.get(admin.describeTopics(List.of(GROW_TOPIC)).allTopicNames(), "describeTopics").get(GROW_TOPIC)
                .partitions().size();
            if (grown == 3) {
                break;
            }
            if (System.nanoTime() > until) {
                throw new Failure("after createPartitions to 3 the topic has " + grown + " partitions");
            }
            Thread.sleep(200);
        }
        try {
            scenario.get(admin.createPartitions(Map.of(GROW_TOPIC, NewPartitions.increaseTo(2))).all(), "createPartitions to 2");
            throw new Failure("a decrease from 3 to 2 partitions was accepted, expected INVALID_PARTITIONS");
        } catch (ExecutionException expected) {
            if (!(expected.getCause() instanceof InvalidPartitionsException)) {
                throw new Failure("a decrease was refused with " + describe(expected) + ", expected INVALID_PARTITIONS");
            }
        }
        return "grew from 1 to 3 partitions; a decrease to 2 is INVALID_PARTITIONS";
    }

    /**
     * Produces to x-records with the default (idempotent) producer, then reads the stored log:
     * every batch carries the producer's id and epoch and consecutive sequence numbers.
     */
    private String idempotentOnDisk(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        scenario.get(admin.createTopics(List.of(new NewTopic(RECORDS_TOPIC, RECORDS_PARTITIONS, (short) 1))).all(),
            "createTopics " + RECORDS_TOPIC);
        KafkaProducer<String, String> producer = producer(scenario, "none");
        sendAll(scenario, producer, RECORDS_COUNT,
            index -> new ProducerRecord<>(RECORDS_TOPIC, index % RECORDS_PARTITIONS, "record-" + index, Integer.toString(index)),
            (record, metadata) -> { });
        recordsProducedToExtraTopic = RECORDS_COUNT;
        if (dataDir == null) {
            throw new NotApplicable("RIFFLE_DATA_DIR is not set, so the stored log cannot be read");
        }
        Problems problems = new Problems();
        Long producerId = null;
        for (int partition = 0; partition < RECORDS_PARTITIONS; partition++) {
            Path log = Paths.get(dataDir, RECORDS_TOPIC + "-" + partition, "0".repeat(20) + ".log");
            ByteBuffer bytes;
            try {
                bytes = ByteBuffer.wrap(Files.readAllBytes(log));
            } catch (IOException error) {
                problems.add("cannot read " + log + ": " + error);
                continue;
            }
            long records = 0;
            int nextSequence = 0;
            short epoch = -1;
            int batches = 0;
            while (bytes.remaining() >= 61) {
                int start = bytes.position();
                long baseOffset = bytes.getLong(start);
                int length = bytes.getInt(start + 8);
                byte magic = bytes.get(start + 16);
                long id = bytes.getLong(start + 43);
                short batchEpoch = bytes.getShort(start + 51);
                int baseSequence = bytes.getInt(start + 53);
                int count = bytes.getInt(start + 57);
                if (magic != 2 || id < 0 || batchEpoch < 0) {
                    problems.add("partition " + partition + " batch at offset " + baseOffset + ": magic " + magic + ", producer id " + id
                        + ", epoch " + batchEpoch);
                }
                if (producerId == null) {
                    producerId = id;
                } else if (producerId != id) {
                    problems.add("partition " + partition + " batch at offset " + baseOffset + " has producer id " + id + ", not " + producerId);
                }
                if (baseSequence != nextSequence) {
                    problems.add("partition " + partition + " batch at offset " + baseOffset + " has base sequence " + baseSequence
                        + ", expected " + nextSequence);
                }
                if (baseOffset != records) {
                    problems.add("partition " + partition + " batch at offset " + baseOffset + ", expected " + records);
                }
                epoch = batchEpoch;
                nextSequence = baseSequence + count;
                records += count;
                batches++;
                bytes.position(start + 12 + length);
            }
            if (records != RECORDS_COUNT / RECORDS_PARTITIONS) {
                problems.add("partition " + partition + " stores " + records + " records in " + batches + " batches, expected "
                    + RECORDS_COUNT / RECORDS_PARTITIONS);
            }
            stored.put(partition, new StoredProducer(producerId == null ? -1 : producerId, epoch, nextSequence - 1, records));
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return "every stored batch of " + RECORDS_TOPIC + " carries producer id " + producerId + " and consecutive sequences; "
            + stored;
    }

    /** describeProducers lists the idempotent producer, as the stored batches name it. */
    private String describeProducers(Scenario scenario) throws Exception {
        if (recordsProducedToExtraTopic < 0) {
            throw new Failure("prerequisite x-idempotent-on-disk failed: nothing was produced to " + RECORDS_TOPIC);
        }
        Admin admin = admin(scenario);
        List<TopicPartition> partitions = partitions(RECORDS_TOPIC, RECORDS_PARTITIONS);
        Problems problems = new Problems();
        Map<Integer, String> seen = new TreeMap<>();
        for (TopicPartition partition : partitions) {
            Collection<ProducerState> producers = scenario.get(
                admin.describeProducers(List.of(partition)).partitionResult(partition), "describeProducers " + partition).activeProducers();
            seen.put(partition.partition(), producers.toString());
            if (producers.size() != 1) {
                problems.add(partition + " lists " + producers.size() + " producers, expected 1: " + producers);
                continue;
            }
            ProducerState state = producers.iterator().next();
            StoredProducer onDisk = stored.get(partition.partition());
            if (onDisk != null && (state.producerId() != onDisk.producerId() || state.producerEpoch() != onDisk.epoch()
                || state.lastSequence() != onDisk.lastSequence())) {
                problems.add(partition + " lists producer " + state.producerId() + " epoch " + state.producerEpoch() + " last sequence "
                    + state.lastSequence() + ", the stored batches say " + onDisk.producerId() + " epoch " + onDisk.epoch()
                    + " last sequence " + onDisk.lastSequence());
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return "one active producer per partition" + (stored.isEmpty() ? "" : ", matching the stored batches") + ": " + seen;
    }

    /** describeLogDirs: one directory (the data dir), holding each partition's bytes. */
    private String describeLogDirs(Scenario scenario) throws Exception {
        if (recordsProducedToExtraTopic < 0) {
            throw new Failure("prerequisite x-idempotent-on-disk failed: nothing was produced to " + RECORDS_TOPIC);
        }
        Admin admin = admin(scenario);
        Map<String, LogDirDescription> dirs = scenario.get(admin.describeLogDirs(List.of(1)).allDescriptions(), "describeLogDirs").get(1);
        if (dirs == null || dirs.size() != 1) {
            throw new Failure("broker 1 describes log dirs " + (dirs == null ? null : dirs.keySet()) + ", expected one");
        }
        Map.Entry<String, LogDirDescription> dir = dirs.entrySet().iterator().next();
        Problems problems = new Problems();
        if (dir.getValue().error() != null) {
            problems.add("log dir " + dir.getKey() + " has error " + dir.getValue().error());
        }
        if (dataDir != null && !(Files.exists(Paths.get(dir.getKey())) && Files.isSameFile(Paths.get(dir.getKey()), Paths.get(dataDir)))) {
            problems.add("log dir is " + dir.getKey() + ", the broker's data dir is " + dataDir);
        }
        Map<Integer, Long> sizes = new TreeMap<>();
        for (int partition = 0; partition < RECORDS_PARTITIONS; partition++) {
            ReplicaInfo info = dir.getValue().replicaInfos().get(new TopicPartition(RECORDS_TOPIC, partition));
            if (info == null) {
                problems.add(RECORDS_TOPIC + "-" + partition + " is not in the log dir");
                continue;
            }
            sizes.put(partition, info.size());
            if (dataDir != null) {
                Path log = Paths.get(dataDir, RECORDS_TOPIC + "-" + partition, "0".repeat(20) + ".log");
                long onDisk = Files.size(log);
                if (info.size() != onDisk) {
                    problems.add(RECORDS_TOPIC + "-" + partition + " size " + info.size() + ", its segment file has " + onDisk + " bytes");
                }
            } else if (info.size() <= 0) {
                problems.add(RECORDS_TOPIC + "-" + partition + " size " + info.size());
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return "one log dir " + dir.getKey() + ", " + dir.getValue().replicaInfos().size() + " partitions; " + RECORDS_TOPIC + " sizes " + sizes
            + (dataDir != null ? " (equal to the segment files)" : "");
    }

    /** deleteRecords moves a partition's start; beginningOffsets and a fetch follow it. */
    private String deleteRecords(Scenario scenario) throws Exception {
        if (recordsProducedToExtraTopic < 0) {
            throw new Failure("prerequisite x-idempotent-on-disk failed: nothing was produced to " + RECORDS_TOPIC);
        }
        Admin admin = admin(scenario);
        TopicPartition first = new TopicPartition(RECORDS_TOPIC, 0);
        long lowWatermark = scenario.get(admin.deleteRecords(Map.of(first, RecordsToDelete.beforeOffset(5))).lowWatermarks().get(first),
            "deleteRecords before 5").lowWatermark();
        KafkaConsumer<String, String> consumer = scenario.track(consumer(scenario, null, "start"));
        scenario.stage("beginningOffsets");
        long beginning = consumer.beginningOffsets(List.of(first), Duration.ofMillis(Math.max(1, scenario.remainingMs()))).get(first);
        consumer.assign(List.of(first));
        consumer.seekToBeginning(List.of(first));
        Long fetched = null;
        scenario.stage("fetching from the beginning");
        while (fetched == null && !scenario.expired()) {
            for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                fetched = fetched == null ? record.offset() : fetched;
            }
        }
        if (lowWatermark != 5 || beginning != 5 || fetched == null || fetched != 5) {
            throw new Failure("after deleteRecords before offset 5: low watermark " + lowWatermark + ", beginningOffsets " + beginning
                + ", first fetched offset " + fetched + "; expected 5 each");
        }
        return "low watermark 5, beginningOffsets 5, a fetch from the beginning starts at offset 5";
    }

    /**
     * describeTopics pages through a topic two partitions at a time (DescribeTopicPartitions'
     * cursor, where the client uses it) and reports ids, leaders, replicas and operations; a
     * missing topic is UNKNOWN_TOPIC_OR_PARTITION on its own future.
     */
    private String describeTopics(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        scenario.get(admin.createTopics(List.of(new NewTopic(DESCRIBE_TOPIC, DESCRIBE_PARTITIONS, (short) 1))).all(),
            "createTopics " + DESCRIBE_TOPIC);
        Map<String, TopicListing> listings = scenario.get(admin.listTopics().namesToListings(), "listTopics");
        TopicListing listing = listings.get(DESCRIBE_TOPIC);
        if (listing == null) {
            throw new Failure("listTopics does not list " + DESCRIBE_TOPIC + ": " + listings.keySet());
        }
        DescribeTopicsOptions options = new DescribeTopicsOptions().includeAuthorizedOperations(true).partitionSizeLimitPerResponse(2);
        TopicDescription description = scenario.get(admin.describeTopics(List.of(DESCRIBE_TOPIC), options).allTopicNames(),
            "describeTopics " + DESCRIBE_TOPIC).get(DESCRIBE_TOPIC);
        Problems problems = new Problems();
        if (!listing.topicId().equals(description.topicId()) || Uuid.ZERO_UUID.equals(description.topicId())) {
            problems.add("topic id " + description.topicId() + ", listTopics says " + listing.topicId());
        }
        if (description.isInternal()) {
            problems.add("described as internal");
        }
        if (description.partitions().size() != DESCRIBE_PARTITIONS) {
            problems.add(description.partitions().size() + " partitions, expected " + DESCRIBE_PARTITIONS);
        }
        for (int index = 0; index < description.partitions().size(); index++) {
            TopicPartitionInfo info = description.partitions().get(index);
            boolean good = info.partition() == index && info.leader() != null && info.leader().id() == 1
                && info.replicas().size() == 1 && info.replicas().get(0).id() == 1
                && info.isr().size() == 1 && info.isr().get(0).id() == 1;
            if (!good) {
                problems.add("partition " + index + ": " + info);
            }
        }
        Set<AclOperation> operations = description.authorizedOperations();
        if (operations == null || !operations.contains(AclOperation.DESCRIBE) || !operations.contains(AclOperation.WRITE)) {
            problems.add("authorized operations " + operations);
        }
        try {
            scenario.get(admin.describeTopics(List.of("x-no-such-topic")).allTopicNames(), "describeTopics of a missing topic");
            problems.add("a missing topic was described");
        } catch (ExecutionException expected) {
            if (!(expected.getCause() instanceof UnknownTopicOrPartitionException)) {
                problems.add("a missing topic failed with " + describe(expected) + ", expected UNKNOWN_TOPIC_OR_PARTITION");
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return DESCRIBE_PARTITIONS + " partitions paged 2 at a time, led by broker 1 with replicas and ISR [1], id "
            + description.topicId() + ", " + operations.size() + " operations; a missing topic is UNKNOWN_TOPIC_OR_PARTITION";
    }

    /** describeCluster: this broker, its cluster id (as Metadata gives it), a controller and operations. */
    private String describeCluster(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        DescribeClusterResult cluster = admin.describeCluster(new DescribeClusterOptions().includeAuthorizedOperations(true));
        Collection<Node> nodes = scenario.get(cluster.nodes(), "describeCluster nodes");
        Node controller = scenario.get(cluster.controller(), "describeCluster controller");
        String clusterId = scenario.get(cluster.clusterId(), "describeCluster cluster id");
        Set<AclOperation> operations = scenario.get(cluster.authorizedOperations(), "describeCluster operations");
        Problems problems = new Problems();
        if (nodes.size() != 1 || nodes.iterator().next().id() != 1 || !nodes.iterator().next().host().equals(host)
            || nodes.iterator().next().port() != port) {
            problems.add("nodes " + nodes + ", expected broker 1 at " + bootstrap);
        }
        if (controller == null || controller.id() != 1) {
            problems.add("controller " + controller);
        }
        if (clusterId == null || clusterId.length() != 22) {
            problems.add("cluster id " + clusterId + " is not a base64 UUID");
        }
        if (operations == null || !operations.contains(AclOperation.DESCRIBE) || !operations.contains(AclOperation.ALTER_CONFIGS)) {
            problems.add("authorized operations " + operations);
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return "broker 1 at " + bootstrap + ", controller 1, cluster id " + clusterId + ", " + operations.size() + " operations";
    }

    /**
     * Topics whose compression.type names a codec: the broker recompresses what an uncompressed
     * producer sends, and this client's decompressors read the broker's framing back.
     */
    private String recompressed(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        List<String> codecs = List.of("lz4", "snappy", "gzip", "zstd");
        List<NewTopic> topics = new ArrayList<>();
        for (String codec : codecs) {
            topics.add(new NewTopic("x-recompressed-" + codec, 1, (short) 1).configs(Map.of("compression.type", codec)));
        }
        scenario.get(admin.createTopics(topics).all(), "createTopics with compression.type");
        int count = 2000;
        KafkaProducer<String, String> producer = producer(scenario, "none");
        List<java.util.concurrent.Future<RecordMetadata>> sends = new ArrayList<>();
        for (String codec : codecs) {
            for (int index = 0; index < count; index++) {
                sends.add(producer.send(new ProducerRecord<>("x-recompressed-" + codec, 0, "key-" + index, value(codec, index))));
            }
        }
        scenario.stage("acknowledgements");
        for (java.util.concurrent.Future<RecordMetadata> send : sends) {
            send.get(Math.max(1, scenario.remainingMs()), TimeUnit.MILLISECONDS);
        }
        Problems problems = new Problems();
        for (String codec : codecs) {
            TopicPartition partition = new TopicPartition("x-recompressed-" + codec, 0);
            KafkaConsumer<String, String> consumer = scenario.track(consumer(scenario, null, codec));
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            scenario.stage("consuming " + partition);
            int next = 0;
            while (next < count && !scenario.expired()) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    if (record.offset() != next || !record.key().equals("key-" + next) || !record.value().equals(value(codec, next))) {
                        problems.add(partition + " offset " + record.offset() + ": key " + record.key() + ", expected offset " + next);
                    }
                    next++;
                }
            }
            if (next != count) {
                problems.add(partition + ": read " + next + " of " + count);
            }
        }
        if (problems.any()) {
            throw new Failure(problems.toString());
        }
        return count + " uncompressed records each into topics stored as " + codecs + " read back in order";
    }

    /**
     * A compacted topic: updates from two idempotent producers, tombstones, then a record that
     * rolls the segment. Once the broker's cleaner has run, a consumer from the beginning reads
     * each live key once with its latest value, in offset order, across the gaps compaction
     * leaves, the empty batch kept for a producer whose records were all superseded, and the
     * batches whose tombstones were dropped after delete.retention.ms=0.
     */
    private String compacted(Scenario scenario) throws Exception {
        Admin admin = admin(scenario);
        String topic = "x-compacted";
        scenario.get(admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1).configs(Map.of(
            "cleanup.policy", "compact", "segment.bytes", "16384", "delete.retention.ms", "0",
            "min.cleanable.dirty.ratio", "0.01")))).all(), "createTopics " + topic);
        int keys = 200;
        int rounds = 20;
        int tombstones = 20;
        scenario.stage("first producer");
        KafkaProducer<String, String> first = producer(scenario, "none");
        for (int key = 0; key < keys; key++) {
            first.send(new ProducerRecord<>(topic, 0, "key-" + key, "first-" + key));
        }
        first.flush();
        first.close(Duration.ofSeconds(10));
        scenario.stage("second producer");
        KafkaProducer<String, String> producer = producer(scenario, "lz4");
        Map<String, String> latest = new TreeMap<>();
        for (int round = 0; round < rounds; round++) {
            for (int key = 0; key < keys; key++) {
                String value = "value-" + round + "-" + key;
                producer.send(new ProducerRecord<>(topic, 0, "key-" + key, value));
                latest.put("key-" + key, value);
            }
        }
        for (int key = 0; key < tombstones; key++) {
            producer.send(new ProducerRecord<>(topic, 0, "key-" + key, null));
            latest.remove("key-" + key);
        }
        producer.flush();
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        scenario.get(admin.incrementalAlterConfigs(Map.of(resource, List.of(
            new AlterConfigOp(new ConfigEntry("segment.bytes", "14"), AlterConfigOp.OpType.SET)))).all(),
            "incrementalAlterConfigs segment.bytes=14");
        scenario.stage("the marker");
        RecordMetadata marker = producer.send(new ProducerRecord<>(topic, 0, "marker", "end"))
            .get(Math.max(1, scenario.remainingMs()), TimeUnit.MILLISECONDS);
        latest.put("marker", "end");
        TopicPartition partition = new TopicPartition(topic, 0);
        String last = "";
        while (!scenario.expired()) {
            scenario.stage("reading the compacted log");
            KafkaConsumer<String, String> consumer = consumer(scenario, null, "reader");
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            Map<String, String> seen = new TreeMap<>();
            long previous = -1;
            int records = 0;
            boolean ordered = true;
            long end = marker.offset() + 1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            try {
                while (consumer.position(partition) < end && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(300))) {
                        ordered &= record.offset() > previous;
                        previous = record.offset();
                        records++;
                        if (record.value() == null) {
                            seen.remove(record.key());
                        } else {
                            seen.put(record.key(), record.value());
                        }
                    }
                }
            } finally {
                consumer.close(Duration.ofSeconds(5));
            }
            if (!ordered) {
                throw new Failure("offsets went backwards");
            }
            if (!seen.equals(latest)) {
                throw new Failure("read " + seen.size() + " live keys, expected " + latest.size());
            }
            last = records + " records";
            if (records == latest.size()) {
                return (keys * (rounds + 1) + tombstones + 1) + " records compacted to " + records
                    + ": each live key once with its latest value, tombstones gone";
            }
            Thread.sleep(1000);
        }
        throw new Failure("not compacted in time: the last read had " + last + ", expected " + latest.size());
    }
}
