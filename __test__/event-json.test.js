'use strict'
// The JSON contract of log(), the Apps-Engine bridge and the widget path: a value
// JSON cannot carry is refused with ERR_INVALID_EVENT naming its path, and everything
// else arrives at SNS exactly as JSON carries it. First the regressions of issue 12,
// one per value that JSON.stringify used to drop or change silently; then property
// tests over events mixing such values into ordinary ones (fast-check, seeded and
// bounded: PROPERTY_RUNS and PROPERTY_SEED choose a longer or another run).
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { inspect } = require('node:util')
const fc = require('fast-check')
const { useMoto } = require('./helpers/setup')
const { AppsEngineBridge } = require('..')
const { eventCase, schemaFaults, node, build, defineOn, OMIT } = require('./helpers/hostile-values')

const RUNS = Number(process.env.PROPERTY_RUNS || 300)
const SEED = Number(process.env.PROPERTY_SEED || 20261128)
const APP_ID = '8d3cbb8c-3c07-4b9f-8a3a-1f0c7c2d2c11'
/** The App may log any category (appAccess denies Apps by default). */
const APP_ACCESS = { [APP_ID]: { categories: ['*'] } }

const ctx = useMoto()

const base = { category: 'Survey', action: 'link_clicked' }
const cyclic = () => {
  const properties = { ok: 1 }
  properties.again = properties
  return { ...base, properties }
}
/** The cases of issue 12: each was accepted or misnamed before the fix. */
const REGRESSIONS = [
  [{ ...base, properties: { f: () => 1 } }, 'properties.f', 'properties.f must be a string, number, boolean, null or an array of those, got a function'],
  [{ ...base, properties: { s: Symbol('x') } }, 'properties.s', 'properties.s must be a string, number, boolean, null or an array of those, got a symbol'],
  [{ ...base, properties: { n: NaN } }, 'properties.n', 'got NaN'],
  [{ ...base, properties: { i: Infinity } }, 'properties.i', 'got Infinity'],
  [{ ...base, properties: { i: -Infinity } }, 'properties.i', 'got -Infinity'],
  [{ ...base, properties: { b: 10n } }, 'properties.b', 'got a BigInt'],
  [cyclic(), 'properties.again', 'got a circular reference to properties'],
  [{ ...base, properties: { list: ['a', () => 1] } }, 'properties.list[1]', 'properties.list[1] must be a string, number, boolean or null, got a function'],
  [{ ...base, properties: { list: ['a', undefined] } }, 'properties.list[1]', 'got undefined'],
  // eslint-disable-next-line no-sparse-arrays
  [{ ...base, properties: { list: ['a', , 'c'] } }, 'properties.list[1]', 'got undefined'],
  [{ ...base, properties: { s: 'a\ud800b' } }, 'properties.s', 'lone UTF-16 surrogate'],
  [{ ...base, roomId: () => 'room' }, 'roomId', 'roomId must be a string, got a function'],
  [{ ...base, timestamp: NaN }, 'timestamp', 'timestamp must be a Date, an ISO-8601 string or epoch milliseconds, got NaN'],
  [{ ...base, propertes: () => 1 }, 'event', 'unknown field `propertes`'],
  [
    {
      ...base,
      properties: {
        get g() {
          throw new Error('getter boom')
        },
      },
    },
    'properties.g',
    'properties.g cannot be read: its getter threw Error: getter boom',
  ],
  [
    {
      ...base,
      properties: {
        d: {
          toJSON() {
            throw new RangeError('toJSON boom')
          },
        },
      },
    },
    'properties.d',
    'properties.d cannot be serialized: its toJSON() threw RangeError: toJSON boom',
  ],
  [{ ...base, properties: { d: { toJSON: () => NaN } } }, 'properties.d', 'got NaN'],
]

