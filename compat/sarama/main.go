// The sarama column of the Riffle client compatibility matrix (compat/README.md).
//
// Built by install.sh in GOPATH mode against Debian's golang-github-shopify-sarama-dev
// (sarama 1.22.1) and run by run.sh:
//
//	sarama-compat -bootstrap 127.0.0.1:PORT -sarama-version 1.22.1-1
//
// Prints "CLIENT ..." and one "RESULT <scenario> pass|fail|n/a <detail>" line per scenario on
// stdout; everything else (sarama's own log included) goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

const (
	topic       = "compat"
	splitTopic  = "compat-split"
	resumeGroup = "compat-resume"
	splitGroup  = "compat-split"
	perCodec    = 10000
	partitions  = 6
	splitCount  = 6000
	resumeA     = 3000 // group-resume: A stops once it holds this many records
	resumeAFrom = 2    // ... from at least this many partitions
)

var (
	bootstrap  string
	runStarted = time.Now()
	runBudget  = 280 * time.Second
	// The protocol generation sarama speaks. Riffle (like Kafka 4.x) serves only request
	// versions of Kafka >= 2.1; sarama 1.22 picks every request version from this setting.
	kafkaVersion = sarama.V2_1_0_0
	codecs       = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	codecByName  = map[string]sarama.CompressionCodec{
		"none":   sarama.CompressionNone,
		"gzip":   sarama.CompressionGZIP,
		"snappy": sarama.CompressionSnappy,
		"lz4":    sarama.CompressionLZ4,
		"zstd":   sarama.CompressionZSTD,
	}
	logger = log.New(os.Stderr, "[compat] ", log.Ltime|log.Lmicroseconds)
)

// ---------------------------------------------------------------------------------------------
// Outcomes and the scenario runner

type outcome struct{ status, detail string }

func pass(format string, a ...interface{}) outcome { return outcome{"pass", fmt.Sprintf(format, a...)} }
func fail(format string, a ...interface{}) outcome { return outcome{"fail", fmt.Sprintf(format, a...)} }
func na(format string, a ...interface{}) outcome   { return outcome{"n/a", fmt.Sprintf(format, a...)} }

func report(id string, o outcome) {
	detail := strings.Join(strings.Fields(o.detail), " ")
	if len(detail) > 1500 {
		detail = detail[:1500] + "..."
	}
	fmt.Println(strings.TrimSpace(fmt.Sprintf("RESULT %s %s %s", id, o.status, detail)))
}

// run runs one scenario with its own deadline; a panic or a hang becomes a "fail" and never
// stops the scenarios after it.
func run(id string, limit time.Duration, fn func(ctx context.Context) outcome) outcome {
	started := time.Now()
	// run.sh as a whole is killed after 300 s: once earlier scenarios (hung ones) have used up
	// the budget, report the rest instead of being killed before printing them.
	if left := runBudget - time.Since(runStarted); left < limit+10*time.Second {
		if left < 15*time.Second {
			o := fail("not run: earlier scenarios used up the %s run budget", runBudget)
			report(id, o)
			return o
		}
		limit = (left - 10*time.Second).Truncate(time.Second)
	}
	logger.Printf("=== %s: start (deadline %s)", id, limit)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				logger.Printf("%s panicked: %v\n%s", id, r, debug.Stack())
				done <- fail("panic: %v", r)
			}
		}()
		done <- fn(ctx)
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(limit + 10*time.Second):
		o = fail("did not finish within its %s deadline (hung)", limit)
	}
	logger.Printf("=== %s: %s after %s: %s", id, o.status, time.Since(started).Round(time.Millisecond), o.detail)
	report(id, o)
	return o
}

// within runs f and gives up waiting after d (the call keeps running in the background).
func within(d time.Duration, what string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			logger.Printf("%s: %v", what, err)
		}
		return err
	case <-time.After(d):
		logger.Printf("%s: still running after %s, abandoned", what, d)
		return fmt.Errorf("%s did not return within %s", what, d)
	}
}

func newConfig(name string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "sarama-compat-" + name
	c.Version = kafkaVersion
	c.Net.DialTimeout = 10 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	// Retention == 0 makes sarama 1.22 send OffsetCommit v1, which Kafka 4.x and Riffle no
	// longer serve (baseline v2). Any other value selects v2; -1 ms is encoded as
	// retention_time = -1, "use the broker's default", what the Java client sends.
	c.Consumer.Offsets.Retention = -time.Millisecond
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	c.Consumer.Group.Rebalance.Retry.Backoff = 500 * time.Millisecond
	return c
}

