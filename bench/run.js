'use strict'
// `npm run bench`: this addon against a hand-batched @aws-sdk/client-sns logger and
// per-event Publish, in one run, against the same local endpoint, each measurement in
// a fresh process, rounds alternating, medians printed with the ratios.
//
//   node bench/run.js            full run (release build expected)
//   node bench/run.js --smoke    a few hundred events per case: checks the harness works
//   node bench/run.js --tail     only the tail and sporadic measurements (below)
//   node bench/run.js --sporadic only the sporadic measurement
//
// The tail measurement times every one of 50,000 log() calls, against the floor timed
// the same way in the same process: building the event and JSON.stringify'ing it,
// which V8 spends on any event whatever the logger does. Once paced so that delivery
// keeps up ("steady"), once as one synchronous burst that outpaces delivery.
// Beside it, log() stage by stage (the floor, the serializer, the native function),
// each stage in a process of its own, once more on one CPU to show what sharing data
// with the delivery thread across cores costs.
// The sporadic measurement calls log() as a chat server does between busy spells: one
// call every 20 ms, and one every 100 ms, the event loop asleep in between, so that
// every call finds caches, branch predictors and the CPU's clock cold. Each call is
// timed beside the floor, and beside each stage of log() (the serializer; log() on a
// logger whose delivery loop it never wakes, and on one it wakes every call), all in
// one process per interval and round, with what the kernel counted per call for the
// JavaScript thread and the delivery thread, and each stage's cost in a hot loop.
// BENCH_PACKAGE=<dir> runs the workers on another copy of the package (a "before").
//
// The endpoint is bench/sns-stub.js (its own process); its capacity is measured in the
// same run so that the report shows it was not the limit. A second, smaller run goes
// against moto for realism.
const { spawn, spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { median, pct } = require('./common')

const SMOKE = process.argv.includes('--smoke')
const TAIL_ONLY = process.argv.includes('--tail')
const SPORADIC_ONLY = process.argv.includes('--sporadic')
const ROUNDS = SMOKE ? 1 : Number(process.env.BENCH_ROUNDS || 3)
const N = SMOKE ? 300 : Number(process.env.BENCH_EVENTS || 50_000)
const N_PUBLISH = SMOKE ? 100 : Number(process.env.BENCH_PUBLISH_EVENTS || 5_000)
const N_QUEUED = SMOKE ? 2_000 : 1_000_000
const N_MOTO = SMOKE ? 50 : 2_000
const N_TAIL = SMOKE ? 2_000 : Number(process.env.BENCH_TAIL_EVENTS || 50_000)
const PACES = ['steady', 'burst']
const STAGES = ['floor', 'serializer', 'nativeReusedText', 'log']
// The reused-text stage once more with the whole process on one CPU (`taskset`), the
// delivery thread beside the JavaScript thread: what the JavaScript thread pays when
// the two share data across cores shows as the difference.
const ONE_CPU = 'nativeReusedTextOneCpu'
const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0
const PARTS_ROUNDS = SMOKE ? 1 : 20 // timed loops of 10,000 calls per stage and process
const IMPLS = ['addon', 'js-batch', 'js-publish']
// Calls per stage, process and round at each interval: with five stages and three
// rounds, 75 s of sleeping between calls in all.
const INTERVALS_MS = [20, 100]
const SPORADIC_CALLS = {
  20: SMOKE ? 8 : Number(process.env.BENCH_SPORADIC_EVENTS || 100),
  100: SMOKE ? 3 : Number(process.env.BENCH_SPORADIC_SLOW_EVENTS || 30),
}
// Calls per stage in the worker's hot loop, in a row, before the sporadic calls: the
// stage's cost with everything hot (half as many before it warm it up).
const SPORADIC_HOT_CALLS = SMOKE ? 100 : 1_000
const SPORADIC_STAGES = ['floor', 'serializer', 'log', 'logNeverWoken', 'logWokenEachCall']
const env = { ...process.env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1', NODE_NO_WARNINGS: '1', AWS_EC2_METADATA_DISABLED: 'true' }

function startStub() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'sns-stub.js')], { stdio: ['ignore', 'pipe', 'inherit'], env })
    child.stdout.once('data', (d) => {
      const m = /listening (\d+)/.exec(String(d))
      if (!m) return reject(new Error(`stub said ${d}`))
      resolve({ endpoint: `http://127.0.0.1:${m[1]}`, stop: () => child.kill('SIGTERM') })
    })
    child.once('error', reject)
  })
}

