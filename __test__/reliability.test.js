'use strict'
// Nothing lost, nothing twice: the spool through SIGKILL, SIGTERM, restarts, a
// restart mid-outage, a 60-second outage, damaged files and a second process; live
// reconfiguration; secrets kept out of everything a user sees. Every test counts
// what reached SQS through SNS (moto) against what was logged.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { startChild } = require('./helpers/exit-child')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const util = require('node:util')
const { useMoto, waitFor, assertBalanced, instanceFolder, instanceFolders, SITE_URL, AnalyticsLogger } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')
const moto = require('./helpers/moto')

const ctx = useMoto()
const CHILD = path.join(__dirname, 'fixtures', 'spool-child.js')
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

function spoolDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rc-spool-'))
}

/** Starts the spool child in `mode`, against the fault proxy. */
const startSpoolChild = (mode, env) => startChild([process.execPath, CHILD, mode], { ENDPOINT: proxy.endpoint, ...env })

/** Messages by (round, i): fails on any duplicate. */
function byKey(messages) {
  const seen = new Map()
  for (const m of messages) {
    const { round, i } = m.json.properties
    const key = `${round}/${i}`
    assert.ok(!seen.has(key), `event ${key} arrived twice`)
    seen.set(key, m)
  }
  return seen
}

async function drainChild(env) {
  const c = startSpoolChild('drain', env)
  const { code, stdout, stderr } = await c.exited
  assert.equal(code, 0, stderr)
  return JSON.parse(stdout.trim().split('\n').pop())
}

describe('crashes and restarts with a spool', () => {
  proxy.use()
  for (const signal of ['SIGKILL', 'SIGTERM']) {
    it(`${signal} loses at most the last spoolSyncMs, and a restart delivers the rest exactly once`, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const env = { TOPIC_ARN: topicArn, SPOOL_DIR: spoolDir(), PER_ROUND: '40', PAUSE_MS: '150', SPOOL_SYNC_MS: '50' }
      // SNS is down while the child runs, so everything it logs is still held when it dies.
      proxy.outage(600_000)
      const c = startSpoolChild('log', env)
      await waitFor('three synced rounds', () => c.stdout().includes('synced 2\n'))
      c.child.kill(signal)
      const end = await c.exited
      assert.equal(end.signal, signal)
      proxy.heal()
      const { report, stats } = await drainChild(env)
      assertBalanced(report)
      assert.equal(report.failed, 0)
      assert.ok(stats.recovered >= 120, `recovered ${stats.recovered}: the killed process's events`)
      assert.equal(stats.spooled, 0, 'the spool is empty after the restart')
      const got = byKey(await ctx.drain(queueUrl, { quietMs: 2000 }))
      // Everything of the rounds the child said were synced, exactly once.
      for (let round = 0; round <= 2; round++) {
        for (let i = 0; i < 40; i++) assert.ok(got.has(`${round}/${i}`), `event ${round}/${i} was lost`)
      }
      // Of what it logged after, whatever arrived arrived once (byKey checked), and a
      // round arrived whole or as a prefix: never with a hole.
      const later = [...got.keys()].filter((k) => Number(k.split('/')[0]) > 2)
      for (const k of later) {
        const [round, i] = k.split('/').map(Number)
        for (let j = 0; j < i; j++) assert.ok(got.has(`${round}/${j}`), `hole before ${k}`)
      }
    })
  }

  it('a restart in the middle of an outage delivers everything once the outage ends', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const env = { TOPIC_ARN: topicArn, SPOOL_DIR: spoolDir(), PER_ROUND: '30', PAUSE_MS: '120', ROUNDS: '3' }
    proxy.outage(600_000)
    const c = startSpoolChild('log', env)
    await waitFor('three synced rounds', () => c.stdout().includes('synced 2\n'))
    c.child.kill('SIGKILL')
    await c.exited
    const drained = drainChild(env)
    // The new process starts while SNS is still down, then SNS comes back.
    await new Promise((r) => setTimeout(r, 2000))
    proxy.heal()
    const { report, stats } = await drained
    assertBalanced(report)
    assert.equal(report.failed, 0)
    assert.equal(stats.recovered, 90)
    const got = byKey(await ctx.drain(queueUrl, { expected: 90 }))
    assert.equal(got.size, 90)
    // FIFO: each room's events in log() order.
    const order = (await Promise.resolve([...got.values()])).map((m) => m.json.properties)
    for (let k = 1; k < order.length; k++) {
      const [a, b] = [order[k - 1], order[k]]
      if (a.round === b.round) assert.ok(a.i < b.i, 'in order within a round')
    }
  })

  it('skips and counts torn and damaged records, and delivers every intact event', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: false })
    const dir = spoolDir()
    proxy.outage(600_000)
    const first = new AnalyticsLogger({ topicArn, siteUrl: SITE_URL, endpoint: proxy.endpoint, region: moto.REGION, credentials: moto.CREDENTIALS, spoolDir: dir })
    for (let i = 0; i < 50; i++) first.log({ category: 'c', action: 'a', properties: { round: 0, i } })
    const closed = await first.close({ timeoutMs: 300 })
    assert.equal(closed.spooled, 50)
    proxy.heal()
    const folder = instanceFolder(dir)
    const [segment] = fs.readdirSync(folder).filter((f) => f.endsWith('.seg'))
    const file = path.join(folder, segment)
    const bytes = fs.readFileSync(file)
    bytes[Math.floor(bytes.length / 2)] ^= 0xff // damage one record in the middle
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 7)) // and tear the last one
    const second = ctx.logger({ topicArn, spoolDir: dir })
    const report = await second.flush()
    assertBalanced(report)
    const stats = second.stats()
    assert.equal(stats.corruptRecords, 2)
    assert.equal(stats.recovered, 48)
    assert.equal(report.delivered, 48)
    const got = byKey(await ctx.drain(queueUrl, { expected: 48 }))
    assert.equal(got.size, 48)
  })

  it('gives each logger on one spoolDir a folder of its own, in one process or two, and takes over the folder of a process that is gone', async () => {
    const dir = spoolDir()
    const base = { topicArn: 'arn:aws:sns:us-east-1:123456789012:t', siteUrl: SITE_URL, endpoint: proxy.endpoint, region: moto.REGION, credentials: moto.CREDENTIALS, spoolDir: dir }
    const first = new AnalyticsLogger(base)
    const second = new AnalyticsLogger(base)
    assert.ok(first.stats().spoolInUse !== undefined)
    await waitFor('both loggers to use their folders', () => first.stats().spoolInUse && second.stats().spoolInUse)
    assert.equal(instanceFolders(dir).length, 2)
    const holder = startSpoolChild('hold', { TOPIC_ARN: base.topicArn, SPOOL_DIR: dir })
    await waitFor('the child to hold its folder', () => holder.stdout().includes('holding'))
    const folders = instanceFolders(dir)
    assert.equal(folders.length, 3)
    const held = folders.find((f) => fs.readFileSync(path.join(f, 'spool.lock'), 'utf8').startsWith(`process ${holder.child.pid}`))
    assert.ok(held, 'the lock file names its holder')
    await Promise.all([first.close(), second.close()])
    assert.deepEqual(instanceFolders(dir), [held], 'settled folders go with their loggers')
    holder.child.kill('SIGKILL')
    await holder.exited
    // The lock dies with its process: the next logger takes the folder over.
    const next = new AnalyticsLogger(base)
    await waitFor('the next logger to use a folder', () => next.stats().spoolInUse)
    assert.deepEqual(instanceFolders(dir), [held])
    await next.close()
  })
})