describe('values JSON cannot carry (issue 12)', () => {
  it('log() refuses each with ERR_INVALID_EVENT naming its path, counts it, and loses nothing around it', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    const ids = [logger.log({ ...base, properties: { n: 0 } })]
    for (const [event, field, message] of REGRESSIONS) {
      assert.throws(
        () => logger.log(event),
        (e) => {
          assert.ok(e instanceof TypeError, String(e))
          assert.equal(e.code, 'ERR_INVALID_EVENT')
          assert.equal(e.field, field, e.message)
          assert.ok(e.message.includes(message), `${e.message}\n  should include: ${message}`)
          return true
        },
      )
      ids.push(logger.log({ ...base, properties: { n: ids.length } }))
    }
    await logger.flush()
    assert.equal(logger.stats().invalid, REGRESSIONS.length)
    const msgs = await ctx.drain(queueUrl, { expected: ids.length })
    assert.deepEqual(
      msgs.map((m) => m.attributes.eventId),
      ids,
      'every valid event, in order',
    )
    assert.deepEqual(
      msgs.map((m) => m.json.properties.n),
      ids.map((_, i) => i),
    )
  })

  it('AppsEngineBridge.doLogEvent rejects each the same way', async () => {
    const { topicArn } = await ctx.topic()
    const logger = ctx.logger({ topicArn, appAccess: APP_ACCESS })
    const bridge = new AppsEngineBridge(logger, { hasPermission: () => true })
    for (const [event, field, message] of REGRESSIONS) {
      await assert.rejects(bridge.doLogEvent(event, APP_ID), (e) => {
        assert.equal(e.code, 'ERR_INVALID_EVENT', String(e))
        assert.equal(e.field, field, e.message)
        assert.ok(e.message.includes(message), `${e.message}\n  should include: ${message}`)
        return true
      })
    }
    assert.equal(logger.stats().invalid, REGRESSIONS.length)
  })

  it('what JSON defines goes through as JSON carries it', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn })
    const when = new Date('2022-09-26T17:50:47.225Z')
    logger.log({
      ...base,
      roomId: undefined,
      timestamp: when,
      // The doubles: serde_json read the first one bit off until float_roundtrip.
      properties: { gone: undefined, at: when, invalid: new Date(NaN), boxed: new Number(3), text: new String('t'), viaToJSON: { toJSON: () => 'x' }, list: [new Boolean(true), 1.5, null], tiny: -3.0978249747722345e-214, big: 1e21, negZero: -0 },
    })
    await logger.flush()
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.json.timestamp, '2022-09-26T17:50:47.225Z')
    assert.equal(msg.json.roomId, '')
    assert.deepEqual(msg.json.properties, { at: '2022-09-26T17:50:47.225Z', invalid: null, boxed: 3, text: 't', viaToJSON: 'x', list: [true, 1.5, null], tiny: -3.0978249747722345e-214, big: 1e21, negZero: 0 })
  })
})

/**
 * Checks one outcome against the oracle: a refusal must name a path where a value JSON
 * cannot carry really is (or, when there is none, a field the core's schema refuses);
 * an acceptance must have neither. Returns true when the event must arrive.
 */
function checkOutcome(c, outcome) {
  const faults = c.bad.length > 0 ? c.bad : schemaFaults(c.expected)
  if (faults.length > 0) {
    assert.ok(outcome.error, `accepted, but it holds ${faults.join(', ')}: ${inspect(c.event, { depth: 6 })}`)
    const e = outcome.error
    assert.equal(e.code, 'ERR_INVALID_EVENT', String(e))
    assert.ok(faults.includes(e.field), `refused at ${e.field} (${e.message}), not one of ${faults.join(', ')}: ${inspect(c.event, { depth: 6 })}`)
    assert.ok(e.message.includes(e.field), e.message)
    return false
  }
  assert.ok(!outcome.error, `refused (${outcome.error?.message}) a valid event: ${inspect(c.event, { depth: 6 })}`)
  return true
}

