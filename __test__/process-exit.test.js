'use strict'
// Events logged just before the host process ends are still delivered, and an idle
// logger never keeps Node alive. Each case runs in a child process.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { useMoto } = require('./helpers/setup')
const { runExitChild } = require('./helpers/exit-child')

const ctx = useMoto()

describe('process end', () => {
  const cases = [
    ['natural', 0, 'the script simply ends'],
    ['exit', 0, 'process.exit() right after log()'],
    ['uncaughtHandler', 3, 'an uncaughtException handler calls process.exit()'],
    ['uncaughtNoHandler', 1, 'an uncaught exception ends the process'],
  ]
  for (const [mode, exitCode, what] of cases) {
    it(`delivers every event when ${what}`, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const result = await runExitChild(mode, { TOPIC_ARN: topicArn, ENDPOINT: ctx.moto.endpoint, EVENTS: '25' })
      assert.equal(result.code, exitCode, result.stderr)
      assert.doesNotMatch(result.stderr, /UNHANDLED REJECTION|panicked/)
      const msgs = await ctx.drain(queueUrl, { expected: 25 })
      assert.equal(msgs.length, 25)
      assert.deepEqual(msgs.map((m) => m.json.properties.n), [...Array(25).keys()])
    })
  }

  for (const mode of ['idle', 'idleWithErrorListener']) {
    it(`an idle logger does not keep Node alive (${mode})`, async () => {
      const { topicArn } = await ctx.topic()
      const result = await runExitChild(mode, { TOPIC_ARN: topicArn, ENDPOINT: ctx.moto.endpoint })
      assert.equal(result.code, 0, result.stderr)
    })
  }

  it('exit waits no longer than shutdownTimeoutMs when SNS cannot be reached', async () => {
    // Nothing listens on port 9: every attempt is refused and retried. Without the
    // deadline the exit would wait out the two-minute retry budget.
    const result = await runExitChild('exit', {
      TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:unreachable',
      ENDPOINT: 'http://127.0.0.1:9',
      SHUTDOWN_TIMEOUT_MS: '300',
      EVENTS: '5',
    })
    assert.equal(result.code, 0, result.stderr)
  })

  it('a pending flush() keeps Node alive until it settles, then the process ends', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const result = await runExitChild('flushedThenIdle', { TOPIC_ARN: topicArn, ENDPOINT: ctx.moto.endpoint, EVENTS: '12' })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(JSON.parse(result.stdout), { accepted: 12, delivered: 12, failed: 0, dropped: 0, deadLettered: 0, held: 0, queued: 0, pending: 0, spooled: 0 })
    assert.equal((await ctx.drain(queueUrl, { expected: 12 })).length, 12)
  })
})