func problemsDetail(problems []string, max int) string {
	if len(problems) <= max {
		return strings.Join(problems, "; ")
	}
	return fmt.Sprintf("%s; ... (%d problems in all)", strings.Join(problems[:max], "; "), len(problems))
}

// ---------------------------------------------------------------------------------------------
// Record shapes (compat/README.md scenario 3)

func recordKey(codec string, i int) string { return fmt.Sprintf("%s-%d", codec, i) }
func recordValue(codec string, i int) string {
	return fmt.Sprintf("value-%s-%d-%s", codec, i, strings.Repeat("x", i%100))
}

// parseKey splits "<codec>-<i>".
func parseKey(key string) (string, int, bool) {
	at := strings.LastIndex(key, "-")
	if at < 0 {
		return "", 0, false
	}
	codec := key[:at]
	i, err := strconv.Atoi(key[at+1:])
	if _, known := codecByName[codec]; !known || err != nil || i < 0 || i >= perCodec || strconv.Itoa(i) != key[at+1:] {
		return "", 0, false
	}
	return codec, i, true
}

// checkRecord: the value and headers are exactly those the key implies.
func checkRecord(m *sarama.ConsumerMessage) (string, int, string) {
	key := string(m.Key)
	codec, i, ok := parseKey(key)
	if !ok {
		return "", 0, fmt.Sprintf("p%d@%d: unexpected key %q", m.Partition, m.Offset, key)
	}
	if want := recordValue(codec, i); string(m.Value) != want {
		return codec, i, fmt.Sprintf("p%d@%d key %s: value %q, want %q", m.Partition, m.Offset, key, m.Value, want)
	}
	var got []string
	for _, h := range m.Headers {
		got = append(got, string(h.Key)+"="+string(h.Value))
	}
	want := []string{"codec=" + codec, "index=" + strconv.Itoa(i)}
	if strings.Join(got, ",") != strings.Join(want, ",") || len(got) != 2 {
		return codec, i, fmt.Sprintf("p%d@%d key %s: headers %q, want %q", m.Partition, m.Offset, key, got, want)
	}
	return codec, i, ""
}

func expectedKeys(passed []string) map[string]bool {
	keys := make(map[string]bool, len(passed)*perCodec)
	for _, codec := range passed {
		for i := 0; i < perCodec; i++ {
			keys[recordKey(codec, i)] = true
		}
	}
	return keys
}

// ---------------------------------------------------------------------------------------------
// Producing

type produceStats struct {
	acked, failed int
	errs          map[string]int
	allErrs       []error
}