function node(args, extraEnv = {}, { oneCpu = false } = {}) {
  const [file, argv] = oneCpu ? ['taskset', ['-c', '0', process.execPath]] : [process.execPath, []]
  const out = execFileSync(file, [...argv, '--expose-gc', ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', maxBuffer: 64 << 20 })
  return JSON.parse(out.trim().split('\n').pop())
}

const fmt = (v, digits = 0) => (v === undefined || Number.isNaN(v) ? 'n/a' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }))

function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (r) => r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]) : String(v).padStart(widths[i]))).join('  ')
  return [line(header), ...rows.map(line)].join('\n')
}

/** The tail table: every call's figures, medians over rounds, floor beside log(). */
function tailReport(tails) {
  const med = (pace, side, key) => median(tails[pace].map((r) => r[side][key]))
  const keys = [
    ['meanNs', 'mean ns'],
    ['p50Ns', 'p50 ns'],
    ['p99Ns', 'p99 ns'],
    ['p999Ns', 'p99.9 ns'],
    ['maxNs', 'max ns'],
    ['over10us', 'calls over 10 us'],
    ['over10usMs', 'ms in calls over 10 us'],
    ['firstOfTurnP50Ns', 'first call of a turn, p50 ns'],
    ['loopNsPerCall', 'loop ns/call (timers included)'],
    ['scavenges', 'scavenges'],
    ['scavengeMs', 'scavenge ms, total'],
    ['threadCpuNsPerCall', 'JS thread on a CPU, ns/call'],
    ['threadWaitNsPerCall', 'JS thread waiting for a CPU, ns/call'],
    ['preemptions', 'JS thread preempted, times'],
    ['faultsPer1kCalls', 'JS thread page faults per 1,000 calls'],
  ]
  const rows = keys.map(([k, label]) => [label, ...PACES.flatMap((p) => [fmt(med(p, 'floor', k), k.endsWith('Ms') ? 1 : 0), fmt(med(p, 'log', k), k.endsWith('Ms') ? 1 : 0)])])
  const ratio = (p) => median(tails[p].map((r) => r.meanOverFloor))
  rows.push(['log() mean / floor mean', ...PACES.flatMap((p) => ['', `${fmt(ratio(p), 2)}x`])])
  rows.push(['queued when the last call returned', ...PACES.flatMap((p) => ['', fmt(median(tails[p].map((r) => r.queuedAfterLoop)))])])
  rows.push(['CPU us/event until flushed', ...PACES.flatMap((p) => ['', fmt(median(tails[p].map((r) => r.cpuUsPerEvent)), 1)])])
  const first = tails.steady[0]
  return [
    `log() over every call: ${N_TAIL} calls per case, ${first.eventBytes}-byte event built fresh per call, ${tails.steady.length} rounds alternating, medians; floor = building the event + JSON.stringify, timed the same way in the same process; steady = turns of 1,000 calls, ${fmt(first.steadyRate)} calls/s, burst = one synchronous loop`,
    table(rows, ['', 'steady floor', 'steady log()', 'burst floor', 'burst log()']),
  ].join('\n')
}

