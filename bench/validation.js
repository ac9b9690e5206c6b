'use strict'
// What a tracking plan costs log() on the JavaScript thread: the same ~300-byte
// Livechat event logged with no plan, and with the rocketchat-livechat plan in
// 'strict' and 'warn' mode (the event conforms, so both only check). Rounds
// alternate between the configurations; medians are printed.
//
// The endpoint is a loopback socket that accepts connections and never answers, so
// the background holds its first batches in flight and then idles: what is timed is
// log() alone, not the network.
//
//   node bench/validation.js [events per round] [rounds]
const net = require('node:net')
const { AnalyticsLogger } = require('..')
const { EVENT, median, BASE_OPTIONS } = require('./common')

const N = Number(process.argv[2] || 200_000)
const ROUNDS = Number(process.argv[3] || 5)

const CONFIGS = {
  'no plan': {},
  'plan, strict': { trackingPlan: 'rocketchat-livechat', validation: 'strict' },
  'plan, warn': { trackingPlan: 'rocketchat-livechat', validation: 'warn' },
}

async function main() {
  const silent = net.createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise((r) => silent.once('listening', r))
  const endpoint = `http://127.0.0.1:${silent.address().port}`
  const base = {
    topicArn: 'arn:aws:sns:us-east-1:123456789012:bench.fifo',
    ...BASE_OPTIONS,
    endpoint,
    maxQueueEvents: N + 1,
    maxQueueBytes: 1 << 30,
    requestTimeoutMs: 3_600_000,
  }
  const bytes = Buffer.byteLength(JSON.stringify(EVENT))
  const results = Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, []]))
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const [name, extra] of Object.entries(CONFIGS)) {
      const logger = new AnalyticsLogger({ ...base, ...extra })
      logger.onError(() => {})
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < N; i++) logger.log(EVENT)
      const ns = Number(process.hrtime.bigint() - t0) / N
      // Round 0 warms up V8 and the allocator.
      if (round > 0) results[name].push(ns)
      await logger.close({ timeoutMs: 0 })
    }
  }
  silent.close()
  const baseline = median(results['no plan'])
  console.log(`log() cost on the JavaScript thread: ${bytes}-byte event, ${N} events per round, ${ROUNDS} rounds, Node ${process.version}`)
  console.log('configuration      median ns/event   rounds (ns/event)               vs no plan')
  for (const [name, xs] of Object.entries(results)) {
    const m = median(xs)
    const delta = name === 'no plan' ? '' : `${m - baseline >= 0 ? '+' : ''}${(m - baseline).toFixed(0)} ns`
    console.log(`${name.padEnd(18)} ${m.toFixed(0).padStart(15)}   ${xs.map((x) => x.toFixed(0)).join(' ').padEnd(30)}  ${delta}`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
