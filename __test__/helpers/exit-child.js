'use strict'
// Runs `fixtures/exit-child.js` in a mode (see its header) with extra environment,
// and resolves with how it ended and what it printed.
const { spawn } = require('node:child_process')
const path = require('node:path')

const CHILD = path.join(__dirname, '..', 'fixtures', 'exit-child.js')

function runExitChild(mode, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, mode], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    // Not a speed check: a child that never exits is the failure being detected.
    const guard = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child '${mode}' did not exit within 30 s: something kept Node alive\n${stderr}`))
    }, 30_000)
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

module.exports = { runExitChild }
