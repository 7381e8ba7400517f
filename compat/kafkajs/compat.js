'use strict'
// The compat/README.md scenarios for kafkajs (see compat/kafkajs/README.md).
//   node compat.js BOOTSTRAP INSTALL_DIR
// INSTALL_DIR holds the node_modules that install.sh made with `npm ci`. Prints `CLIENT ...`
// and one `RESULT <scenario> pass|fail|n/a <detail>` per scenario on stdout; kafkajs' own
// log (level WARN) and this program's diagnostics go to stderr.

const path = require('path')
const { createRequire } = require('module')

const [bootstrap, installDir] = process.argv.slice(2)
const [bootstrapHost, bootstrapPort] = (() => {
  const at = (bootstrap || '').lastIndexOf(':')
  return [bootstrap.slice(0, at), Number(bootstrap.slice(at + 1))]
})()

const TOPIC = 'compat'
const SPLIT_TOPIC = 'compat-split'
const RESUME_GROUP = 'compat-resume'
const SPLIT_GROUP = 'compat-split'
// kafkajs has no consumer without a group (no assign()): consume-assign reads through a group
// of its own that never commits.
const ASSIGN_GROUP = 'compat-assign-nocommit'
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const PER_CODEC = 10000
const PARTITIONS = 6
const SPLIT_RECORDS = 6000
// group-resume: consumer A stops once it holds this many records from this many partitions.
const RESUME_FIRST = 3000
const RESUME_FIRST_PARTITIONS = 2

const SCENARIOS = [
  'metadata',
  'create-topic',
  ...CODECS.map(codec => `produce-${codec}`),
  'consume-assign',
  'group-resume',
  'group-split',
  'admin-groups',
  'delete-topic',
]

// ---------------------------------------------------------------------------------------
// Output

const reported = new Set()
function log(...parts) {
  process.stderr.write(`${new Date().toISOString()} compat: ${parts.join(' ')}\n`)
}
function report(id, outcome, detail = '') {
  if (reported.has(id)) return
  reported.add(id)
  const line = `RESULT ${id} ${outcome} ${String(detail).replace(/\s+/g, ' ').trim()}`.trim()
  process.stdout.write(line + '\n')
  log(line)
}
function errorText(e) {
  if (!e) return String(e)
  let text = `${e.name || 'Error'}: ${e.message}`
  if (e.type) text += ` (type ${e.type})`
  if (e.originalError && e.originalError !== e) text += ` caused by ${errorText(e.originalError)}`
  return text
}

process.on('unhandledRejection', e => log('unhandled rejection', errorText(e), e && e.stack))
process.on('uncaughtException', e => log('uncaught exception', errorText(e), e && e.stack))

// ---------------------------------------------------------------------------------------
// Loading the pinned client and its codecs from the install directory

const req = createRequire(path.join(path.resolve(installDir || '.'), 'package.json'))

function versionOf(name, fromDir) {
  try {
    const r = fromDir ? createRequire(path.join(fromDir, 'package.json')) : req
    return r(`${name}/package.json`).version
  } catch (e) {
    return '?'
  }
}
function dirOf(name) {
  return path.dirname(req.resolve(`${name}/package.json`))
}

let kafkajs
try {
  kafkajs = req('kafkajs')
} catch (e) {
  process.stdout.write(`CLIENT kafkajs not loadable from ${installDir}\n`)
  for (const id of SCENARIOS) report(id, 'fail', `kafkajs could not be loaded: ${errorText(e)}`)
  process.exit(0)
}
const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajs

