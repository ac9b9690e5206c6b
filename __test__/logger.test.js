'use strict'
// The JavaScript surface of AnalyticsLogger against moto: the wire contract,
// batching, FIFO order, bad input and options, lifecycle.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { useMoto, waitFor, assertBalanced, SITE_URL, AnalyticsLogger } = require('./helpers/setup')
const { startFaultProxy } = require('./helpers/fault-proxy')

const ctx = useMoto()
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const BODY_KEYS = ['dialogflowAgentId', 'roomId', 'tabId', 'category', 'action', 'properties', 'eventType', 'timestamp']

describe('wire contract', () => {
  it('publishes the seed payload exactly, with mirrored attributes and FIFO fields', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, dialogflowAgentId: 'b5983b72-cac6-4f85-b9d0-be61e543dfe6' })
    const id = logger.log({
      roomId: 'be61e543dfe6:wqbFXoeX2kdSZhSyi',
      tabId: 'xxxxx',
      category: 'Agent Transfer',
      action: 'failed',
      properties: { failure_reason: 'no agent available' },
      eventType: 'customerAction',
      timestamp: new Date('2022-09-26T17:50:47.225Z'),
    })
    assert.match(id, UUID_V7)
    const report = await logger.flush()
    assert.deepEqual(report, { accepted: 1, delivered: 1, failed: 0, dropped: 0, deadLettered: 0, held: 0, queued: 0, pending: 0, spooled: 0 })
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(
      msg.body,
      '{"dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi",' +
        '"tabId":"xxxxx","category":"Agent Transfer","action":"failed","properties":{"failure_reason":"no agent available"},' +
        '"eventType":"customerAction","timestamp":"2022-09-26T17:50:47.225Z"}',
    )
    assert.deepEqual(msg.attributes, { eventId: id, category: 'Agent Transfer', action: 'failed', eventType: 'customerAction' })
    assert.equal(msg.groupId, SITE_URL)
    assert.equal(msg.dedupId, id)
  })

  it('fills unknown fields with empty strings, {} and now; standard topics carry no FIFO fields', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn })
    const before = Date.now()
    logger.log({ category: 'Chat Session', action: 'started' })
    await logger.flush()
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual(Object.keys(msg.json), BODY_KEYS)
    assert.equal(msg.json.dialogflowAgentId, '')
    assert.equal(msg.json.roomId, '')
    assert.equal(msg.json.tabId, '')
    assert.deepEqual(msg.json.properties, {})
    assert.equal(msg.json.eventType, 'session')
    assert.match(msg.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const ts = Date.parse(msg.json.timestamp)
    assert.ok(ts >= before - 5 && ts <= Date.now() + 5)
    assert.equal(msg.groupId, undefined)
    assert.equal(msg.dedupId, undefined)
  })

  it('accepts a timestamp as a Date, an ISO string with offset, or epoch ms', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    logger.log({ category: 'c', action: 'date', timestamp: new Date(1651688848191) })
    logger.log({ category: 'c', action: 'iso', timestamp: '2022-05-04T20:27:28.191+02:00' })
    logger.log({ category: 'c', action: 'ms', timestamp: 1651688848191 })
    await logger.flush()
    const msgs = await ctx.drain(queueUrl, { expected: 3 })
    assert.deepEqual(
      msgs.map((m) => [m.json.action, m.json.timestamp]),
      [
        ['date', '2022-05-04T18:27:28.191Z'],
        ['iso', '2022-05-04T18:27:28.191Z'],
        ['ms', '2022-05-04T18:27:28.191Z'],
      ],
    )
  })

  it('sends the subject option as the SNS Subject', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ raw: false })
    const logger = ctx.logger({ topicArn, subject: 'RC-analytics' })
    logger.log({ category: 'Survey', action: 'link_clicked' })
    await logger.flush()
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    // Without raw delivery SQS gets the SNS envelope, which carries the Subject.
    assert.equal(msg.json.Subject, 'RC-analytics')
    assert.equal(JSON.parse(msg.json.Message).category, 'Survey')
  })
})

