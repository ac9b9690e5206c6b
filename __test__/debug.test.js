'use strict'
// The debug switch, as an operator turns it on: the SNS_Analytics_Debug setting, or
// RC_SNS_ANALYTICS_DEBUG=1 in the server's environment. Each batch's outcome is one
// line on standard error, naming the topic, the group, the ids and what became of
// them; no event body, attribute value or credential ever appears there. Run in child
// processes: the lines go to the process's own standard error.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { useMoto } = require('./helpers/setup')
const { runChild } = require('./helpers/exit-child')

const ctx = useMoto()
const LOG_CHILD = path.join(__dirname, 'fixtures', 'log-child.js')
const SECRET = 'wJalrXUtnFEMI-debug-secret-do-not-print'
const PRIVATE = 'a-visitor-wrote-this-in-confidence'

async function logInChild(env) {
  const { topicArn } = await ctx.topic({ fifo: true })
  const { code, stdout, stderr } = await runChild(
    [process.execPath, LOG_CHILD],
    { ENDPOINT: ctx.moto.endpoint, TOPIC_ARN: topicArn, EVENTS: '12', KEYS: `AKIDDEBUG:${SECRET}`, PROPERTIES: JSON.stringify({ note: PRIVATE }), ...env },
    { what: 'log-child' },
  )
  assert.equal(code, 0, stderr)
  const result = JSON.parse(stdout.trim().split('\n').pop())
  const lines = stderr.split('\n').filter((l) => l.startsWith('rocketchat-sns-analytics debug:'))
  return { topicArn, result, lines, stderr }
}

describe('debug', () => {
  for (const [how, env] of [
    ['the SNS_Analytics_Debug setting', { SETTINGS: JSON.stringify({ SNS_Analytics_Debug: true }) }],
    ['RC_SNS_ANALYTICS_DEBUG=1', { RC_SNS_ANALYTICS_DEBUG: '1' }],
  ]) {
    it(`${how}: one line per batch outcome, with its ids, and nothing an event or a key holds`, async () => {
      const { topicArn, result, lines, stderr } = await logInChild(env)
      assert.equal(result.report.delivered, 12)
      assert.equal(lines.length, 2, `two batches of at most 10:\n${stderr}`)
      for (const line of lines) {
        assert.match(line, new RegExp(`^rocketchat-sns-analytics debug: batch topic=${topicArn.replace(/\./g, '\\.')} group=https://chat\\.example\\.com events=\\d+ delivered=\\d+ refused=0 kept=0 attempts=1 ms=\\d+ ids=[0-9a-f-]{36}\\.\\.[0-9a-f-]{36}$`))
      }
      assert.equal(lines.reduce((n, l) => n + Number(l.match(/ delivered=(\d+)/)[1]), 0), 12)
      assert.ok(lines[0].includes(`ids=${result.ids[0]}..`), 'the first batch starts with the first event')
      assert.ok(!stderr.includes(PRIVATE), 'no event body')
      assert.ok(!stderr.includes(SECRET), 'no secret key')
    })
  }

  it('is off by default: nothing on standard error', async () => {
    const { result, lines } = await logInChild({})
    assert.equal(result.report.delivered, 12)
    assert.deepEqual(lines, [])
  })
})