// codec -> { type, loadError: why its pinned package failed to load, or null; text: what
// provides it }. A codec that fails to load is the produce scenario's `fail`, not `n/a`: the
// packages are pinned install requirements (install.sh requires them).
const codecs = {
  none: { type: CompressionTypes.None, loadError: null, text: 'built in' },
  gzip: { type: CompressionTypes.GZIP, loadError: null, text: 'built in (zlib)' },
  snappy: { type: CompressionTypes.Snappy, loadError: null, text: '' },
  lz4: { type: CompressionTypes.LZ4, loadError: null, text: '' },
  zstd: { type: CompressionTypes.ZSTD, loadError: null, text: '' },
}
try {
  CompressionCodecs[CompressionTypes.Snappy] = req('kafkajs-snappy')
  const dir = dirOf('kafkajs-snappy')
  codecs.snappy.text = `kafkajs-snappy ${versionOf('kafkajs-snappy')} + snappyjs ${versionOf('snappyjs', dir)}`
} catch (e) {
  codecs.snappy.loadError = `kafkajs-snappy could not be loaded: ${errorText(e)}`
}
try {
  const LZ4Codec = req('kafkajs-lz4')
  CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
  const dir = dirOf('kafkajs-lz4')
  codecs.lz4.text = `kafkajs-lz4 ${versionOf('kafkajs-lz4')} + lz4 ${versionOf('lz4', dir)} (native)`
} catch (e) {
  codecs.lz4.loadError = `kafkajs-lz4 (native lz4 module) could not be loaded: ${errorText(e)}`
}
try {
  const ZstdCodec = req('@kafkajs/zstd')
  CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodec()
  const dir = dirOf('@kafkajs/zstd')
  codecs.zstd.text = `@kafkajs/zstd ${versionOf('@kafkajs/zstd')} + cppzst ${versionOf('cppzst', dir)} (native)`
} catch (e) {
  codecs.zstd.loadError = `@kafkajs/zstd (native cppzst module) could not be loaded: ${errorText(e)}`
}

process.stdout.write(
  `CLIENT kafkajs ${versionOf('kafkajs')} (Node.js ${process.version}; ` +
    `snappy: ${codecs.snappy.text || 'failed to load'}; lz4: ${codecs.lz4.text || 'failed to load'}; ` +
    `zstd: ${codecs.zstd.text || 'failed to load'})\n`
)

const kafkaLogCreator = () => ({ namespace, label, log: entry }) => {
  const { message, timestamp, logger, ...rest } = entry
  process.stderr.write(
    `${timestamp || new Date().toISOString()} kafkajs ${label} [${namespace}] ${message} ${JSON.stringify(rest)}\n`
  )
}

const kafka = new Kafka({
  clientId: 'riffle-compat-kafkajs',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  logCreator: kafkaLogCreator,
})

// ---------------------------------------------------------------------------------------
// Scenario plumbing: every scenario has a deadline, catches its own errors and cleans up
// (disconnects its clients) before the next one starts.

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

