'use strict'
// Entries SNS refuses for good for their own sake, against moto behind the fault proxy
// (which fails one entry of a PublishBatch with SenderFault=true and a real code, as
// SNS does for an invalid parameter): kept in the dead-letter store with spoolDir and
// replayed from it by the command line, byte for byte, exactly once; reported with
// their message without spoolDir. A replay goes only where it is told (--topic, or
// --to-recorded-topics), and a crafted store cannot send escape sequences to the
// terminal of whoever lists it. Its credentials come from --options-file (checked by
// helpers/sigv4_proxy.py, since moto takes any key) or the AWS default chain, never
// from a flag, and are never printed.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFile } = require('node:child_process')
const { useMoto, waitFor } = require('./helpers/setup')
const { faultProxyFixture } = require('./helpers/fault-proxy')
const { REGION, ROOT, CREDENTIALS } = require('./helpers/moto')
const { startSigv4Proxy, counted: countedBy } = require('./helpers/sigv4')
const addon = require('..')

const ctx = useMoto()
const proxy = faultProxyFixture(() => ctx.moto.endpoint)

const CLI = path.join(ROOT, 'bin', 'rocketchat-sns-analytics.js')
const REFUSAL = {
  kind: 'partial',
  code: 'InvalidParameter',
  message: 'Invalid parameter: Message too long',
  senderFault: true,
}

/** Runs the command line with `env` added; resolves to { status, stdout, stderr }. */
function runCli(args, env = {}) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_EC2_METADATA_DISABLED: 'true',
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ status: error ? error.code : 0, stdout, stderr }),
    )
  })
}

/** Runs the command line; resolves to { status, stdout, stderr }. */
const cli = (...args) => runCli(args)

function spoolDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rc-dead-letter-'))
}

/** CRC-32 (IEEE), as the store checksums each record (zlib.crc32 is not in every Node 20). */
function crc32(bytes) {
  let crc = ~0
  for (const b of bytes) {
    crc ^= b
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1))
  }
  return ~crc >>> 0
}

/**
 * Writes `<dir>/dead-letter/records.dlq` by hand, as anyone who can write the folder
 * could, in the format of src/core/deadletter/record.rs. Each letter:
 * { id, topicArn, category, action, code, reason, message }.
 */
function craftStore(dir, letters) {
  const str = (s) => {
    const bytes = Buffer.from(s, 'utf8')
    const len = Buffer.alloc(4)
    len.writeUInt32LE(bytes.length)
    return Buffer.concat([len, bytes])
  }
  const none = Buffer.from([0xff, 0xff, 0xff, 0xff])
  const records = letters.map((l) => {
    const fixed = Buffer.alloc(1 + 16 + 1 + 1 + 4 + 8 + 8)
    fixed.writeUInt8(1, 0) // a dead letter
    Buffer.from(l.id.replace(/-/g, ''), 'hex').copy(fixed, 1)
    fixed.writeUInt8(0, 17) // eventType session
    fixed.writeUInt8(1, 18) // sender fault
    fixed.writeUInt32LE(1, 19) // attempts
    fixed.writeBigInt64LE(1_700_000_000_000n, 23)
    fixed.writeBigInt64LE(1_700_000_000_100n, 31)
    const payload = Buffer.concat([
      fixed, str(l.topicArn), none, str('RC'), none,
      str(l.category), str(l.action), str(l.code), str(l.reason), str(l.message),
    ])
    const header = Buffer.alloc(10)
    header.writeUInt8(0xd1, 0)
    header.writeUInt8(0xe7, 1)
    header.writeUInt32LE(payload.length, 2)
    header.writeUInt32LE(crc32(payload), 6)
    return Buffer.concat([header, payload])
  })
  const store = path.join(dir, 'dead-letter')
  fs.mkdirSync(store, { mode: 0o700 })
  fs.writeFileSync(path.join(store, 'records.dlq'), Buffer.concat([Buffer.from('RCDEAD01'), ...records]), { mode: 0o600 })
}

// What a terminal acts on instead of showing (C0, DEL, C1), newlines aside.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/