/** Drains what the logger delivered and compares each body with its expected JSON. */
async function checkDelivered(logger, queueUrl, accepted) {
  await logger.flush()
  const msgs = await ctx.drain(queueUrl, { expected: accepted.length, timeoutMs: 120_000 })
  assert.equal(msgs.length, accepted.length, 'every accepted event arrives once')
  const byId = new Map(msgs.map((m) => [m.attributes.eventId, m.json]))
  for (const { id, c } of accepted) {
    const body = byId.get(id)
    assert.ok(body, `event ${id} did not arrive`)
    const want = c.expected
    const got = { category: body.category, action: body.action, properties: body.properties }
    const expected = { category: want.category, action: want.action, properties: want.properties }
    assert.deepEqual(got, expected, inspect(c.event, { depth: 6 }))
    assert.equal(body.roomId, want.roomId ?? '')
    if (want.timestamp !== undefined) assert.equal(body.timestamp, want.timestamp)
  }
  return msgs.length
}

describe('property: log(), the bridge and the widget keep JSON semantics or name the path', () => {
  const params = { numRuns: RUNS, seed: SEED, endOnFailure: true }

  it(`log() (${RUNS} cases, seed ${SEED})`, async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn })
    const accepted = []
    let refused = 0
    fc.assert(
      fc.property(eventCase, (c) => {
        let outcome
        try {
          outcome = { id: logger.log(c.event) }
        } catch (error) {
          outcome = { error }
        }
        if (checkOutcome(c, outcome)) accepted.push({ id: outcome.id, c })
        else refused++
      }),
      params,
    )
    assert.equal(logger.stats().invalid, refused)
    await checkDelivered(logger, queueUrl, accepted)
    assert.ok(accepted.length > RUNS / 10 && refused > RUNS / 10, `both outcomes are exercised: ${accepted.length} accepted, ${refused} refused`)
  })

  it(`AppsEngineBridge.doLogEvent (${RUNS} cases, seed ${SEED})`, async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const logger = ctx.logger({ topicArn, appAccess: APP_ACCESS })
    const bridge = new AppsEngineBridge(logger, { hasPermission: () => true, appRateLimit: { eventsPerSecond: 1e6, burst: 1e6, bytesPerSecond: 1e12, burstBytes: 1e12 } })
    const accepted = []
    await fc.assert(
      fc.asyncProperty(eventCase, async (c) => {
        let outcome
        try {
          outcome = { id: await bridge.doLogEvent(c.event, APP_ID) }
        } catch (error) {
          outcome = { error }
        }
        if (checkOutcome(c, outcome)) accepted.push({ id: outcome.id, c })
      }),
      params,
    )
    await checkDelivered(logger, queueUrl, accepted)
  })

  it(`logWidgetEvent (${RUNS} cases, seed ${SEED})`, async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    // One visitor sends every case: the caps per visitor and room out of the way.
    const logger = ctx.logger({ topicArn, widgetEventsPerVisitor: 1e6, widgetEventsPerRoom: 1e6 })
    const accepted = []
    fc.assert(
      fc.property(node, (n) => {
        // Window/opened plans one string property, session_id.
        const built = build(n, 'properties.session_id', false, [])
        const properties = {}
        defineOn(properties, 'session_id', built)
        const body = { token: 'visitor-token', rid: 'be61:room', category: 'Window', action: 'opened', properties }
        let outcome
        try {
          outcome = { id: logger.logWidgetEvent(body) }
        } catch (error) {
          outcome = { error }
        }
        const json = built.json
        // The property is required: left out (undefined) is refused like any other type.
        const plannedType = typeof json === 'string'
        const shown = () => inspect(body, { depth: 6 })
        if (built.bad.length > 0 || !plannedType) {
          assert.ok(outcome.error, `accepted ${shown()}`)
          assert.equal(outcome.error.code, 'ERR_INVALID_EVENT', String(outcome.error))
          if (built.bad.length > 0) assert.ok(built.bad.includes(outcome.error.field), `${outcome.error.field}: ${outcome.error.message}; ${shown()}`)
          return
        }
        assert.ok(!outcome.error, `${outcome.error?.message}: ${shown()}`)
        accepted.push({ id: outcome.id, c: { event: body, expected: { category: 'Window', action: 'opened', roomId: 'be61:room', properties: json === OMIT ? {} : { session_id: json } } } })
      }),
      params,
    )
    await checkDelivered(logger, queueUrl, accepted)
  })
})