function withTimeout(promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

async function scenario(id, fn, deadlineMs = 60000) {
  const ctx = {
    aborted: false,
    progress: '',
    cleanups: [],
    // a client that is disconnected when the scenario ends, whatever happened
    track(client, name) {
      ctx.cleanups.push({ name, run: () => client.disconnect() })
      return client
    },
  }
  const started = Date.now()
  log(`--- ${id}: start`)
  let timer
  try {
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => {
        ctx.aborted = true
        reject(new Error(`deadline of ${deadlineMs / 1000} s passed${ctx.progress ? `; ${ctx.progress}` : ''}`))
      }, deadlineMs)
    })
    const [outcome, detail] = await Promise.race([fn(ctx), deadline])
    report(id, outcome, detail)
  } catch (e) {
    log(`${id}: threw`, e && e.stack)
    report(id, 'fail', errorText(e))
  } finally {
    clearTimeout(timer)
    ctx.aborted = true
    for (const cleanup of ctx.cleanups.reverse()) {
      try {
        await withTimeout(Promise.resolve().then(cleanup.run), 15000, `${id}: disconnecting ${cleanup.name}`)
      } catch (e) {
        log(`${id}: cleanup of ${cleanup.name} failed: ${errorText(e)}`)
      }
    }
    log(`--- ${id}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
}

// One stderr line per fetched batch, to see where time goes.
function logBatch(name, batch) {
  const n = batch.messages.length
  log(`${name}: batch ${batch.topic}/${batch.partition} ${n} records` +
    (n ? ` at offsets ${batch.firstOffset()}..${batch.lastOffset()}` : '') + `, high watermark ${batch.highWatermark}`)
}

// Logs a consumer's joins and notes a crash in the scenario's progress (shown on a deadline).
function instrument(ctx, consumer, name) {
  consumer.on(consumer.events.GROUP_JOIN, e => {
    log(`${name} joined ${e.payload.groupId} as ${e.payload.memberId} in ${e.payload.duration} ms: ${JSON.stringify(e.payload.memberAssignment)}`)
  })
  consumer.on(consumer.events.CRASH, e => {
    ctx.progress = `${name} crashed: ${errorText(e.payload.error)}`
    log(ctx.progress)
  })
  return consumer
}

async function connectedAdmin(ctx) {
  const admin = ctx.track(kafka.admin(), 'admin')
  await admin.connect()
  return admin
}

// Waits until check() returns true (polling), or throws after ms with what it last saw.
async function waitFor(ctx, ms, what, check) {
  const until = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (ctx.aborted) throw new Error(`aborted while waiting for ${what}`)
    if (Date.now() > until) throw new Error(`${what} did not happen within ${ms / 1000} s`)
    await sleep(100)
  }
}

function first(list, n = 3) {
  return list.length <= n ? list.join('; ') : `${list.slice(0, n).join('; ')}; ... (${list.length} in all)`
}

// Whether a consumed record is exactly what its key implies (scenario 3's shape).
function recordProblem(record, expectedCodecs) {
  const match = /^([a-z0-9]+)-(\d+)$/.exec(record.key)
  if (!match) return `unexpected key ${JSON.stringify(record.key)}`
  const [, codec, digits] = match
  const i = Number(digits)
  if (!expectedCodecs.includes(codec) || i >= PER_CODEC || String(i) !== digits) {
    return `unexpected key ${record.key}`
  }
  const value = `value-${codec}-${i}-${'x'.repeat(i % 100)}`
  if (record.value !== value) {
    return `${record.key}: value ${JSON.stringify(record.value)}, expected ${JSON.stringify(value)}`
  }
  const headers = JSON.stringify(record.headers)
  const expected = JSON.stringify([['codec', codec], ['index', String(i)]])
  if (headers !== expected) return `${record.key}: headers ${headers}, expected ${expected}`
  return null
}

// kafkajs message -> plain record; headers as [[name, value], ...] in received order
function toRecord(partition, message) {
  const headers = []
  for (const [name, value] of Object.entries(message.headers || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      headers.push([name, v === null || v === undefined ? null : v.toString('utf8')])
    }
  }
  return {
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? null : message.value.toString('utf8'),
    headers,
  }
}

async function endOffsets(admin, topic) {
  const offsets = await admin.fetchTopicOffsets(topic)
  const byPartition = {}
  for (const { partition, high } of offsets) byPartition[partition] = Number(high)
  return byPartition
}

// ---------------------------------------------------------------------------------------
// The scenarios

const state = {
  createdTopics: false,
  passedCodecs: [],
  resumeOk: false,
  splitOk: false,
}
const expectedN = () => PER_CODEC * state.passedCodecs.length

async function metadata(ctx) {
  const admin = await connectedAdmin(ctx)
  const cluster = await admin.describeCluster()
  const topics = await admin.listTopics()
  const brokers = cluster.brokers.map(b => `${b.nodeId}@${b.host}:${b.port}`).join(',')
  const broker = cluster.brokers.find(b => b.nodeId === 1)
  const detail = `brokers ${brokers}, controller ${cluster.controller}, ${topics.length} topics`
  if (!broker) return ['fail', `no broker 1 in describeCluster: ${detail}`]
  if (broker.host !== bootstrapHost || broker.port !== bootstrapPort) {
    return ['fail', `broker 1 at ${broker.host}:${broker.port}, expected ${bootstrap}`]
  }
  return ['pass', detail]
}

async function createTopic(ctx) {
  const admin = await connectedAdmin(ctx)
  const created = await admin.createTopics({
    topics: [TOPIC, SPLIT_TOPIC].map(topic => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
    waitForLeaders: true,
    timeout: 10000,
  })
  if (created !== true) return ['fail', `createTopics returned ${created} (a topic already existed), expected true`]
  state.createdTopics = true
  let seen = 'nothing'
  const until = Date.now() + 10000
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [TOPIC] })
      const partitions = (topics[0] ? topics[0].partitions : []).slice().sort((a, b) => a.partitionId - b.partitionId)
      seen = partitions.map(p => `${p.partitionId}:leader ${p.leader}`).join(',') || 'no partitions'
      const ok =
        partitions.length === PARTITIONS && partitions.every((p, index) => p.partitionId === index && p.leader === 1)
      if (ok) return ['pass', `created ${TOPIC} and ${SPLIT_TOPIC}; ${TOPIC}: ${seen}`]
    } catch (e) {
      seen = errorText(e)
    }
    if (Date.now() > until || ctx.aborted) {
      return ['fail', `metadata of ${TOPIC} after 10 s: ${seen}; expected partitions 0..5 led by broker 1`]
    }
    await sleep(200)
  }
}

function produceScenario(codec) {
  return async ctx => {
    const { type, loadError } = codecs[codec]
    if (loadError) return ['fail', loadError]
    const producer = ctx.track(kafka.producer(), 'producer')
    await producer.connect()
    let acked = 0
    const errors = []
    const chunk = 1000
    for (let start = 0; start < PER_CODEC && !ctx.aborted; start += chunk) {
      const messages = []
      for (let i = start; i < Math.min(start + chunk, PER_CODEC); i++) {
        messages.push({
          key: `${codec}-${i}`,
          value: `value-${codec}-${i}-${'x'.repeat(i % 100)}`,
          headers: { codec, index: String(i) },
        })
      }
      const metadata = await producer.send({ topic: TOPIC, acks: -1, compression: type, messages })
      const bad = metadata.filter(m => m.errorCode !== 0)
      if (bad.length) errors.push(...bad.map(m => `partition ${m.partition} error ${m.errorCode}`))
      else acked += messages.length
      ctx.progress = `${acked} of ${PER_CODEC} acknowledged`
    }
    if (errors.length || acked !== PER_CODEC) {
      return ['fail', `${acked} of ${PER_CODEC} acknowledged; ${first(errors)}`]
    }
    state.passedCodecs.push(codec)
    return ['pass', `${PER_CODEC} records acknowledged (acks=all, idempotent=false, kafkajs' default)`]
  }
}

async function consumeAssign(ctx) {
  if (!state.passedCodecs.length) return ['fail', 'prerequisite produce-* failed (no codec produced anything)']
  const N = expectedN()
  const records = []
  let reached
  const done = new Promise(resolve => (reached = resolve))
  const consumer = ctx.track(kafka.consumer({ groupId: ASSIGN_GROUP }), 'consumer')
  instrument(ctx, consumer, 'consumer')
  await consumer.connect()
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      logBatch('consumer', batch)
      for (const message of batch.messages) records.push(toRecord(batch.partition, message))
      ctx.progress = `holding ${records.length} of ${N} records`
      if (records.length >= N) reached()
    },
  })
  // Read until N are held or 45 s passed, then judge what is held.
  await Promise.race([done, sleep(45000)])
  await consumer.disconnect()

  const problems = []
  if (records.length !== N) problems.push(`held ${records.length} records, expected ${N}`)
  const keys = new Set()
  const dupes = []
  for (const record of records) {
    if (keys.has(record.key)) dupes.push(record.key)
    keys.add(record.key)
  }
  if (dupes.length) problems.push(`keys seen twice: ${first(dupes)}`)
  const bad = records.map(r => recordProblem(r, state.passedCodecs)).filter(Boolean)
  if (bad.length) problems.push(...bad.slice(0, 3))
  problems.push(...partitionOrderProblems(records))

  // Reading stops at N, so extra records would go unseen: the end offsets (high watermarks)
  // must sum to N and each partition's be right after the highest offset read there.
  const admin = await connectedAdmin(ctx)
  const ends = await endOffsets(admin, TOPIC)
  const stored = Object.values(ends).reduce((a, b) => a + b, 0)
  if (stored !== N) problems.push(`topic end offsets ${JSON.stringify(ends)} sum to ${stored}, expected ${N}`)
  const after = {}
  for (const r of records) after[r.partition] = Math.max(after[r.partition] || 0, r.offset + 1)
  for (let p = 0; p < PARTITIONS; p++) {
    if (ends[p] !== (after[p] || 0)) {
      problems.push(`partition ${p}: end offset ${ends[p]}, highest offset read + 1 is ${after[p] || 0}`)
    }
  }

  if (problems.length) return ['fail', first(problems, 5)]
  const perPartition = Object.keys(ends)
    .sort()
    .map(p => `${p}:${ends[p]}`)
    .join(',')
  return [
    'pass',
    `${N} records, values and headers intact, offsets contiguous and in send order, each partition's end ` +
      `offset right after its last record read (${perPartition}); ` +
      `read through group ${ASSIGN_GROUP} with autoCommit off and fromBeginning (kafkajs has no assign())`,
  ]
}

