'use strict'
// Options that touch the filesystem (a plan path, a spool folder), tried in a child
// process: with an environment of its own (RC_SNS_ANALYTICS_PATH_ROOT), and under a
// timeout, so that an option that would hang (a named pipe, /dev/zero as the plan)
// fails the test instead of hanging it.
//
// As a module: tryOptions(cases, env) runs this file and returns, per case, null
// when it was accepted or { code, option, setting, message } when it threw. A case is
// { logger: options } (new AnalyticsLogger(options), closed at once) or
// { settings: values } (optionsFromSettings(id => values[id], siteUrl)).
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const SITE_URL = 'https://chat.example.com'

function tryOptions(cases, env = {}) {
  const assert = require('node:assert/strict')
  const { spawnSync } = require('node:child_process')
  const r = spawnSync(process.execPath, [__filename, JSON.stringify(cases)], {
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(r.signal, null, `the options hung, and the child was killed: ${r.stderr}`)
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout)
}

async function child(cases) {
  const { AnalyticsLogger, optionsFromSettings } = require(ROOT)
  const results = []
  for (const c of cases) {
    try {
      if (c.logger) {
        const logger = new AnalyticsLogger({ siteUrl: SITE_URL, credentials: { accessKeyId: 'a', secretAccessKey: 's' }, ...c.logger })
        await logger.close({ timeoutMs: 0 })
      } else {
        optionsFromSettings((id) => c.settings[id], SITE_URL)
      }
      results.push(null)
    } catch (e) {
      results.push({ code: e.code, option: e.option, setting: e.setting, message: e.message })
    }
  }
  process.stdout.write(JSON.stringify(results))
  process.exit(0)
}

if (require.main === module) child(JSON.parse(process.argv[2]))

module.exports = { tryOptions }
