'use strict'
// An HTTP proxy between the logger and moto that injects the faults SNS and the
// network produce: refused connections, 5xx, throttling, slow answers, lost
// answers, expired credentials and partial PublishBatch failures. Faults are
// queued per PublishBatch request and consumed in order; requests with no fault
// queued pass through. An outage (`outage(ms, kinds)`) fails every PublishBatch
// for a while, cycling through the given kinds; `outage(ms, kinds, { topicArn })`
// only those to one topic (several such outages may run at once). `authorization`
// answers as SNS does a caller without the sns:Publish permission: HTTP 403 with
// SNS's XML error body.
const http = require('node:http')
const { before, after } = require('node:test')

const THROTTLE_XML = `<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
  <RequestId>injected-throttle</RequestId>
</ErrorResponse>`

const INTERNAL_XML = `<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Receiver</Type><Code>InternalError</Code><Message>injected</Message></Error>
  <RequestId>injected-500</RequestId>
</ErrorResponse>`

const EXPIRED_XML = `<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error>
  <RequestId>injected-expired</RequestId>
</ErrorResponse>`

/** SNS's answer to a caller whose policy lacks sns:Publish on the topic. */
function authorizationXml(topicArn) {
  return `<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error>
    <Type>Sender</Type>
    <Code>AuthorizationError</Code>
    <Message>User: arn:aws:iam::123456789012:user/rocketchat is not authorized to perform: SNS:Publish on resource: ${topicArn} because no identity-based policy allows the SNS:Publish action</Message>
  </Error>
  <RequestId>9a3f0a6e-4c1b-5d2e-8f7a-injected403</RequestId>
</ErrorResponse>`
}

/** SNS's answer for a topic that does not exist. */
const NOT_FOUND_XML = `<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error>
  <RequestId>injected-404</RequestId>
</ErrorResponse>`

/** Renumbers `PublishBatchRequestEntries.member.N.*` keys after dropping some members. */
function dropMembers(form, drop) {
  const out = new URLSearchParams()
  const re = /^PublishBatchRequestEntries\.member\.(\d+)\.(.*)$/
  const members = new Map()
  for (const [k, v] of form) {
    const m = re.exec(k)
    if (!m) {
      out.append(k, v)
      continue
    }
    const n = Number(m[1])
    if (!members.has(n)) members.set(n, [])
    members.get(n).push([m[2], v])
  }
  const kept = [...members.keys()].sort((a, b) => a - b)
  const droppedIds = []
  const dropped = []
  let next = 1
  for (const n of kept) {
    const fields = members.get(n)
    if (drop.includes(n)) {
      droppedIds.push(fields.find(([f]) => f === 'Id')[1])
      dropped.push(Object.fromEntries(fields))
      continue
    }
    for (const [f, v] of fields) out.append(`PublishBatchRequestEntries.member.${next}.${f}`, v)
    next++
  }
  return { body: out.toString(), droppedIds, dropped, count: kept.length }
}

/** `Failed[]` members: by default a transient InternalError; a fault may give its own. */
function failedXml(ids, { code = 'InternalError', message = 'injected partial failure', senderFault = false } = {}) {
  return ids
    .map(
      (id) =>
        `<member><Id>${id}</Id><Code>${code}</Code><Message>${message}</Message><SenderFault>${senderFault}</SenderFault></member>`,
    )
    .join('')
}

function allFailedXml(failed) {
  return `<?xml version="1.0"?>
<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishBatchResult><Successful/><Failed>${failed}</Failed></PublishBatchResult>
  <ResponseMetadata><RequestId>injected-partial</RequestId></ResponseMetadata>
</PublishBatchResponse>`
}

/** A 403 whose message repeats the request's signature, as SignatureDoesNotMatch does. */
function echoAuthXml(req) {
  const auth = String(req.headers.authorization || '').replace(/&/g, '&amp;').replace(/</g, '&lt;')
  return `<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match. Authorization: ${auth}</Message></Error>
  <RequestId>injected-echo</RequestId>
</ErrorResponse>`
}

