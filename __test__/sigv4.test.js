'use strict'
// Real signature checks. moto accepts any signature, so these tests put
// helpers/sigv4_proxy.py in front of it: botocore (the AWS SDK for Python, from moto's
// virtualenv) recomputes every request's SigV4 signature over the exact bytes
// received and refuses the request as AWS would when it differs, when it is dated
// more than 5 minutes from the proxy's clock, or when the key lacks permission.
// Credentials come from the options, the environment and a shared credentials
// profile, with and without an STS session token. The clock-skew test runs a logger
// whose clock is 10 minutes fast (Debian's libfaketime, installed by npm test).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto, waitFor } = require('./helpers/setup')
const { startSigv4Proxy, runLogChild, counted: countedBy } = require('./helpers/sigv4')
const { libc } = require('./helpers/platform')

const ctx = useMoto()
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1'

// Not real keys: made up for these tests.
const KEYS = {
  options: { id: 'AKIDOPTIONS00000TEST', secret: 'options/secret+key=0123456789abcdefTEST' },
  session: { id: 'ASIASESSION00000TEST', secret: 'session/secret+key=0123456789abcdTEST', token: 'IQoJb3JpZ2luX2VjEMr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+test/token==' },
  env: { id: 'AKIDENVIRONMENTTEST0', secret: 'environment-secret-0123456789abcdTEST' },
  profile: { id: 'ASIAPROFILE00000TEST', secret: 'profile-secret-0123456789abcdefTEST', token: 'FwoGZXIvYXdzEBYaDPROFILE+token/test==' },
  skewed: { id: 'AKIDSKEWEDCLOCK0TEST', secret: 'skewed-secret-0123456789abcdefgTEST' },
  denied: { id: 'AKIDNOPERMISSIONTEST', secret: 'denied-secret-0123456789abcdefgTEST' },
}

/** Characters that need percent-encoding in the form body, and some that do not. */
const AWKWARD = "a&b=c+d/e%f?g h#i;j:k@l,m$n!o*p'q(r)s~t_u.v-w ü 日本語 🙂 \"<x>\" \\ \n\t"

/** The environment of a child that must find no credentials but the ones given. */
const NO_AMBIENT_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_SHARED_CREDENTIALS_FILE: path.join(os.tmpdir(), 'no-such-credentials-file'),
  AWS_CONFIG_FILE: path.join(os.tmpdir(), 'no-such-config-file'),
  AWS_EC2_METADATA_DISABLED: 'true',
}

