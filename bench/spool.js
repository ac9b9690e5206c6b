'use strict'
// What the disk spool costs: the same events logged and delivered with and without
// `spoolDir`, against the SNS stub (bench/sns-stub.js, its own process), rounds
// alternating, medians printed. Per event: log() on the JavaScript thread, the
// main thread's busy time over the whole run until everything is acknowledged
// (event-loop utilization), and total CPU of this process (every thread).
//   node bench/spool.js [events per round] [rounds]
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { AnalyticsLogger } = require('..')
const { EVENT, median, BASE_OPTIONS } = require('./common')

const N = Number(process.argv[2] || 50_000)
const ROUNDS = Number(process.argv[3] || 5)

function startStub() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'sns-stub.js')], { stdio: ['ignore', 'pipe', 'inherit'] })
    child.stdout.once('data', (d) => {
      const m = /listening (\d+)/.exec(String(d))
      if (!m) return reject(new Error(`stub said ${d}`))
      resolve({ endpoint: `http://127.0.0.1:${m[1]}`, stop: () => child.kill('SIGTERM') })
    })
    child.once('error', reject)
  })
}

async function run(endpoint, spoolDir) {
  const logger = new AnalyticsLogger({
    topicArn: 'arn:aws:sns:us-east-1:123456789012:bench',
    ...BASE_OPTIONS,
    endpoint,
    maxQueueEvents: N + 1,
    ...(spoolDir ? { spoolDir } : {}),
  })
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const t0 = process.hrtime.bigint()
  // Log in slices so that the delivery runs alongside, as in a server.
  let logNs = 0n
  for (let done = 0; done < N; ) {
    const s = process.hrtime.bigint()
    for (let i = 0; i < 1000 && done < N; i++, done++) logger.log(EVENT)
    logNs += process.hrtime.bigint() - s
    await new Promise((r) => setImmediate(r))
  }
  const report = await logger.flush()
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  const elu = performance.eventLoopUtilization(elu0)
  const cpu = process.cpuUsage(cpu0)
  await logger.close()
  if (report.delivered !== N) throw new Error(`delivered ${report.delivered} of ${N}`)
  return {
    logNs: Number(logNs) / N,
    mainNs: (elu.active * 1e6) / N,
    cpuUs: (cpu.user + cpu.system) / N,
    perSec: N / wall,
  }
}

async function main() {
  const stub = await startStub()
  const dirs = []
  const results = { memory: [], spool: [] }
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      for (const name of ['memory', 'spool']) {
        let dir
        if (name === 'spool') {
          dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-bench-spool-'))
          dirs.push(dir)
        }
        const r = await run(stub.endpoint, dir)
        if (round > 0) results[name].push(r) // round 0 warms up
      }
    }
  } finally {
    stub.stop()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
  console.log(`spool cost: ${N} events per round, ${ROUNDS} rounds alternating, medians; Node ${process.version}, ${os.cpus().length} CPUs`)
  console.log('               log() ns/event   main thread ns/event   process CPU us/event   events/s')
  const row = (name) => {
    const rs = results[name]
    const m = (k) => median(rs.map((r) => r[k]))
    console.log(`${name.padEnd(14)} ${m('logNs').toFixed(0).padStart(15)} ${m('mainNs').toFixed(0).padStart(22)} ${m('cpuUs').toFixed(2).padStart(22)} ${m('perSec').toFixed(0).padStart(10)}`)
    return { log: m('logNs'), main: m('mainNs'), cpu: m('cpuUs') }
  }
  const a = row('memory')
  const b = row('spool')
  console.log(`spool - memory: log() ${(b.log - a.log).toFixed(0)} ns, main thread ${(b.main - a.main).toFixed(0)} ns, process CPU ${(b.cpu - a.cpu).toFixed(2)} us per event`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