/** Every term of the account: where each logged event went (`inFlight` is part of `queued`). */
function accounted(s) {
  return s.delivered + s.failed + s.dropped + s.deadLettered + s.held + s.queued
}

/**
 * A logger on `topicArn` through the proxy whose third entry SNS refuses for its own
 * sake. Resolves to { ids, refusedId, refused (the entry as the logger sent it),
 * errors, logger }.
 */
async function refuseOne({ topicArn, queueUrl, dir }) {
  const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, spoolDir: dir })
  const errors = []
  logger.onError((e) => errors.push(e))
  const before = proxy.seen.refused.length
  proxy.inject({ ...REFUSAL, members: [3] })
  const ids = []
  for (let i = 0; i < 5; i++) {
    ids.push(logger.log({ category: 'Survey', action: 'answered', properties: { n: i, text: 'ünï 🙂 "q"' } }))
  }
  const report = await logger.flush()
  const refused = proxy.seen.refused[before]
  assert.equal(refused.Id, ids[2])
  await waitFor('onError', () => errors.length > 0)
  const arrived = await ctx.drain(queueUrl, { expected: 4 })
  assert.deepEqual(
    arrived.map((m) => m.attributes.eventId).sort(),
    ids.filter((id) => id !== ids[2]).sort(),
  )
  return { ids, refusedId: ids[2], refused, errors, logger, report }
}

