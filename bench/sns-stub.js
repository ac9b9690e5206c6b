'use strict'
// A fast SNS stand-in for benchmarks only: answers the awsQuery PublishBatch call
// with every entry successful, and counts. It runs as its own process, so its CPU
// is not the logger's. Never used by tests as a substitute for moto.
//   node bench/sns-stub.js            prints "listening <port>" and serves
//   GET /stats                        {"requests":N,"entries":N}
const http = require('node:http')

let requests = 0
let entries = 0
let seq = 0
const ID = /PublishBatchRequestEntries\.member\.(\d+)\.Id=([^&]*)/g

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' })
    return res.end(JSON.stringify({ requests, entries }))
  }
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString()
    let members = ''
    for (const m of body.matchAll(ID)) {
      const id = decodeURIComponent(m[2])
      members += `<member><Id>${id}</Id><MessageId>${id}</MessageId><SequenceNumber>${++seq}</SequenceNumber></member>`
      entries++
    }
    requests++
    res.writeHead(200, { 'content-type': 'text/xml' })
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