describe('a 60-second SNS outage', () => {
  proxy.use()
  it('spools what arrives during it and delivers everything once, in order, after it', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({
      topicArn,
      endpoint: proxy.endpoint,
      spoolDir: spoolDir(),
      maxQueueEvents: 50, // a small memory window: most of the outage waits on disk
      retryBudgetMs: 5_000,
      retryMaxBackoffMs: 1_000,
    })
    const errors = []
    logger.onError((e) => errors.push(e))
    proxy.outage(600_000) // ended by heal() below, after the 60 s of logging
    const ids = []
    const started = Date.now()
    let i = 0
    while (Date.now() - started < 60_000) {
      for (let k = 0; k < 5; k++) ids.push(logger.log({ category: 'Chat Session', action: 'started', properties: { round: 0, i: i++ } }))
      await new Promise((r) => setTimeout(r, 500))
    }
    const during = logger.stats()
    assertBalanced(during, 'during the outage')
    assert.equal(during.delivered, 0, 'nothing got through the outage')
    assert.equal(during.failed, 0, 'and nothing was given up')
    assert.ok(during.spooled >= ids.length - 5, `spooled ${during.spooled} of ${ids.length}`)
    proxy.heal()
    const report = await logger.flush()
    assertBalanced(report)
    assert.deepEqual([report.delivered, report.failed, report.dropped], [ids.length, 0, 0])
    const msgs = await ctx.drain(queueUrl, { expected: ids.length })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), ids, 'each once, in log() order')
    assert.ok(errors.length > 0 && errors.every((e) => e.code === 'ERR_DELIVERY_DELAYED'), JSON.stringify(errors.map((e) => e.code)))
    assert.equal(logger.stats().spooled, 0)
  })
})