func (s produceStats) errSummary() string {
	var parts []string
	for e, n := range s.errs {
		parts = append(parts, fmt.Sprintf("%dx %s", n, e))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// produce sends count messages made by mk through an AsyncProducer and waits for every
// delivery report. It returns early (timedOut) when ctx ends.
func produce(ctx context.Context, cfg *sarama.Config, count int, mk func(i int) *sarama.ProducerMessage) (produceStats, bool, error) {
	stats := produceStats{errs: map[string]int{}}
	p, err := sarama.NewAsyncProducer([]string{bootstrap}, cfg)
	if err != nil {
		return stats, false, err
	}
	go func() {
		for i := 0; i < count; i++ {
			select {
			case p.Input() <- mk(i):
			case <-ctx.Done():
				return
			}
		}
	}()
	for stats.acked+stats.failed < count {
		select {
		case <-p.Successes():
			stats.acked++
		case e := <-p.Errors():
			stats.failed++
			stats.errs[e.Err.Error()]++
			stats.allErrs = append(stats.allErrs, e.Err)
		case <-ctx.Done():
			go p.AsyncClose()
			return stats, true, nil
		}
	}
	_ = within(15*time.Second, "AsyncProducer.Close", p.Close)
	return stats, false, nil
}

func scenarioProduce(ctx context.Context, codec string) outcome {
	cfg := newConfig("produce-" + codec)
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Compression = codecByName[codec]
	stats, timedOut, err := produce(ctx, cfg, perCodec, func(i int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(recordKey(codec, i)),
			Value: sarama.StringEncoder(recordValue(codec, i)),
			Headers: []sarama.RecordHeader{
				{Key: []byte("codec"), Value: []byte(codec)},
				{Key: []byte("index"), Value: []byte(strconv.Itoa(i))},
			},
		}
	})
	if err != nil {
		return fail("NewAsyncProducer: %v", err)
	}
	if timedOut {
		return fail("deadline passed with %d of %d acknowledged, %d failed %s", stats.acked, perCodec, stats.failed, stats.errSummary())
	}
	if stats.failed == 0 {
		return pass("%d records acknowledged (acks=all, compression %s)", stats.acked, codec)
	}
	if codec == "zstd" && stats.acked == 0 {
		allUnsupported := true
		for _, e := range stats.allErrs {
			if e != sarama.ErrUnsupportedCompressionType {
				allUnsupported = false
			}
		}
		if allUnsupported {
			return na("sarama 1.22.1 sends zstd batches in Produce v3 (it never uses Produce v7, which Kafka >= 2.1 requires for zstd); " +
				"the broker rejected all 10000 with UNSUPPORTED_COMPRESSION_TYPE (76), as Kafka does (fixed upstream by IBM/sarama PR #1574, sarama 1.26)")
		}
	}
	return fail("%d acknowledged, %d failed: %s", stats.acked, stats.failed, stats.errSummary())
}

// ---------------------------------------------------------------------------------------------
// Scenarios 1 and 2

func scenarioMetadata(ctx context.Context) outcome {
	client, err := sarama.NewClient([]string{bootstrap}, newConfig("metadata"))
	if err != nil {
		return fail("NewClient: %v", err)
	}
	defer within(10*time.Second, "client.Close", client.Close)
	if err := client.RefreshMetadata(); err != nil {
		return fail("RefreshMetadata (all topics): %v", err)
	}
	topics, err := client.Topics()
	if err != nil {
		return fail("Topics: %v", err)
	}
	var seen []string
	for _, b := range client.Brokers() {
		seen = append(seen, fmt.Sprintf("%d@%s", b.ID(), b.Addr()))
		if b.ID() == 1 && b.Addr() == bootstrap {
			return pass("broker 1 at %s, %d topics listed", b.Addr(), len(topics))
		}
	}
	return fail("expected broker 1 at %s, metadata lists brokers %v", bootstrap, seen)
}

func topicLayoutProblem(admin sarama.ClusterAdmin) string {
	md, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		return "DescribeTopics: " + err.Error()
	}
	if len(md) != 1 || md[0].Name != topic {
		return fmt.Sprintf("DescribeTopics returned %d topics", len(md))
	}
	if md[0].Err != sarama.ErrNoError {
		return fmt.Sprintf("topic error %v", md[0].Err)
	}
	var ids []int
	var bad []string
	for _, p := range md[0].Partitions {
		ids = append(ids, int(p.ID))
		if p.Err != sarama.ErrNoError || p.Leader != 1 {
			bad = append(bad, fmt.Sprintf("partition %d leader %d error %v", p.ID, p.Leader, p.Err))
		}
	}
	sort.Ints(ids)
	if fmt.Sprint(ids) != "[0 1 2 3 4 5]" {
		return fmt.Sprintf("partitions %v, want [0 1 2 3 4 5]", ids)
	}
	if len(bad) > 0 {
		return strings.Join(bad, ", ")
	}
	return ""
}

func scenarioCreateTopic(ctx context.Context) outcome {
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, newConfig("admin-create"))
	if err != nil {
		return fail("NewClusterAdmin: %v", err)
	}
	defer within(10*time.Second, "admin.Close", admin.Close)
	var errs []string
	for _, t := range []string{topic, splitTopic} {
		if err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
			errs = append(errs, fmt.Sprintf("CreateTopic(%s): %v", t, err))
		}
	}
	if len(errs) > 0 {
		return fail("%s", strings.Join(errs, "; "))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		problem := topicLayoutProblem(admin)
		if problem == "" {
			return pass("created %s and %s; metadata shows %s partitions 0..5 led by broker 1", topic, splitTopic, topic)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fail("both created, but after 10 s metadata for %s: %s", topic, problem)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: consume-assign

func scenarioConsumeAssign(ctx context.Context, passed []string) outcome {
	n := perCodec * len(passed)
	if n == 0 {
		return fail("prerequisite produce-* failed (no codec passed)")
	}
	consumer, err := sarama.NewConsumer([]string{bootstrap}, newConfig("assign"))
	if err != nil {
		return fail("NewConsumer: %v", err)
	}
	defer within(10*time.Second, "consumer.Close", consumer.Close)

	stop := make(chan struct{})
	defer close(stop)
	msgs := make(chan *sarama.ConsumerMessage, 4096)
	var errMu sync.Mutex
	var consumeErrs []string
	for p := int32(0); p < partitions; p++ {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return fail("ConsumePartition(%s, %d, oldest): %v", topic, p, err)
		}
		defer pc.AsyncClose()
		go func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				case <-stop:
					return
				}
			}
		}()
		go func() {
			for e := range pc.Errors() {
				logger.Printf("consume-assign: %v", e)
				errMu.Lock()
				consumeErrs = append(consumeErrs, e.Error())
				errMu.Unlock()
			}
		}()
	}

	var records []*sarama.ConsumerMessage
	var linger <-chan time.Time
