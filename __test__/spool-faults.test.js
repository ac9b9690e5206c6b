'use strict'
// What disks do to the spool: a full disk during an SNS outage (a real, small tmpfs),
// and a damaged spool (torn and flipped records, a flipped ack, flipped segment
// headers, garbage, an empty segment, a stale lock). Every test counts what reached
// SQS through SNS (moto) by event id against what log() accepted: nothing lost,
// nothing twice, by the logger or by the next one on the folder.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto, waitFor, instanceFolder } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')

const ctx = useMoto()
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

function spoolDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rc-spool-faults-'))
}

/** Waits for `ms`: only to let time pass (a disk stays full), never to check a speed. */
const pause = (ms) => new Promise((r) => setTimeout(r, ms))

/** A logger through the fault proxy on `dir`, its onError reports collected. */
function spooled(topicArn, dir, extra = {}) {
  const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, spoolDir: dir, retryMaxBackoffMs: 200, ...extra })
  const errors = []
  logger.onError((e) => errors.push(e))
  return { logger, errors }
}

const byCode = (errors, code) => errors.filter((e) => e.code === code)
const idsOf = (errors, code) => byCode(errors, code).flatMap((e) => e.eventIds)

/** accepted = delivered + failed + dropped + deadLettered + held + queued: no event unaccounted. */
function assertBalanced(logger, accepted, when) {
  const s = logger.stats()
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number') assert.ok(v >= 0 && Number.isSafeInteger(v), `${when}: ${k} = ${v}`)
  }
  assert.equal(s.accepted, accepted, `${when}: stats().accepted`)
  assert.equal(s.delivered + s.failed + s.dropped + s.deadLettered + s.held + s.queued, accepted, `${when}: ${JSON.stringify(s)}`)
}

/** The event ids that reached the queue; fails on one that arrived twice. */
async function received(queueUrl, opts) {
  const ids = (await ctx.drain(queueUrl, opts)).map((m) => m.attributes.eventId)
  const seen = new Set()
  for (const id of ids) {
    assert.ok(!seen.has(id), `event ${id} arrived twice`)
    seen.add(id)
  }
  return seen
}

function event(i, pad = 0) {
  return { category: 'Chat Session', action: 'started', properties: { i, pad: 'x'.repeat(pad) } }
}

/** Mounts a tmpfs of `bytes` at a new folder; null if this machine refuses (not root). */
function mountTmpfs(bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-spool-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' })
    return dir
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true })
    return { refused: String(e.stderr || e.message).trim() }
  }
}

function unmount(dir) {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Fills the filesystem of `dir` until `leave` bytes are free: the file that does it. */
function fill(dir, leave) {
  const filler = path.join(dir, 'filler')
  const { bavail, bsize } = fs.statfsSync(dir)
  const size = Math.max(0, bavail * bsize - leave)
  const fd = fs.openSync(filler, 'w')
  const chunk = Buffer.alloc(1 << 20)
  for (let done = 0; done < size; done += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - done))
  fs.closeSync(fd)
  return filler
}