// All 6 partitions hold records, offsets 0..n-1, and per codec the index grows with the offset.
function partitionOrderProblems(records) {
  const problems = []
  const byPartition = new Map()
  for (const r of records) {
    if (!byPartition.has(r.partition)) byPartition.set(r.partition, [])
    byPartition.get(r.partition).push(r)
  }
  for (let p = 0; p < PARTITIONS; p++) if (!byPartition.has(p)) problems.push(`partition ${p} holds no records`)
  for (const [p, list] of byPartition) {
    list.sort((a, b) => a.offset - b.offset)
    const gap = list.findIndex((r, index) => r.offset !== index)
    if (gap >= 0) problems.push(`partition ${p}: record ${gap} is at offset ${list[gap].offset}, expected ${gap}`)
    const lastIndex = {}
    for (const r of list) {
      const match = /^([a-z0-9]+)-(\d+)$/.exec(r.key || '')
      if (!match) continue
      const [, codec, i] = match
      if (lastIndex[codec] !== undefined && Number(i) <= lastIndex[codec]) {
        problems.push(`partition ${p}: ${r.key} at offset ${r.offset} after ${codec}-${lastIndex[codec]} (send order lost)`)
        break
      }
      lastIndex[codec] = Number(i)
    }
  }
  return problems
}