describe('an independent SigV4 check (botocore) accepts every request', () => {
  let proxy
  before(async () => {
    const keys = {}
    for (const k of Object.values(KEYS)) keys[k.id] = { secret: k.secret, token: k.token ?? null }
    keys[KEYS.denied.id].denied = true
    proxy = await startSigv4Proxy(ctx.moto.endpoint, keys)
  })
  after(() => proxy?.stop())

  const counted = (fn) => countedBy(proxy, fn)

  it('keys from the options, with a body full of characters that need percent-encoding', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const { result: ids, refused, verified } = await counted(async () => {
      const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, credentials: { accessKeyId: KEYS.options.id, secretAccessKey: KEYS.options.secret }, subject: 'Subject a&b=c+d/e%f?g h#i;j:k@l,m$n!o*p(r)s~t_u.v-w "<x>" \\' })
      const ids = []
      for (let i = 0; i < 25; i++) ids.push(logger.log({ category: `Cat ${AWKWARD}`, action: 'a&=+', roomId: AWKWARD, properties: { text: AWKWARD, n: i } }))
      const report = await logger.flush()
      assert.equal(report.delivered, 25)
      return ids
    })
    assert.deepEqual(refused, {})
    assert.ok(verified >= 3, `${verified} requests checked`)
    const msgs = await ctx.drain(queueUrl, { expected: 25 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), ids)
    for (const m of msgs) {
      assert.equal(m.json.properties.text, AWKWARD)
      assert.equal(m.json.category, `Cat ${AWKWARD}`)
      assert.equal(m.attributes.category, `Cat ${AWKWARD}`)
    }
  })

  it('an STS session token from the options', async () => {
    const { topicArn } = await ctx.topic()
    const { result: report, refused } = await counted(async () => {
      const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, credentials: { accessKeyId: KEYS.session.id, secretAccessKey: KEYS.session.secret, sessionToken: KEYS.session.token } })
      for (let i = 0; i < 12; i++) logger.log({ category: 'c', action: 'a', properties: { n: i } })
      return logger.flush()
    })
    assert.deepEqual(refused, {})
    assert.equal(report.delivered, 12)
  })

  it('keys from the environment', async () => {
    const { topicArn } = await ctx.topic()
    const { result, refused } = await counted(() =>
      runLogChild({ ...NO_AMBIENT_CREDENTIALS, ENDPOINT: proxy.endpoint, TOPIC_ARN: topicArn, EVENTS: '15', AWS_ACCESS_KEY_ID: KEYS.env.id, AWS_SECRET_ACCESS_KEY: KEYS.env.secret }),
    )
    assert.deepEqual(refused, {})
    assert.deepEqual(result.errors, [])
    assert.equal(result.report.delivered, 15)
  })

  it('keys and a session token from a shared credentials profile', async () => {
    const { topicArn } = await ctx.topic()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-analytics-profile-'))
    const file = path.join(dir, 'credentials')
    fs.writeFileSync(file, `[default]\naws_access_key_id = AKIDWRONGPROFILETEST\naws_secret_access_key = wrong\n\n[analytics]\naws_access_key_id = ${KEYS.profile.id}\naws_secret_access_key = ${KEYS.profile.secret}\naws_session_token = ${KEYS.profile.token}\n`)
    try {
      const { result, refused } = await counted(() =>
        runLogChild({ ...NO_AMBIENT_CREDENTIALS, ENDPOINT: proxy.endpoint, TOPIC_ARN: topicArn, EVENTS: '15', AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'analytics' }),
      )
      assert.deepEqual(refused, {})
      assert.deepEqual(result.errors, [])
      assert.equal(result.report.delivered, 15)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the Credentials setting "default chain" signs with the chain, not the stored keys', async () => {
    const { topicArn } = await ctx.topic()
    const stored = { SNS_Analytics_Access_Key_Id: KEYS.denied.id, SNS_Analytics_Secret_Access_Key: KEYS.denied.secret }
    const env = { ...NO_AMBIENT_CREDENTIALS, ENDPOINT: proxy.endpoint, TOPIC_ARN: topicArn, EVENTS: '10', CLOSE_TIMEOUT_MS: '60000', AWS_ACCESS_KEY_ID: KEYS.env.id, AWS_SECRET_ACCESS_KEY: KEYS.env.secret }
    // The stored keys win while "access key" is chosen (the default): this caller is denied.
    const keys = await counted(() => runLogChild({ ...env, SETTINGS: JSON.stringify(stored) }))
    assert.deepEqual(Object.keys(keys.refused), ['AuthorizationError'])
    assert.equal(keys.result.report.failed, 10)
    const chain = await counted(() => runLogChild({ ...env, SETTINGS: JSON.stringify({ ...stored, SNS_Analytics_Credentials: 'default_chain' }) }))
    assert.deepEqual(chain.refused, {})
    assert.deepEqual(chain.result.errors, [])
    assert.equal(chain.result.report.delivered, 10)
  })

  for (const [what, credentials, code] of [
    ['a wrong secret', { accessKeyId: KEYS.options.id, secretAccessKey: 'not-the-secret-0123456789abcdefTEST' }, 'SignatureDoesNotMatch'],
    ['a caller without permission', { accessKeyId: KEYS.denied.id, secretAccessKey: KEYS.denied.secret }, 'AuthorizationError'],
  ]) {
    it(`${what} holds the events (${code}, reported once); close() probes once, then reports them by id without waiting out its timeout`, async () => {
      const { topicArn } = await ctx.topic()
      const logger = ctx.logger({ topicArn, endpoint: proxy.endpoint, credentials })
      const errors = []
      logger.onError((e) => errors.push(e))
      const ids = []
      for (let i = 0; i < 15; i++) ids.push(logger.log({ category: 'c', action: 'a', properties: { n: i } }))
      const flushed = await logger.flush()
      assert.deepEqual({ held: flushed.held, failed: flushed.failed }, { held: 15, failed: 0 }, 'held, not failed')
      const report = await logger.close({ timeoutMs: 60_000 })
      assert.equal(report.failed, 15)
      assert.equal(report.delivered, 0)
      assert.equal(report.pending, 0)
      assert.equal(report.accepted, 15)
      await waitFor('onError', () => errors.flatMap((e) => e.eventIds).length === 15)
      for (const e of errors) {
        assert.equal(e.code, 'ERR_DESTINATION_UNAVAILABLE', e.message)
        assert.ok(e.message.includes(code), e.message)
        assert.equal(e.destination.awsCode, code)
        assert.ok(!e.message.includes(credentials.secretAccessKey), 'the secret never shows')
      }
      assert.deepEqual(errors[0].eventIds, [], 'the pause itself loses nothing')
      assert.deepEqual(errors.flatMap((e) => e.eventIds).sort(), ids.sort())
      assert.equal(logger.stats().failed, 15)
    })
  }

  const clockSkewSkip =
    (libc() === 'musl' && "Debian's libfaketime is built for glibc and cannot be preloaded into a musl Node") ||
    (!fs.existsSync(LIBFAKETIME) && "libfaketime is missing (npm test installs Debian's faketime)")
  it('a host whose clock is 10 minutes fast delivers every event, with one request refused', { skip: clockSkewSkip }, async () => {
    // A standard topic: its batches go out side by side (a FIFO group's go one by one).
    const { topicArn, queueUrl } = await ctx.topic()
    const { result, refused, verified } = await counted(() =>
      runLogChild(
        { ...NO_AMBIENT_CREDENTIALS, ENDPOINT: proxy.endpoint, TOPIC_ARN: topicArn, EVENTS: '60', KEYS: `${KEYS.skewed.id}:${KEYS.skewed.secret}` },
        { extraEnv: { LD_PRELOAD: LIBFAKETIME, FAKETIME: '+10m', FAKETIME_DONT_FAKE_MONOTONIC: '1' } },
      ),
    )
    // The child really ran 10 minutes ahead.
    assert.ok(Date.parse(result.now) - Date.now() > 9 * 60_000, `child's clock: ${result.now}`)
    assert.deepEqual(result.errors, [], 'nothing reported lost')
    assert.equal(result.report.delivered, 60)
    assert.equal(result.report.failed, 0)
    assert.deepEqual(refused, { SignatureDoesNotMatch: 1 }, 'one refusal per configuration, not one per batch')
    assert.ok(verified >= 6, `${verified} requests passed`)
    const msgs = await ctx.drain(queueUrl, { expected: 60 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId).sort(), [...result.ids].sort(), 'each once')
  })
})