function runTails(endpoint) {
  const tails = Object.fromEntries(PACES.map((p) => [p, []]))
  tails.parts = Object.fromEntries([...STAGES, ONE_CPU].map((s) => [s, []]))
  const stage = (name, oneCpu) => node([path.join(__dirname, 'worker.js'), 'parts', endpoint, name, String(PARTS_ROUNDS)], {}, { oneCpu }).perCallNs
  for (let round = 0; round < ROUNDS; round++) {
    for (const pace of PACES) tails[pace].push(node([path.join(__dirname, 'worker.js'), 'tail', endpoint, String(N_TAIL), pace]))
    for (const name of STAGES) tails.parts[name].push(stage(name, false))
    tails.parts[ONE_CPU].push(HAS_TASKSET ? stage('nativeReusedText', true) : null)
  }
  return tails
}

/**
 * The stage table: where log()'s time beyond the floor goes, each stage timed alone
 * in a process of its own (medians over rounds). The check and the native call are
 * differences of medians, so each comes out within the noise of the two it is taken
 * from.
 */
function partsReport(parts) {
  const at = (stage) => (parts[stage].includes(null) ? NaN : median(parts[stage]))
  const [floor, serializer, reused, log, oneCpu] = [...STAGES, ONE_CPU].map(at)
  const row = (label, ns) => [label, fmt(ns), Number.isNaN(ns) ? 'n/a' : `${fmt((100 * ns) / log)}%`]
  const rows = [
    row('log(), whole', log),
    row('  the floor: building the event + JSON.stringify', floor),
    row("  the serializer's check (serializer - floor)", serializer - floor),
    row('  the native call and the class method (log() - serializer)', log - serializer),
    row('the native function alone, on one reused text (flat, in cache)', reused),
    row('  the same, the process on one CPU: no data shared across cores', oneCpu),
  ]
  return [
    `log() stage by stage: loops of 10,000 calls, ${PARTS_ROUNDS} per process, one stage per process, ${parts.log.length} rounds alternating, medians; share of log()`,
    table(rows, ['', 'ns per call', 'share']),
    `log() / floor, stage by stage: ${Number.isNaN(log / floor) ? 'n/a' : `${fmt(log / floor, 2)}x`}`,
  ].join('\n')
}

function runSporadic(endpoint) {
  const runs = Object.fromEntries(INTERVALS_MS.map((ms) => [ms, []]))
  for (let round = 0; round < ROUNDS; round++) {
    // Each round starts with another stage, so that no stage is always the first or
    // the last of its process.
    const order = SPORADIC_STAGES.map((_, i) => SPORADIC_STAGES[(i + round) % SPORADIC_STAGES.length])
    for (const ms of INTERVALS_MS) runs[ms].push(node([path.join(__dirname, 'worker.js'), 'sporadic', endpoint, String(SPORADIC_CALLS[ms]), String(ms), order.join(','), String(SPORADIC_HOT_CALLS)]))
  }
  return runs
}

/**
 * Every round's calls of one stage at one interval, pooled (a round has too few calls
 * for a p99 of its own), summarised as the tail table summarises; the kernel's counts
 * and the hot loop's cost as medians over rounds. NaN where the package lacks the stage.
 */
function sporadicStage(runs, ms, stage) {
  const rounds = runs[ms].map((r) => r.stages[stage]).filter(Boolean)
  const ns = rounds.flatMap((r) => r.ns).sort((a, b) => a - b)
  if (ns.length === 0) return {}
  const per = (k) => median(rounds.map((r) => r[k]))
  return {
    calls: ns.length,
    p50Ns: pct(ns, 50),
    p99Ns: pct(ns, 99),
    meanNs: ns.reduce((a, v) => a + v, 0) / ns.length,
    maxNs: ns[ns.length - 1],
    hotNsPerCall: per('hotNsPerCall'),
    threadCpuNsPerCall: per('threadCpuNsPerCall'),
    threadWaitNsPerCall: per('threadWaitNsPerCall'),
    blocksPerCall: per('blocksPerCall'),
    preemptionsPerCall: per('preemptionsPerCall'),
    faultsPerCall: per('faultsPer1kCalls') / 1000,
    deliveryWakesPerCall: per('deliveryWakesPerCall'),
    deliveryCpuNsPerCall: per('deliveryCpuNsPerCall'),
  }
}

