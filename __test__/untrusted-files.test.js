'use strict'
// Files as untrusted input (issue 29): whoever can write a folder the logger reads can
// plant links, crafted records or huge files there. A link in place of the lock, a
// segment or the dead-letter file is refused and what it points to is left unchanged;
// a spool folder others can write is refused (the logger runs from memory and says so
// once); a 1 GiB sparse segment and a file of fake headers are read within bounded
// memory, in a child process that prints the reader's time and its peak memory.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const { randomUUID } = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { crc32 } = require('node:zlib')
const { useMoto, waitFor, instanceFolders } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')
const { REGION, ROOT, CREDENTIALS } = require('./helpers/moto')

const ctx = useMoto()
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

const CLI = path.join(ROOT, 'bin', 'rocketchat-sns-analytics.js')
const SEGMENT_HEADER = Buffer.from('RCSPOOL1')
/** What a link points to: it must read the same afterwards. */
const PRECIOUS = 'precious: not the logger\'s\n'
/** Peak memory a reader may add: one window is about 2 MiB; reading 1 GiB whole adds 1 GiB. */
const READER_MEMORY_BOUND = 256 << 20

const spoolDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rc-untrusted-'))

/** A file of someone else's that a link will point to. */
function target() {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rc-untrusted-target-')), 'precious')
  fs.writeFileSync(file, PRECIOUS)
  return file
}

function assertUnchanged(file, before) {
  assert.equal(fs.readFileSync(file, 'utf8'), PRECIOUS, `${file} is unchanged`)
  assert.equal(fs.statSync(file).mtimeMs, before.mtimeMs, `${file} was not written`)
}

/**
 * The folder a logger that is gone left (its lock file free), named to sort before
 * any a logger makes now, so that the next logger takes it as its own.
 */
function orphanFolder(dir, { lock = true } = {}) {
  const folder = path.join(dir, 'instance-00000000000000000000000000000000')
  fs.mkdirSync(folder, { mode: 0o700 })
  if (lock) fs.writeFileSync(path.join(folder, 'spool.lock'), 'process 1 on a host that is gone', { mode: 0o600 })
  return folder
}

const segment = (folder, n) => path.join(folder, `${String(n).padStart(10, '0')}.seg`)

function u32(n) {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}
const str = (s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)])
const NONE = u32(0xffffffff)

/** An event record as src/core/spool/record.rs writes it (eventType session, no group or app). */
function eventRecord({ id, topicArn, body }) {
  const payload = Buffer.concat([
    Buffer.from([1]),
    Buffer.from(id.replace(/-/g, ''), 'hex'),
    Buffer.from([0]),
    str(topicArn), NONE, NONE, str('Chat Session'), str('started'), str(body),
  ])
  return Buffer.concat([Buffer.from([0x5a, 0xa5]), u32(payload.length), u32(crc32(payload)), payload])
}

/**
 * A header that passes every cheap check of the reader (magic, length, the event's
 * fixed fields and string lengths) with a wrong checksum, declaring almost 1 MiB.
 */
function fakeHeader() {
  const len = (1 << 20) - 64
  const fixed = Buffer.concat([Buffer.from([1]), Buffer.alloc(16, 7), Buffer.from([0]), u32(0), NONE, NONE, u32(0), u32(0)])
  return Buffer.concat([Buffer.from([0x5a, 0xa5]), u32(len), u32(0xdeadbeef), fixed, u32(len - fixed.length - 4)])
}

/**
 * Starts a logger on `dir` in a child process and waits until it has read the folder
 * (`stats().spoolInUse`), then delivers what it recovered and closes. Resolves to the
 * reader's time, the child's peak memory before and after, its stats and reports.
 */
