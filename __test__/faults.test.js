'use strict'
// Faults injected between the logger and moto. Each test counts what reached the
// queue against what was logged: nothing missing, nothing twice, order kept on FIFO.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { useMoto, waitFor, assertBalanced } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')

const ctx = useMoto()
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

const FAST_RETRY = { retryInitialBackoffMs: 10, retryMaxBackoffMs: 50, requestTimeoutMs: 1000 }

function logMany(logger, n, tag) {
  const ids = []
  for (let i = 0; i < n; i++) ids.push(logger.log({ category: 'Escalation', action: tag, properties: { n: i } }))
  return ids
}

async function assertExactlyOnce(queueUrl, ids, { ordered }) {
  const msgs = await ctx.drain(queueUrl, { expected: ids.length, quietMs: 2000 })
  // Give a late duplicate the chance to show up.
  const extra = await ctx.drain(queueUrl, { quietMs: 500 })
  const got = [...msgs, ...extra].map((m) => m.attributes.eventId)
  assert.equal(got.length, ids.length, `delivered ${got.length} of ${ids.length}`)
  assert.equal(new Set(got).size, ids.length, 'no event twice')
  if (ordered) assert.deepEqual(got, ids)
  else assert.deepEqual(new Set(got), new Set(ids))
}

describe('transient faults are retried until everything is delivered once', () => {
  proxy.use()

  for (const fifo of [true, false]) {
    const kind = fifo ? 'FIFO' : 'standard'

    it(`${kind}: connection resets, 500, 503, throttling and expired credentials`, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo })
      const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, ...FAST_RETRY })
      proxy.inject(
        { kind: 'refuse' },
        { kind: 'http500' },
        { kind: 'throttle' },
        { kind: 'http503' },
        { kind: 'throttle' },
        { kind: 'expired' },
      )
      const ids = logMany(logger, 42, 'faults')
      const report = await logger.flush()
      assertBalanced(report)
      assert.equal(proxy.pendingFaults(), 0, 'every fault was hit')
      assert.deepEqual({ delivered: report.delivered, failed: report.failed }, { delivered: 42, failed: 0 })
      const s = logger.stats()
      assert.ok(s.retried >= 6, `retried ${s.retried}`)
      assert.ok(s.batchesSent >= 5 + 6, `batchesSent ${s.batchesSent}`)
      await assertExactlyOnce(queueUrl, ids, { ordered: fifo })
    })

    it(`${kind}: partial batch failures re-send only the failed entries`, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo })
      const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, ...FAST_RETRY })
      const sentBefore = proxy.seen.entriesSent
      proxy.inject({ kind: 'partial', members: [3, 7] }, { kind: 'partial', members: [1] })
      const ids = logMany(logger, 20, 'partial')
      const report = await logger.flush()
      assertBalanced(report)
      assert.equal(report.delivered, 20)
      assert.equal(logger.stats().retried, 3)
      assert.equal(proxy.seen.entriesSent - sentBefore, 20, 'moto was sent each entry exactly once')
      const msgs = await ctx.drain(queueUrl, { expected: 20 })
      const got = msgs.map((m) => m.attributes.eventId)
      assert.equal(new Set(got).size, 20)
      assert.deepEqual(new Set(got), new Set(ids))
    })

    it(`${kind}: a slow answer times out and is retried, never doubled`, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo })
      const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, ...FAST_RETRY, requestTimeoutMs: 300 })
      proxy.inject({ kind: 'slow', ms: 800 })
      const ids = logMany(logger, 10, 'slow')
      const report = await logger.flush()
      assertBalanced(report)
      assert.equal(report.delivered, 10)
      assert.ok(logger.stats().retried >= 10)
      await assertExactlyOnce(queueUrl, ids, { ordered: fifo })
    })
  }

  it('FIFO: a lost answer is re-sent with the same deduplication ids and delivered once', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, ...FAST_RETRY })
    proxy.inject({ kind: 'lostAnswer' })
    const ids = logMany(logger, 10, 'lost')
    const report = await logger.flush()
    assertBalanced(report)
    assert.equal(report.delivered, 10)
    assert.equal(logger.stats().retried, 10, 'the whole batch went again')
    await assertExactlyOnce(queueUrl, ids, { ordered: true })
  })

  it('a refused connection (nothing listening) is retried until the budget, then reported', async () => {
    const logger = ctx.logger({
      topicArn: 'arn:aws:sns:us-east-1:123456789012:unreachable',
      endpoint: 'http://127.0.0.1:9',
      ...FAST_RETRY,
      retryBudgetMs: 300,
    })
    const errors = []
    logger.onError((e) => errors.push(e))
    const ids = logMany(logger, 3, 'refused')
    const report = await logger.flush()
    assertBalanced(report)
    assert.deepEqual({ delivered: report.delivered, failed: report.failed }, { delivered: 0, failed: 3 })
    await waitFor('onError', () => errors.length > 0)
    assert.equal(errors.length, 1)
    assert.equal(errors[0].code, 'ERR_RETRIES_EXHAUSTED')
    assert.deepEqual(errors[0].eventIds, ids)
    assert.match(errors[0].message, /last error/)
    assert.ok(logger.stats().retried >= 3)
  })
})