const ratio = (a, b) => (Number.isFinite(a / b) ? `${fmt(a / b, 2)}x` : 'n/a')

/** The sporadic table: log() beside the floor at each interval, as the tail table has it. */
function sporadicReport(runs) {
  const at = (ms, stage) => sporadicStage(runs, ms, stage)
  const keys = [
    ['p50Ns', 'median ns'],
    ['p99Ns', 'p99 ns'],
    ['meanNs', 'mean ns'],
    ['maxNs', 'max ns'],
    ['hotNsPerCall', 'the same in a hot loop, ns/call'],
  ]
  const rows = keys.map(([k, label]) => [label, ...INTERVALS_MS.flatMap((ms) => [fmt(at(ms, 'floor')[k]), fmt(at(ms, 'log')[k])])])
  rows.push(['log() / floor, median', ...INTERVALS_MS.flatMap((ms) => ['', ratio(at(ms, 'log').p50Ns, at(ms, 'floor').p50Ns)])])
  rows.push(['log() / floor, mean', ...INTERVALS_MS.flatMap((ms) => ['', ratio(at(ms, 'log').meanNs, at(ms, 'floor').meanNs)])])
  rows.push(['median / hot loop', ...INTERVALS_MS.flatMap((ms) => ['floor', 'log'].map((s) => ratio(at(ms, s).p50Ns, at(ms, s).hotNsPerCall)))])
  const calls = INTERVALS_MS.map((ms) => `${fmt(at(ms, 'log').calls)} at ${ms} ms`).join(', ')
  return [
    `log() called sporadically: one call every ${INTERVALS_MS.join(' or ')} ms, the event loop asleep in between; calls per case, ${runs[INTERVALS_MS[0]].length} rounds alternating, pooled: ${calls}; floor = building the event + JSON.stringify, timed the same way in the same process; hot loop = ${fmt(runs[INTERVALS_MS[0]][0].hotCalls)} calls in a row, same process, before the sporadic calls`,
    table(rows, ['', ...INTERVALS_MS.flatMap((ms) => [`${ms} ms floor`, `${ms} ms log()`])]),
  ].join('\n')
}

/**
 * Where a sporadic log() call's time beyond the floor goes: the stages as the stage
 * table has them, at medians of every call (differences of medians, so each within
 * the noise of the two it is taken from); then what waking the delivery loop adds
 * (log() on a logger it wakes every call against one it never wakes); then, per stage,
 * the hot loop's cost and what the kernel counted over the phase per call (the sleeps
 * between calls included: compare with the floor's row, which has the same sleeps).
 */
