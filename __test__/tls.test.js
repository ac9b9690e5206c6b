'use strict'
// Real SNS is https. The PublishBatch client verifies the endpoint's certificate
// against the system's roots (or SSL_CERT_FILE / SSL_CERT_DIR, as OpenSSL reads
// them), so these tests put an https front end with a certificate of a test CA
// (`fixtures/tls/`, made for these tests only, valid until 2126) before moto.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const path = require('node:path')
const { useMoto, waitFor } = require('./helpers/setup')
const { runExitChild } = require('./helpers/exit-child')

const ctx = useMoto()
const TLS = path.join(__dirname, 'fixtures', 'tls')

/** An https server on 127.0.0.1 that passes every request on to `target` (http). */
function startTlsFrontEnd(target) {
  const seen = { requests: 0, handshakeErrors: [] }
  const server = https.createServer(
    { key: fs.readFileSync(path.join(TLS, 'server-key.pem')), cert: fs.readFileSync(path.join(TLS, 'server.pem')) },
    (req, res) => {
      seen.requests++
      const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers)
        r.pipe(res)
      })
      up.on('error', () => res.destroy())
      req.pipe(up)
    },
  )
  server.on('tlsClientError', (e) => seen.handshakeErrors.push(e.message))
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        endpoint: `https://127.0.0.1:${server.address().port}`,
        seen,
        close: () => new Promise((r) => server.close(r)),
      }),
    )
  })
}

describe('https endpoints', () => {
  let front
  before(async () => {
    front = await startTlsFrontEnd(ctx.moto.endpoint)
  })
  after(() => front?.close())

  it('delivers over https when the certificate is trusted (SSL_CERT_FILE)', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const before = front.seen.requests
    const result = await runExitChild('natural', {
      TOPIC_ARN: topicArn,
      ENDPOINT: front.endpoint,
      EVENTS: '25',
      SSL_CERT_FILE: path.join(TLS, 'ca.pem'),
    })
    assert.equal(result.code, 0, result.stderr)
    const msgs = await ctx.drain(queueUrl, { expected: 25 })
    assert.deepEqual(
      msgs.map((m) => m.json.properties.n),
      [...Array(25).keys()],
    )
    assert.ok(front.seen.requests > before, 'the requests went through the https front end')
  })

  it('refuses an endpoint whose certificate no trusted root signed, and says why', async () => {
    const { topicArn } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({
      topicArn,
      endpoint: front.endpoint,
      retryBudgetMs: 200,
      retryInitialBackoffMs: 10,
      retryMaxBackoffMs: 20,
    })
    const errors = []
    logger.onError((e) => errors.push(e))
    logger.log({ category: 'Chat Session', action: 'closed' })
    const report = await logger.flush()
    assert.deepEqual({ delivered: report.delivered, failed: report.failed }, { delivered: 0, failed: 1 })
    await waitFor('onError', () => errors.length > 0)
    assert.equal(errors[0].code, 'ERR_RETRIES_EXHAUSTED')
    assert.match(errors[0].message, /NetworkError.*certificate/i)
    assert.ok(front.seen.handshakeErrors.length > 0)
  })
})
