'use strict'
// One measurement in a fresh process, so that CPU and memory are this logger's alone.
//   node --expose-gc bench/worker.js throughput <impl> <endpoint> <events>
//   node --expose-gc bench/worker.js queued <impl> <events>
//   node --expose-gc bench/worker.js tail <endpoint> <events> <steady|burst>
//   node --expose-gc bench/worker.js parts <endpoint> <stage> <rounds>
//   node --expose-gc bench/worker.js sporadic <endpoint> <calls> <interval ms> <stage,stage,...> <hot calls>
// impl: addon | js-batch | js-publish. Prints one JSON line. BENCH_PACKAGE names
// another copy of the package to load instead of this one (for before/after runs).
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
const fs = require('node:fs')
const path = require('node:path')
const { performance, PerformanceObserver } = require('node:perf_hooks')
const PACKAGE_DIR = process.env.BENCH_PACKAGE ? path.resolve(process.env.BENCH_PACKAGE) : path.join(__dirname, '..')
const { AnalyticsLogger } = require(PACKAGE_DIR)
const { JsSdkBatchLogger, JsSdkPublishLogger } = require('./js-sdk-logger')
const { EVENT, buildEvent, BASE_OPTIONS, median, pct } = require('./common')

const [mode, impl, ...rest] = process.argv.slice(2)
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:bench'
const SLICE = 1000 // events logged per turn of the event loop, as a busy server would
const PARTS_CALLS = 10_000 // calls per timed loop of the stage-by-stage measurement

function create(endpoint, events) {
  const options = { ...BASE_OPTIONS, topicArn: process.env.TOPIC_ARN || TOPIC, endpoint }
  switch (impl) {
    case 'addon':
      return new AnalyticsLogger({ ...options, maxQueueEvents: events + 10_000, maxQueueBytes: 2 ** 40 })
    case 'js-batch':
      return new JsSdkBatchLogger(options)
    case 'js-publish':
      return new JsSdkPublishLogger(options)
    default:
      throw new Error(`unknown implementation ${impl}`)
  }
}

const nowUs = () => (performance.timeOrigin + performance.now()) * 1000

async function throughput(endpoint, events) {
  const logger = create(endpoint, events)
  // Warm up: JIT, connections, the SDK's lazy set-up.
  for (let i = 0; i < 200; i++) logger.log(EVENT)
  await logger.flush()
  if (endpoint.startsWith('http://127.0.0.1') && process.env.STUB) await fetch(`${process.env.STUB}/received`)
  global.gc?.()
  const logNs = new Float64Array(events)
  const ids = new Array(events)
  const loggedAt = new Float64Array(events)
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  for (let done = 0; done < events; ) {
    const end = Math.min(events, done + SLICE)
    for (; done < end; done++) {
      const s = performance.now()
      ids[done] = logger.log(EVENT)
      const e = performance.now()
      logNs[done] = (e - s) * 1e6
      loggedAt[done] = (performance.timeOrigin + s) * 1000
    }
    await new Promise((r) => setImmediate(r))
  }
  await logger.flush()
  const seconds = (performance.now() - t0) / 1000
  const elu = performance.eventLoopUtilization(elu0)
  const cpu = process.cpuUsage(cpu0)
  const out = {
    impl,
    events,
    mainNsPerEvent: (elu.active * 1e6) / events,
    logP50Ns: 0,
    logP99Ns: 0,
    cpuUsPerEvent: (cpu.user + cpu.system) / events,
    eventsPerSec: events / seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }
  const sorted = Float64Array.from(logNs).sort()
  out.logP50Ns = pct(sorted, 50)
  out.logP99Ns = pct(sorted, 99)
  if (process.env.STUB) {
    const received = await (await fetch(`${process.env.STUB}/received`)).json()
    const lat = []
    for (let i = 0; i < events; i++) {
      const at = received[ids[i]]
      if (at !== undefined) lat.push((at - loggedAt[i]) / 1000)
    }
    lat.sort((a, b) => a - b)
    out.acked = lat.length
    out.latencyP50Ms = pct(lat, 50)
    out.latencyP99Ms = pct(lat, 99)
  }
  await logger.close()
  return out
}

