'use strict'
// A fast SNS stand-in for benchmarks only: answers the awsQuery PublishBatch and
// Publish calls with success, and records when each event (by its `eventId` message
// attribute) arrived. It runs as its own process, so its CPU is not the logger's.
// Never a substitute for moto in tests.
//   node bench/sns-stub.js      prints "listening <port>" and serves
//   GET  /stats                 {"requests":N,"entries":N,"cpuUs":N} (cpuUs: this process's CPU time)
//   GET  /received              {"<eventId>": <arrival, epoch microseconds>, ...} and forgets them
const net = require('node:net')
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
    // The value follows its name in every client seen (the SDKs sort attributes'
    // fields); searching from the start as well keeps other orders working.
    let v = body.indexOf(key, at)
    if (v < 0) v = body.indexOf(key)
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

/** The answer to one request: [status, content type, body]. */
function answer(method, url, body) {
  if (method === 'GET' && url === '/stats') {
    const cpu = process.cpuUsage()
    return [200, 'application/json', JSON.stringify({ requests, entries, cpuUs: cpu.user + cpu.system })]
  }
  if (method === 'GET' && url === '/received') {
    const out = JSON.stringify(Object.fromEntries(received))
    received = new Map()
    return [200, 'application/json', out]
  }
  const at = nowUs()
  requests++
  if (process.env.RECORD !== '0') for (const id of eventIds(body)) received.set(id, at)
  if (body.startsWith('Action=Publish&') || body.includes('&Action=Publish&') || body.endsWith('&Action=Publish')) {
    entries++
    return [200, 'text/xml', `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-${++seq}</MessageId></PublishResult><ResponseMetadata><RequestId>stub-${requests}</RequestId></ResponseMetadata></PublishResponse>`]
  }
  let members = ''
  for (const id of entryIds(body)) {
    members += `<member><Id>${id}</Id><MessageId>${id}</MessageId><SequenceNumber>${++seq}</SequenceNumber></member>`
    entries++
  }
  return [200, 'text/xml', `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${members}</Successful><Failed/></PublishBatchResult><ResponseMetadata><RequestId>stub-${requests}</RequestId></ResponseMetadata></PublishBatchResponse>`]
}

const HEAD_END = Buffer.from('\r\n\r\n')
const REASONS = { 200: 'OK', 501: 'Not Implemented' }

// HTTP/1.1 over `net` rather than `node:http`: on a 2-core machine the stub shares the
// cores with the logger being measured, and node:http's per-request machinery was
// most of the stub's CPU. Requests carry a Content-Length (every SDK and the addon
// send one); anything else is refused loudly rather than misread.
function serve(socket) {
  socket.setNoDelay(true)
  let pending = Buffer.alloc(0)
  const reply = (status, type, body, close) => {
    socket.write(`HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${close ? 'connection: close\r\n' : ''}\r\n${body}`)
    if (close) socket.end()
  }
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    for (;;) {
      const headEnd = pending.indexOf(HEAD_END)
      if (headEnd < 0) return
      const head = pending.toString('latin1', 0, headEnd)
      const [method, url] = head.slice(0, head.indexOf('\r\n')).split(' ')
      if (/\r\ntransfer-encoding:/i.test(head)) return reply(501, 'text/plain', 'the bench stub reads Content-Length bodies only', true)
      const length = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1] ?? 0)
      const start = headEnd + HEAD_END.length
      if (pending.length < start + length) return
      const body = pending.toString('latin1', start, start + length)
      pending = pending.subarray(start + length)
      const [status, type, out] = answer(method, url, body)
      const close = /\r\nconnection:[ \t]*close/i.test(head)
      reply(status, type, out, close)
      if (close) return
    }
  })
  socket.on('error', () => socket.destroy())
}

const server = net.createServer(serve)
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