describe('batching and order', () => {
  it('keeps log() order on a FIFO topic across many batches, none over 10 entries', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    const ids = []
    for (let i = 0; i < 95; i++) ids.push(logger.log({ category: 'Window', action: 'opened', properties: { n: i } }))
    const report = await logger.flush()
    assert.equal(report.delivered, 95)
    const s = logger.stats()
    assert.equal(s.batchesSent, 10, 'ten PublishBatch requests of at most ten')
    assert.equal(s.queued + s.inFlight, 0)
    const msgs = await ctx.drain(queueUrl, { expected: 95 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), ids)
    assert.deepEqual(msgs.map((m) => m.json.properties.n), [...Array(95).keys()])
  })

  it('honours maxBatchSize and delivers everything on a standard topic', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn, maxBatchSize: 3 })
    const ids = new Set()
    for (let i = 0; i < 20; i++) ids.add(logger.log({ category: 'c', action: 'a', properties: { n: i } }))
    await logger.flush()
    assert.equal(logger.stats().batchesSent, 7)
    const msgs = await ctx.drain(queueUrl, { expected: 20 })
    assert.equal(msgs.length, 20)
    assert.deepEqual(new Set(msgs.map((m) => m.attributes.eventId)), ids)
  })

  it('sends a partial batch after flushIntervalMs without flush()', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn, flushIntervalMs: 100 })
    logger.log({ category: 'c', action: 'a' })
    const msgs = await ctx.drain(queueUrl, { expected: 1, timeoutMs: 10000, quietMs: 10000 })
    assert.equal(msgs.length, 1)
    assert.equal(logger.stats().delivered, 1)
  })

  it('cuts batches at the 256 KiB request limit', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    const big = 'x'.repeat(100_000)
    for (let i = 0; i < 5; i++) logger.log({ category: 'c', action: 'a', properties: { big, n: i } })
    await logger.flush()
    assert.equal(logger.stats().batchesSent, 3, '2 + 2 + 1 events of ~100 KB')
    const msgs = await ctx.drain(queueUrl, { expected: 5 })
    assert.deepEqual(msgs.map((m) => m.json.properties.n), [0, 1, 2, 3, 4])
  })
})

