'use strict'
// A long outage, as an operator's log sees it: SNS is down for 60 s (every
// PublishBatch answered 503 by the fault proxy) with 10,000 events to deliver. Each
// batch fails the same way, yet each kind of failure is reported at most once per
// interval (10 s) per topic and code, and the reports name every event they are about.
const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto, assertBalanced } = require('./helpers/setup')
const { startFaultProxy } = require('./helpers/fault-proxy')

const ctx = useMoto()
const OUTAGE_MS = 60_000
const EVENTS = 10_000
const SPOOLED_EVENTS = 1_000
const INTERVAL_MS = 10_000

let proxy
after(() => proxy?.close())

async function until(what, done, timeoutMs) {
  const end = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The reports of `code`, in order, with when each came. */
function recorder(logger) {
  const reports = []
  logger.onError((e) => reports.push({ at: Date.now(), code: e.code, ids: e.eventIds, message: e.message }))
  return (code) => reports.filter((r) => r.code === code)
}

/** At most one report per interval (the first at once), a little slack for timers. */
function assertSpaced(reports, what) {
  const allowed = Math.ceil(OUTAGE_MS / INTERVAL_MS) + 2
  assert.ok(reports.length <= allowed, `${what}: ${reports.length} reports, at most ${allowed}`)
  for (let i = 1; i < reports.length; i++) {
    assert.ok(reports[i].at - reports[i - 1].at >= INTERVAL_MS - 500, `${what}: reports ${i - 1} and ${i} ${reports[i].at - reports[i - 1].at} ms apart`)
  }
}

describe('SNS down for 60 s with 10,000 events', () => {
  it('reports each kind of failure at most once per interval, naming every event', async () => {
    proxy = await startFaultProxy(ctx.moto.endpoint)
    const memory = await ctx.topic()
    const spooled = await ctx.topic()
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-outage-'))
    const common = { endpoint: proxy.endpoint, retryBudgetMs: 200, retryInitialBackoffMs: 10, retryMaxBackoffMs: 50, flushIntervalMs: 20 }
    // Without a spool, each batch is given up once the budget is spent.
    const a = ctx.logger({ ...common, topicArn: memory.topicArn })
    // With a spool, each is kept and retried, and reported as delayed (fewer events:
    // moto takes a while to take them all afterwards).
    const b = ctx.logger({ ...common, topicArn: spooled.topicArn, spoolDir })
    const reportsA = recorder(a)
    const reportsB = recorder(b)
    const started = Date.now()
    proxy.outage(OUTAGE_MS, ['http503'])
    const loggedA = []
    for (let i = 0; i < EVENTS; i++) {
      loggedA.push(a.log({ category: 'c', action: 'a', properties: { n: i } }))
      if (i < SPOOLED_EVENTS) b.log({ category: 'c', action: 'a', properties: { n: i } })
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
    }
    await until('every memory-only event to be given up', () => a.stats().failed === EVENTS, OUTAGE_MS)
    await until('the outage to end', () => Date.now() >= started + OUTAGE_MS, OUTAGE_MS)
    proxy.heal()
    const reportA = await a.flush()
    assertBalanced(reportA)

    const exhausted = reportsA('ERR_RETRIES_EXHAUSTED')
    assertSpaced(exhausted, 'ERR_RETRIES_EXHAUSTED')
    const named = exhausted.flatMap((r) => r.ids)
    assert.equal(new Set(named).size, named.length, 'no id twice')
    assert.deepEqual(new Set(named), new Set(loggedA), 'every given-up event named')
    assert.match(exhausted.at(-1).message, /reports of \d+ events merged/)

    await until('the spooled events to be delivered', () => b.stats().delivered === SPOOLED_EVENTS, 120_000)
    assertBalanced(await b.flush())
    const delayed = reportsB('ERR_DELIVERY_DELAYED')
    assert.ok(delayed.length >= 1, 'the delay is reported')
    assertSpaced(delayed, 'ERR_DELIVERY_DELAYED')
    assert.equal(b.stats().failed, 0)
    console.log(`outage ${OUTAGE_MS / 1000} s, ${EVENTS} events: memory-only ${exhausted.length} ERR_RETRIES_EXHAUSTED reports (${named.length} ids, ${a.stats().batchesSent} requests); spooled ${delayed.length} ERR_DELIVERY_DELAYED reports, all ${b.stats().delivered} delivered after`)
  })
})