collect:
	for {
		select {
		case m := <-msgs:
			records = append(records, m)
			if len(records) == n {
				// Hold on a moment longer: a record beyond N would be a failure too.
				linger = time.After(time.Second)
			}
		case <-linger:
			break collect
		case <-ctx.Done():
			break collect
		}
	}

	var problems []string
	if len(records) != n {
		errMu.Lock()
		problems = append(problems, fmt.Sprintf("holds %d records, want %d (consumer errors: %v)", len(records), n, consumeErrs))
		errMu.Unlock()
	}
	seen := map[string]bool{}
	nextOffset := map[int32]int64{}
	lastIndex := map[int32]map[string]int{}
	for _, m := range records {
		key := string(m.Key)
		if seen[key] {
			problems = append(problems, fmt.Sprintf("key %s twice", key))
		}
		seen[key] = true
		codec, i, problem := checkRecord(m)
		if problem != "" {
			problems = append(problems, problem)
		}
		if m.Offset != nextOffset[m.Partition] {
			problems = append(problems, fmt.Sprintf("partition %d: offset %d where %d was next", m.Partition, m.Offset, nextOffset[m.Partition]))
		}
		nextOffset[m.Partition] = m.Offset + 1
		if codec != "" {
			if lastIndex[m.Partition] == nil {
				lastIndex[m.Partition] = map[string]int{}
			}
			if last, ok := lastIndex[m.Partition][codec]; ok && i <= last {
				problems = append(problems, fmt.Sprintf("partition %d: %s index %d at offset %d after index %d", m.Partition, codec, i, m.Offset, last))
			}
			lastIndex[m.Partition][codec] = i
		}
	}
	var counts []string
	for p := int32(0); p < partitions; p++ {
		counts = append(counts, strconv.FormatInt(nextOffset[p], 10))
		if nextOffset[p] == 0 {
			problems = append(problems, fmt.Sprintf("partition %d holds no records", p))
		}
	}
	for key := range expectedKeys(passed) {
		if !seen[key] {
			problems = append(problems, fmt.Sprintf("key %s missing", key))
			break
		}
	}
	if len(problems) > 0 {
		return fail("%s", problemsDetail(problems, 8))
	}
	return pass("%d records, keys unique, values/headers exact, offsets contiguous per partition (%s), send order kept", n, strings.Join(counts, "/"))
}

// ---------------------------------------------------------------------------------------------
// Consumer-group members

type handler struct {
	setup   func(sarama.ConsumerGroupSession)
	cleanup func(sarama.ConsumerGroupSession)
	// onMsg processes one message; false ends this claim (and with it the session).
	onMsg func(sarama.ConsumerGroupSession, *sarama.ConsumerMessage) bool
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	if h.setup != nil {
		h.setup(s)
	}
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	if h.cleanup != nil {
		h.cleanup(s)
	}
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			if !h.onMsg(s, m) {
				return nil
			}
		case <-s.Context().Done():
			return nil
		}
	}
}

type member struct {
	name   string
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	errs   []string
}

func (m *member) addErr(e error) {
	logger.Printf("%s: %v", m.name, e)
	m.mu.Lock()
	m.errs = append(m.errs, e.Error())
	m.mu.Unlock()
}

func (m *member) errors() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}

// startMember joins groupID and consumes topicName until stop() (Consume is called again after
// every rebalance, as sarama requires).
func startMember(parent context.Context, name, groupID, topicName string, cfg *sarama.Config, h *handler) (*member, error) {
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, groupID, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: NewConsumerGroup: %v", name, err)
	}
	ctx, cancel := context.WithCancel(parent)
	m := &member{name: name, group: g, cancel: cancel, done: make(chan struct{})}
	go func() {
		for e := range g.Errors() {
			m.addErr(e)
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topicName}, h); err != nil {
				m.addErr(fmt.Errorf("Consume: %v", err))
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}()
	return m, nil
}

// stop ends the session (sarama commits the marked offsets while releasing it), then closes the
// group (LeaveGroup).
func (m *member) stop(timeout time.Duration) error {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(timeout):
		return fmt.Errorf("%s: Consume did not return within %s of the cancel", m.name, timeout)
	}
	return within(timeout, m.name+": ConsumerGroup.Close", m.group.Close)
}

// ---------------------------------------------------------------------------------------------
// Scenario 5: group-resume