describe('bad input', () => {
  const cases = [
    [{ action: 'a' }, 'category', /category is required/],
    [{ category: '', action: 'a' }, 'category', /non-empty string/],
    [{ category: 'c', action: 7 }, 'action', /got a number/],
    [{ category: 'c', action: 'a', roomId: 42 }, 'roomId', /roomId must be a string/],
    [{ category: 'c', action: 'a', tabId: true }, 'tabId', /tabId must be a string/],
    [{ category: 'c', action: 'a', properties: { f: { nested: 1 } } }, 'properties.f', /properties\.f must be a string, number, boolean, null or an array of those, got an object/],
    [{ category: 'c', action: 'a', properties: { f: [[1]] } }, 'properties.f', /got an array with an object or array in it/],
    [{ category: 'c', action: 'a', properties: 'x' }, 'properties', /must be an object/],
    [{ category: 'c', action: 'a', timestamp: 'last tuesday' }, 'timestamp', /ISO-8601/],
    [{ category: 'c', action: 'a', timestamp: new Date('nope') }, 'timestamp', /invalid Date/],
    [{ category: 'c', action: 'a', timestamp: 1.5 }, 'timestamp', /whole epoch milliseconds/],
    [{ category: 'c', action: 'a', eventType: 'visitor' }, 'eventType', /'customerAction' or 'session'/],
    [{ category: 'c', action: 'a', propertes: {} }, 'event', /unknown field `propertes`/],
    [{ category: 'c', action: 'a', properties: { n: 10n } }, 'properties.n', /properties\.n must be a string, number, boolean, null or an array of those, got a BigInt/],
    [{ category: 'c', action: 'a', properties: { big: 'x'.repeat(262_144) } }, 'event', /over the 262144-byte SNS limit/],
    [null, 'event', /must be an object, got null/],
    ['Chat Session', 'event', /must be an object, got a string/],
    [[1, 2], 'event', /must be an object, got an array/],
    [{ toJSON: () => undefined }, 'event', /event must be a plain object, got undefined/],
    [{ toJSON: () => 'text' }, 'event', /must be a plain object/],
    [
      {
        toJSON() {
          throw new Error('boom')
        },
      },
      'event',
      /event cannot be serialized: its toJSON\(\) threw Error: boom/,
    ],
    [
      {
        toJSON() {
          // eslint-disable-next-line no-throw-literal
          throw { toString: () => { throw new Error('no text either') } }
        },
      },
      'event',
      /its toJSON\(\) threw an exception that cannot be printed/,
    ],
  ]
  /** The case, for the assertion's message: a throwing toJSON must not throw here. */
  const describeCase = (event) => {
    try {
      return JSON.stringify(event, (k, v) => (typeof v === 'bigint' ? String(v) : v))?.slice(0, 80)
    } catch {
      return String(Object.keys(event ?? {}))
    }
  }

  it('throws a TypeError naming the field, counts it, and loses nothing valid', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    const good = [logger.log({ category: 'ok', action: 'before' })]
    for (const [event, field, message] of cases) {
      assert.throws(
        () => logger.log(event),
        (e) => {
          assert.ok(e instanceof TypeError, `${field}: ${e}`)
          assert.equal(e.code, 'ERR_INVALID_EVENT')
          assert.equal(e.field, field)
          assert.match(e.message, message)
          return true
        },
        describeCase(event),
      )
    }
    {
      const cyclic = { category: 'c', action: 'a', properties: {} }
      cyclic.properties.self = cyclic
      assert.throws(() => logger.log(cyclic), { code: 'ERR_INVALID_EVENT', field: 'properties.self', message: /got a circular reference to event/ })
    }
    good.push(logger.log({ category: 'ok', action: 'after' }))
    await logger.flush()
    const s = logger.stats()
    assert.equal(s.invalid, cases.length + 1)
    assert.equal(s.delivered, 2)
    const msgs = await ctx.drain(queueUrl, { expected: 2 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), good)
  })

  it('treats null and undefined optional fields as unknown', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn })
    logger.log({ category: 'c', action: 'a', roomId: null, tabId: undefined, properties: { keep: null, gone: undefined } })
    await logger.flush()
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.json.roomId, '')
    assert.deepEqual(msg.json.properties, { keep: null })
  })
})

