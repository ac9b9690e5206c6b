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
//
// And the settings that reach past their purpose: an http:// endpoint anywhere but
// loopback (signed requests and session tokens in cleartext), and, under
// RC_SNS_ANALYTICS_PATH_ROOT, a spool folder outside it.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto, SITE_URL, AnalyticsLogger } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')
const { tryOptions } = require('./helpers/options-child')
const moto = require('./helpers/moto')
const addon = require('..')

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

describe('settings that reach past their purpose', () => {
  const topicArn = 'arn:aws:sns:us-east-1:123456789012:t'
  const enabled = { SNS_Analytics_Enabled: true, SNS_Analytics_Topic_ARN: topicArn }

  it('an http:// endpoint is refused unless it is loopback; https:// is taken anywhere', async () => {
    for (const endpoint of ['http://example.com', 'http://sns.us-east-1.amazonaws.com', 'http://10.0.0.5:4566', 'http://127.0.0.1@example.com']) {
      assert.throws(() => new AnalyticsLogger({ topicArn, siteUrl: SITE_URL, endpoint }), (e) => {
        assert.equal(e.code, 'ERR_INVALID_OPTION')
        assert.equal(e.option, 'endpoint')
        assert.match(e.message, /option endpoint: may use http:\/\/ only on loopback \(127\.0\.0\.0\/8, ::1, localhost: a local emulator\), since over http:\/\/ the signed requests, and the session token with them, cross the network in cleartext/)
        return true
      })
      assert.throws(() => addon.optionsFromSettings((id) => ({ ...enabled, SNS_Analytics_Endpoint: endpoint })[id], SITE_URL), (e) => {
        assert.equal(e.code, 'ERR_INVALID_SETTING')
        assert.equal(e.setting, 'SNS_Analytics_Endpoint')
        assert.match(e.message, /SNS_Analytics_Endpoint: .*only on loopback/)
        return true
      })
      await assert.rejects(addon.replayDeadLetters(os.tmpdir(), { toRecordedTopics: true, endpoint }), (e) => {
        assert.equal(e.option, 'endpoint')
        return true
      })
    }
    for (const endpoint of ['https://sns.example.com', 'http://localhost:4566', 'http://[::1]:4566']) {
      new AnalyticsLogger({ topicArn, siteUrl: SITE_URL, endpoint }).close({ timeoutMs: 0 })
    }
    // http:// on 127.0.0.1, moto's: taken, and the event arrives.
    const topic = await ctx.topic({ fifo: false })
    assert.match(ctx.moto.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/)
    const logger = ctx.logger({ topicArn: topic.topicArn, endpoint: ctx.moto.endpoint })
    const id = logger.log({ category: 'Survey', action: 'answered' })
    await logger.flush()
    assert.deepEqual((await ctx.drain(topic.queueUrl, { expected: 1 })).map((m) => m.attributes.eventId), [id])
  })

  it('under RC_SNS_ANALYTICS_PATH_ROOT, spoolDir must resolve inside that folder', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-analytics-root-'))
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-analytics-outside-'))
    fs.symlinkSync(outside, path.join(root, 'link'))
    const real = fs.realpathSync(root)
    const dirs = [
      [path.join(root, 'spool'), null],
      [path.join(root, 'not', 'yet', 'made'), null],
      [outside, 'is outside'],
      [`${root}/link/..`, 'is outside'], // the symlink's parent, not root's
      [path.join(root, 'link', 'spool'), 'is outside'],
      // As given: path.join would fold the '..'.
      [`${root}/missing/../../x`, 'cannot be resolved to check it against RC_SNS_ANALYTICS_PATH_ROOT (it climbs with .. out of a folder that does not exist)'],
    ]
    const cases = dirs.flatMap(([spoolDir]) => [
      { logger: { topicArn, spoolDir } },
      { settings: { ...enabled, SNS_Analytics_Spool_Dir: spoolDir } },
    ])
    const results = tryOptions(cases, { RC_SNS_ANALYTICS_PATH_ROOT: root })
    dirs.forEach(([spoolDir, words], i) => {
      const [option, setting] = results.slice(2 * i, 2 * i + 2)
      if (!words) {
        assert.deepEqual([option, setting], [null, null], spoolDir)
        return
      }
      assert.ok(option && setting, `${spoolDir} was taken`)
      assert.equal(option.code, 'ERR_INVALID_OPTION')
      assert.equal(option.option, 'spoolDir')
      assert.ok(option.message.includes(`option spoolDir: ${spoolDir} ${words}`), option.message)
      assert.ok(option.message.includes(`RC_SNS_ANALYTICS_PATH_ROOT`), option.message)
      if (words === 'is outside') assert.ok(option.message.includes(`RC_SNS_ANALYTICS_PATH_ROOT=${real}`), option.message)
      assert.equal(setting.setting, 'SNS_Analytics_Spool_Dir')
      assert.ok(setting.message.includes(`SNS_Analytics_Spool_Dir: invalid AnalyticsLogger option spoolDir: ${spoolDir} ${words}`), setting.message)
    })
    // Unset, the same folders are taken (the variable is the operator's choice).
    assert.deepEqual(tryOptions([{ logger: { topicArn, spoolDir: outside } }], { RC_SNS_ANALYTICS_PATH_ROOT: '' }), [null])
    // A root that cannot be resolved refuses, naming the variable.
    const [e] = tryOptions([{ logger: { topicArn, spoolDir: path.join(root, 'spool') } }], { RC_SNS_ANALYTICS_PATH_ROOT: path.join(root, 'nowhere') })
    assert.ok(e && e.message.includes('cannot be checked against RC_SNS_ANALYTICS_PATH_ROOT='), JSON.stringify(e))
  })
})