func committedOffsets(group string) (map[int32]int64, error) {
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, newConfig("admin-offsets"))
	if err != nil {
		return nil, err
	}
	defer within(10*time.Second, "admin.Close", admin.Close)
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2, 3, 4, 5}})
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		block := resp.GetBlock(topic, p)
		if block == nil {
			return nil, fmt.Errorf("no block for partition %d", p)
		}
		if block.Err != sarama.ErrNoError {
			return nil, fmt.Errorf("partition %d: %v", p, block.Err)
		}
		out[p] = block.Offset
	}
	return out, nil
}

func scenarioGroupResume(ctx context.Context, passed []string) outcome {
	n := perCodec * len(passed)
	if n == 0 {
		return fail("prerequisite produce-* failed (no codec passed)")
	}
	var mu sync.Mutex
	var problems []string

	// Consumer A: processes (and marks) every record until it holds 3,000 records from at
	// least 2 partitions, then stops processing; the marked offsets are committed when its
	// session is released.
	aKeys := map[string]bool{}
	aLast := map[int32]int64{}
	aStopped := false
	aDone := make(chan struct{})
	cfgA := newConfig("resume-a")
	cfgA.Consumer.Offsets.CommitInterval = time.Hour // no periodic commit: only the final one
	// Small fetches (default 1 MiB) so that A's 3,000 come from several partitions, not one.
	cfgA.Consumer.Fetch.Default = 16 * 1024
	a, err := startMember(ctx, "A", resumeGroup, topic, cfgA, &handler{
		onMsg: func(s sarama.ConsumerGroupSession, m *sarama.ConsumerMessage) bool {
			mu.Lock()
			defer mu.Unlock()
			if aStopped {
				return false
			}
			key := string(m.Key)
			if aKeys[key] {
				problems = append(problems, "A received "+key+" twice")
			}
			aKeys[key] = true
			if last, ok := aLast[m.Partition]; ok && m.Offset != last+1 {
				problems = append(problems, fmt.Sprintf("A: partition %d offset %d after %d", m.Partition, m.Offset, last))
			}
			aLast[m.Partition] = m.Offset
			s.MarkMessage(m, "")
			if len(aKeys) >= resumeA && len(aLast) >= resumeAFrom {
				aStopped = true
				close(aDone)
			}
			return true
		},
	})
	if err != nil {
		return fail("%v", err)
	}
	select {
	case <-aDone:
	case <-ctx.Done():
		_ = a.stop(5 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		return fail("A held %d records from %d partitions at the deadline, want %d from %d (A errors: %v)",
			len(aKeys), len(aLast), resumeA, resumeAFrom, a.errors())
	}
	if err := a.stop(15 * time.Second); err != nil {
		problems = append(problems, "closing A: "+err.Error())
	}
	mu.Lock()
	aCommitted := map[int32]int64{}
	for p, last := range aLast {
		aCommitted[p] = last + 1
	}
	aCount := len(aKeys)
	mu.Unlock()
	if errs := a.errors(); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("A reported errors: %v", errs))
	}
	// What the coordinator stored for A (diagnostic; -1 = nothing committed).
	stored, err := committedOffsets(resumeGroup)
	if err != nil {
		problems = append(problems, "OffsetFetch after A: "+err.Error())
	} else {
		for p := int32(0); p < partitions; p++ {
			want, ok := aCommitted[p]
			if !ok {
				want = -1
			}
			if stored[p] != want {
				problems = append(problems, fmt.Sprintf("after A closed, partition %d committed offset is %d, A committed %d", p, stored[p], want))
			}
		}
	}
	logger.Printf("group-resume: A processed %d from %d partitions, committed %v", aCount, len(aCommitted), aCommitted)

	// Consumer B: same group, reads until A and B together hold N.
	bFirst := map[int32]int64{}
	bKeys := map[string]bool{}
	overlap := 0
	bStopped := false
	bDone := make(chan struct{})
	cfgB := newConfig("resume-b")
	cfgB.Consumer.Offsets.CommitInterval = time.Hour
	b, err := startMember(ctx, "B", resumeGroup, topic, cfgB, &handler{
		onMsg: func(s sarama.ConsumerGroupSession, m *sarama.ConsumerMessage) bool {
			mu.Lock()
			defer mu.Unlock()
			if bStopped {
				return false
			}
			key := string(m.Key)
			if _, ok := bFirst[m.Partition]; !ok {
				bFirst[m.Partition] = m.Offset
			}
			if aKeys[key] && !bKeys[key] {
				overlap++
			}
			if bKeys[key] {
				problems = append(problems, "B received "+key+" twice")
			}
			bKeys[key] = true
			s.MarkMessage(m, "")
			if len(aKeys)+len(bKeys)-overlap >= n {
				bStopped = true
				close(bDone)
			}
			return true
		},
	})
	if err != nil {
		return fail("%v", err)
	}
	select {
	case <-bDone:
	case <-ctx.Done():
		problems = append(problems, "deadline passed before A and B together held N")
	}
	if err := b.stop(15 * time.Second); err != nil {
		problems = append(problems, "closing B: "+err.Error())
	}
	if errs := b.errors(); len(errs) > 0 {
		problems = append(problems, fmt.Sprintf("B reported errors: %v", errs))
	}

	mu.Lock()
	defer mu.Unlock()
	for p := int32(0); p < partitions; p++ {
		want := aCommitted[p] // 0 where A committed nothing
		got, ok := bFirst[p]
		if ok && got != want {
			problems = append(problems, fmt.Sprintf("partition %d: B's first offset %d, A committed %d", p, got, want))
		}
	}
	resumedNonZero := false
	for p, got := range bFirst {
		if want, ok := aCommitted[p]; ok && got > 0 && got == want {
			resumedNonZero = true
		}
	}
	if !resumedNonZero {
		problems = append(problems, fmt.Sprintf("B resumed at a non-zero offset in no partition; A committed %v, B started at %v",
			aCommitted, bFirst))
	}
	if overlap > 0 {
		problems = append(problems, fmt.Sprintf("%d records seen by both A and B", overlap))
	}
	union := map[string]bool{}
	for k := range aKeys {
		union[k] = true
	}
	for k := range bKeys {
		union[k] = true
	}
	missing := 0
	for k := range expectedKeys(passed) {
		if !union[k] {
			missing++
		}
	}
	if missing > 0 || len(union) != n {
		problems = append(problems, fmt.Sprintf("A and B together hold %d distinct records (%d expected ones missing), want %d", len(union), missing, n))
	}
	if len(problems) > 0 {
		return fail("%s", problemsDetail(problems, 8))
	}
	return pass("A processed and committed %d from %d partitions (%v), B resumed exactly there (first offsets %v) and read %d; no overlap, all %d held",
		aCount, len(aCommitted), aCommitted, bFirst, len(bKeys), n)
}