function readInChild({ dir, topicArn }) {
  const script = `
    const { AnalyticsLogger } = require(${JSON.stringify(ROOT)})
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    ;(async () => {
      const before = process.resourceUsage().maxRSS
      const started = process.hrtime.bigint()
      const logger = new AnalyticsLogger(JSON.parse(process.env.OPTIONS))
      const errors = []
      logger.onError((e) => errors.push({ code: e.code, message: e.message }))
      while (!logger.stats().spoolInUse && errors.length === 0) await sleep(5)
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      const stats = logger.stats()
      const after = process.resourceUsage().maxRSS
      await logger.flush()
      await sleep(100)
      await logger.close({ timeoutMs: 5000 })
      console.log(JSON.stringify({ ms, beforeKiB: before, afterKiB: after, stats, errors }))
    })()
  `
  const options = { siteUrl: 'https://chat.example.com', endpoint: ctx.moto.endpoint, region: REGION, credentials: CREDENTIALS, topicArn, spoolDir: dir, flushIntervalMs: 50 }
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env: { ...process.env, OPTIONS: JSON.stringify(options) }, timeout: 300_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`the child failed: ${error.message}\n${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').pop()))
    })
  })
}

function cli(...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_EC2_METADATA_DISABLED: 'true' } }, (error, stdout, stderr) =>
      resolve({ status: error ? error.code : 0, stdout, stderr }),
    )
  })
}

const byCode = (errors, code) => errors.filter((e) => e.code === code)
const mib = (kib) => (kib / 1024).toFixed(1)

describe('links in place of the logger\'s files', () => {
  proxy.use()

  it('a linked spool.lock: the folder is not taken, the file it points to is unchanged, and the logger spools in a folder of its own', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const dir = spoolDir()
    const planted = orphanFolder(dir, { lock: false })
    const file = target()
    const before = fs.statSync(file)
    fs.symlinkSync(file, path.join(planted, 'spool.lock'))
    const logger = ctx.logger({ topicArn, spoolDir: dir })
    const ids = [0, 1, 2].map((i) => logger.log({ category: 'Chat Session', action: 'started', properties: { i } }))
    const report = await logger.flush()
    assert.equal(report.delivered, 3)
    assert.equal(logger.stats().spoolInUse, true)
    const own = instanceFolders(dir).filter((f) => f !== planted)
    assert.equal(own.length, 1, 'a folder of its own')
    const got = await ctx.drain(queueUrl, { expected: 3 })
    assert.deepEqual(got.map((m) => m.attributes.eventId).sort(), [...ids].sort())
    await logger.close()
    assertUnchanged(file, before)
    assert.ok(fs.lstatSync(path.join(planted, 'spool.lock')).isSymbolicLink(), 'the link is left as it is')
    assert.deepEqual(instanceFolders(dir), [planted], 'its own folder went with it; the planted one stays')
  })

  it('a linked segment, and a dangling link under the name the next segment would take: each refused by name, neither written through', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const dir = spoolDir()
    const folder = orphanFolder(dir)
    const file = target()
    const before = fs.statSync(file)
    const absent = path.join(path.dirname(file), 'would-be-created')
    fs.symlinkSync(file, segment(folder, 0))
    fs.symlinkSync(absent, segment(folder, 1))
    const logger = ctx.logger({ topicArn, spoolDir: dir })
    const errors = []
    logger.onError((e) => errors.push(e))
    const ids = [0, 1, 2].map((i) => logger.log({ category: 'Chat Session', action: 'started', properties: { i } }))
    assert.equal((await logger.flush()).delivered, 3)
    await waitFor('both links reported', () => byCode(errors, 'ERR_SPOOL').length >= 2)
    const reports = byCode(errors, 'ERR_SPOOL').map((e) => e.message)
    for (const n of [0, 1]) {
      const report = reports.find((m) => m.includes(path.basename(segment(folder, n))))
      assert.ok(report, `segment ${n} is named: ${JSON.stringify(reports)}`)
      assert.match(report, /is a symbolic link/)
      assert.match(report, /left as it is/)
    }
    assert.equal(logger.stats().spoolInUse, true, 'the folder is used past the links')
    assert.ok(fs.existsSync(segment(folder, 2)), 'new segments are numbered past the links')
    const got = await ctx.drain(queueUrl, { expected: 3 })
    assert.deepEqual(got.map((m) => m.attributes.eventId).sort(), [...ids].sort())
    await logger.close()
    assertUnchanged(file, before)
    assert.equal(fs.existsSync(absent), false, 'the dangling link created nothing')
    assert.ok(fs.lstatSync(segment(folder, 0)).isSymbolicLink() && fs.lstatSync(segment(folder, 1)).isSymbolicLink())
    assert.deepEqual(instanceFolders(dir), [folder], 'a folder with something left alone in it is kept')
  })

  it('a linked records.dlq: the refused event is reported with its message, and the file it points to is unchanged; a linked store lock stops the command line', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const dir = spoolDir()
    const store = path.join(dir, 'dead-letter')
    fs.mkdirSync(store, { mode: 0o700 })
    const file = target()
    const before = fs.statSync(file)
    fs.symlinkSync(file, path.join(store, 'records.dlq'))
    const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, spoolDir: dir })
    const errors = []
    logger.onError((e) => errors.push(e))
    proxy.inject({ kind: 'partial', code: 'InvalidParameter', message: 'Invalid parameter: Message too long', senderFault: true, members: [2] })
    const ids = [0, 1, 2].map((i) => logger.log({ category: 'Survey', action: 'answered', properties: { i } }))
    await logger.flush()
    await waitFor('the refusal reported', () => byCode(errors, 'ERR_PUBLISH_FAILED').length > 0)
    const [failed] = byCode(errors, 'ERR_PUBLISH_FAILED')
    assert.deepEqual(failed.eventIds, [ids[1]])
    assert.match(failed.message, /could not keep them/)
    assert.match(failed.message, /records\.dlq is a symbolic link/)
    assert.equal(failed.entries[0].id, ids[1], 'the report carries the event, so the host can keep it')
    assert.equal(logger.stats().deadLettered, 0)
    await ctx.drain(queueUrl, { expected: 2 })
    await logger.close()
    assertUnchanged(file, before)

    fs.unlinkSync(path.join(store, 'records.dlq'))
    fs.rmSync(path.join(store, 'lock'), { force: true })
    fs.symlinkSync(file, path.join(store, 'lock'))
    const listed = await cli('dead-letter', dir, 'list')
    assert.notEqual(listed.status, 0)
    assert.match(listed.stderr, /lock is a symbolic link/)
    assertUnchanged(file, before)
  })
})

describe('a spool folder others can write', () => {
  for (const [mode, words] of [
    [0o777, 'writable by group and others (mode 0777)'],
    [0o770, 'writable by its group (mode 0770)'],
  ]) {
    it(`mode ${mode.toString(8)} is refused: the logger runs from memory, and one ERR_SPOOL names the folder and the check`, async () => {
      const { topicArn, queueUrl } = await ctx.topic()
      const dir = spoolDir()
      fs.chmodSync(dir, mode)
      const logger = ctx.logger({ topicArn, spoolDir: dir })
      const errors = []
      logger.onError((e) => errors.push(e))
      const id = logger.log({ category: 'Chat Session', action: 'started', properties: {} })
      assert.equal((await logger.flush()).delivered, 1, 'delivered from memory')
      await waitFor('ERR_SPOOL', () => byCode(errors, 'ERR_SPOOL').length > 0)
      assert.equal(logger.stats().spoolInUse, false)
      const spool = byCode(errors, 'ERR_SPOOL')
      assert.equal(spool.length, 1, 'said once')
      assert.ok(spool[0].message.includes(`the spool folder ${dir} is ${words}`), spool[0].message)
      assert.match(spool[0].message, /mode 0700, or at most 0755/)
      assert.match(spool[0].message, /keeps its events in memory only/)
      assert.deepEqual(fs.readdirSync(dir), [], 'nothing was made in it')
      assert.deepEqual((await ctx.drain(queueUrl, { expected: 1 })).map((m) => m.attributes.eventId), [id])
    })
  }

  it('one owned by another user is refused, naming the owner', async (t) => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      t.skip('only root can give a folder to another user')
      return
    }
    const { topicArn } = await ctx.topic()
    const dir = spoolDir()
    fs.chownSync(dir, 4242, 4242)
    const logger = ctx.logger({ topicArn, spoolDir: dir })
    const errors = []
    logger.onError((e) => errors.push(e))
    await waitFor('ERR_SPOOL', () => byCode(errors, 'ERR_SPOOL').length > 0)
    assert.equal(logger.stats().spoolInUse, false)
    assert.match(byCode(errors, 'ERR_SPOOL')[0].message, /is owned by uid 4242, not by this process's user/)
  })

  it('what the logger creates is its user\'s alone: folders 0700, files 0600', async () => {
    const { topicArn } = await ctx.topic()
    const dir = path.join(spoolDir(), 'made-by-the-logger')
    const logger = ctx.logger({ topicArn, spoolDir: dir, maxQueueEvents: 1 })
    logger.log({ category: 'Chat Session', action: 'started', properties: {} })
    await logger.flush()
    const [own] = instanceFolders(dir)
    const mode = (p) => fs.statSync(p).mode & 0o7777
    assert.equal(mode(dir), 0o700)
    assert.equal(mode(own), 0o700)
    for (const f of fs.readdirSync(own)) assert.equal(mode(path.join(own, f)), 0o600, f)
    await logger.close()
  })
})

describe('files that would cost the reader what it cannot afford', () => {
  it('a 1 GiB sparse segment is read through a bounded window: its record delivered, the rest one damaged stretch', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const dir = spoolDir()
    const folder = orphanFolder(dir)
    const id = randomUUID()
    const record = eventRecord({ id, topicArn, body: JSON.stringify({ category: 'Chat Session', action: 'started', sparse: true }) })
    const fd = fs.openSync(segment(folder, 0), 'w', 0o600)
    fs.writeSync(fd, Buffer.concat([SEGMENT_HEADER, record]))
    // A hole to 1 GiB, then one byte that is not zero: the zeros are not room, so the
    // reader must go through all of them.
    fs.writeSync(fd, Buffer.from('Z'), 0, 1, (1 << 30) - 1)
    fs.closeSync(fd)
    const r = await readInChild({ dir, topicArn })
    const added = (r.afterKiB - r.beforeKiB) * 1024
    console.log(`# 1 GiB sparse segment: read in ${r.ms.toFixed(0)} ms (debug build); peak memory ${mib(r.afterKiB)} MiB, +${mib(r.afterKiB - r.beforeKiB)} MiB over the child's start`)
    assert.deepEqual(r.errors.filter((e) => e.code !== 'ERR_SPOOL'), [])
    assert.equal(r.stats.recovered, 1)
    assert.equal(r.stats.corruptRecords, 1)
    assert.ok(added < READER_MEMORY_BOUND, `the reader added ${added} bytes of peak memory`)
    const got = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual(got.map((m) => m.attributes.eventId), [id])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('8 MiB of fake headers, each declaring almost 1 MiB: read in time linear in the size, the real record after them delivered', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const dir = spoolDir()
    const folder = orphanFolder(dir)
    const id = randomUUID()
    const one = Buffer.alloc(64, 'x')
    fakeHeader().copy(one)
    const fd = fs.openSync(segment(folder, 0), 'w', 0o600)
    fs.writeSync(fd, SEGMENT_HEADER)
    const chunk = Buffer.concat(Array.from({ length: 1 << 14 }, () => one)) // 1 MiB
    for (let i = 0; i < 8; i++) fs.writeSync(fd, chunk)
    fs.writeSync(fd, eventRecord({ id, topicArn, body: JSON.stringify({ category: 'Chat Session', action: 'started', after: 'fakes' }) }))
    fs.closeSync(fd)
    const r = await readInChild({ dir, topicArn })
    const added = (r.afterKiB - r.beforeKiB) * 1024
    console.log(`# 8 MiB of fake headers (one every 64 bytes): read in ${r.ms.toFixed(0)} ms (debug build); peak memory ${mib(r.afterKiB)} MiB, +${mib(r.afterKiB - r.beforeKiB)} MiB over the child's start`)
    assert.equal(r.stats.recovered, 1)
    assert.equal(r.stats.corruptRecords, 1, 'the fake headers are one damaged stretch')
    assert.ok(added < READER_MEMORY_BOUND, `the reader added ${added} bytes of peak memory`)
    const got = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual(got.map((m) => m.attributes.eventId), [id])
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