async function queued(events) {
  // An endpoint that accepts connections and never answers: the first batches hang in
  // flight and everything after them stays queued (a refused connection would make
  // the JS SDK logger drop failed batches, and hold nothing).
  const silent = require('node:net').createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise((r) => silent.once('listening', r))
  const logger = create(`http://127.0.0.1:${silent.address().port}`, events)
  for (let i = 0; i < 1000; i++) logger.log(EVENT)
  await new Promise((r) => setTimeout(r, 200))
  global.gc?.()
  const before = process.memoryUsage().rss
  for (let done = 0; done < events; ) {
    const end = Math.min(events, done + 10_000)
    for (; done < end; done++) logger.log(EVENT)
    await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 500))
  global.gc?.()
  const after = process.memoryUsage().rss
  const bodyBytes = Buffer.byteLength(
    JSON.stringify({ dialogflowAgentId: EVENT.dialogflowAgentId, roomId: EVENT.roomId, tabId: EVENT.tabId, category: EVENT.category, action: EVENT.action, properties: EVENT.properties, eventType: EVENT.eventType, timestamp: EVENT.timestamp }),
  )
  const perEvent = (after - before) / events
  const out = { impl, events, bytesPerQueuedEvent: perEvent, bodyBytes, beyondBodyBytes: perEvent - bodyBytes }
  // Do not wait for a queue that can never drain.
  process.stdout.write(`${JSON.stringify(out)}\n`)
  process.exit(0)
}

/**
 * What the kernel counts for this (the JavaScript) thread, or the thread whose
 * /proc directory `dir` is: time on a CPU and time runnable but waiting for one (ns),
 * page faults, and context switches it chose (blocking) or suffered (preempted).
 * Linux only; elsewhere all undefined.
 */