function sporadicPartsReport(runs) {
  const at = (ms, stage) => sporadicStage(runs, ms, stage)
  // `f` takes the median of a stage and gives the row's figure.
  const row = (label, f) => [
    label,
    ...INTERVALS_MS.flatMap((ms) => {
      const ns = f((stage) => at(ms, stage).p50Ns)
      const log = at(ms, 'log').p50Ns
      return [fmt(ns), Number.isFinite(ns / log) ? `${fmt((100 * ns) / log)}%` : 'n/a']
    }),
  ]
  const rows = [
    row('log(), whole', (p) => p('log')),
    row('  the floor: building the event + JSON.stringify', (p) => p('floor')),
    row("  the serializer's check (serializer - floor)", (p) => p('serializer') - p('floor')),
    row('  the native call and the class method (log() - serializer)', (p) => p('log') - p('serializer')),
    row('log(), the delivery loop never woken (its one request slot held)', (p) => p('logNeverWoken')),
    row('log(), the delivery loop woken by every call (batches of one)', (p) => p('logWokenEachCall')),
    row('  what waking the loop adds (woken every call - never woken)', (p) => p('logWokenEachCall') - p('logNeverWoken')),
  ]
  const labels = { floor: 'floor', serializer: 'serializer', log: 'log()', logNeverWoken: 'log(), never wakes', logWokenEachCall: 'log(), wakes each call' }
  const counters = INTERVALS_MS.flatMap((ms) =>
    SPORADIC_STAGES.map((stage) => {
      const s = at(ms, stage)
      return [
        `${ms} ms ${labels[stage]}`,
        fmt(s.p50Ns),
        fmt(s.p99Ns),
        fmt(s.hotNsPerCall),
        fmt(s.p50Ns - s.hotNsPerCall),
        fmt(s.threadCpuNsPerCall),
        fmt(s.threadWaitNsPerCall),
        fmt(s.blocksPerCall, 2),
        fmt(s.preemptionsPerCall, 2),
        fmt(s.faultsPerCall, 2),
        fmt(s.deliveryWakesPerCall, 2),
        fmt(s.deliveryCpuNsPerCall),
      ]
    }),
  )
  return [
    'sporadic log() stage by stage: each stage timed as the sporadic table times log(), in the same processes; medians of every call; share of log()',
    table(rows, ['', ...INTERVALS_MS.flatMap((ms) => [`${ms} ms, ns`, 'share'])]),
    '',
    'each stage, per call: median and p99 (every call), the hot loop, p50 - hot loop (what a cold call costs); then, medians over rounds of the counts over each phase (the sleeps between calls included) per call: the JavaScript thread on a CPU and waiting for one (ns), blocked (voluntary switches, one per sleep at least), preempted, and its page faults; the delivery thread woken (its voluntary switches) and on a CPU',
    table(counters, ['', 'p50 ns', 'p99 ns', 'hot ns', 'p50 - hot ns', 'JS CPU ns', 'JS wait ns', 'JS blocked', 'JS preempted', 'JS faults', 'delivery woken', 'delivery CPU ns']),
  ].join('\n')
}

function writeResults(name, report, started) {
  const out = path.join(__dirname, 'results', SMOKE ? `smoke${name ? `-${name}` : ''}.json` : `${name || 'latest'}.json`)
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), smoke: SMOKE, ...report, seconds: (Date.now() - started) / 1000 }, null, 2))
  console.log(`\nall runs: ${path.relative(process.cwd(), out)} (${fmt((Date.now() - started) / 1000)} s)`)
}

