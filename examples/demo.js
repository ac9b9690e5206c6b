'use strict'
// `npm run demo`: a realistic stream of the seed's Rocket.Chat Livechat events,
// published through AnalyticsLogger to a FIFO topic on the local moto emulator,
// read back from an SQS queue subscribed to it, and counted per category/action.
// Every event is checked against the built-in rocketchat-livechat tracking plan.
process.env.AWS_EC2_METADATA_DISABLED = 'true'
const { performance } = require('node:perf_hooks')
const { AnalyticsLogger } = require('..')
const { startMoto, topicWithQueue, drainQueue, REGION, CREDENTIALS } = require('../__test__/helpers/moto')

const CONVERSATIONS = Number(process.env.DEMO_CONVERSATIONS || 100)
const SITE_URL = 'https://chat.example.com'
const AGENT = 'b5983b72-cac6-4f85-b9d0-be61e543dfe6'

// Deterministic, so every run prints the same stream.
let seed = 42
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
const pick = (xs) => xs[Math.floor(rand() * xs.length)]

const CLOSE_METHODS = ['agent', 'chat window', 'timeout', 'visitor_abandonment', 'df_bot', 'expired_session', 'liveagent_disconnected', 'escalation_failure']
const FAILURE_REASONS = ['outside service hours', 'no agents available', 'salesforce error', 'network/app error', 'invalid target department', 'liveagent bot offline or disabled']

/** One Livechat conversation, as the widget, the Dialogflow app and the Salesforce app report it. */
function* conversation(i) {
  const roomId = `${AGENT.slice(-12)}:room${String(i).padStart(5, '0')}`
  const tabId = `tab-${i.toString(36)}`
  const widget = { roomId, tabId, eventType: 'customerAction' }
  yield { category: 'Window', action: 'opened', properties: { session_id: `sess-${i}` }, ...widget }
  yield { category: 'Chat Session', action: 'started', roomId }
  let close = pick(CLOSE_METHODS)
  if (rand() < 0.6) {
    yield { category: 'Escalation', action: 'attempted', roomId }
    if (rand() < 0.3) {
      yield { category: 'Escalation', action: 'failed', roomId, properties: { failure_reason: pick(FAILURE_REASONS) } }
      close = 'escalation_failure'
    } else {
      yield { category: 'Escalation', action: 'successful', roomId, properties: { queue_time: Math.round(rand() * 120), sf_chat_key: `sf-${i}` } }
      if (rand() < 0.2) yield { category: 'Agent Transfer', action: 'successful', roomId }
      if (rand() < 0.1) yield { category: 'Agent Disconnect', action: 'triggered', roomId }
    }
  }
  if (rand() < 0.25) yield { category: 'Transcript Download', action: 'selected', ...widget }
  if (rand() < 0.35) yield { category: 'Survey', action: 'link_clicked', ...widget }
  yield close === 'chat window'
    ? { category: 'Chat Session', action: 'closed', properties: { close_method: close }, ...widget }
    : { category: 'Chat Session', action: 'closed', properties: { close_method: close }, roomId }
  yield { category: 'Window', action: 'closed', ...widget }
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)))
  return rows.map((r) => r.map((v, c) => (c === 0 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join('  ')).join('\n')
}

async function main() {
  console.log('starting moto (local SNS/SQS emulator) on 127.0.0.1 ...')
  const moto = await startMoto()
  try {
    const { topicArn, queueUrl } = await topicWithQueue(moto, { fifo: true, name: 'rocketchat-analytics' })
    const logger = new AnalyticsLogger({
      topicArn,
      siteUrl: SITE_URL,
      dialogflowAgentId: AGENT,
      endpoint: moto.endpoint,
      region: REGION,
      credentials: CREDENTIALS,
      trackingPlan: 'rocketchat-livechat',
    })
    const errors = []
    logger.onError((e) => errors.push(e))

    const events = []
    for (let i = 0; i < CONVERSATIONS; i++) events.push(...conversation(i))
    // Read the queue while publishing: moto slows down as a FIFO queue grows.
    const arriving = drainQueue(moto, queueUrl, { expected: events.length, quietMs: 15000, timeoutMs: 120000 })
    const logged = new Map()
    const started = performance.now()
    const elu0 = performance.eventLoopUtilization()
    let logNs = 0n
    for (const e of events) {
      const t = process.hrtime.bigint()
      logger.log(e)
      logNs += process.hrtime.bigint() - t
      const key = `${e.category} / ${e.action}`
      logged.set(key, (logged.get(key) || 0) + 1)
    }
    let refused = null
    try {
      // A typo the plan catches before it costs an SNS request.
      logger.log({ category: 'Chat Session', action: 'closed', roomId: 'r1', properties: { close_method: 'chat-window' } })
    } catch (e) {
      refused = e
    }
    const report = await logger.flush()
    const seconds = (performance.now() - started) / 1000
    const elu = performance.eventLoopUtilization(elu0)

    const arrived = await arriving
    const got = new Map()
    for (const m of arrived) {
      const key = `${m.json.category} / ${m.json.action}`
      got.set(key, (got.get(key) || 0) + 1)
    }
    const rows = [['category / action', 'logged', 'arrived']]
    for (const key of [...logged.keys()].sort()) rows.push([key, logged.get(key), got.get(key) || 0])
    rows.push(['total', events.length, arrived.length])
    console.log(`\n${CONVERSATIONS} Livechat conversations -> ${topicArn}\n`)
    console.log(table(rows))
    console.log('\nexample message body:\n' + arrived.find((m) => m.json.category === 'Escalation' && m.json.action === 'failed')?.body)
    if (refused) console.log(`\nan event with a typo, refused by the tracking plan:\n  ${refused.code}: ${refused.message}`)
    console.log('\nstats():', logger.stats())
    console.log('flush():', report)
    console.log(
      `\nlog() on the JavaScript thread: ${(Number(logNs) / events.length).toFixed(0)} ns/event (mean of ${events.length} calls from a cold start); ` +
        `event loop busy ${(elu.utilization * 100).toFixed(1)}% while delivering; ` +
        `${Math.round(events.length / seconds)} events/s acknowledged by the emulator ` +
        `(moto spends ~10 ms handing each message to SQS: it is the limit here, not the logger)`,
    )
    await logger.close()

    const inOrder = arrived.every((m, i) => i === 0 || arrived[i - 1].attributes.eventId < m.attributes.eventId)
    const ok = arrived.length === events.length && new Set(arrived.map((m) => m.attributes.eventId)).size === events.length && errors.length === 0 && refused?.code === 'ERR_TRACKING_PLAN'
    console.log(`\n${ok ? 'OK' : 'MISMATCH'}: ${arrived.length}/${events.length} delivered exactly once${inOrder ? ', in log() order' : ''}; ${errors.length} background errors`)
    if (!ok || !inOrder) process.exitCode = 1
  } finally {
    await moto.stop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
