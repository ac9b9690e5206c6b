'use strict'
// Starts sigv4_proxy.py (an independent SigV4 check, botocore's, in front of moto)
// with moto's own Python, and runs the log-child fixture against it.
const { spawn } = require('node:child_process')
const path = require('node:path')
const { ROOT } = require('./moto')
const { runChild } = require('./exit-child')

const PYTHON = path.join(ROOT, '.venv-moto', 'bin', 'python')
const PROXY = path.join(__dirname, 'sigv4_proxy.py')
const LOG_CHILD = path.join(__dirname, '..', 'fixtures', 'log-child.js')

/** Resolves to { endpoint, stats(), stop() }; `keys` maps access key ids to { secret, token?, denied? }. */
function startSigv4Proxy(upstream, keys, region = 'us-east-1') {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PROXY, upstream, JSON.stringify({ region, keys })], { stdio: ['ignore', 'pipe', 'inherit'] })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`sigv4_proxy.py exited with ${code}`)))
    child.stdout.once('data', (d) => {
      const m = /listening (\d+)/.exec(String(d))
      if (!m) return reject(new Error(`sigv4_proxy.py said ${d}`))
      const endpoint = `http://127.0.0.1:${m[1]}`
      resolve({
        endpoint,
        async stats() {
          const res = await fetch(`${endpoint}/__sigv4/stats`)
          return res.json()
        },
        stop() {
          child.removeAllListeners('exit')
          child.kill('SIGTERM')
        },
      })
    })
  })
}

/**
 * Runs fixtures/log-child.js with `env` and `extraEnv` added (e.g. libfaketime's) and
 * resolves with its JSON line: { ids, report, errors, stats, now }.
 */
async function runLogChild(env, { extraEnv = {} } = {}) {
  const { code, stdout, stderr } = await runChild([process.execPath, LOG_CHILD], { ...env, ...extraEnv }, { limitMs: 120_000, what: 'log-child' })
  const line = stdout.trim().split('\n').pop()
  if (code !== 0 || !line) throw new Error(`log-child exited with ${code}\n${stdout}\n${stderr}`)
  return JSON.parse(line)
}

/**
 * What `proxy` (startSigv4Proxy's) counted while `fn` ran: its result, the requests the
 * proxy passed (`verified`) and the ones it refused, by AWS error code.
 */
async function counted(proxy, fn) {
  const before = await proxy.stats()
  const result = await fn()
  const afterwards = await proxy.stats()
  const refused = {}
  for (const [code, n] of Object.entries(afterwards.refused)) {
    const d = n - (before.refused[code] ?? 0)
    if (d > 0) refused[code] = d
  }
  return { result, refused, verified: afterwards.verified - before.verified }
}

module.exports = { startSigv4Proxy, runLogChild, counted }
