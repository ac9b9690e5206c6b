'use strict'
// A fast SNS stand-in for benchmarks only: answers the awsQuery PublishBatch and
// Publish calls with success, and records when each event (by its `eventId` message
// attribute) arrived. It runs as its own process, so its CPU is not the logger's.
// Never a substitute for moto in tests.
//   node bench/sns-stub.js      prints "listening <port>" and serves
//   GET  /stats                 {"requests":N,"entries":N}
//   GET  /received              {"<eventId>": <arrival, epoch microseconds>, ...} and forgets them
const http = require('node:http')
const { performance } = require('node:perf_hooks')

let requests = 0
let entries = 0
let seq = 0
let received = new Map()
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000)

/** The `eventId` attribute values of a request, found by scanning, not parsing. */
function eventIds(body) {
  const out = []
  let from = 0
  for (;;) {
    const at = body.indexOf('.Name=eventId', from)
    if (at < 0) return out
    // <prefix>MessageAttributes.entry.N.Name=eventId ... <prefix>MessageAttributes.entry.N.Value.StringValue=<id>
    const prefix = body.slice(body.lastIndexOf('&', at) + 1, at)
    const key = `${prefix}.Value.StringValue=`
    const v = body.indexOf(key)
    if (v >= 0) {
      const end = body.indexOf('&', v)
      out.push(decodeURIComponent(body.slice(v + key.length, end < 0 ? undefined : end)))
    }
    from = at + 1
  }
}

/** Entry ids of a PublishBatch request. */
function entryIds(body) {
  const out = []
  let from = 0
  for (;;) {
    const at = body.indexOf('.Id=', from)
    if (at < 0) return out
    const end = body.indexOf('&', at)
    out.push(decodeURIComponent(body.slice(at + 4, end < 0 ? undefined : end)))
    from = at + 4
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return res.end(JSON.stringify({ requests, entries }))
  }
  if (req.method === 'GET' && req.url === '/received') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(Object.fromEntries(received)))
    received = new Map()
    return
  }
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString()
    const at = nowUs()
    requests++
    if (process.env.RECORD !== '0') for (const id of eventIds(body)) received.set(id, at)
    res.writeHead(200, { 'content-type': 'text/xml' })
    if (body.startsWith('Action=Publish&') || body.includes('&Action=Publish&') || body.endsWith('&Action=Publish')) {
      entries++
      return res.end(
        `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-${++seq}</MessageId></PublishResult><ResponseMetadata><RequestId>stub-${requests}</RequestId></ResponseMetadata></PublishResponse>`,
      )
    }
    let members = ''
    for (const id of entryIds(body)) {
      members += `<member><Id>${id}</Id><MessageId>${id}</MessageId><SequenceNumber>${++seq}</SequenceNumber></member>`
      entries++
    }
    res.end(
      `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${members}</Successful><Failed/></PublishBatchResult><ResponseMetadata><RequestId>stub-${requests}</RequestId></ResponseMetadata></PublishBatchResponse>`,
    )
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