async function groupResume(ctx) {
  if (!state.passedCodecs.length) return ['fail', 'prerequisite produce-* failed (no codec produced anything)']
  const N = expectedN()
  const admin = await connectedAdmin(ctx)

  // Consumer A: process records one by one until it holds at least 3,000 from at least 2
  // partitions, commit exactly what it processed, close.
  const aRecords = []
  const aLast = {}
  let aDone = false
  let aReached
  const aEnough = new Promise(resolve => (aReached = resolve))
  const a = ctx.track(kafka.consumer({ groupId: RESUME_GROUP }), 'consumer A')
  instrument(ctx, a, 'consumer A')
  await a.connect()
  await a.subscribe({ topic: TOPIC, fromBeginning: true })
  await a.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      logBatch('consumer A', batch)
      for (const message of batch.messages) {
        if (aDone) return
        const record = toRecord(batch.partition, message)
        aRecords.push(record)
        aLast[record.partition] = record.offset
        if (aRecords.length >= RESUME_FIRST && Object.keys(aLast).length >= RESUME_FIRST_PARTITIONS) {
          aDone = true
          a.pause([{ topic: TOPIC }])
          aReached()
        }
      }
      ctx.progress = `A holds ${aRecords.length} records from ${Object.keys(aLast).length} partitions, ` +
        `needs ${RESUME_FIRST} from ${RESUME_FIRST_PARTITIONS}`
    },
  })
  await aEnough
  const aCommitted = {}
  for (const [p, offset] of Object.entries(aLast)) aCommitted[p] = offset + 1
  await a.commitOffsets(
    Object.entries(aCommitted).map(([p, offset]) => ({ topic: TOPIC, partition: Number(p), offset: String(offset) }))
  )
  await a.disconnect()
  log(`group-resume: A processed ${aRecords.length} from ${Object.keys(aLast).length} partitions, ` +
    `committed ${JSON.stringify(aCommitted)}`)

  const problems = []
  const [stored] = await admin.fetchOffsets({ groupId: RESUME_GROUP, topics: [TOPIC] })
  const storedText = stored.partitions.map(p => `${p.partition}:${p.offset}`).join(',')
  for (const { partition, offset } of stored.partitions) {
    const want = aCommitted[partition] === undefined ? -1 : aCommitted[partition]
    if (Number(offset) !== want) {
      problems.push(`after A closed the group's offset for partition ${partition} is ${offset}, A committed ${want}`)
    }
  }

  // Consumer B: resume, read until A and B together hold N, commit, close.
  const bRecords = []
  const bFirst = {}
  const bLast = {}
  let bReached
  const bEnough = new Promise(resolve => (bReached = resolve))
  const b = ctx.track(kafka.consumer({ groupId: RESUME_GROUP }), 'consumer B')
  instrument(ctx, b, 'consumer B')
  await b.connect()
  await b.subscribe({ topic: TOPIC, fromBeginning: true })
  await b.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      logBatch('consumer B', batch)
      for (const message of batch.messages) {
        const record = toRecord(batch.partition, message)
        bRecords.push(record)
        if (bFirst[record.partition] === undefined) bFirst[record.partition] = record.offset
        bLast[record.partition] = record.offset
      }
      ctx.progress = `A committed after ${aRecords.length}; B holds ${bRecords.length} of ${N - aRecords.length}`
      if (aRecords.length + bRecords.length >= N) bReached()
    },
  })
  await bEnough
  await b.commitOffsets(
    Object.entries(bLast).map(([p, offset]) => ({ topic: TOPIC, partition: Number(p), offset: String(offset + 1) }))
  )
  await b.disconnect()

  for (let p = 0; p < PARTITIONS; p++) {
    const want = aCommitted[p] === undefined ? 0 : aCommitted[p]
    if (bFirst[p] !== undefined && bFirst[p] !== want) {
      problems.push(`B's first record in partition ${p} is at offset ${bFirst[p]}, A committed ${want}`)
    }
  }
  const resumedAt = Object.keys(bFirst).filter(p => bFirst[p] > 0 && bFirst[p] === aCommitted[p])
  if (!resumedAt.length) {
    problems.push(`B resumed at a non-zero offset in no partition; A committed ${JSON.stringify(aCommitted)}, ` +
      `B started at ${JSON.stringify(bFirst)}`)
  }
  const aKeys = new Set(aRecords.map(r => r.key))
  const both = bRecords.filter(r => aKeys.has(r.key)).map(r => r.key)
  if (both.length) problems.push(`records seen by both A and B: ${first(both)}`)
  const all = new Set([...aKeys, ...bRecords.map(r => r.key)])
  if (aRecords.length + bRecords.length !== N || all.size !== N) {
    problems.push(`A held ${aRecords.length} and B ${bRecords.length} (${all.size} distinct keys), expected ${N} in all`)
  }
  const bad = [...aRecords, ...bRecords].map(r => recordProblem(r, state.passedCodecs)).filter(Boolean)
  if (bad.length) problems.push(...bad.slice(0, 3))
  // B starting exactly where A stopped and together holding N distinct keys covers "every one".
  if (problems.length) return ['fail', `${first(problems, 5)} (offsets the broker returned after A: ${storedText})`]
  state.resumeOk = true
  const committed = Object.keys(aCommitted)
    .sort()
    .map(p => `${p}:${aCommitted[p]}`)
    .join(',')
  const started = Object.keys(bFirst)
    .sort()
    .map(p => `${p}:${bFirst[p]}`)
    .join(',')
  return ['pass', `A processed ${aRecords.length} from ${Object.keys(aCommitted).length} partitions and committed ` +
    `${committed}; B resumed there (first offsets ${started}) and read ${bRecords.length}`]
}

