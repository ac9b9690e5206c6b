'use strict'
// Runs child processes for the tests and resolves with how they ended and what they
// printed. A child that does not end within its limit is killed and the test fails:
// not a speed check, the failure being detected is a child that never exits.
const { spawn } = require('node:child_process')
const path = require('node:path')

const CHILD = path.join(__dirname, '..', 'fixtures', 'exit-child.js')

/** Runs `argv` with `env` added; resolves to { code, signal, stdout, stderr }. */
async function runChild(argv, env, { limitMs = 30_000, what = argv.join(' ') } = {}) {
  const { code, signal, stdout, stderr, timedOut } = await startChild(argv, env, { limitMs }).exited
  if (timedOut) throw new Error(`${what} did not exit within ${limitMs / 1000} s: something kept it alive\n${stderr}`)
  return { code, signal, stdout, stderr }
}

/**
 * Starts `argv` with `env` added and leaves it running: `stdout()`/`stderr()` as they
 * are so far, `printed(line)` waits for a whole line, `exited` resolves to { code,
 * signal, stdout, stderr, at, timedOut } (`at`: Date.now() when it ended). A child
 * still running after `limitMs` is killed (`timedOut`): not a speed check, a child that
 * never ends is the failure.
 */
function startChild(argv, env, { limitMs = 120_000 } = {}) {
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  let timedOut = false
  const guard = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, limitMs)
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr, at: Date.now(), timedOut })
    }),
  )
  const { waitFor } = require('./setup')
  const printed = (line) => waitFor(`the child to print ${line}\n${stderr}`, () => stdout.split('\n').includes(line))
  return { child, exited, printed, stdout: () => stdout, stderr: () => stderr }
}

/** Runs `fixtures/exit-child.js` in a mode (see its header) with extra environment. */
function runExitChild(mode, env) {
  return runChild([process.execPath, CHILD, mode], env, { what: `child '${mode}'` })
}

module.exports = { runChild, runExitChild, startChild }