describe('dead letters', () => {
  proxy.use()

  it('a dead-letter round trip: refused, kept, listed, replayed to a working topic once, byte for byte', async () => {
    const origin = await ctx.topic({ fifo: true })
    const working = await ctx.topic({ fifo: true })
    const dir = spoolDir()
    const { ids, refusedId, refused, errors, logger, report } = await refuseOne({ ...origin, dir })

    // Kept, not failed; the account balances.
    assert.deepEqual({ delivered: report.delivered, failed: report.failed }, { delivered: 4, failed: 0 })
    const s = logger.stats()
    assert.equal(s.deadLettered, 1)
    assert.equal(s.failed, 0)
    assert.equal(accounted(s), ids.length)
    assert.equal(errors.length, 1)
    assert.equal(errors[0].code, 'ERR_DEAD_LETTERED')
    assert.deepEqual(errors[0].eventIds, [refusedId])
    assert.match(errors[0].message, /InvalidParameter: Invalid parameter: Message too long/)
    await logger.close()

    // Listed.
    const listed = await cli('dead-letter', dir, 'list')
    assert.equal(listed.status, 0, listed.stderr)
    const lines = listed.stdout.trim().split('\n')
    assert.equal(lines.length, 2, listed.stdout)
    assert.match(lines[0], /^id\s+topic\s+code\s+attempts\s+first attempt\s+last attempt$/)
    const cells = lines[1].split(/\s+/)
    assert.deepEqual(cells.slice(0, 4), [refusedId, origin.topicArn, 'InvalidParameter', '1'])
    assert.ok(!Number.isNaN(Date.parse(cells[4])) && !Number.isNaN(Date.parse(cells[5])), lines[1])

    // Exported as JSON lines, the message byte for byte as it was sent.
    const exported = await cli('dead-letter', dir, 'export')
    assert.equal(exported.status, 0, exported.stderr)
    const records = exported.stdout.trim().split('\n').map((l) => JSON.parse(l))
    assert.equal(records.length, 1)
    const [record] = records
    assert.equal(record.id, refusedId)
    assert.equal(record.message, refused.Message)
    assert.equal(Buffer.compare(Buffer.from(record.message), Buffer.from(refused.Message)), 0)
    assert.equal(record.topicArn, origin.topicArn)
    assert.equal(record.messageGroupId, refused.MessageGroupId)
    assert.equal(record.subject, 'RC')
    assert.equal(record.senderFault, true)
    assert.equal(record.attempts, 1)
    assert.deepEqual(record.attributes, {
      eventId: refusedId,
      category: 'Survey',
      action: 'answered',
      eventType: 'session',
    })

    // Replayed to a working topic: it arrives there once, as it was.
    const replayed = await cli(
      'dead-letter', dir, 'replay',
      '--topic', working.topicArn,
      '--endpoint', ctx.moto.endpoint,
      '--region', REGION,
    )
    assert.equal(replayed.status, 0, replayed.stdout + replayed.stderr)
    assert.match(replayed.stdout, /^selected 1, delivered 1, refused again 0, not sent 0; 0 left in the store$/m)
    assert.match(replayed.stdout, new RegExp(`^delivered\\s+${refusedId}$`, 'm'))
    const arrived = await ctx.drain(working.queueUrl, { expected: 1 })
    const late = await ctx.drain(working.queueUrl, { quietMs: 500 })
    assert.equal(arrived.length + late.length, 1, 'exactly once')
    const [message] = arrived
    assert.equal(Buffer.compare(Buffer.from(message.body), Buffer.from(refused.Message)), 0, 'byte for byte')
    assert.equal(message.attributes.eventId, refusedId)
    assert.equal(message.dedupId, refusedId, 'FIFO dedup id = event id')
    assert.equal(message.groupId, refused.MessageGroupId)
    assert.equal((await ctx.drain(origin.queueUrl, { quietMs: 300 })).length, 0, 'not to its old topic')

    // The store no longer holds it.
    assert.deepEqual(await addon.listDeadLetters(dir), { records: [], damaged: 0 })
    const after = await cli('dead-letter', dir, 'list')
    assert.equal(after.stdout.trim().split('\n').length, 1, after.stdout)
  })

  it('a replay SNS refuses again stays in the store, once, with its attempts added up', async () => {
    const origin = await ctx.topic({ fifo: true })
    const dir = spoolDir()
    const { refusedId, refused, logger } = await refuseOne({ ...origin, dir })
    await logger.close()

    proxy.inject({ ...REFUSAL, members: [1] })
    const again = await cli('dead-letter', dir, 'replay', '--to-recorded-topics', '--endpoint', proxy.endpoint, '--region', REGION)
    assert.equal(again.status, 1, again.stdout + again.stderr)
    assert.match(again.stdout, /selected 1, delivered 0, refused again 1, not sent 0; 1 left in the store/)
    assert.match(again.stdout, new RegExp(`^refused\\s+${refusedId}\\s+InvalidParameter`, 'm'))
    const { records } = await addon.listDeadLetters(dir)
    assert.equal(records.length, 1, 'never dead-lettered twice')
    assert.equal(records[0].id, refusedId)
    assert.equal(records[0].attempts, 2)
    assert.equal(records[0].message, refused.Message)
    assert.ok(records[0].lastAttemptMs >= records[0].firstAttemptMs)

    // Once the cause is gone, it goes to its own topic, and only once.
    const fixed = await addon.replayDeadLetters(dir, {
      toRecordedTopics: true,
      endpoint: ctx.moto.endpoint,
      region: REGION,
      credentials: CREDENTIALS,
    })
    assert.deepEqual(fixed.failed, [])
    assert.deepEqual(
      { selected: fixed.selected, delivered: fixed.delivered, refused: fixed.refused.length, remaining: fixed.remaining },
      { selected: 1, delivered: [refusedId], refused: 0, remaining: 0 },
    )
    const arrived = await ctx.drain(origin.queueUrl, { expected: 1 })
    assert.equal(arrived.length, 1)
    assert.equal(arrived[0].body, refused.Message)
  })

  it('purge removes the records asked for, and only those', async () => {
    const origin = await ctx.topic({ fifo: false })
    const dir = spoolDir()
    const { refusedId, logger } = await refuseOne({ ...origin, dir })
    await logger.close()
    const refusedWrongly = await cli('dead-letter', dir, 'purge')
    assert.equal(refusedWrongly.status, 2)
    assert.match(refusedWrongly.stderr, /purge needs --all/)
    const other = await cli('dead-letter', dir, 'purge', '--code', 'KMSDisabled')
    assert.match(other.stdout, /^removed 0; 1 left in the store$/m)
    const purged = await cli('dead-letter', dir, 'purge', '--id', refusedId)
    assert.equal(purged.status, 0, purged.stderr)
    assert.match(purged.stdout, /^removed 1; 0 left in the store$/m)
    assert.equal((await addon.listDeadLetters(dir)).records.length, 0)
  })

  it('without spoolDir the refused entry reaches onError with its message, so the host can keep it', async () => {
    const origin = await ctx.topic({ fifo: true })
    const { ids, refusedId, refused, errors, logger, report } = await refuseOne({ ...origin, dir: undefined })
    assert.equal(report.failed, 1)
    const s = logger.stats()
    assert.equal(s.deadLettered, 0)
    assert.equal(accounted(s), ids.length)
    assert.equal(errors.length, 1)
    const [e] = errors
    assert.equal(e.code, 'ERR_PUBLISH_FAILED')
    assert.deepEqual(e.eventIds, [refusedId])
    assert.equal(e.entries.length, 1)
    const [entry] = e.entries
    assert.equal(entry.id, refusedId)
    assert.equal(entry.message, refused.Message)
    assert.equal(entry.topicArn, origin.topicArn)
    assert.equal(entry.messageGroupId, refused.MessageGroupId)
    assert.equal(entry.subject, 'RC')
    assert.equal(entry.code, 'InvalidParameter')
    assert.equal(entry.attributes.eventId, refusedId)
    assert.equal(entry.attributes.eventType, 'session')
  })

  it('explains a bad command line and a folder that is not there', async () => {
    const usage = await cli('dead-letter', '/tmp')
    assert.equal(usage.status, 2)
    assert.match(usage.stderr, /dead-letter <spoolDir> list\|export\|replay\|purge/)
    const misplaced = await cli('dead-letter', '/tmp', 'list', '--topic', 'x')
    assert.equal(misplaced.status, 2)
    assert.match(misplaced.stderr, /--topic is an option of replay only/)
    const missing = await cli('dead-letter', '/nonexistent/spool', 'list')
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /\/nonexistent\/spool cannot be used: it is not a folder/)
    const badTopic = await cli('dead-letter', spoolDir(), 'replay', '--topic', 'not-an-arn')
    assert.equal(badTopic.status, 1)
    assert.match(badTopic.stderr, /invalid dead-letter option topicArn/)
  })

  it('a replay goes to --topic or, only when told, to the recorded topics; never by default', async () => {
    const dir = spoolDir()
    const id = crypto.randomUUID()
    const elsewhere = 'arn:aws:sns:us-east-1:123456789012:someone-elses-topic'
    craftStore(dir, [{ id, topicArn: elsewhere, category: 'Survey', action: 'answered', code: 'InvalidParameter', reason: 'r', message: '{}' }])

    const neither = await cli('dead-letter', dir, 'replay', '--endpoint', ctx.moto.endpoint, '--region', REGION)
    assert.equal(neither.status, 2)
    assert.equal(neither.stdout, '', 'nothing else printed')
    assert.equal(
      neither.stderr,
      'rocketchat-sns-analytics: replay needs --topic <arn> (every selected record to that topic) or --to-recorded-topics (each record to the topic it records)\n',
    )
    const both = await cli('dead-letter', dir, 'replay', '--topic', elsewhere, '--to-recorded-topics')
    assert.equal(both.status, 2)
    assert.match(both.stderr, /--topic <arn> or --to-recorded-topics, not both/)
    const misplaced = await cli('dead-letter', dir, 'list', '--to-recorded-topics')
    assert.equal(misplaced.status, 2)
    assert.match(misplaced.stderr, /--to-recorded-topics is an option of replay only/)

    // The function behind it: the same rule, ERR_INVALID_OPTION naming both.
    for (const options of [undefined, {}, { toRecordedTopics: false, endpoint: ctx.moto.endpoint }]) {
      await assert.rejects(addon.replayDeadLetters(dir, options), (e) => {
        assert.equal(e.code, 'ERR_INVALID_OPTION')
        assert.equal(e.option, 'topicArn')
        assert.match(e.message, /option topicArn: is required, or toRecordedTopics: true/)
        return true
      })
    }
    await assert.rejects(addon.replayDeadLetters(dir, { topicArn: elsewhere, toRecordedTopics: true }), (e) => {
      assert.equal(e.code, 'ERR_INVALID_OPTION')
      assert.equal(e.option, 'toRecordedTopics')
      assert.match(e.message, /cannot be true together with topicArn/)
      return true
    })
    const { records } = await addon.listDeadLetters(dir)
    assert.deepEqual(records.map((r) => [r.id, r.attempts]), [[id, 1]], 'the store untouched')
  })

  it('prints what a crafted store holds with its control characters escaped', async () => {
    const dir = spoolDir()
    const id = crypto.randomUUID()
    const letter = {
      id,
      topicArn: 'arn:aws:sns:us-east-1:123456789012:t\x1b[2J\x07',
      category: 'Survey\x1b[2J',
      action: 'answered\x07',
      code: 'Invalid\x1b[2J\x07Parameter\u009b31m\x7f',
      reason: 'said \x1b]0;owned\x07 SNS \\x1b',
      message: '{"category":"\x1b[2J","bell":"\x07","csi":"\u009b"}',
    }
    craftStore(dir, [letter])

    const listed = await cli('dead-letter', dir, 'list')
    assert.equal(listed.status, 0, listed.stderr)
    assert.doesNotMatch(listed.stdout, RAW_CONTROL, JSON.stringify(listed.stdout))
    const row = listed.stdout.trim().split('\n')[1]
    assert.ok(row.includes('arn:aws:sns:us-east-1:123456789012:t\\x1b[2J\\x07'), row)
    assert.ok(row.includes('Invalid\\x1b[2J\\x07Parameter\\x9b31m\\x7f'), row)

    // Export: JSON lines with no raw control character, read back unchanged.
    const exported = await cli('dead-letter', dir, 'export')
    assert.equal(exported.status, 0, exported.stderr)
    assert.doesNotMatch(exported.stdout, RAW_CONTROL, JSON.stringify(exported.stdout))
    const [record] = exported.stdout.trim().split('\n').map((l) => JSON.parse(l))
    for (const field of ['topicArn', 'code', 'reason', 'message']) assert.equal(record[field], letter[field], field)
    assert.equal(record.attributes.category, letter.category)
    assert.equal(record.attributes.action, letter.action)

    // Replay to the recorded topic, which is no topic: reported, escaped, and kept.
    const replayed = await cli('dead-letter', dir, 'replay', '--to-recorded-topics', '--endpoint', ctx.moto.endpoint, '--region', REGION)
    assert.equal(replayed.status, 1, replayed.stdout + replayed.stderr)
    assert.doesNotMatch(replayed.stdout + replayed.stderr, RAW_CONTROL, JSON.stringify(replayed.stdout + replayed.stderr))
    assert.match(replayed.stdout, new RegExp(`^not sent\\s+${id}\\s+\\S`, 'm'))

    // A purge report, and an error that quotes what it was given.
    const purged = await cli('dead-letter', dir, 'purge', '--all')
    assert.equal(purged.status, 0, purged.stderr)
    assert.match(purged.stdout, new RegExp(`^removed  ${id}$`, 'm'))
    const unknown = await cli('dead-letter', dir, 'li\x1b[2Jst')
    assert.equal(unknown.status, 2)
    assert.doesNotMatch(unknown.stderr, RAW_CONTROL)
    assert.match(unknown.stderr, /unknown dead-letter action "li\\x1b\[2Jst"/)
  })
})

