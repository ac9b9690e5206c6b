'use strict'
// Runs child processes for the tests and resolves with how they ended and what they
// printed. A child that does not end within its limit is killed and the test fails:
// not a speed check, the failure being detected is a child that never exits.
const { spawn } = require('node:child_process')
const path = require('node:path')

const CHILD = path.join(__dirname, '..', 'fixtures', 'exit-child.js')

/** Runs `argv` with `env` added; resolves to { code, signal, stdout, stderr }. */
function runChild(argv, env, { limitMs = 30_000, what = argv.join(' ') } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const guard = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${what} did not exit within ${limitMs / 1000} s: something kept it alive\n${stderr}`))
    }, limitMs)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Runs `fixtures/exit-child.js` in a mode (see its header) with extra environment. */
function runExitChild(mode, env) {
  return runChild([process.execPath, CHILD, mode], env, { what: `child '${mode}'` })
}

module.exports = { runChild, runExitChild }