async function groupSplit(ctx) {
  if (!state.createdTopics) ctx.progress = 'create-topic failed; trying anyway'
  const members = [0, 1].map(index => {
    const consumer = ctx.track(kafka.consumer({ groupId: SPLIT_GROUP }), `member ${index}`)
    const member = { index, consumer, assignment: null, joins: 0, records: [] }
    consumer.on(consumer.events.GROUP_JOIN, e => {
      member.assignment = (e.payload.memberAssignment[SPLIT_TOPIC] || []).slice().sort((x, y) => x - y)
      member.joins++
    })
    instrument(ctx, consumer, `member ${index}`)
    return member
  })
  const describe = () => members.map(m => `member ${m.index}: [${m.assignment === null ? 'none yet' : m.assignment}]`).join(', ')
  const total = () => members.reduce((sum, m) => sum + m.records.length, 0)

  await Promise.all(members.map(m => m.consumer.connect()))
  await Promise.all(members.map(m => m.consumer.subscribe({ topic: SPLIT_TOPIC, fromBeginning: true })))
  await Promise.all(
    members.map(m =>
      m.consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          logBatch(`member ${m.index}`, batch)
          for (const message of batch.messages) {
            m.records.push({ partition: batch.partition, key: message.key.toString(), value: message.value.toString() })
          }
          ctx.progress = `assignments ${describe()}; ${total()} of ${SPLIT_RECORDS} consumed`
        },
      })
    )
  )

  const split = () => {
    const [x, y] = members.map(m => m.assignment)
    if (!x || !y || !x.length || !y.length) return false
    const union = [...x, ...y].sort((p, q) => p - q)
    return union.length === PARTITIONS && union.every((p, index) => p === index)
  }
  const waitUntil = Date.now() + 30000
  while (!split()) {
    if (Date.now() > waitUntil) return ['fail', `no split assignment within 30 s: ${describe()}`]
    ctx.progress = `waiting for a split assignment: ${describe()}`
    await sleep(100)
  }
  const assigned = members.map(m => m.assignment.slice())
  const joinsAtSplit = members.map(m => m.joins)
  log(`group-split: split ${describe()}; producing`)

  const producer = ctx.track(kafka.producer(), 'producer')
  await producer.connect()
  for (let start = 0; start < SPLIT_RECORDS; start += 1000) {
    const messages = []
    for (let i = start; i < start + 1000; i++) messages.push({ key: `split-${i}`, value: String(i) })
    await producer.send({ topic: SPLIT_TOPIC, acks: -1, messages })
  }
  await producer.disconnect()

  await waitFor(ctx, 25000, `${SPLIT_RECORDS} records consumed`, () => total() >= SPLIT_RECORDS).catch(e => {
    ctx.progress = `${errorText(e)}; ${total()} consumed`
  })
  await Promise.all(members.map(m => m.consumer.disconnect()))

  const problems = []
  if (members.some((m, index) => m.joins !== joinsAtSplit[index])) {
    problems.push(`a rebalance happened after the split: now ${describe()}`)
  }
  for (const m of members) {
    const foreign = m.records.filter(r => !assigned[m.index].includes(r.partition))
    if (foreign.length) {
      problems.push(
        `member ${m.index} (assigned ${assigned[m.index]}) received ${foreign.length} records from partitions ` +
          `${[...new Set(foreign.map(r => r.partition))]}`
      )
    }
    if (!m.records.length) problems.push(`member ${m.index} received nothing`)
  }
  const seen = new Set()
  const dupes = []
  for (const m of members) {
    for (const r of m.records) {
      if (seen.has(r.key)) dupes.push(r.key)
      seen.add(r.key)
      if (r.key !== `split-${r.value}`) problems.push(`key ${r.key} with value ${r.value}`)
    }
  }
  if (dupes.length) problems.push(`keys received twice: ${first(dupes)}`)
  let missing = 0
  for (let i = 0; i < SPLIT_RECORDS; i++) if (!seen.has(`split-${i}`)) missing++
  if (missing || total() !== SPLIT_RECORDS) {
    problems.push(`${total()} records received (${missing} of ${SPLIT_RECORDS} keys missing), expected ${SPLIT_RECORDS}`)
  }
  if (problems.length) return ['fail', first(problems, 5)]
  state.splitOk = true
  return [
    'pass',
    `assignments [${assigned[0]}] and [${assigned[1]}] (GROUP_JOIN); received ` +
      `${members[0].records.length} + ${members[1].records.length}, each only from its own partitions`,
  ]
}

