'use strict'
// A misconfiguration window, against moto behind the fault proxy: SNS refuses one
// agent's topic as a whole (403 AuthorizationError, as SNS answers a caller without
// sns:Publish, for 30 s; then a topic that does not exist, NotFound, until it is
// created) while events keep coming. The refused topic's events are held, the other
// topic keeps flowing, and once the fix lands every event logged during the window
// arrives exactly once, in log() order, counted by event id from an SQS subscription;
// with spoolDir (held on disk, a 50-event memory window) and without it (in memory,
// within maxQueueEvents). The account balances in every report. The time from the
// fix to delivery is printed, not asserted.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')
const moto = require('./helpers/moto')

const ctx = useMoto()
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

const AGENT = 'b5983b72-cac6-4f85-b9d0-be61e543dfe6'

/** The account: every event accepted is in exactly one of these. */
function assertBalanced(r, what) {
  assert.equal(r.accepted, r.delivered + r.failed + r.dropped + r.deadLettered + r.held + r.queued, `${what}: ${JSON.stringify(r)}`)
}

/** Waits, with a generous deadline, for `done()`; a wait, not a speed check. */
async function until(what, done, ms = 180_000) {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Logs `perTick` events for the agent and as many for the site every 100 ms for `ms`. */
async function logDuring(logger, ms, perTick = 1) {
  const agent = []
  const site = []
  const end = Date.now() + ms
  let n = 0
  while (Date.now() < end) {
    for (let i = 0; i < perTick; i++) {
      agent.push(logger.log({ category: 'Escalation', action: 'window', dialogflowAgentId: AGENT, properties: { n: n++ } }))
      site.push(logger.log({ category: 'Escalation', action: 'window', dialogflowAgentId: 'other', properties: { n: n++ } }))
    }
    await sleep(100)
  }
  return { agent, site }
}

/** Every message of the queue, by event id: [ids in arrival order, copies per id]. */
async function received(queueUrl, expected) {
  const msgs = await ctx.drain(queueUrl, { expected, quietMs: 3000, timeoutMs: 120_000 })
  // Give a late duplicate the chance to show up.
  const extra = await ctx.drain(queueUrl, { quietMs: 1000 })
  const ids = [...msgs, ...extra].map((m) => m.attributes.eventId)
  const copies = new Map()
  for (const id of ids) copies.set(id, (copies.get(id) || 0) + 1)
  return { ids, copies }
}

/** Exactly once each, in log() order; returns [lost, duplicated]. */
function exactlyOnce(got, logged, what) {
  const lost = logged.filter((id) => !got.copies.has(id)).length
  const duplicated = [...got.copies.values()].filter((n) => n > 1).length
  assert.equal(lost, 0, `${what}: ${lost} of ${logged.length} lost`)
  assert.equal(duplicated, 0, `${what}: ${duplicated} arrived twice`)
  assert.deepEqual(got.ids, logged, `${what}: log() order`)
  return [lost, duplicated]
}

function spoolOptions(spooled) {
  if (!spooled) return { maxQueueEvents: 2_000 } // the window's events fit: "within the limits"
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-analytics-misconfig-'))
  return { spoolDir, maxQueueEvents: 50 } // most of what is held waits on disk
}

/**
 * A logger for the site's topic and the agent's, through the proxy, with its error
 * reports and the times it reported DESTINATION_RESUMED.
 */
function windowLogger(siteTopicArn, agentTopicArn, spooled) {
  const logger = ctx.logger({
    topicArn: siteTopicArn,
    agentTopics: { [AGENT]: agentTopicArn },
    endpoint: proxy.endpoint,
    ...spoolOptions(spooled),
  })
  const errors = []
  const resumedAt = []
  logger.onError((e) => {
    errors.push(e)
    if (e.code === 'DESTINATION_RESUMED') resumedAt.push(Date.now())
  })
  return { logger, errors, resumedAt }
}

describe('a misconfiguration window', { concurrency: true }, () => {
  proxy.use()

  for (const spooled of [false, true]) {
    const how = spooled ? 'with spoolDir' : 'without spoolDir'

    it(`${how}: 403 AuthorizationError for 30 s, then granted: every event once, the other topic flowing`, async (t) => {
      const agentTopic = await ctx.topic({ fifo: true })
      const siteTopic = await ctx.topic({ fifo: true })
      const { logger, errors, resumedAt } = windowLogger(siteTopic.topicArn, agentTopic.topicArn, spooled)
      const fixedAt = proxy.outage(30_000, ['authorization'], { topicArn: agentTopic.topicArn })
      // Logging stops 10 s before the refusals do, so that the flush below returns
      // inside the window: it waits for the other topic's batches in flight, and moto,
      // loaded by the NotFound cases running alongside, has taken over 5 s to answer.
      const { agent, site } = await logDuring(logger, 20_000)
      // Still refused: the agent's events are held, the site's delivered.
      const during = await logger.flush()
      assert.ok(Date.now() < fixedAt, 'flushed inside the window')
      assertBalanced(during, 'during the window')
      assert.equal(during.held, agent.length, 'every agent event held')
      assert.equal(during.delivered, site.length, 'the other topic kept flowing')
      assert.equal(during.failed + during.dropped, 0)
      const paused = logger.stats().paused
      assert.deepEqual(paused.map((p) => [p.topicArn, p.awsCode, p.held]), [[agentTopic.topicArn, 'AuthorizationError', agent.length]])
      assert.match(paused[0].awsMessage, /not authorized to perform: SNS:Publish/)
      const siteDuring = await received(siteTopic.queueUrl, site.length)
      exactlyOnce(siteDuring, site, 'the other topic, during the window')

      // The policy is granted when the outage ends: wait for every held event.
      const total = agent.length + site.length
      await until('the held events', () => logger.stats().delivered === total)
      const fixToDelivery = Date.now() - fixedAt
      const report = await logger.close()
      assertBalanced(report, 'after the fix')
      assert.deepEqual({ delivered: report.delivered, held: report.held, queued: report.queued, failed: report.failed, dropped: report.dropped }, { delivered: total, held: 0, queued: 0, failed: 0, dropped: 0 })
      const [lost, duplicated] = exactlyOnce(await received(agentTopic.queueUrl, agent.length), agent, 'the refused topic')
      assert.deepEqual(errors.map((e) => e.code), ['ERR_DESTINATION_UNAVAILABLE', 'DESTINATION_RESUMED'], JSON.stringify(errors))
      assert.equal(errors[0].destination.awsCode, 'AuthorizationError')
      assert.deepEqual(errors[0].eventIds, [])
      t.diagnostic(`403 ${how}: held ${during.held}, delivered ${agent.length} after the fix, lost ${lost}, duplicates ${duplicated}; other topic ${site.length} delivered during the window; fix to resume (probe taken) ${resumedAt[0] - fixedAt} ms, fix to all delivered ${fixToDelivery} ms`)
    })

    it(`${how}: a NotFound topic, then created: every event once, the other topic flowing`, async (t) => {
      const name = `rc-analytics-created-later-${spooled ? 'spool' : 'memory'}-${process.pid}.fifo`
      const agentTopicArn = `arn:aws:sns:${moto.REGION}:123456789012:${name}`
      const siteTopic = await ctx.topic({ fifo: true })
      const { logger, errors, resumedAt } = windowLogger(siteTopic.topicArn, agentTopicArn, spooled)
      const { agent, site } = await logDuring(logger, 15_000)
      const during = await logger.flush()
      assertBalanced(during, 'before the topic exists')
      assert.equal(during.held, agent.length)
      assert.equal(during.delivered, site.length, 'the other topic kept flowing')
      assert.deepEqual(logger.stats().paused.map((p) => [p.topicArn, p.awsCode]), [[agentTopicArn, 'NotFound']])

      // The administrator creates the topic and its subscription. (Until both exist,
      // the proxy answers NotFound as moto did, so that no probe lands in between.)
      proxy.outage(60_000, ['notFound'], { topicArn: agentTopicArn })
      const created = await moto.topicWithQueue(ctx.moto, { fifo: true, name: name.replace(/\.fifo$/, '') })
      assert.equal(created.topicArn, agentTopicArn)
      proxy.heal(agentTopicArn)
      const createdAt = Date.now()
      const total = agent.length + site.length
      await until('the held events', () => logger.stats().delivered === total)
      const fixToDelivery = Date.now() - createdAt
      const report = await logger.close()
      assertBalanced(report, 'after the topic exists')
      assert.deepEqual({ delivered: report.delivered, held: report.held, failed: report.failed }, { delivered: total, held: 0, failed: 0 })
      const [lost, duplicated] = exactlyOnce(await received(created.queueUrl, agent.length), agent, 'the created topic')
      exactlyOnce(await received(siteTopic.queueUrl, site.length), site, 'the other topic')
      assert.deepEqual(errors.map((e) => e.code), ['ERR_DESTINATION_UNAVAILABLE', 'DESTINATION_RESUMED'], JSON.stringify(errors))
      assert.equal(errors[0].destination.awsCode, 'NotFound')
      t.diagnostic(`NotFound ${how}: held ${during.held}, delivered ${agent.length} after creation, lost ${lost}, duplicates ${duplicated}; other topic ${site.length}; creation to resume (probe taken) ${resumedAt[0] - createdAt} ms, to all delivered ${fixToDelivery} ms`)
    })
  }
})