async function main() {
  const started = Date.now()
  const stub = await startStub()
  const results = Object.fromEntries(IMPLS.map((i) => [i, []]))
  let capacity
  let queued = {}
  let tails
  let sporadic
  if (SPORADIC_ONLY) {
    try {
      sporadic = runSporadic(stub.endpoint)
    } finally {
      stub.stop()
    }
    console.log(sporadicReport(sporadic))
    console.log(`\n${sporadicPartsReport(sporadic)}`)
    writeResults('sporadic', { sporadic }, started)
    return
  }
  if (TAIL_ONLY) {
    try {
      tails = runTails(stub.endpoint)
      sporadic = runSporadic(stub.endpoint)
    } finally {
      stub.stop()
    }
    console.log(tailReport(tails))
    console.log(`\n${partsReport(tails.parts)}`)
    console.log(`\n${sporadicReport(sporadic)}`)
    console.log(`\n${sporadicPartsReport(sporadic)}`)
    writeResults('tail', { tails, sporadic }, started)
    return
  }
  try {
    capacity = node([path.join(__dirname, 'stub-load.js'), stub.endpoint, SMOKE ? '0.5' : '3'])
    tails = runTails(stub.endpoint)
    sporadic = runSporadic(stub.endpoint)
    for (let round = 0; round < ROUNDS; round++) {
      for (const impl of IMPLS) {
        const n = impl === 'js-publish' ? N_PUBLISH : N
        results[impl].push(node([path.join(__dirname, 'worker.js'), 'throughput', impl, stub.endpoint, String(n)], { STUB: stub.endpoint }))
      }
    }
    for (const impl of ['addon', 'js-batch']) {
      queued[impl] = node([path.join(__dirname, 'worker.js'), 'queued', impl, String(N_QUEUED)])
    }
  } finally {
    stub.stop()
  }

  // Against moto: realism, not speed (moto takes milliseconds per request).
  const motoResults = {}
  const venv = path.join(__dirname, '..', '.venv-moto', 'bin', 'moto_server')
  if (fs.existsSync(venv)) {
    const moto = require('../__test__/helpers/moto')
    const server = await moto.startMoto()
    try {
      const { CreateTopicCommand } = require('@aws-sdk/client-sns')
      for (const impl of IMPLS) {
        // No subscription: moto hands each message to a subscriber in about 10 ms,
        // which would measure moto, not the publishers.
        const { TopicArn: topicArn } = await server.sns.send(new CreateTopicCommand({ Name: `bench-${impl}-${Date.now()}` }))
        motoResults[impl] = node([path.join(__dirname, 'worker.js'), 'throughput', impl, server.endpoint, String(N_MOTO)], { TOPIC_ARN: topicArn })
      }
    } finally {
      await server.stop()
    }
  }

  const m = (impl, key) => median(results[impl].map((r) => r[key]).filter((v) => v !== undefined))
  const keys = [
    ['mainNsPerEvent', 'main thread ns/event', 0],
    ['logP50Ns', 'log() p50 ns', 0],
    ['logP99Ns', 'log() p99 ns', 0],
    ['cpuUsPerEvent', 'CPU us/event', 1],
    ['eventsPerSec', 'events/s', 0],
    ['latencyP50Ms', 'enqueue->SNS p50 ms', 1],
    ['latencyP99Ms', 'enqueue->SNS p99 ms', 1],
    ['peakRssMiB', 'peak RSS MiB', 0],
  ]
  const rows = keys.map(([k, label, d]) => {
    const a = m('addon', k)
    const b = m('js-batch', k)
    const c = m('js-publish', k)
    const ratio = k === 'eventsPerSec' ? a / b : b / a
    return [label, fmt(a, d), fmt(b, d), fmt(c, d), `${fmt(ratio, 1)}x`]
  })
  rows.push(['queued bytes/event beyond body', fmt(queued.addon?.beyondBodyBytes), fmt(queued['js-batch']?.beyondBodyBytes), 'n/a', `${fmt(queued['js-batch']?.beyondBodyBytes / queued.addon?.beyondBodyBytes, 1)}x`])
  const cpus = os.cpus()
  console.log(`rocketchat-sns-analytics benchmark, ${new Date().toISOString().slice(0, 10)}: ${cpus.length} x ${cpus[0]?.model?.trim()}, Node ${process.version}${SMOKE ? ' (SMOKE: tiny counts, figures meaningless)' : ''}`)
  console.log(
    `stub SNS capacity alone: ${fmt(capacity.eventsPerStubCpuSec)} events per CPU-second of the stub (${fmt(capacity.stubCpuUsPerRequest)} us per PublishBatch); ${fmt(capacity.eventsPerSec)} events/s from a Node http load generator on the same 2 cores`,
  )
  console.log(`${N} events per run (per-event Publish: ${N_PUBLISH}), ${ROUNDS} rounds alternating, medians; ${N_QUEUED} events queued with the endpoint down for memory\n`)
  console.log(table(rows, ['', 'addon', 'JS SDK batched', 'JS SDK Publish', 'batched / addon']))
  console.log(`\n${tailReport(tails)}`)
  console.log(`\n${partsReport(tails.parts)}`)
  console.log(`\n${sporadicReport(sporadic)}`)
  console.log(`\n${sporadicPartsReport(sporadic)}`)
  if (Object.keys(motoResults).length > 0) {
    console.log(`\nagainst moto (${N_MOTO} events, standard topic without subscribers, one run each):`)
    console.log(
      table(
        IMPLS.map((i) => [i, fmt(motoResults[i].mainNsPerEvent), fmt(motoResults[i].cpuUsPerEvent, 1), fmt(motoResults[i].eventsPerSec)]),
        ['', 'main thread ns/event', 'CPU us/event', 'events/s'],
      ),
    )
  }
  writeResults('', { capacity, results, queued, tails, sporadic, moto: motoResults }, started)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