describe('a full disk', () => {
  proxy.use()
  it('during an outage: no crash, nothing accepted lost, nothing sent twice, said once, and writing resumes when space returns', async (t) => {
    const mount = mountTmpfs(8 << 20)
    if (mount.refused) {
      // Without a tmpfs, the injected full disk of the Rust tests is what covers it
      // (core::delivery::tests::spool::a_full_disk_during_an_outage_*).
      t.skip(`cannot mount a tmpfs here (${mount.refused})`)
      return
    }
    const loggers = []
    try {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: false })
      const dir = path.join(mount, 'spool')
      const filler = fill(mount, 300 << 10)
      proxy.outage(600_000)
      const first = spooled(topicArn, dir, { maxQueueEvents: 100 })
      loggers.push(first.logger)
      const accepted = []
      // 1,000 events of about 1 KiB into 300 KiB: the disk fills on the way.
      for (let i = 0; i < 1000; i++) {
        accepted.push(first.logger.log(event(i, 900)))
        if (i % 100 === 99) await pause(20)
      }
      await waitFor('the disk to fill', () => byCode(first.errors, 'ERR_SPOOL').length > 0)
      // Memory holds the window and what is on disk; past it events are dropped by id.
      await waitFor('the loop to settle', () => {
        const s = first.logger.stats()
        return idsOf(first.errors, 'ERR_QUEUE_FULL').length === s.dropped && s.queued <= 100 + s.spooled
      })
      assertBalanced(first.logger, accepted.length, 'disk full, SNS down')
      const failing = byCode(first.errors, 'ERR_SPOOL')
      assert.equal(failing.length, 1, `said once: ${JSON.stringify(failing.map((e) => e.message))}`)
      assert.ok(failing[0].eventIds.length > 0, 'names the events not on disk')
      assert.match(failing[0].message, /cannot be written/)
      assert.ok(first.logger.stats().dropped > 0, 'the disk filled before the outage ended')

      // SNS is back while the disk is still full.
      proxy.heal()
      const healed = await first.logger.flush()
      assert.equal(healed.pending, 0)
      assertBalanced(first.logger, accepted.length, 'SNS back, disk full')
      assert.equal(first.logger.stats().spooled, 0, 'every ack written, with the disk full')

      // Space returns while the logger runs.
      fs.rmSync(filler)
      for (let i = 1000; i < 1200; i++) accepted.push(first.logger.log(event(i, 900)))
      await first.logger.flush()
      await waitFor('the recovery report', () => byCode(first.errors, 'ERR_SPOOL_RECOVERED').length > 0)
      assert.equal(byCode(first.errors, 'ERR_SPOOL_RECOVERED').length, 1)
      assert.equal(byCode(first.errors, 'ERR_SPOOL').length, 1, 'still said once')
      assertBalanced(first.logger, accepted.length, 'space back')
      const closed = await first.logger.close()
      assert.deepEqual([closed.pending, closed.spooled], [0, 0])
      assertBalanced(first.logger, accepted.length, 'closed')

      // The next logger on the folder finds nothing to send again.
      const second = spooled(topicArn, dir)
      loggers.push(second.logger)
      const later = [second.logger.log(event(9999))]
      const report = await second.logger.flush()
      assert.equal(second.logger.stats().recovered, 0)
      assert.equal(report.delivered, 1)
      await second.logger.close()

      const dropped = new Set(idsOf(first.errors, 'ERR_QUEUE_FULL'))
      const expected = accepted.length - dropped.size + later.length
      const got = await received(queueUrl, { expected, quietMs: 5000, timeoutMs: 180_000 })
      let lost = 0
      for (const id of accepted) {
        assert.ok(!(got.has(id) && dropped.has(id)), `${id} delivered and reported dropped`)
        if (!got.has(id) && !dropped.has(id)) lost++
      }
      assert.equal(lost, 0, `every accepted event delivered or reported dropped by id (${got.size} of ${expected} arrived)`)
      assert.ok(got.has(later[0]))
      assert.equal(got.size, accepted.length - dropped.size + later.length)
      t.diagnostic(
        `accepted ${accepted.length}, delivered ${got.size - later.length}, dropped and reported ${dropped.size}, ` +
          `lost 0, duplicates 0, ERR_SPOOL ${byCode(first.errors, 'ERR_SPOOL').length}, ` +
          `ERR_SPOOL_RECOVERED ${byCode(first.errors, 'ERR_SPOOL_RECOVERED').length}`,
      )
    } finally {
      await Promise.all(loggers.map((l) => l.close({ timeoutMs: 500 }).catch(() => {})))
      unmount(mount)
    }
  })
})

/** The records of a segment file: [{ start, end, kind }] (kind 1 event, 2 ack). */
function records(file) {
  const data = fs.readFileSync(file)
  const out = []
  let pos = 8
  while (pos + 10 <= data.length && data[pos] === 0x5a && data[pos + 1] === 0xa5) {
    const len = data.readUInt32LE(pos + 2)
    out.push({ start: pos, end: pos + 10 + len, kind: data[pos + 10] })
    pos += 10 + len
  }
  return out
}

/** The segment files of the loggers that used `dir` one after the other. */
function segments(spoolDir) {
  const dir = instanceFolder(spoolDir)
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => path.join(dir, f))
}

function flip(file, at) {
  const data = fs.readFileSync(file)
  data[at] ^= 0x5a
  fs.writeFileSync(file, data)
}

/**
 * Leaves `n` events in a spool folder during an outage (each logger its own segment:
 * `rounds` loggers one after the other). The first logger delivers `delivered`
 * events before the outage, so that its segment holds acks too. Returns the folder
 * and the ids still in it.
 */
async function leftInSpool(topicArn, { n = 30, rounds = 1, delivered = 0 } = {}) {
  const dir = spoolDir()
  const kept = []
  let i = 0
  for (let r = 0; r < rounds; r++) {
    const { logger } = spooled(topicArn, dir)
    if (r === 0 && delivered > 0) {
      for (let k = 0; k < delivered; k++) logger.log(event(i++))
      assert.equal((await logger.flush()).delivered, delivered)
    }
    proxy.outage(600_000)
    for (let k = 0; k < n; k++) kept.push(logger.log(event(i++)))
    const closed = await logger.close({ timeoutMs: 200 })
    assert.equal(closed.spooled, kept.length)
  }
  proxy.heal()
  return { dir, kept }
}

/**
 * Starts a logger on the damaged folder: it must deliver exactly `intact`, keep its
 * counters straight, report the damage once per damaged segment, and accept new
 * events afterwards. Returns what reached the queue.
 */