function threadCounters(dir = '/proc/thread-self') {
  try {
    const [cpuNs, waitNs] = fs.readFileSync(`${dir}/schedstat`, 'utf8').split(' ').map(Number)
    const stat = fs.readFileSync(`${dir}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const status = fs.readFileSync(`${dir}/status`, 'utf8')
    const field = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1])
    return { cpuNs, waitNs, minorFaults: Number(fields[7]), voluntarySwitches: field('voluntary_ctxt_switches'), preemptions: field('nonvoluntary_ctxt_switches') }
  } catch {
    return {}
  }
}

function counterDelta(before, after, calls) {
  const per = (k) => (after[k] === undefined ? undefined : (after[k] - before[k]) / calls)
  return { threadCpuNsPerCall: per('cpuNs'), threadWaitNsPerCall: per('waitNs'), faultsPer1kCalls: per('minorFaults') * 1000, blocks: after.voluntarySwitches - before.voluntarySwitches, preemptions: after.preemptions - before.preemptions }
}

/** Every call's time (ns), the loop's, and the scavenges and full GCs while it ran. */
function summarise(ns, loopMs, gcs, counters) {
  const sorted = Float64Array.from(ns).sort()
  let sum = 0
  for (const v of ns) sum += v
  const gc = (kind) => gcs.filter((e) => e.kind === kind)
  const total = (xs) => xs.reduce((a, e) => a + e.ms, 0)
  return {
    meanNs: sum / ns.length,
    p50Ns: pct(sorted, 50),
    p99Ns: pct(sorted, 99),
    p999Ns: pct(sorted, 99.9),
    maxNs: sorted[sorted.length - 1],
    // Over 10 µs: the calls the p99 target is about, and the time they took in all.
    over10us: sorted.length - lowerBound(sorted, 10_000),
    over10usMs: sumFrom(sorted, lowerBound(sorted, 10_000)) / 1e6,
    loopNsPerCall: (loopMs * 1e6) / ns.length,
    scavenges: gc('minor').length,
    scavengeMs: total(gc('minor')),
    fullGcs: gcs.length - gc('minor').length,
    fullGcMs: total(gcs) - total(gc('minor')),
    ...counters,
  }
}

function sumFrom(sorted, from) {
  let sum = 0
  for (let i = from; i < sorted.length; i++) sum += sorted[i]
  return sum
}

function lowerBound(sorted, v) {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (sorted[mid] < v) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Times each of `events` calls of `call(event)` on a freshly built event. `steady`
 * makes them in turns of SLICE calls, as a busy server would, paced at `rate` calls per
 * second so that delivery keeps up; `burst` makes them all in one synchronous loop, as
 * a replay after a reconnect would, which outpaces delivery: the queue grows by tens of
 * thousands. The first call of each turn is also kept apart: after the event loop has
 * slept, caches are cold, and a server logging a few events a second pays that.
 */
async function timedCalls(call, events, pace, rate) {
  const ns = new Float64Array(events)
  const firstOfTurn = []
  const gcs = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ kind: e.detail?.kind === 1 ? 'minor' : 'other', ms: e.duration })
  })
  observer.observe({ entryTypes: ['gc'] })
  let sink
  const before = threadCounters()
  const t0 = performance.now()
  const turn = pace === 'burst' ? events : SLICE
  for (let i = 0; i < events; ) {
    const end = Math.min(events, i + turn)
    firstOfTurn.push(i)
    for (; i < end; i++) {
      const s = performance.now()
      sink = call(buildEvent())
      ns[i] = (performance.now() - s) * 1e6
    }
    if (i < events) {
      const wait = t0 + (i * 1000) / rate - performance.now()
      await new Promise((r) => setTimeout(r, Math.max(0, wait)))
    }
  }
  const loopMs = performance.now() - t0
  const counters = counterDelta(before, threadCounters(), events)
  // The observer hears of GCs after they happen, a few turns later.
  await new Promise((r) => setTimeout(r, 50))
  observer.disconnect()
  const cold = Float64Array.from(firstOfTurn, (i) => ns[i]).sort()
  counters.firstOfTurnP50Ns = pct(cold, 50)
  counters.turns = cold.length
  return { sink, loopMs, ns, gcs, counters }
}

async function tail(endpoint, events, pace) {
  const RATE = Number(process.env.BENCH_STEADY_RATE || 10_000)
  const options = { ...BASE_OPTIONS, topicArn: TOPIC, endpoint, maxQueueEvents: events + 10_000, maxQueueBytes: 2 ** 40 }
  const logger = new AnalyticsLogger(options)
  const stringify = (event) => JSON.stringify(event)
  const log = (event) => logger.log(event)
  // Warm up both: JIT, the connection, the SDK's set-up, the allocator.
  for (let i = 0; i < 5_000; i++) stringify(buildEvent())
  for (let i = 0; i < 5_000; i++) log(buildEvent())
  await logger.flush()
  global.gc?.()
  const floor = await timedCalls(stringify, events, pace, RATE)
  global.gc?.()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const logged = await timedCalls(log, events, pace, RATE)
  const queuedAfterLoop = logger.stats().queued
  await logger.flush()
  const cpu = process.cpuUsage(cpu0)
  const seconds = (performance.now() - t0) / 1000
  const stats = logger.stats()
  await logger.close()
  const out = {
    mode: 'tail',
    pace,
    events,
    steadyRate: pace === 'steady' ? RATE : undefined,
    eventBytes: Buffer.byteLength(floor.sink),
    idLength: logged.sink.length,
    floor: summarise(floor.ns, floor.loopMs, floor.gcs, floor.counters),
    log: summarise(logged.ns, logged.loopMs, logged.gcs, logged.counters),
    // Events still queued when the last call returned: how far logging outpaced delivery.
    queuedAfterLoop,
    cpuUsPerEvent: (cpu.user + cpu.system) / events,
    eventsPerSec: events / seconds,
    delivered: stats.delivered,
  }
  out.meanOverFloor = out.log.meanNs / out.floor.meanNs
  return out
}

/**
 * One stage of `log()`, timed over loops of PARTS_CALLS calls (the median over
 * `rounds` loops, the queue flushed between them so that it never grows), alone in
 * its process, so that no stage warms or cools the caches and code of another. The
 * stages: the floor; the serializer (its check, then JSON.stringify); the native
 * function on one text reused, flat and in cache; and log() whole. The serializer and
 * the native function are the package's own internals (log() in index.js calls the
 * two), so a package without them reports none.
 */
async function parts(endpoint, stage, rounds) {
  const binding = require(path.join(PACKAGE_DIR, 'binding.js'))
  if (typeof binding.__eventJson !== 'function' || typeof binding.__logJsonFunction !== 'function') return { mode: 'parts', stage, perCallNs: null }
  const options = { ...BASE_OPTIONS, topicArn: TOPIC, endpoint, maxQueueEvents: PARTS_CALLS * 4, maxQueueBytes: 2 ** 40 }
  const logger = new AnalyticsLogger(options)
  const eventJson = binding.__eventJson()
  const logJson = binding.__logJsonFunction()
  const slot = logger.__slot()
  const reused = eventJson(buildEvent())
  const call = {
    floor: () => JSON.stringify(buildEvent()),
    serializer: () => eventJson(buildEvent()),
    nativeReusedText: () => logJson(slot, reused),
    log: () => logger.log(buildEvent()),
  }[stage]
  if (!call) throw new Error(`unknown stage ${stage}`)
  const WARM_ROUNDS = 4
  const ns = []
  for (let round = 0; round < WARM_ROUNDS + rounds; round++) {
    let sink
    const t0 = performance.now()
    for (let i = 0; i < PARTS_CALLS; i++) sink = call()
    const perCall = ((performance.now() - t0) * 1e6) / PARTS_CALLS
    if (typeof sink !== 'string') throw new Error(`stage ${stage} returned ${typeof sink}`)
    if (round >= WARM_ROUNDS) ns.push(perCall)
    await logger.flush()
  }
  await logger.close()
  return { mode: 'parts', stage, calls: PARTS_CALLS, rounds, perCallNs: median(ns) }
}

/**
 * The same counters for each of the delivery runtime's threads (named
 * rc-sns-analytics; the kernel keeps 15 characters), by thread id. A delivery thread
 * that blocks has run out of work: its voluntary switches count its wake-ups.
 */
function deliveryThreads() {
  const threads = new Map()
  let tids = []
  try {
    tids = fs.readdirSync('/proc/self/task')
  } catch {
    return threads
  }
  for (const tid of tids) {
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('rc-sns-analytic')) threads.set(tid, threadCounters(`/proc/self/task/${tid}`))
    } catch {
      // The thread ended while we looked.
    }
  }
  return threads
}

/** Per call, what the delivery threads did between two deliveryThreads() (a thread that ended in between is lost). */
function deliveryDelta(before, after, calls) {
  if (after.size === 0) return {}
  const sum = (k) => [...after].reduce((a, [tid, c]) => a + c[k] - (before.get(tid)?.[k] ?? 0), 0) / calls
  return { deliveryCpuNsPerCall: sum('cpuNs'), deliveryWakesPerCall: sum('voluntarySwitches'), deliveryPreemptionsPerCall: sum('preemptions') }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * `calls` calls of `call(event)` on a freshly built event, one every `intervalMs`, the
 * event loop asleep in between as a chat server's is between events, each timed as
 * timedCalls() times them. Beside the times, what the kernel counted per call for the
 * JavaScript thread and the delivery threads over the whole phase (sleeps included:
 * compare a stage with the floor, which has the same sleeps).
 */
async function sporadicCalls(call, calls, intervalMs) {
  const ns = new Float64Array(calls)
  let sink
  const js = threadCounters()
  const delivery = deliveryThreads()
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) {
    // Mid-interval, on a fixed schedule: the counters are read half an interval after
    // the last call, when what it set off on the delivery thread is over, and the
    // first call still follows a sleep of an interval and more (settle() ends with one).
    await sleep(Math.max(0, t0 + (i + 0.5) * intervalMs - performance.now()))
    const s = performance.now()
    sink = call(buildEvent())
    ns[i] = (performance.now() - s) * 1e6
  }
  await sleep(Math.max(0, t0 + calls * intervalMs - performance.now()))
  const { blocks, preemptions, ...perCall } = counterDelta(js, threadCounters(), calls)
  const sorted = Float64Array.from(ns).sort()
  return {
    sink,
    ns: Array.from(ns, Math.round),
    p50Ns: pct(sorted, 50),
    p99Ns: pct(sorted, 99),
    meanNs: sorted.reduce((a, v) => a + v, 0) / calls,
    maxNs: sorted[calls - 1],
    ...perCall,
    blocksPerCall: blocks / calls,
    preemptionsPerCall: preemptions / calls,
    ...deliveryDelta(delivery, deliveryThreads(), calls),
  }
}

/**
 * log() at a chat server's rate: one call every `intervalMs`, each stage in `stages`
 * timed in turn in this one process (sporadicCalls()), after all of them were warmed
 * up (the JIT, the connection, the allocator: `hotCalls` / 2 calls each) and timed
 * once in a hot loop of `hotCalls` calls in a row (the gap between the two is what a
 * cold call costs).
 * The stages: the floor (as tail()'s); the serializer (its check, then
 * JSON.stringify; absent from a package without it); log() on default batching, as a
 * server's; log() on a logger whose delivery loop is never woken by it (its one
 * request slot held by an endpoint that never answers, so log() skips the wake-up);
 * and log() with batches of one, so that every call wakes the loop. The last two
 * differ from log() only in options.
 */
async function sporadic(endpoint, calls, intervalMs, stages, hotCalls) {
  let eventJson = null
  try {
    const binding = require(path.join(PACKAGE_DIR, 'binding.js'))
    if (typeof binding.__eventJson === 'function') eventJson = binding.__eventJson()
  } catch {
    // A package without the serializer reports no serializer stage.
  }
  const base = { ...BASE_OPTIONS, topicArn: TOPIC, endpoint }
  const loggers = {}
  let silent
  if (stages.includes('log')) loggers.log = new AnalyticsLogger(base)
  if (stages.includes('logWokenEachCall')) loggers.logWokenEachCall = new AnalyticsLogger({ ...base, maxBatchSize: 1 })
  if (stages.includes('logNeverWoken')) {
    // An endpoint that accepts and never answers: the first event's request stays in
    // flight for the hour it is allowed, and with one request slot the loop has no
    // room for another, so it asks log() for no wake-ups.
    silent = require('node:net').createServer(() => {}).listen(0, '127.0.0.1')
    await new Promise((r) => silent.once('listening', r))
    const options = { ...base, endpoint: `http://127.0.0.1:${silent.address().port}`, maxBatchSize: 1, maxConcurrentBatches: 1, requestTimeoutMs: 3_600_000, shutdownTimeoutMs: 0 }
    loggers.logNeverWoken = new AnalyticsLogger(options)
    loggers.logNeverWoken.log(buildEvent())
    for (let i = 0; i < 200 && loggers.logNeverWoken.stats().inFlight === 0; i++) await sleep(10)
    if (loggers.logNeverWoken.stats().inFlight === 0) throw new Error('the never-answered request did not go out')
  }
  const fns = {
    floor: (event) => JSON.stringify(event),
    serializer: eventJson && ((event) => eventJson(event)),
    log: (event) => loggers.log.log(event),
    logNeverWoken: (event) => loggers.logNeverWoken.log(event),
    logWokenEachCall: (event) => loggers.logWokenEachCall.log(event),
  }
  for (const stage of stages) if (!(stage in fns)) throw new Error(`unknown stage ${stage}`)
  const present = stages.filter((stage) => fns[stage])
  // Everything the stub answers, delivered before the next phase starts (not the
  // silent endpoint's logger: nothing of it is ever delivered).
  const settle = async () => {
    for (const name of ['log', 'logWokenEachCall']) await loggers[name]?.flush()
    global.gc?.()
    await sleep(intervalMs)
  }
  for (const stage of present) for (let i = 0; i < hotCalls / 2; i++) fns[stage](buildEvent())
  await settle()
  const hot = {}
  for (const stage of present) {
    const t0 = performance.now()
    for (let i = 0; i < hotCalls; i++) fns[stage](buildEvent())
    hot[stage] = ((performance.now() - t0) * 1e6) / hotCalls
    await settle()
  }
  const out = { mode: 'sporadic', intervalMs, calls, hotCalls, order: stages, stages: {} }
  for (const stage of stages) {
    if (!fns[stage]) {
      out.stages[stage] = null
      continue
    }
    const { sink, ...run } = await sporadicCalls(fns[stage], calls, intervalMs)
    if (typeof sink !== 'string') throw new Error(`stage ${stage} returned ${typeof sink}`)
    out.stages[stage] = { hotNsPerCall: hot[stage], ...run }
    await settle()
  }
  // Every event on the stub's loggers delivered: the phases measured a working logger.
  out.delivered = {}
  for (const name of ['log', 'logWokenEachCall']) {
    if (!loggers[name]) continue
    const { accepted, delivered } = loggers[name].stats()
    out.delivered[name] = { accepted, delivered }
    await loggers[name].close()
  }
  if (loggers.logNeverWoken) {
    out.neverWokenInFlight = loggers.logNeverWoken.stats().inFlight
    // Give up what it holds now: the process's exit would wait shutdownTimeoutMs for it.
    await loggers.logNeverWoken.close({ timeoutMs: 0 })
  }
  return out
}

async function main() {
  if (mode === 'sporadic') {
    const [endpoint, calls, intervalMs, stages, hotCalls] = [impl, ...rest]
    process.stdout.write(`${JSON.stringify(await sporadic(endpoint, Number(calls), Number(intervalMs), stages.split(','), Number(hotCalls)))}\n`)
    // The never-answering endpoint would keep the process alive.
    process.exit(0)
  } else if (mode === 'parts') {
    const [endpoint, stage, rounds] = [impl, ...rest]
    process.stdout.write(`${JSON.stringify(await parts(endpoint, stage, Number(rounds)))}\n`)
  } else if (mode === 'tail') {
    const [endpoint, events, pace] = [impl, ...rest]
    process.stdout.write(`${JSON.stringify(await tail(endpoint, Number(events), pace))}\n`)
  } else if (mode === 'throughput') {
    const [endpoint, events] = rest
    process.stdout.write(`${JSON.stringify(await throughput(endpoint, Number(events)))}\n`)
  } else if (mode === 'queued') {
    await queued(Number(rest[0]))
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
