'use strict'
// One measurement in a fresh process, so that CPU and memory are this logger's alone.
//   node --expose-gc bench/worker.js throughput <impl> <endpoint> <events>
//   node --expose-gc bench/worker.js queued <impl> <events>
// impl: addon | js-batch | js-publish. Prints one JSON line.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
const { performance } = require('node:perf_hooks')
const { AnalyticsLogger } = require('..')
const { JsSdkBatchLogger, JsSdkPublishLogger } = require('./js-sdk-logger')
const { EVENT, BASE_OPTIONS } = require('./common')

const [mode, impl, ...rest] = process.argv.slice(2)
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:bench'
const SLICE = 1000 // events logged per turn of the event loop, as a busy server would

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

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]
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

async function main() {
  if (mode === 'throughput') {
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