async function replayDamaged(topicArn, queueUrl, dir, { intact, corrupt, damagedSegments, before = 0 }) {
  const { logger, errors } = spooled(topicArn, dir)
  const report = await logger.flush()
  const s = logger.stats()
  assert.equal(s.recovered, intact.length, 'recovered: every intact record')
  assert.equal(report.delivered, intact.length)
  assert.equal(s.corruptRecords, corrupt)
  assertBalanced(logger, intact.length, 'after the replay')
  const damage = byCode(errors, 'ERR_SPOOL')
  assert.equal(damage.length, damagedSegments, JSON.stringify(damage.map((e) => e.message)))
  for (const e of damage) assert.match(e.message, /damaged or torn stretch/)
  const later = []
  for (let k = 0; k < 5; k++) later.push(logger.log(event(10_000 + k)))
  const again = await logger.flush()
  assert.equal(again.delivered, intact.length + 5, 'new events are accepted and delivered')
  assertBalanced(logger, intact.length + 5, 'new events')
  await logger.close()
  const got = await received(queueUrl, { expected: before + intact.length + 5 })
  for (const id of [...intact, ...later]) assert.ok(got.has(id), `${id} was not delivered`)
  assert.equal(got.size, before + intact.length + 5)
  return got
}

describe('a damaged spool', () => {
  proxy.use()
  it('a truncated record costs that record', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn)
    const [seg] = segments(dir)
    const last = records(seg).at(-1)
    fs.truncateSync(seg, last.end - 5)
    await replayDamaged(topicArn, queueUrl, dir, { intact: kept.slice(0, -1), corrupt: 1, damagedSegments: 1 })
  })

  it('a flipped byte in a record costs that record', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn)
    const [seg] = segments(dir)
    const events = records(seg).filter((r) => r.kind === 1)
    flip(seg, events[10].start + 40)
    const intact = kept.filter((_, k) => k !== 10)
    await replayDamaged(topicArn, queueUrl, dir, { intact, corrupt: 1, damagedSegments: 1 })
  })

  it('a flipped byte in an ack costs nothing: its copy settles the same events', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn, { delivered: 20 })
    const acks = segments(dir).flatMap((f) => records(f).filter((r) => r.kind === 2).map((r) => ({ f, ...r })))
    assert.ok(acks.length >= 2, 'acks are in the folder')
    flip(acks[0].f, acks[0].start + 20)
    // The 20 delivered by the first logger are not sent again.
    await drainAll(queueUrl, 20)
    await replayDamaged(topicArn, queueUrl, dir, { intact: kept, corrupt: 1, damagedSegments: 1 })
  })

  it("a flipped byte in each segment's header costs no record, old or new segment", async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn, { n: 20, rounds: 3 })
    const files = segments(dir)
    assert.ok(files.length >= 3, `${files.length} segments`)
    files.forEach((f, k) => flip(f, k % 8))
    await replayDamaged(topicArn, queueUrl, dir, { intact: kept, corrupt: files.length, damagedSegments: files.length })
  })

  it('garbage appended to a segment costs nothing', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn)
    const [seg] = segments(dir)
    fs.appendFileSync(seg, Buffer.from('\x5a\xa5 this is not a record, and neither is this \x00\x01\x02', 'latin1'))
    await replayDamaged(topicArn, queueUrl, dir, { intact: kept, corrupt: 1, damagedSegments: 1 })
  })

  it('a zero-length segment and a stale lock are no damage', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn)
    const folder = instanceFolder(dir)
    fs.writeFileSync(path.join(folder, '0000000050.seg'), '')
    // Left by a process that is gone: a lock file nobody holds.
    fs.writeFileSync(path.join(folder, 'spool.lock'), 'process 999999')
    await replayDamaged(topicArn, queueUrl, dir, { intact: kept, corrupt: 0, damagedSegments: 0 })
    assert.ok(!fs.existsSync(path.join(folder, '0000000050.seg')), 'the empty segment is removed as settled')
  })

  it('a dead-letter folder in the spool folder is none of the spool’s business', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { dir, kept } = await leftInSpool(topicArn)
    fs.mkdirSync(path.join(dir, 'dead-letter'))
    fs.writeFileSync(path.join(dir, 'dead-letter', '0000000000.seg'), 'not a spool segment')
    await replayDamaged(topicArn, queueUrl, dir, { intact: kept, corrupt: 0, damagedSegments: 0 })
    assert.equal(fs.readFileSync(path.join(dir, 'dead-letter', '0000000000.seg'), 'utf8'), 'not a spool segment')
  })
})

/** Reads (and deletes) the `n` messages already in the queue. */
async function drainAll(queueUrl, n) {
  const got = await received(queueUrl, { expected: n })
  assert.equal(got.size, n)
}