async function adminGroups(ctx) {
  const admin = await connectedAdmin(ctx)
  const problems = []
  const { groups } = await admin.listGroups()
  const ids = groups.map(g => g.groupId)
  for (const wanted of [RESUME_GROUP, SPLIT_GROUP]) {
    if (!ids.includes(wanted)) problems.push(`listGroups lacks ${wanted} (got ${ids.join(',') || 'none'})`)
  }
  const described = await admin.describeGroups([RESUME_GROUP])
  const group = described.groups.find(g => g.groupId === RESUME_GROUP)
  if (!group) {
    problems.push(`describeGroups returned no ${RESUME_GROUP}`)
  } else {
    if (group.errorCode) problems.push(`describeGroups error code ${group.errorCode}`)
    if (group.state !== 'Empty') problems.push(`state ${group.state}, expected Empty`)
    if (group.protocolType !== 'consumer') problems.push(`protocol type ${group.protocolType}, expected consumer`)
    if (group.members.length) problems.push(`${group.members.length} members, expected none`)
  }
  const N = expectedN()
  const ends = await endOffsets(admin, TOPIC)
  const [committed] = await admin.fetchOffsets({ groupId: RESUME_GROUP, topics: [TOPIC] })
  const partitions = committed ? committed.partitions : []
  const seen = partitions.map(p => `${p.partition}:${p.offset}`).sort().join(',')
  const endText = Object.keys(ends).sort().map(p => `${p}:${ends[p]}`).join(',')
  if (partitions.length !== PARTITIONS) problems.push(`fetchOffsets returned ${partitions.length} partitions, expected ${PARTITIONS}`)
  for (const { partition, offset } of partitions) {
    if (Number(offset) !== ends[partition]) {
      problems.push(`committed offset of partition ${partition} is ${offset}, end offset ${ends[partition]}`)
    }
  }
  const sum = partitions.reduce((s, p) => s + Number(p.offset), 0)
  if (sum !== N) problems.push(`committed offsets sum to ${sum}, expected ${N}`)
  if (!state.resumeOk && problems.length) problems.push('(group-resume had failed)')
  if (problems.length) return ['fail', `${first(problems, 5)}; committed ${seen}; end offsets ${endText}`]
  return [
    'pass',
    `groups ${ids.join(',')}; ${RESUME_GROUP}: Empty, consumer, no members; committed ${seen} (sum ${sum})`,
  ]
}