describe('options', () => {
  const base = { topicArn: 'arn:aws:sns:us-east-1:123456789012:rc.fifo', siteUrl: SITE_URL }
  const cases = [
    [{ ...base, topicArn: 'rc-analytics' }, 'topicArn', /SNS topic ARN/],
    [{ siteUrl: SITE_URL }, 'topicArn', /topicArn: is required/],
    [{ ...base, maxBatchSize: NaN }, 'maxBatchSize', /got NaN/],
    [{ ...base, siteUrl: 'has spaces' }, 'siteUrl', /MessageGroupId/],
    [{ ...base, maxBatchSize: 11 }, 'maxBatchSize', /from 1 to 10/],
    [{ ...base, maxBatchSize: 2.5 }, 'maxBatchSize', /whole number/],
    [{ ...base, maxBatchSize: 'ten' }, 'maxBatchSize', /maxBatchSize/],
    [{ ...base, flushIntervalMs: 0 }, 'flushIntervalMs', /from 1/],
    [{ ...base, overflow: 'block' }, 'overflow', /'reject', 'dropNewest' or 'dropOldest'/],
    [{ ...base, endpoint: 'localhost:4566' }, 'endpoint', /http/],
    [{ ...base, subject: 'two\nlines' }, 'subject', /printable ASCII/],
    [{ ...base, credentials: { accessKeyId: 'AKIA', secretAccessKey: '' } }, 'credentials.secretAccessKey', /non-empty/],
    [{ ...base, credentials: { accessKeyId: 5, secretAccessKey: 'x' } }, 'credentials.accessKeyId', /accessKeyId/],
    [{ ...base, flushInterval: 100 }, 'flushInterval', /unknown field `flushInterval`, expected one of `topicArn`/],
    [{ ...base, retryInitialBackoffMs: 500, retryMaxBackoffMs: 100 }, 'retryMaxBackoffMs', /at least retryInitialBackoffMs/],
    [undefined, 'options', /must be an object/],
  ]
  for (const [options, option, message] of cases) {
    it(`names ${option} in its error`, () => {
      assert.throws(
        () => new AnalyticsLogger(options),
        (e) => {
          assert.ok(e instanceof TypeError, String(e))
          assert.equal(e.code, 'ERR_INVALID_OPTION')
          assert.equal(e.option, option)
          assert.match(e.message, message)
          return true
        },
      )
    })
  }

  it('takes every option index.d.ts declares (the core type and the declared one agree)', () => {
    const dts = require('node:fs').readFileSync(require.resolve('../index.d.ts'), 'utf8')
    const body = /export interface LoggerOptions \{([\s\S]*?)\n\}/.exec(dts)[1]
    const names = [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])
    assert.ok(names.length >= 30, names.join(' '))
    for (const name of names) {
      if (name === 'topicArn' || name === 'siteUrl') continue
      // undefined is "not given": accepted for every option the core knows.
      const logger = new AnalyticsLogger({ ...base, [name]: undefined })
      logger.close()
    }
  })

  // The options have two declarations: the core's serde type, which reads them (it
  // names the option at fault and refuses unknown names, which napi-rs's object
  // conversion does not), and the type-only one index.d.ts is generated from. The
  // serde error for an unknown name lists every name the core takes: both lists must
  // be the same, for the options and for each options object inside them.
  it('declares exactly the options the core takes, in index.d.ts', async () => {
    const dts = require('node:fs').readFileSync(require.resolve('../index.d.ts'), 'utf8')
    const declared = (name) => {
      const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(dts)[1]
      return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]).sort()
    }
    const taken = (error) => {
      const list = /expected one of (.*)$/.exec(error.message)
      assert.ok(list, error.message)
      return [...list[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort()
    }
    const thrown = (fn) => {
      try {
        fn()
      } catch (e) {
        return e
      }
      assert.fail('should throw')
    }
    assert.deepEqual(taken(thrown(() => new AnalyticsLogger({ ...base, notAnOption: 1 }))), declared('LoggerOptions'))
    // The AWS SDK's credential objects carry four more names, accepted and not used.
    const sdkOnly = ['$source', 'accountId', 'credentialScope', 'expiration']
    const credentials = thrown(() => new AnalyticsLogger({ ...base, credentials: { accessKeyId: 'a', secretAccessKey: 'b', notAnOption: 1 } }))
    assert.deepEqual(taken(credentials).filter((n) => !sdkOnly.includes(n)), declared('AwsCredentials'))
    const { replayDeadLetters } = require('..')
    const replay = await replayDeadLetters('/nonexistent', { notAnOption: 1 }).then(
      () => assert.fail('should reject'),
      (e) => e,
    )
    assert.deepEqual(taken(replay), declared('DeadLetterReplayOptions'))
  })

  it('never shows credentials in errors or inspection', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
    try {
      new AnalyticsLogger({ ...base, credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret }, maxBatchSize: 0 })
      assert.fail('should throw')
    } catch (e) {
      assert.doesNotMatch(String(e.message) + String(e.stack), /wJalrXUtnFEMI/)
    }
    const logger = ctx.logger({ ...base, credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret } })
    const shown = require('node:util').inspect(logger, { showHidden: true, depth: 5 })
    assert.doesNotMatch(shown, /wJalrXUtnFEMI|AKIAIOSFODNN7EXAMPLE/)
    assert.doesNotMatch(JSON.stringify(logger.stats()), /wJalrXUtnFEMI/)
  })
})

