'use strict'
// Measures the SNS stub's own capacity: PublishBatch requests of 10 entries from 16
// keep-alive connections for a few seconds, with no logger in the way. Each entry is
// shaped as the addon sends it (Subject and four message attributes), so the stub does
// the same work per request as in the measured runs. Prints
// {"requestsPerSec":N,"eventsPerSec":N,"stubCpuUsPerRequest":N,"eventsPerStubCpuSec":N}:
// the first two are what this load generator got through (on 2 cores it competes with
// the stub for CPU), the last two the stub's own cost, from its CPU time, so its
// capacity on one core is eventsPerStubCpuSec.
//   node bench/stub-load.js <endpoint> [seconds]
const http = require('node:http')

const [endpoint, seconds = '3'] = process.argv.slice(2)
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
const form = new URLSearchParams({ Action: 'PublishBatch', Version: '2010-03-31', TopicArn: 'arn:aws:sns:us-east-1:123456789012:bench' })
for (let i = 1; i <= 10; i++) {
  const p = `PublishBatchRequestEntries.member.${i}`
  form.append(`${p}.Id`, `00000000-0000-7000-8000-00000000000${i % 10}`)
  form.append(`${p}.Message`, '{"dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"tab-5f1a2c","category":"Chat Session","action":"closed","properties":{"close_method":"chat window"},"eventType":"customerAction","timestamp":"2022-09-26T17:50:47.225Z"}')
  form.append(`${p}.Subject`, 'RC')
  const attributes = { eventId: `00000000-0000-7000-8000-0000000000${String(i).padStart(2, '0')}`, category: 'Chat Session', action: 'closed', eventType: 'customerAction' }
  Object.entries(attributes).forEach(([name, value], k) => {
    form.append(`${p}.MessageAttributes.entry.${k + 1}.Name`, name)
    form.append(`${p}.MessageAttributes.entry.${k + 1}.Value.DataType`, 'String')
    form.append(`${p}.MessageAttributes.entry.${k + 1}.Value.StringValue`, value)
  })
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

const stats = async () => (await fetch(`${endpoint}/stats`)).json()

async function main() {
  const before = await stats()
  const t0 = Date.now()
  await Promise.all(Array.from({ length: 16 }, worker))
  const s = (Date.now() - t0) / 1000
  const after = await stats()
  const stubCpuUsPerRequest = (after.cpuUs - before.cpuUs) / (after.requests - before.requests)
  process.stdout.write(
    `${JSON.stringify({ requestsPerSec: done / s, eventsPerSec: (done * 10) / s, stubCpuUsPerRequest, eventsPerStubCpuSec: (10 * 1e6) / stubCpuUsPerRequest })}\n`,
  )
  agent.destroy()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