// Not real keys: made up for these tests. The proxy knows only FILE_KEY's; the
// environment of the child holds BOGUS, which the proxy refuses.
const FILE_KEY = {
  accessKeyId: 'ASIAOPTIONSFILE0TEST',
  secretAccessKey: 'options-file/secret+key=0123456789abTEST',
  sessionToken: 'IQoJb3JpZ2luX2VjEOPTIONSFILE//////////token/test==',
}
const BOGUS = { id: 'AKIDBOGUSENVIRONMENT', secret: 'bogus-environment-secret-0123456789TEST' }

/** A child environment whose default chain holds BOGUS only: no profile, no role. */
const BOGUS_ENVIRONMENT = {
  AWS_ACCESS_KEY_ID: BOGUS.id,
  AWS_SECRET_ACCESS_KEY: BOGUS.secret,
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_SHARED_CREDENTIALS_FILE: path.join(os.tmpdir(), 'no-such-credentials-file'),
  AWS_CONFIG_FILE: path.join(os.tmpdir(), 'no-such-config-file'),
  AWS_EC2_METADATA_DISABLED: 'true',
}

/** Writes `content` (an object as JSON, or text as it is) to a fresh file of `mode`. */
function optionsFile(content, mode = 0o600) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rc-options-file-')), 'sns.json')
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content), { mode })
  fs.chmodSync(file, mode) // whatever the umask
  return file
}