describe('lifecycle and failures', () => {
  it('close() delivers what is held, then log() throws ERR_LOGGER_CLOSED', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, flushIntervalMs: 60_000 })
    for (let i = 0; i < 7; i++) logger.log({ category: 'c', action: 'a', properties: { n: i } })
    const report = await logger.close()
    assert.deepEqual(report, { accepted: 7, delivered: 7, failed: 0, dropped: 0, deadLettered: 0, held: 0, queued: 0, pending: 0, spooled: 0 })
    assert.equal(logger.closed, true)
    assert.throws(() => logger.log({ category: 'c', action: 'a' }), {
      name: 'Error',
      code: 'ERR_LOGGER_CLOSED',
      message: /AnalyticsLogger is closed/,
    })
    assert.deepEqual(await logger.close(), report, 'closing twice resolves again')
    assert.deepEqual(await logger.flush(), report, 'flush after close resolves')
    assert.equal((await ctx.drain(queueUrl, { expected: 7 })).length, 7)
  })

  it('holds the events of a topic SNS refuses, reports it once through onError and stats, without throwing', async (t) => {
    const topicArn = `arn:aws:sns:us-east-1:123456789012:no-such-topic-${process.pid}`
    const proxy = await startFaultProxy(ctx.moto.endpoint)
    t.after(() => proxy.close())
    const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, retryInitialBackoffMs: 10, retryMaxBackoffMs: 50 })
    const errors = []
    logger.onError((e) => errors.push(e))
    const ids = [logger.log({ category: 'c', action: 'a' }), logger.log({ category: 'c', action: 'b' })]
    const report = await logger.flush()
    assert.deepEqual({ held: report.held, failed: report.failed, delivered: report.delivered }, { held: 2, failed: 0, delivered: 0 })
    await waitFor('onError', () => errors.length > 0)
    assert.equal(errors.length, 1)
    assert.equal(errors[0].code, 'ERR_DESTINATION_UNAVAILABLE')
    assert.match(errors[0].message, /NotFound/)
    assert.deepEqual(errors[0].eventIds, [], 'nothing is lost')
    assert.deepEqual({ topicArn: errors[0].destination.topicArn, awsCode: errors[0].destination.awsCode }, { topicArn, awsCode: 'NotFound' })
    const s = logger.stats()
    assert.deepEqual(s.paused.map((p) => [p.topicArn, p.awsCode, p.held]), [[topicArn, 'NotFound', 2]])
    assert.equal(s.accepted, s.delivered + s.failed + s.dropped + s.deadLettered + s.held + s.queued)
    // Created, with its subscription: the held events go, once each. (The proxy
    // answers NotFound as moto did until the subscription exists too.)
    proxy.outage(60_000, ['notFound'], { topicArn })
    const { queueUrl } = await ctx.topic({ name: topicArn.split(':').pop() })
    proxy.heal(topicArn)
    await waitFor('the held events', () => logger.stats().delivered === 2)
    assert.deepEqual((await ctx.drain(queueUrl, { expected: 2 })).map((m) => m.attributes.eventId).sort(), [...ids].sort())
    await waitFor('the resume report', () => errors.length === 2)
    assert.equal(errors[1].code, 'DESTINATION_RESUMED')
  })

  it('follows overflow: reject throws ERR_QUEUE_FULL, dropNewest reports the ids', async () => {
    // A closed port: every request fails and is retried, so the queue fills.
    const dead = 'http://127.0.0.1:9'
    const rejecting = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:t', endpoint: dead, maxQueueEvents: 5, overflow: 'reject' })
    for (let i = 0; i < 5; i++) rejecting.log({ category: 'c', action: 'a' })
    assert.throws(() => rejecting.log({ category: 'c', action: 'a' }), { code: 'ERR_QUEUE_FULL', message: /maxQueueEvents/ })
    assert.equal(rejecting.stats().dropped, 1)
    // A refused event was accepted by log() before overflow threw: it is in the account.
    assert.deepEqual([rejecting.stats().accepted, rejecting.stats().queued], [6, 5])
    assertBalanced(rejecting.stats())

    const dropping = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:t', endpoint: dead, maxQueueEvents: 5 })
    const errors = []
    dropping.onError((e) => errors.push(e))
    const ids = []
    for (let i = 0; i < 8; i++) ids.push(dropping.log({ category: 'c', action: 'a' }))
    assert.equal(dropping.stats().dropped, 3)
    await waitFor('the dropped ids', () => errors.flatMap((e) => e.eventIds).length === 3)
    assert.equal(errors[0].code, 'ERR_QUEUE_FULL')
    assert.deepEqual(errors.flatMap((e) => e.eventIds), ids.slice(5))
    const report = await dropping.close({ timeoutMs: 100 })
    assertBalanced(report)
    assert.equal(report.failed, 5, 'held events fail at the close deadline')
  })
})