// ---------------------------------------------------------------------------------------------
// Scenario 6: group-split

type splitMember struct {
	claims   []int32
	gen      int32
	active   bool
	got      int
	outside  int
	assigned map[int32]bool // frozen once the split is seen
}

func scenarioGroupSplit(ctx context.Context) outcome {
	var mu sync.Mutex
	states := []*splitMember{{}, {}}
	seen := map[string]bool{}
	dups := 0
	allDone := make(chan struct{})
	closed := false
	var members []*member
	names := []string{"split-1", "split-2"}
	for idx := range states {
		st := states[idx]
		name := names[idx]
		h := &handler{
			setup: func(s sarama.ConsumerGroupSession) {
				mu.Lock()
				defer mu.Unlock()
				st.claims = append([]int32(nil), s.Claims()[splitTopic]...)
				st.gen = s.GenerationID()
				st.active = true
				logger.Printf("%s: generation %d claims %v", name, st.gen, st.claims)
			},
			cleanup: func(s sarama.ConsumerGroupSession) {
				mu.Lock()
				defer mu.Unlock()
				st.active = false
				st.claims = nil
			},
			onMsg: func(s sarama.ConsumerGroupSession, m *sarama.ConsumerMessage) bool {
				mu.Lock()
				defer mu.Unlock()
				key := string(m.Key)
				if seen[key] {
					dups++
				}
				seen[key] = true
				st.got++
				if st.assigned == nil || !st.assigned[m.Partition] {
					st.outside++
				}
				s.MarkMessage(m, "")
				if len(seen) >= splitCount && !closed {
					closed = true
					close(allDone)
				}
				return true
			},
		}
		cfg := newConfig(name)
		m, err := startMember(ctx, name, splitGroup, splitTopic, cfg, h)
		if err != nil {
			for _, started := range members {
				_ = started.stop(5 * time.Second)
			}
			return fail("%v", err)
		}
		members = append(members, m)
	}
	stopAll := func() []string {
		var errs []string
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, m := range members {
			wg.Add(1)
			go func(m *member) {
				defer wg.Done()
				if err := m.stop(15 * time.Second); err != nil {
					emu.Lock()
					errs = append(errs, err.Error())
					emu.Unlock()
				}
			}(m)
		}
		wg.Wait()
		return errs
	}

	// Wait (30 s) for a split: both active in the same generation, non-empty, disjoint, 0..5.
	split := false
	var last string
	waitUntil := time.Now().Add(30 * time.Second)
	for !split && time.Now().Before(waitUntil) && ctx.Err() == nil {
		mu.Lock()
		a, b := states[0], states[1]
		last = fmt.Sprintf("%s gen %d active %v claims %v; %s gen %d active %v claims %v",
			names[0], a.gen, a.active, a.claims, names[1], b.gen, b.active, b.claims)
		if a.active && b.active && a.gen == b.gen && len(a.claims) > 0 && len(b.claims) > 0 {
			cover := map[int32]int{}
			for _, p := range append(append([]int32(nil), a.claims...), b.claims...) {
				cover[p]++
			}
			ok := len(cover) == partitions
			for p := int32(0); p < partitions; p++ {
				if cover[p] != 1 {
					ok = false
				}
			}
			if ok {
				split = true
				for _, st := range states {
					st.assigned = map[int32]bool{}
					for _, p := range st.claims {
						st.assigned[p] = true
					}
				}
			}
		}
		mu.Unlock()
		if !split {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !split {
		errs := stopAll()
		return fail("no disjoint split covering 0..5 within 30 s: %s (errors: %v %v %v)", last, members[0].errors(), members[1].errors(), errs)
	}
	logger.Printf("group-split: split reached: %s", last)

	cfg := newConfig("produce-split")
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	stats, timedOut, err := produce(ctx, cfg, splitCount, func(i int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{
			Topic: splitTopic,
			Key:   sarama.StringEncoder(fmt.Sprintf("split-%d", i)),
			Value: sarama.StringEncoder(strconv.Itoa(i)),
		}
	})
	var problems []string
	if err != nil {
		problems = append(problems, "NewAsyncProducer: "+err.Error())
	} else if timedOut || stats.failed > 0 {
		problems = append(problems, fmt.Sprintf("produce: %d of %d acknowledged, %d failed %s", stats.acked, splitCount, stats.failed, stats.errSummary()))
	}
	if err == nil && !timedOut {
		select {
		case <-allDone:
		case <-ctx.Done():
		}
	}
	errs := stopAll()
	if len(errs) > 0 {
		problems = append(problems, "closing: "+strings.Join(errs, ", "))
	}

	mu.Lock()
	defer mu.Unlock()
	var summary []string
	for idx, st := range states {
		summary = append(summary, fmt.Sprintf("%s %v: %d", names[idx], sortedKeys(st.assigned), st.got))
		if st.got == 0 {
			problems = append(problems, names[idx]+" received nothing")
		}
		if st.outside > 0 {
			problems = append(problems, fmt.Sprintf("%s received %d records from partitions outside its assignment %v", names[idx], st.outside, sortedKeys(st.assigned)))
		}
	}
	if dups > 0 {
		problems = append(problems, fmt.Sprintf("%d keys arrived twice", dups))
	}
	missing := 0
	for i := 0; i < splitCount; i++ {
		if !seen[fmt.Sprintf("split-%d", i)] {
			missing++
		}
	}
	if missing > 0 || len(seen) != splitCount {
		problems = append(problems, fmt.Sprintf("%d distinct keys arrived (%d missing), want %d", len(seen), missing, splitCount))
	}
	if len(problems) > 0 {
		return fail("%s (%s)", problemsDetail(problems, 8), strings.Join(summary, "; "))
	}
	return pass("split %s; all %d arrived once, each member only from its own partitions", strings.Join(summary, "; "), splitCount)
}

func sortedKeys(m map[int32]bool) []int32 {
	var out []int32
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ---------------------------------------------------------------------------------------------
// Scenarios 7 and 8

func scenarioAdminGroups(ctx context.Context, passed []string) outcome {
	n := int64(perCodec * len(passed))
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, newConfig("admin-groups"))
	if err != nil {
		return fail("NewClusterAdmin: %v", err)
	}
	defer within(10*time.Second, "admin.Close", admin.Close)
	var problems []string

	groups, err := admin.ListConsumerGroups()
	if err != nil {
		problems = append(problems, "ListConsumerGroups: "+err.Error())
	} else {
		for _, g := range []string{resumeGroup, splitGroup} {
			if _, ok := groups[g]; !ok {
				problems = append(problems, fmt.Sprintf("ListConsumerGroups lacks %s (got %v)", g, groups))
			}
		}
	}

	descs, err := admin.DescribeConsumerGroups([]string{resumeGroup})
	if err != nil {
		problems = append(problems, "DescribeConsumerGroups: "+err.Error())
	} else if len(descs) != 1 {
		problems = append(problems, fmt.Sprintf("DescribeConsumerGroups returned %d groups", len(descs)))
	} else {
		d := descs[0]
		if d.Err != sarama.ErrNoError || d.GroupId != resumeGroup || d.State != "Empty" || d.ProtocolType != "consumer" || len(d.Members) != 0 {
			problems = append(problems, fmt.Sprintf("describe %s: error %v id %q state %q protocol type %q %d members, want state Empty, protocol type consumer, no members",
				resumeGroup, d.Err, d.GroupId, d.State, d.ProtocolType, len(d.Members)))
		}
	}

	client, err := sarama.NewClient([]string{bootstrap}, newConfig("admin-ends"))
	if err != nil {
		problems = append(problems, "NewClient: "+err.Error())
	} else {
		defer within(10*time.Second, "client.Close", client.Close)
		committed, err := committedOffsets(resumeGroup)
		if err != nil {
			problems = append(problems, "ListConsumerGroupOffsets: "+err.Error())
		} else {
			var sum, endSum int64
			var pairs []string
			for p := int32(0); p < partitions; p++ {
				end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
				if err != nil {
					problems = append(problems, fmt.Sprintf("end offset of partition %d: %v", p, err))
					continue
				}
				pairs = append(pairs, fmt.Sprintf("%d/%d", committed[p], end))
				sum += committed[p]
				endSum += end
				if committed[p] != end {
					problems = append(problems, fmt.Sprintf("partition %d: committed %d, end offset %d", p, committed[p], end))
				}
			}
			if sum != n {
				problems = append(problems, fmt.Sprintf("committed offsets sum to %d (ends sum to %d), want N=%d; committed/end %v", sum, endSum, n, pairs))
			}
		}
	}
	if len(problems) > 0 {
		return fail("%s", problemsDetail(problems, 8))
	}
	return pass("both groups listed; %s Empty/consumer/no members; committed offsets equal the end offsets, sum %d", resumeGroup, n)
}

func scenarioDeleteTopic(ctx context.Context) outcome {
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, newConfig("admin-delete"))
	if err != nil {
		return fail("NewClusterAdmin: %v", err)
	}
	defer within(10*time.Second, "admin.Close", admin.Close)
	var errs []string
	for _, t := range []string{topic, splitTopic} {
		if err := admin.DeleteTopic(t); err != nil {
			errs = append(errs, fmt.Sprintf("DeleteTopic(%s): %v", t, err))
		}
	}
	if len(errs) > 0 {
		return fail("%s", strings.Join(errs, "; "))
	}
	client, err := sarama.NewClient([]string{bootstrap}, newConfig("metadata-delete"))
	if err != nil {
		return fail("NewClient: %v", err)
	}
	defer within(10*time.Second, "client.Close", client.Close)
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for {
		if err := client.RefreshMetadata(); err != nil {
			last = "RefreshMetadata: " + err.Error()
		} else if topics, err := client.Topics(); err != nil {
			last = "Topics: " + err.Error()
		} else {
			var left []string
			for _, t := range topics {
				if t == topic || t == splitTopic {
					left = append(left, t)
				}
			}
			if len(left) == 0 {
				return pass("deleted %s and %s; metadata lists neither", topic, splitTopic)
			}
			last = fmt.Sprintf("metadata still lists %v", left)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fail("after 10 s: %s", last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------

func main() {
	flag.StringVar(&bootstrap, "bootstrap", "", "host:port of the broker")
	saramaVersion := flag.String("sarama-version", "unknown", "installed golang-github-shopify-sarama-dev version")
	flag.Parse()
	if bootstrap == "" {
		fmt.Fprintln(os.Stderr, "usage: sarama-compat -bootstrap HOST:PORT [-sarama-version V]")
		os.Exit(2)
	}
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)
	fmt.Printf("CLIENT sarama %s (Debian golang-github-shopify-sarama-dev), %s, Config.Version=%s\n",
		*saramaVersion, runtime.Version(), kafkaVersion)

	runStarted = time.Now()
	run("metadata", 60*time.Second, scenarioMetadata)
	run("create-topic", 60*time.Second, scenarioCreateTopic)
	var passed []string
	for _, codec := range codecs {
		codec := codec
		if o := run("produce-"+codec, 60*time.Second, func(ctx context.Context) outcome { return scenarioProduce(ctx, codec) }); o.status == "pass" {
			passed = append(passed, codec)
		}
	}
	run("consume-assign", 60*time.Second, func(ctx context.Context) outcome { return scenarioConsumeAssign(ctx, passed) })
	run("group-resume", 60*time.Second, func(ctx context.Context) outcome { return scenarioGroupResume(ctx, passed) })
	run("group-split", 60*time.Second, scenarioGroupSplit)
	run("admin-groups", 60*time.Second, func(ctx context.Context) outcome { return scenarioAdminGroups(ctx, passed) })
	run("delete-topic", 60*time.Second, scenarioDeleteTopic)
	logger.Printf("all scenarios done in %s", time.Since(runStarted).Round(time.Millisecond))
}
