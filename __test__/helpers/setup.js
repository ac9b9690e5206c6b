'use strict'
// Shared set-up for the node tests: one moto per test file, and loggers that are
// closed when the file ends.
process.env.AWS_EC2_METADATA_DISABLED = 'true'
// The AWS JS SDK (used only to read results back) warns about Node 20 on every run.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
const { before, after } = require('node:test')
const { AnalyticsLogger } = require('../..')
const moto = require('./moto')

const SITE_URL = 'https://chat.example.com'

function useMoto() {
  const ctx = { moto: null, loggers: [] }
  before(async () => {
    ctx.moto = await moto.startMoto()
  })
  after(async () => {
    await Promise.all(ctx.loggers.map((l) => l.close({ timeoutMs: 2000 }).catch(() => {})))
    if (ctx.moto) await ctx.moto.stop()
  })
  /** A logger against moto (or `endpoint`), closed after the file. */
  ctx.logger = (options) => {
    const logger = new AnalyticsLogger({
      siteUrl: SITE_URL,
      endpoint: ctx.moto.endpoint,
      region: moto.REGION,
      credentials: moto.CREDENTIALS,
      flushIntervalMs: 50,
      ...options,
    })
    ctx.loggers.push(logger)
    return logger
  }
  ctx.topic = (opts) => moto.topicWithQueue(ctx.moto, opts)
  ctx.drain = (queueUrl, opts) => moto.drainQueue(ctx.moto, queueUrl, opts)
  return ctx
}

/**
 * Waits until `done()` holds, for state the background reaches in its own time
 * (onError callbacks run later, on this thread). Throws after 10 s: a wait, not a
 * speed check.
 */
async function waitFor(what, done) {
  const until = Date.now() + 10_000
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * The account of a flush()/close() report (or a stats() read while nothing moves):
 * every accepted event is delivered, failed, dropped, dead-lettered, held or queued.
 */
function assertBalanced(r, what = 'the account') {
  const sum = r.delivered + r.failed + r.dropped + r.deadLettered + r.held + r.queued
  if (r.accepted !== sum) throw new Error(`${what} does not balance: accepted ${r.accepted} != ${sum} in ${JSON.stringify(r)}`)
}

/**
 * The loggers' own folders inside a spoolDir (`instance-<id>`, see
 * src/core/spool/instances.rs), oldest first.
 */
function instanceFolders(spoolDir) {
  const fs = require('node:fs')
  const path = require('node:path')
  return fs
    .readdirSync(spoolDir)
    .filter((f) => f.startsWith('instance-'))
    .sort()
    .map((f) => path.join(spoolDir, f))
}

/** The one instance folder of a spoolDir that loggers used one after the other. */
function instanceFolder(spoolDir) {
  const folders = instanceFolders(spoolDir)
  if (folders.length !== 1) throw new Error(`expected one instance folder in ${spoolDir}, found ${folders.length}`)
  return folders[0]
}

module.exports = { useMoto, waitFor, assertBalanced, instanceFolders, instanceFolder, SITE_URL, AnalyticsLogger }