describe('entry point', () => {
  it('index.js exports what the binding does, with its AnalyticsLogger in front', () => {
    const entry = require('..')
    const binding = require('../binding.js')
    const publicNames = Object.keys(binding).filter((name) => !name.startsWith('__'))
    assert.deepEqual(Object.keys(entry).sort(), publicNames.sort())
    for (const name of publicNames.filter((n) => n !== 'AnalyticsLogger')) assert.equal(entry[name], binding[name], name)
    assert.ok(Object.getPrototypeOf(entry.AnalyticsLogger) === binding.AnalyticsLogger)
  })

  it('every export can be imported by name from an ES module', () => {
    const { execFileSync } = require('node:child_process')
    const names = Object.keys(require('..'))
    const url = require('node:url').pathToFileURL(require.resolve('..')).href
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import { ${names.join(', ')} } from ${JSON.stringify(url)}; console.log([${names.join(', ')}].map((x) => typeof x).join(' '))`], { encoding: 'utf8' })
    assert.deepEqual(out.trim().split(' '), names.map((n) => typeof require('..')[n]))
  })

  it('loggers in worker threads log through their own thread, alongside this one', async () => {
    const { Worker } = require('node:worker_threads')
    const { topicArn, queueUrl } = await ctx.topic()
    const here = ctx.logger({ topicArn })
    const options = { siteUrl: SITE_URL, endpoint: ctx.moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, topicArn, flushIntervalMs: 50 }
    const script = `
      const { parentPort, workerData } = require('node:worker_threads')
      const { AnalyticsLogger } = require(${JSON.stringify(require.resolve('..'))})
      const logger = new AnalyticsLogger(workerData)
      const ids = [1, 2, 3].map((n) => logger.log({ category: 'worker', action: 'a' + n }))
      let error
      try { logger.log({ category: 'worker' }) } catch (e) { error = e.code + ' ' + e.field }
      logger.close().then((report) => parentPort.postMessage({ ids, error, report }))`
    const ids = [here.log({ category: 'main', action: 'before' })]
    const worker = new Worker(script, { eval: true, workerData: options })
    const fromWorker = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))
    await worker.terminate()
    ids.push(here.log({ category: 'main', action: 'after' }))
    await here.flush()
    assert.equal(fromWorker.error, 'ERR_INVALID_EVENT action')
    assert.equal(fromWorker.report.delivered, 3)
    const msgs = await ctx.drain(queueUrl, { expected: 5 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId).sort(), [...ids, ...fromWorker.ids].sort())
  })
})

describe('re-entrancy', () => {
  it('a toJSON that logs another event works and both are delivered', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    let innerId
    const outer = {
      category: 'outer',
      action: 'a',
      properties: {
        toJSON() {
          innerId = logger.log({ category: 'inner', action: 'b' })
          return { fromToJSON: true }
        },
      },
    }
    const outerId = logger.log(outer)
    await logger.flush()
    const msgs = await ctx.drain(queueUrl, { expected: 2 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), [innerId, outerId])
    assert.deepEqual(msgs[1].json.properties, { fromToJSON: true })
  })
})