describe('reconfigure()', () => {
  proxy.use()
  it('moves new events to a new topic and batching; queued ones are neither lost nor repeated', async () => {
    const a = await ctx.topic({ fifo: true })
    const b = await ctx.topic({ fifo: true })
    const options = { siteUrl: SITE_URL, endpoint: proxy.endpoint, region: moto.REGION, credentials: moto.CREDENTIALS, flushIntervalMs: 50 }
    const logger = ctx.logger({ ...options, topicArn: a.topicArn })
    // The first batches are slow, so events are still queued when the options change.
    proxy.inject({ kind: 'slow', ms: 300 }, { kind: 'slow', ms: 300 })
    const before = []
    for (let i = 0; i < 40; i++) before.push(logger.log({ category: 'c', action: 'a', properties: { round: 0, i } }))
    logger.reconfigure({
      ...options,
      topicArn: b.topicArn,
      maxBatchSize: 3,
      endpoint: ctx.moto.endpoint, // straight to SNS now
      credentials: { accessKeyId: 'rotated', secretAccessKey: 'rotated-secret' },
    })
    const after = []
    for (let i = 0; i < 40; i++) after.push(logger.log({ category: 'c', action: 'a', properties: { round: 1, i } }))
    const report = await logger.flush()
    assertBalanced(report)
    assert.deepEqual([report.delivered, report.failed], [80, 0])
    assert.deepEqual((await ctx.drain(a.queueUrl, { expected: 40 })).map((m) => m.attributes.eventId), before)
    assert.deepEqual((await ctx.drain(b.queueUrl, { expected: 40 })).map((m) => m.attributes.eventId), after)
  })

  it('refuses bad options and a new spoolDir, changing nothing', async () => {
    const dir = spoolDir()
    const { topicArn } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, spoolDir: dir })
    const base = { topicArn, siteUrl: SITE_URL, spoolDir: dir }
    assert.throws(() => logger.reconfigure({ ...base, maxBatchSize: 11 }), { code: 'ERR_INVALID_OPTION', option: 'maxBatchSize' })
    assert.throws(() => logger.reconfigure({ ...base, spoolDir: spoolDir() }), { code: 'ERR_INVALID_OPTION', option: 'spoolDir' })
    assert.throws(() => logger.reconfigure({ ...base, flushInterval: 5 }), { option: 'flushInterval' })
    await logger.close()
    assert.throws(() => logger.reconfigure(base), { code: 'ERR_LOGGER_CLOSED' })
  })
})

describe('secrets', () => {
  proxy.use()
  it('never appear in errors, stats, reports or util.inspect', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY'
    const keyId = 'AKIAQWERTYUIOPASDFGH'
    const token = 'FwoGZXIvYXdzEXAMPLESESSIONTOKENzzz'
    const logger = ctx.logger({
      topicArn: 'arn:aws:sns:us-east-1:123456789012:secret-test',
      endpoint: proxy.endpoint,
      credentials: { accessKeyId: keyId, secretAccessKey: secret, sessionToken: token },
    })
    const errors = []
    logger.onError((e) => errors.push(e))
    // Twice: a refusal alone is retried; twice in a row, the destination pauses and
    // onError gets SNS's message, which repeats the request's signature.
    proxy.inject({ kind: 'echoAuth' }, { kind: 'echoAuth' })
    logger.log({ category: 'c', action: 'a' })
    await logger.flush()
    await waitFor('the refusal', () => errors.length > 0)
    const paused = JSON.stringify(logger.stats())
    const shown = [
      JSON.stringify(errors),
      errors.map((e) => e.message).join('\n'),
      JSON.stringify(logger.stats()),
      paused,
      util.inspect(logger, { showHidden: true, depth: 5 }),
      String(logger),
    ].join('\n')
    assert.ok(errors[0].message.includes('SignatureDoesNotMatch'), errors[0].message)
    for (const s of [secret, keyId, token]) assert.ok(!shown.includes(s), `${s} leaked:\n${shown}`)
    // Bad options name the option, never its value.
    assert.throws(() => new AnalyticsLogger({ topicArn: 'x', siteUrl: SITE_URL, credentials: { accessKeyId: keyId, secretAccessKey: secret } }), (e) => {
      assert.ok(!e.message.includes(secret) && !e.message.includes(keyId), e.message)
      return true
    })
    // A key where the object belongs, or in a field of the wrong type, is not quoted.
    for (const credentials of [secret, { accessKeyId: keyId, secretAccessKey: 12345678901234 }, { accessKeyId: keyId, secretAccessKey: [secret] }]) {
      assert.throws(() => new AnalyticsLogger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:t', siteUrl: SITE_URL, credentials }), (e) => {
        assert.equal(e.code, 'ERR_INVALID_OPTION')
        assert.match(e.option, /^credentials/)
        for (const s of [secret, keyId, '12345678901234']) assert.ok(!e.message.includes(s), e.message)
        return true
      })
    }
  })
})