/** A store holding one record for some topic; resolves to { dir, id }. */
function oneRecord() {
  const dir = spoolDir()
  const id = crypto.randomUUID()
  craftStore(dir, [{
    id,
    topicArn: 'arn:aws:sns:us-east-1:123456789012:recorded',
    category: 'Survey',
    action: 'answered',
    code: 'InvalidParameter',
    reason: 'r',
    message: '{"replayed":"from an options file"}',
  }])
  return { dir, id }
}

/** The secret and the token never appear in what the command printed. */
function assertNoSecret(result, ...secrets) {
  for (const secret of [FILE_KEY.secretAccessKey, FILE_KEY.sessionToken, BOGUS.secret, ...secrets]) {
    assert.ok(!result.stdout.includes(secret), `stdout shows a secret: ${result.stdout}`)
    assert.ok(!result.stderr.includes(secret), `stderr shows a secret: ${result.stderr}`)
  }
}

describe('replay credentials: --options-file, or else the AWS default chain; never flags', () => {
  let proxy
  before(async () => {
    proxy = await startSigv4Proxy(ctx.moto.endpoint, {
      [FILE_KEY.accessKeyId]: { secret: FILE_KEY.secretAccessKey, token: FILE_KEY.sessionToken },
    }, REGION)
  })
  after(() => proxy?.stop())

  const counted = (fn) => countedBy(proxy, fn)

  it('signs with the keys and session token of the file, not the environment', async () => {
    const working = await ctx.topic({ fifo: false })
    const { dir, id } = oneRecord()
    const file = optionsFile({ region: REGION, endpoint: proxy.endpoint, credentials: FILE_KEY, requestTimeoutMs: 5000 })

    // The default chain alone (the bogus environment): the proxy refuses the key and
    // the record stays; so whatever the proxy passes later was signed with the file's.
    const chain = await counted(() =>
      runCli(['dead-letter', dir, 'replay', '--topic', working.topicArn, '--endpoint', proxy.endpoint, '--region', REGION, '--timeout-ms', '2000'], BOGUS_ENVIRONMENT),
    )
    assert.equal(chain.result.status, 1, chain.result.stdout + chain.result.stderr)
    assert.match(chain.result.stdout, /delivered 0, .*; 1 left in the store/)
    assert.equal(chain.verified, 0)
    assert.ok(chain.refused.InvalidClientTokenId >= 1, JSON.stringify(chain.refused))
    assertNoSecret(chain.result)

    const replayed = await counted(() =>
      runCli(['dead-letter', dir, 'replay', '--topic', working.topicArn, '--options-file', file], BOGUS_ENVIRONMENT),
    )
    const { result } = replayed
    assert.equal(result.status, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /^selected 1, delivered 1, refused again 0, not sent 0; 0 left in the store$/m)
    assert.match(result.stdout, new RegExp(`^delivered\\s+${id}$`, 'm'))
    assert.deepEqual(replayed.refused, {}, 'nothing the proxy refused')
    assert.ok(replayed.verified >= 1, 'signed with the file\'s key and token, which only the file holds')
    assertNoSecret(result)
    const [message] = await ctx.drain(working.queueUrl, { expected: 1 })
    assert.equal(message.body, '{"replayed":"from an options file"}')
    assert.equal(message.attributes.eventId, id)
    assert.deepEqual(await addon.listDeadLetters(dir), { records: [], damaged: 0 })
  })

  it('--region and --endpoint override the file\'s', async () => {
    const working = await ctx.topic({ fifo: false })
    const { dir, id } = oneRecord()
    // Neither would do: nothing listens at port 1, and the proxy takes requests
    // signed for its own region only.
    const file = optionsFile({ region: 'eu-west-3', endpoint: 'http://127.0.0.1:1', credentials: FILE_KEY })
    const replayed = await counted(() =>
      runCli(['dead-letter', dir, 'replay', '--topic', working.topicArn, '--options-file', file, '--region', REGION, '--endpoint', proxy.endpoint, '--timeout-ms', '10000'], BOGUS_ENVIRONMENT),
    )
    assert.equal(replayed.result.status, 0, replayed.result.stdout + replayed.result.stderr)
    assert.match(replayed.result.stdout, new RegExp(`^delivered\\s+${id}$`, 'm'))
    assert.deepEqual(replayed.refused, {})
    assert.ok(replayed.verified >= 1)
    assertNoSecret(replayed.result)
    assert.equal((await ctx.drain(working.queueUrl, { expected: 1 })).length, 1)
  })

  it('refuses a file group or others may read, a link, another user\'s file, a big one; before reading it', async () => {
    const { dir } = oneRecord()
    const replay = (...args) => runCli(['dead-letter', dir, 'replay', '--topic', 'arn:aws:sns:us-east-1:123456789012:t', ...args], BOGUS_ENVIRONMENT)
    const content = { endpoint: proxy.endpoint, credentials: FILE_KEY }

    const readable = optionsFile(content, 0o644)
    const open = await replay('--options-file', readable)
    assert.equal(open.status, 1)
    assert.equal(open.stdout, '')
    assert.equal(
      open.stderr,
      `rocketchat-sns-analytics: dead-letter: the options file ${readable} is readable by group and others (mode 0644); chmod 600 it: it holds credentials\n`,
    )
    assertNoSecret(open)
    const groupWritable = await replay('--options-file', optionsFile(content, 0o620))
    assert.match(groupWritable.stderr, /is writable by group \(mode 0620\); chmod 600 it/)

    // A link to a file that would pass: refused as a link, whatever it points at.
    const target = optionsFile(content)
    const link = path.join(path.dirname(target), 'link.json')
    fs.symlinkSync(target, link)
    const linked = await replay('--options-file', link)
    assert.equal(linked.status, 1)
    assert.match(linked.stderr, new RegExp(`the options file ${link} is a symbolic link; give the file itself`))
    assertNoSecret(linked)

    const folder = await replay('--options-file', path.dirname(target))
    assert.match(folder.stderr, /is not a regular file/)
    const missing = await replay('--options-file', '/nonexistent/sns.json')
    assert.match(missing.stderr, /the options file \/nonexistent\/sns\.json does not exist/)

    const big = optionsFile(JSON.stringify({ ...content, region: REGION }) + ' '.repeat(64 * 1024))
    const tooBig = await replay('--options-file', big)
    assert.equal(tooBig.status, 1)
    assert.match(tooBig.stderr, new RegExp(`the options file ${big} is larger than 65536 bytes \\(64 KiB\\)`))

    // Another user's file (only root can make one here).
    if (process.getuid() === 0) {
      const theirs = optionsFile(content)
      fs.chownSync(theirs, 65534, 65534)
      const owned = await replay('--options-file', theirs)
      assert.equal(owned.status, 1)
      assert.match(owned.stderr, new RegExp(`the options file ${theirs} is owned by uid 65534, not by uid 0 \\(this process's user\\)`))
      assertNoSecret(owned)
    }

    const { records } = await addon.listDeadLetters(dir)
    assert.deepEqual(records.map((r) => r.attempts), [1], 'nothing was sent')
  })

  it('refuses an unknown option in the file by name, and what the addon refuses names the file', async () => {
    const { dir } = oneRecord()
    const replay = (file) => runCli(['dead-letter', dir, 'replay', '--to-recorded-topics', '--options-file', file], BOGUS_ENVIRONMENT)

    // A replay option is not a connection option: the file cannot choose the topic.
    const topic = optionsFile({ credentials: FILE_KEY, topicArn: 'arn:aws:sns:us-east-1:123456789012:t' })
    const unknown = await replay(topic)
    assert.equal(unknown.status, 1)
    assert.match(unknown.stderr, new RegExp(`the options file ${topic} holds unknown option "topicArn": it holds region, endpoint, credentials, requestTimeoutMs only`))
    assertNoSecret(unknown)
    // The keys flat, not under credentials: named, their values not shown.
    const flat = await replay(optionsFile({ accessKeyId: FILE_KEY.accessKeyId, secretAccessKey: FILE_KEY.secretAccessKey }))
    assert.match(flat.stderr, /holds unknown option "accessKeyId"/)
    assertNoSecret(flat)

    // What the addon checks, it names, and the CLI says which file it came from.
    const misspelt = optionsFile({ credentials: { accessKeyId: FILE_KEY.accessKeyId, secretAccesKey: FILE_KEY.secretAccessKey } })
    const named = await replay(misspelt)
    assert.equal(named.status, 1)
    assert.match(named.stderr, new RegExp(`invalid dead-letter option credentials\\.secretAccesKey: unknown field .*\\(in the options file ${misspelt}\\)`))
    assertNoSecret(named)

    // The secret where an object belongs: neither the addon nor the CLI prints it.
    const bare = await replay(optionsFile({ credentials: FILE_KEY.secretAccessKey }))
    assert.equal(bare.status, 1)
    assert.match(bare.stderr, /invalid dead-letter option credentials: .*the value given is not shown/)
    assertNoSecret(bare)
    // Not JSON: JSON.parse quotes the text; not printed either.
    const broken = optionsFile(`{"credentials": {"accessKeyId": "${FILE_KEY.accessKeyId}", "secretAccessKey": ${FILE_KEY.secretAccessKey}}}`)
    const notJson = await replay(broken)
    assert.equal(notJson.status, 1)
    assert.match(notJson.stderr, new RegExp(`the options file ${broken} is not valid JSON`))
    assertNoSecret(notJson)
    const array = await replay(optionsFile([FILE_KEY]))
    assert.match(array.stderr, /must hold a JSON object/)
    assertNoSecret(array)

    const { records } = await addon.listDeadLetters(dir)
    assert.deepEqual(records.map((r) => r.attempts), [1], 'nothing was sent')
  })

  it('refuses credentials as flags, pointing at --options-file, without printing them', async () => {
    const { dir } = oneRecord()
    for (const args of [
      ['--secret-access-key', FILE_KEY.secretAccessKey],
      [`--secret-access-key=${FILE_KEY.secretAccessKey}`],
      ['--access-key-id', FILE_KEY.accessKeyId],
      ['--session-token', FILE_KEY.sessionToken],
      ['--aws-secret-access-key', FILE_KEY.secretAccessKey],
    ]) {
      const flagged = await runCli(['dead-letter', dir, 'replay', '--to-recorded-topics', ...args], BOGUS_ENVIRONMENT)
      const flag = args[0].split('=')[0]
      assert.equal(flagged.status, 2, args[0])
      assert.equal(flagged.stdout, '')
      assert.match(flagged.stderr, new RegExp(`^rocketchat-sns-analytics: ${flag}: credentials are never taken as flags \\(shell history and ps would keep them\\); put them in a file given with --options-file <path>`))
      assertNoSecret(flagged)
    }
    const misplaced = await cli('dead-letter', dir, 'list', '--options-file', optionsFile({ credentials: FILE_KEY }))
    assert.equal(misplaced.status, 2)
    assert.match(misplaced.stderr, /--options-file is an option of replay only/)

    const help = await cli('--help')
    assert.match(help.stdout, /--options-file <path>/)
    assert.match(help.stdout, /Credentials come from --options-file, or else from the AWS default chain/)
    const { records } = await addon.listDeadLetters(dir)
    assert.deepEqual(records.map((r) => r.attempts), [1], 'nothing was sent')
  })
})