async function deleteTopic(ctx) {
  const admin = await connectedAdmin(ctx)
  await admin.deleteTopics({ topics: [TOPIC, SPLIT_TOPIC], timeout: 10000 })
  let listed = []
  const until = Date.now() + 10000
  for (;;) {
    listed = await admin.listTopics()
    if (!listed.includes(TOPIC) && !listed.includes(SPLIT_TOPIC)) {
      return ['pass', `deleted both; metadata lists ${listed.length ? listed.join(',') : 'no topics'}`]
    }
    if (Date.now() > until || ctx.aborted) {
      return ['fail', `10 s after deleteTopics metadata still lists ${listed.filter(t => t.startsWith('compat')).join(',')}`]
    }
    await sleep(200)
  }
}

async function main() {
  // run.sh is killed after 300 s; stop well before, reporting what is missing.
  setTimeout(() => {
    for (const id of SCENARIOS) report(id, 'fail', 'compat.js gave up after 240 s in all')
    process.exit(0)
  }, 240000).unref()

  await scenario('metadata', metadata)
  await scenario('create-topic', createTopic)
  for (const codec of CODECS) await scenario(`produce-${codec}`, produceScenario(codec))
  await scenario('consume-assign', consumeAssign)
  await scenario('group-resume', groupResume)
  await scenario('group-split', groupSplit)
  await scenario('admin-groups', adminGroups)
  await scenario('delete-topic', deleteTopic)
}

main()
  .catch(e => log('main failed', e && e.stack))
  .finally(() => {
    for (const id of SCENARIOS) report(id, 'fail', 'not run (compat.js stopped early)')
    process.exit(0)
  })
