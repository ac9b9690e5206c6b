'use strict'
// Measures the SNS stub's own capacity: PublishBatch requests of 10 entries from 16
// keep-alive connections for a few seconds, with no logger in the way. Prints
// {"requestsPerSec":N,"eventsPerSec":N}.
//   node bench/stub-load.js <endpoint> [seconds]
const http = require('node:http')

const [endpoint, seconds = '3'] = process.argv.slice(2)
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
const form = new URLSearchParams({ Action: 'PublishBatch', Version: '2010-03-31', TopicArn: 'arn:aws:sns:us-east-1:123456789012:bench' })
for (let i = 1; i <= 10; i++) {
  const p = `PublishBatchRequestEntries.member.${i}`
  form.append(`${p}.Id`, `00000000-0000-7000-8000-00000000000${i % 10}`)
  form.append(`${p}.Message`, '{"dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"tab-5f1a2c","category":"Chat Session","action":"closed","properties":{"close_method":"chat window"},"eventType":"customerAction","timestamp":"2022-09-26T17:50:47.225Z"}')
  form.append(`${p}.MessageAttributes.entry.1.Name`, 'eventId')
  form.append(`${p}.MessageAttributes.entry.1.Value.DataType`, 'String')
  form.append(`${p}.MessageAttributes.entry.1.Value.StringValue`, `load-${i}`)
}
const body = form.toString()
let done = 0
const until = Date.now() + Number(seconds) * 1000

function one() {
  return new Promise((resolve, reject) => {
    const req = http.request(`${endpoint}/`, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function worker() {
  while (Date.now() < until) {
    await one()
    done++
  }
}

const t0 = Date.now()
Promise.all(Array.from({ length: 16 }, worker)).then(() => {
  const s = (Date.now() - t0) / 1000
  process.stdout.write(`${JSON.stringify({ requestsPerSec: done / s, eventsPerSec: (done * 10) / s })}\n`)
  agent.destroy()
})
