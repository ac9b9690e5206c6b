'use strict'
// A check of a built package on any platform, with nothing but Node: loads the
// package (or the path given), logs events to bench/sns-stub.js (a PublishBatch stand-in
// on 127.0.0.1) and checks each arrived once. The release workflow runs it on every
// platform it builds for, where moto, Chromium and the full suite are not at hand.
//   node scripts/smoke-test.js [package path or name]
const { spawn } = require('node:child_process')
const path = require('node:path')
const assert = require('node:assert/strict')

const target = process.argv[2] || path.join(__dirname, '..')
const { AnalyticsLogger } = require(target)
const EVENTS = 100

async function main() {
  const stub = spawn(process.execPath, [path.join(__dirname, '..', 'bench', 'sns-stub.js')], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise((resolve, reject) => {
    stub.once('error', reject)
    stub.stdout.once('data', (d) => resolve(/listening (\d+)/.exec(String(d))[1]))
  })
  const endpoint = `http://127.0.0.1:${port}`
  try {
    const logger = new AnalyticsLogger({
      topicArn: 'arn:aws:sns:us-east-1:123456789012:smoke.fifo',
      siteUrl: 'https://chat.example.com',
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'smoke', secretAccessKey: 'smoke' },
    })
    const ids = []
    for (let i = 0; i < EVENTS; i++) ids.push(logger.log({ category: 'Window', action: 'opened', properties: { n: i } }))
    // A deadline for the check, not for speed: a debug build under qemu takes seconds.
    const report = await logger.close({ timeoutMs: 60_000 })
    assert.equal(report.delivered, EVENTS, JSON.stringify(report))
    const received = await (await fetch(`${endpoint}/received`)).json()
    assert.deepEqual(Object.keys(received).sort(), ids.sort())
    console.log(`smoke test: ${EVENTS} events delivered once each on ${process.platform}-${process.arch}, Node ${process.version}`)
  } finally {
    stub.kill()
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