function startFaultProxy(target) {
  const faults = []
  let outages = []
  // Added to every PublishBatch that passes through: SNS slow, but up.
  let latencyMs = 0
  // `refused`: the entries a 'partial' fault failed, as the client sent them (Id,
  // Message, MessageGroupId, MessageAttributes.entry.N.*).
  const seen = { publishBatch: 0, injected: 0, entriesSent: 0, refused: [] }
  const sockets = new Set()
  const forward = (req, body) =>
    new Promise((resolve, reject) => {
      const upstream = http.request(
        target + req.url,
        { method: req.method, headers: { ...req.headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }))
        },
      )
      upstream.on('error', reject)
      upstream.end(body)
    })
  const server = http.createServer(async (req, res) => {
    const chunks = []
    for await (const c of req) chunks.push(c)
    const body = Buffer.concat(chunks).toString()
    const form = new URLSearchParams(body)
    const isBatch = form.get('Action') === 'PublishBatch'
    let fault = isBatch ? faults.shift() : undefined
    const outage = isBatch && !fault && outages.find((o) => Date.now() < o.until && (!o.topicArn || o.topicArn === form.get('TopicArn')))
    if (outage) {
      fault = { kind: outage.kinds[outage.n++ % outage.kinds.length] }
    }
    if (isBatch) seen.publishBatch++
    const reply = (status, text) => {
      res.writeHead(status, { 'content-type': 'text/xml' })
      res.end(text)
    }
    try {
      if (!fault) {
        if (isBatch && latencyMs > 0) {
          await new Promise((r) => setTimeout(r, latencyMs))
          if (res.destroyed || req.socket.destroyed) return
        }
        if (isBatch) seen.entriesSent += dropMembers(form, []).count
        const up = await forward(req, body)
        return reply(up.status, up.body)
      }
      seen.injected++
      switch (fault.kind) {
        case 'refuse':
          // Closest to a refused connection once accepted: reset without a byte.
          return req.socket.destroy()
        case 'http500':
          return reply(500, INTERNAL_XML)
        case 'http503':
          return reply(503, 'Service Unavailable')
        case 'throttle':
          return reply(400, THROTTLE_XML)
        case 'expired':
          return reply(403, EXPIRED_XML)
        case 'authorization':
          return reply(403, authorizationXml(form.get('TopicArn')))
        case 'notFound':
          return reply(404, NOT_FOUND_XML)
        case 'echoAuth':
          return reply(403, echoAuthXml(req))
        case 'slow': {
          // Hold the request; forward it only if the client is still waiting.
          await new Promise((r) => setTimeout(r, fault.ms))
          if (res.destroyed || req.socket.destroyed) return
          const up = await forward(req, body)
          return reply(up.status, up.body)
        }
        case 'lostAnswer': {
          // SNS took the batch, but the answer never reaches the client.
          seen.entriesSent += dropMembers(form, []).count
          await forward(req, body)
          return req.socket.destroy()
        }
        case 'partial': {
          // Entries at 1-based positions `fault.members` fail (with `fault.code`,
          // `fault.message` and `fault.senderFault` if given); the rest go to moto.
          const { body: rest, droppedIds, dropped, count } = dropMembers(form, fault.members)
          seen.entriesSent += count - droppedIds.length
          seen.refused.push(...dropped)
          const failed = failedXml(droppedIds, fault)
          if (droppedIds.length === count) {
            // Nothing left for moto, which refuses an empty batch: answer as SNS would.
            return reply(200, allFailedXml(failed))
          }
          const up = await forward(req, rest)
          const text = up.body.includes('<Failed/>') || up.body.includes('<Failed />')
            ? up.body.replace(/<Failed\s*\/>/, `<Failed>${failed}</Failed>`)
            : up.body.replace('<Failed>', `<Failed>${failed}`)
          return reply(up.status, text)
        }
        default:
          throw new Error(`unknown fault ${fault.kind}`)
      }
    } catch (e) {
      if (!res.headersSent) reply(502, String(e))
    }
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        seen,
        /** Queues faults, e.g. inject({ kind: 'throttle' }, { kind: 'partial', members: [2] }). */
        inject(...f) {
          faults.push(...f)
        },
        pendingFaults: () => faults.length,
        /**
         * Fails every PublishBatch (to `topicArn` only, if given) for `ms`, cycling
         * through `kinds`; returns when it ends (Date.now() milliseconds).
         */
        outage(ms, kinds = ['refuse', 'http503', 'throttle', 'http500'], { topicArn } = {}) {
          const o = { until: Date.now() + ms, kinds, n: 0, topicArn }
          outages = outages.filter((x) => x.topicArn !== topicArn).concat(o)
          return o.until
        },
        /** Holds every PublishBatch that passes `ms` longer (0: no more). */
        latency(ms) {
          latencyMs = ms
        },
        /** Ends every outage, or only the one of `topicArn`. */
        heal(topicArn) {
          outages = topicArn ? outages.filter((o) => o.topicArn !== topicArn) : []
        },
        close() {
          for (const s of sockets) s.destroy()
          return new Promise((r) => server.close(() => r()))
        },
      })
    })
  })
}

/**
 * A fault proxy for the describe blocks that call `use()`: started before their tests
 * against `target()`, closed after them. The handle takes the started proxy's members
 * (its methods are closures), so helpers outside the blocks can hold it from the start.
 */
function faultProxyFixture(target) {
  const handle = {
    use() {
      let started
      before(async () => {
        started = await startFaultProxy(target())
        Object.assign(handle, started)
      })
      after(() => started && started.close())
    },
  }
  return handle
}

module.exports = { startFaultProxy, faultProxyFixture }
