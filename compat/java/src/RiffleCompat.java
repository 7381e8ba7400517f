import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Future;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The Java client (kafka-clients) against Riffle: creates a 6-partition topic with the Admin
 * client, produces 10,000 keyed records with headers using the DEFAULT producer config
 * (idempotent, acks=all since Kafka 3.0), consumes them back in a consumer group and checks
 * count, per-partition order and offsets, keys, values and headers, and the committed offsets.
 *
 * Usage: RiffleCompat BOOTSTRAP TOPIC. Prints "PASS name" / "FAIL name: why" per check and
 * exits 1 if any check failed.
 */
public final class RiffleCompat {
    private static final int RECORDS = 10_000;
    private static final int PARTITIONS = 6;
    private static int failures = 0;

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        createTopic(bootstrap, topic);
        Map<Integer, RecordMetadata> produced = produce(bootstrap, topic);
        if (produced != null) {
            consume(bootstrap, topic, produced);
            deleteRecords(bootstrap, topic);
        }
        System.exit(failures == 0 ? 0 : 1);
    }

    /** deleteRecords moves partition 0's start; a consumer's beginningOffsets follows it. */
    private static void deleteRecords(String bootstrap, String topic) throws Exception {
        TopicPartition first = new TopicPartition(topic, 0);
        Properties config = new Properties();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        long lowWatermark;
        try (Admin admin = Admin.create(config)) {
            lowWatermark = admin.deleteRecords(Map.of(first, RecordsToDelete.beforeOffset(5)))
                .lowWatermarks().get(first).get().lowWatermark();
            Map<String, org.apache.kafka.clients.admin.LogDirDescription> dirs =
                admin.describeLogDirs(List.of(1)).allDescriptions().get().get(1);
            long size = dirs.values().stream()
                .flatMap(dir -> dir.replicaInfos().entrySet().stream())
                .filter(entry -> entry.getKey().topic().equals(topic))
                .mapToLong(entry -> entry.getValue().size())
                .sum();
            int producers = admin.describeProducers(List.of(first)).partitionResult(first).get().activeProducers().size();
            check("describeProducers lists the idempotent producer", producers == 1, producers + " producers");
            check("describeLogDirs reports one directory holding the topic's bytes",
                dirs.size() == 1 && size > 10_000 * 20, dirs.size() + " directories, " + size + " bytes");
        }
        Properties consumerConfig = new Properties();
        consumerConfig.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        consumerConfig.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        consumerConfig.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        long beginning;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
            beginning = consumer.beginningOffsets(List.of(first)).get(first);
        }
        check("deleteRecords moves the log start and beginningOffsets follows",
            lowWatermark == 5 && beginning == 5, "low watermark " + lowWatermark + ", beginning " + beginning);
    }

    private static void check(String name, boolean passed, String why) {
        if (passed) {
            System.out.println("PASS " + name);
        } else {
            failures++;
            System.out.println("FAIL " + name + ": " + why);
        }
    }

    private static String value(int index) {
        return "value-" + index + "-" + "x".repeat(index % 97);
    }

    private static void createTopic(String bootstrap, String topic) throws Exception {
        Properties config = new Properties();
        config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(config)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
            TopicDescription description =
                admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            check("admin creates a topic with " + PARTITIONS + " partitions",
                description.partitions().size() == PARTITIONS,
                "described " + description.partitions().size() + " partitions");
            configs(admin, topic + "-configs");
        }
    }

    /** describeConfigs and incrementalAlterConfigs on a topic of its own, and the broker's configs. */
    private static void configs(Admin admin, String topic) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigEntry before = admin.describeConfigs(List.of(resource)).all().get().get(resource).get("retention.ms");
        check("describeConfigs reports Kafka's default retention.ms",
            before != null && "604800000".equals(before.value()) && before.source() == ConfigEntry.ConfigSource.DEFAULT_CONFIG,
            "got " + before);
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
            new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
            new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)))).all().get();
        Config after = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        ConfigEntry retention = after.get("retention.ms");
        ConfigEntry policy = after.get("cleanup.policy");
        check("incrementalAlterConfigs SET and APPEND take effect",
            "3600000".equals(retention.value()) && retention.source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG
                && "delete,compact".equals(policy.value()),
            "retention.ms " + retention + ", cleanup.policy " + policy);
        String refusal = null;
        try {
            admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "soon"), AlterConfigOp.OpType.SET)))).all().get();
            refusal = "an invalid value was accepted";
        } catch (java.util.concurrent.ExecutionException expected) {
            if (!(expected.getCause() instanceof org.apache.kafka.common.errors.InvalidConfigurationException)) {
                refusal = "refused with " + expected.getCause();
            }
        }
        check("an invalid config value is refused with INVALID_CONFIG", refusal == null, refusal);
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get();
        int grown = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
        check("createPartitions grows a topic from 1 to 3 partitions", grown == 3, "described " + grown);
        String shrink = null;
        try {
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all().get();
            shrink = "a decrease was accepted";
        } catch (java.util.concurrent.ExecutionException expected) {
            if (!(expected.getCause() instanceof org.apache.kafka.common.errors.InvalidPartitionsException)) {
                shrink = "refused with " + expected.getCause();
            }
        }
        check("createPartitions refuses a decrease with INVALID_PARTITIONS", shrink == null, shrink);
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, "1");
        ConfigEntry partitions = admin.describeConfigs(List.of(broker)).all().get().get(broker).get("num.partitions");
        check("describeConfigs lists the broker's configs", partitions != null && partitions.value() != null,
            "num.partitions " + partitions);
    }

    /** Produces with the default config; returns each record's metadata by index. */
    private static Map<Integer, RecordMetadata> produce(String bootstrap, String topic) throws Exception {
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        List<Future<RecordMetadata>> futures = new ArrayList<>(RECORDS);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            for (int index = 0; index < RECORDS; index++) {
                ProducerRecord<String, String> record =
                    new ProducerRecord<>(topic, "key-" + index, value(index));
                record.headers().add("index", Integer.toString(index).getBytes(StandardCharsets.UTF_8));
                record.headers().add("client", "java".getBytes(StandardCharsets.UTF_8));
                futures.add(producer.send(record));
            }
            producer.flush();
        }
        Map<Integer, RecordMetadata> produced = new HashMap<>();
        String error = null;
        for (int index = 0; index < RECORDS; index++) {
            try {
                produced.put(index, futures.get(index).get());
            } catch (Exception exception) {
                error = "record " + index + ": " + exception;
                break;
            }
        }
        check("default (idempotent, acks=all) producer delivers " + RECORDS + " records", error == null, error);
        return error == null ? produced : null;
    }

    private static void consume(String bootstrap, String topic, Map<Integer, RecordMetadata> produced) {
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.GROUP_ID_CONFIG, "java-compat-" + UUID.randomUUID());
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<ConsumerRecord<String, String>> consumed = new ArrayList<>(RECORDS);
        Map<TopicPartition, OffsetAndMetadata> committed;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 90_000;
            while (consumed.size() < RECORDS && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(500))) {
                    consumed.add(record);
                }
            }
            // Anything beyond the expected count would be a duplicate.
            for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(1000))) {
                consumed.add(record);
            }
            consumer.commitSync();
            Map<TopicPartition, OffsetAndMetadata> asked = new HashMap<>();
            for (int partition = 0; partition < PARTITIONS; partition++) {
                asked.put(new TopicPartition(topic, partition), null);
            }
            committed = consumer.committed(asked.keySet());
        }
        check("group consumer receives exactly " + RECORDS + " records", consumed.size() == RECORDS,
            "received " + consumed.size());

        // Per partition: offsets 0..n-1 in order, and the producer's order.
        Map<Integer, List<ConsumerRecord<String, String>>> byPartition = new TreeMap<>();
        for (ConsumerRecord<String, String> record : consumed) {
            byPartition.computeIfAbsent(record.partition(), p -> new ArrayList<>()).add(record);
        }
        Map<Integer, List<Integer>> producedOrder = new TreeMap<>();
        List<Integer> indexes = new ArrayList<>(produced.keySet());
        indexes.sort((a, b) -> Long.compare(produced.get(a).offset(), produced.get(b).offset()));
        for (int index : indexes) {
            producedOrder.computeIfAbsent(produced.get(index).partition(), p -> new ArrayList<>()).add(index);
        }
        String orderError = null;
        String contentError = null;
        for (Map.Entry<Integer, List<ConsumerRecord<String, String>>> entry : byPartition.entrySet()) {
            List<Integer> expected = producedOrder.getOrDefault(entry.getKey(), Collections.emptyList());
            List<ConsumerRecord<String, String>> records = entry.getValue();
            if (records.size() != expected.size()) {
                orderError = "partition " + entry.getKey() + ": " + records.size() + " records, produced " + expected.size();
                break;
            }
            int previousIndex = -1;
            for (int position = 0; position < records.size(); position++) {
                ConsumerRecord<String, String> record = records.get(position);
                int index = expected.get(position);
                if (record.offset() != position || produced.get(index).offset() != position) {
                    orderError = "partition " + entry.getKey() + " position " + position + " has offset " + record.offset();
                    break;
                }
                // Records were sent in index order, so each partition must hold them in it.
                if (index <= previousIndex) {
                    orderError = "partition " + entry.getKey() + ": key-" + index + " stored after key-" + previousIndex;
                    break;
                }
                previousIndex = index;
                if (!record.key().equals("key-" + index)) {
                    orderError = "partition " + entry.getKey() + " offset " + position + ": key " + record.key()
                        + ", expected key-" + index;
                    break;
                }
                Header indexHeader = record.headers().lastHeader("index");
                Header clientHeader = record.headers().lastHeader("client");
                boolean headersMatch = indexHeader != null && clientHeader != null
                    && new String(indexHeader.value(), StandardCharsets.UTF_8).equals(Integer.toString(index))
                    && new String(clientHeader.value(), StandardCharsets.UTF_8).equals("java")
                    && record.headers().toArray().length == 2;
                if (!record.value().equals(value(index)) || !headersMatch) {
                    contentError = "record key-" + index + " has value or headers changed";
                }
            }
            if (orderError != null) {
                break;
            }
        }
        check("records arrive in producer order per partition at their acknowledged offsets", orderError == null, orderError);
        check("keys, values and headers are intact", contentError == null, contentError);
        check("records were spread over all " + PARTITIONS + " partitions", byPartition.size() == PARTITIONS,
            byPartition.size() + " partitions held records");

        String commitError = null;
        for (int partition = 0; partition < PARTITIONS; partition++) {
            OffsetAndMetadata offset = committed.get(new TopicPartition(topic, partition));
            long expected = producedOrder.getOrDefault(partition, Collections.emptyList()).size();
            if (offset == null || offset.offset() != expected) {
                commitError = "partition " + partition + " committed " + offset + ", expected " + expected;
                break;
            }
        }
        check("the group's committed offsets are the partition ends", commitError == null, commitError);
    }
}
