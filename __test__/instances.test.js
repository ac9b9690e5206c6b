'use strict'
// A deployment, not one process: several server instances (child processes, each
// wired as docs/rocketchat.md says: __test__/fixtures/instance-child.js) on one set of
// settings and one spool folder, an instance killed with its backlog, and rollouts'
// SIGTERM with SNS slow. Every test counts what reached moto, each event once.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto, waitFor, instanceFolders } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')
const { startChild } = require('./helpers/exit-child')

const CHILD = path.join(__dirname, 'fixtures', 'instance-child.js')
const ctx = useMoto()
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

const spoolDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rc-instances-'))

/** One server instance, against the fault proxy. */
const instance = (env) => startChild([process.execPath, CHILD], { ENDPOINT: proxy.endpoint, ...env })

/** Each message once: fails on a duplicate id. */
function once(messages) {
  const ids = new Set()
  for (const m of messages) {
    assert.ok(!ids.has(m.dedupId), `delivered twice: ${m.body}`)
    ids.add(m.dedupId)
  }
  return messages
}

/** The rooms' starts came in the order they were logged (one message group). */
function assertStartsInOrder(messages) {
  const started = messages.filter((m) => m.json.action === 'started').map((m) => m.json.roomId)
  assert.deepEqual(started, [...started].sort(), 'in the order they were logged')
}

const count = (messages, category, action) => messages.filter((m) => m.json.category === category && m.json.action === action).length

describe('several server instances on one setting', () => {
  proxy.use()
  for (const n of [2, 3]) {
    it(`${n} instances on one spool folder all log through their hooks; every event arrives once`, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const dir = spoolDir()
      const rooms = 100
      const instances = Array.from({ length: n }, (_, k) => instance({ TOPIC_ARN: topicArn, SPOOL_DIR: dir, ROOMS: String(rooms), ROOM_PREFIX: `i${k}` }))
      await Promise.all(instances.map((i) => i.printed('logged')))
      assert.equal(instanceFolders(dir).length, n, 'a folder each')
      const got = once(await ctx.drain(queueUrl, { expected: 2 * n * rooms }))
      for (const i of instances) i.child.kill('SIGTERM')
      const ended = await Promise.all(instances.map((i) => i.exited))
      for (const e of ended) assert.equal(e.signal, 'SIGTERM', e.stderr)
      assert.equal(got.length, 2 * n * rooms)
      assert.equal(count(got, 'Chat Session', 'started'), n * rooms)
      assert.equal(count(got, 'Chat Session', 'closed'), n * rooms)
      for (const e of ended) assert.doesNotMatch(e.stderr, /onError/, 'no instance reported an error')
      assert.deepEqual(instanceFolders(dir), [], 'settled folders go with their instances')
    })
  }

  it('a killed instance leaves its backlog; a new instance with another identity delivers it once, in order', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const dir = spoolDir()
    proxy.outage(600_000)
    const rooms = 100
    const killed = instance({ TOPIC_ARN: topicArn, SPOOL_DIR: dir, ROOMS: String(rooms), ROOM_PREFIX: 'gone', WAIT_SPOOLED: String(2 * rooms), HOSTNAME: 'rocketchat-7d9f-abcde' })
    await killed.printed('spooled')
    killed.child.kill('SIGKILL')
    await killed.exited
    const [folder] = instanceFolders(dir)
    assert.match(fs.readFileSync(path.join(folder, 'spool.lock'), 'utf8'), /on rocketchat-7d9f-abcde$/)
    const next = instance({ TOPIC_ARN: topicArn, SPOOL_DIR: dir, ROOMS: '0', HOSTNAME: 'rocketchat-7d9f-fghij' })
    await next.printed('logged')
    proxy.heal()
    const got = once(await ctx.drain(queueUrl, { expected: 2 * rooms }))
    assert.equal(got.length, 2 * rooms)
    assertStartsInOrder(got)
    next.child.kill('SIGTERM')
    const ended = await next.exited
    assert.doesNotMatch(ended.stderr, /onError/)
    assert.deepEqual(instanceFolders(dir), [], 'the adopted folder, settled, went with its new logger')
  })

  it('a running instance adopts the folder of one that was killed', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const dir = spoolDir()
    const survivor = instance({ TOPIC_ARN: topicArn, SPOOL_DIR: dir, ROOMS: '0' })
    await survivor.printed('logged')
    proxy.outage(600_000)
    const rooms = 50
    const killed = instance({ TOPIC_ARN: topicArn, SPOOL_DIR: dir, ROOMS: String(rooms), ROOM_PREFIX: 'gone', WAIT_SPOOLED: String(2 * rooms) })
    await killed.printed('spooled')
    killed.child.kill('SIGKILL')
    await killed.exited
    proxy.heal()
    // Adoption runs every 10 s (src/core/delivery/worker/adoption.rs).
    const got = once(await ctx.drain(queueUrl, { expected: 2 * rooms, timeoutMs: 60_000 }))
    assert.equal(got.length, 2 * rooms)
    assertStartsInOrder(got)
    survivor.child.kill('SIGTERM')
    const ended = await survivor.exited
    assert.doesNotMatch(ended.stderr, /onError/)
    assert.deepEqual(instanceFolders(dir), [], 'the adopted folder is removed once settled')
  })
})

describe('a rollout: SIGTERM with a backlog and SNS slow but up', () => {
  proxy.use()
  for (const [what, env] of [
    ['wired as the docs say, with no SIGTERM handler of its own, it delivers everything and then ends by the signal', {}],
    ["with a handler of the host's own that exits at once (as Rocket.Chat's broker does), it still delivers everything", { HOST_HANDLER: 'exit' }],
  ]) {
    it(what, async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const dir = spoolDir()
      proxy.latency(300)
      try {
        const events = 500
        const server = instance({ TOPIC_ARN: topicArn, SPOOL_DIR: dir, EVENTS: String(events), ...env })
        await server.printed('logged')
        const signalled = Date.now()
        server.child.kill('SIGTERM')
        const ended = await server.exited
        const tookMs = ended.at - signalled
        if (env.HOST_HANDLER) assert.equal(ended.code, 0, ended.stderr)
        else assert.equal(ended.signal, 'SIGTERM', `ended by the signal, as Node's default would: ${ended.stderr}`)
        assert.ok(tookMs < 30_000, `ended within Kubernetes' 30 s (${tookMs} ms)`)
        const got = once(await ctx.drain(queueUrl, { expected: events }))
        assert.equal(got.length, events)
        console.log(`# SIGTERM ${env.HOST_HANDLER ? 'host handler' : 'no handler'}: ${got.length}/${events} delivered, ended ${tookMs} ms after the signal`)
      } finally {
        proxy.latency(0)
      }
    })
  }
})
