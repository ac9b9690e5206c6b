'use strict'
// The Apps-Engine contribution (rocketchat/apps-engine/*.ts), compiled with tsc against
// @rocket.chat/apps-engine@1.62.0 (the last release whose package carries server/) and
// run against its real server classes: BaseBridge, AppPermissionManager with the App's
// granted permissions from AppManager's own lookup (getPermissionsById on a manager
// whose apps hold their storage items), and PermissionDeniedError. Events go through
// rocketchat-sns-analytics's AppsEngineBridge to moto.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto } = require('./helpers/setup')
const { ROOT } = require('./helpers/moto')
const { AppsEngineBridge } = require('..')

const ctx = useMoto()
const ENGINE = path.join(ROOT, 'node_modules', 'apps-engine-1.62')
const { AppManager } = require(path.join(ENGINE, 'server', 'AppManager'))
const { BaseBridge } = require(path.join(ENGINE, 'server', 'bridges', 'BaseBridge'))

const PERMITTED = '0c6c2f5b-7c3e-4c0e-9d4f-6a1b2c3d4e5f'
const DENIED = '1d7d3a6c-8d4f-4d1f-8e5a-7b2c3d4e5f60'

describe('the Apps-Engine AnalyticsBridge against @rocket.chat/apps-engine@1.62.0', () => {
  let out
  let contribution
  let savedEnv
  let savedInstance
  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-analytics-apps-engine-'))
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'rocketchat', 'apps-engine', 'tsconfig.json'), '--outDir', out], { encoding: 'utf8' })
    // The sources import @rocket.chat/apps-engine as upstream does; here that name is
    // 1.66.0 (typings only), so the compiled files point at 1.62.0.
    for (const file of fs.readdirSync(out)) {
      const p = path.join(out, file)
      fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replaceAll('require("@rocket.chat/apps-engine/', `require(${JSON.stringify(`${ENGINE}/`).slice(0, -1)}`))
    }
    contribution = require(path.join(out, 'index.js'))
    // AppPermissionManager grants everything when NODE_ENV is 'test'.
    savedEnv = process.env.NODE_ENV
    delete process.env.NODE_ENV
    // The real lookup: getPermissionsById reads each App's storage item.
    savedInstance = AppManager.Instance
    const manager = Object.create(AppManager.prototype)
    manager.apps = new Map([
      [PERMITTED, { getStorageItem: () => ({ permissionsGranted: [{ name: 'analytics.write' }] }) }],
      [DENIED, { getStorageItem: () => ({ permissionsGranted: [{ name: 'user.read' }] }) }],
    ])
    AppManager.Instance = manager
  })
  after(() => {
    AppManager.Instance = savedInstance
    if (savedEnv !== undefined) process.env.NODE_ENV = savedEnv
    fs.rmSync(out, { recursive: true, force: true })
  })

  /** Runs `fn` with console.error captured: AppPermissionManager.notifyAboutError writes there. */
  async function capturingErrors(fn) {
    const original = console.error
    const seen = []
    console.error = (...args) => seen.push(args)
    try {
      return { result: await fn(), seen }
    } finally {
      console.error = original
    }
  }

  it('logs for an App with analytics.write, through the shim, with its appId', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const shim = new AppsEngineBridge(ctx.logger({ topicArn }))
    const bridge = new contribution.AppAnalyticsBridge(() => shim)
    assert.ok(bridge instanceof BaseBridge, 'a real BaseBridge')
    const viaBridge = await bridge.doLogEvent({ category: 'Survey', action: 'link_clicked', eventType: 'customerAction' }, PERMITTED)
    const viaAccessor = await new contribution.AnalyticsModify(bridge, PERMITTED).logEvent({ category: 'Window', action: 'opened', eventType: 'customerAction' })
    const msgs = await ctx.drain(queueUrl, { expected: 2 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), [viaBridge, viaAccessor])
    for (const m of msgs) assert.equal(m.attributes.appId, PERMITTED)
  })

  it("denies an App without the permission as the Apps-Engine's bridges do: notified, resolved undefined", async () => {
    const { topicArn } = await ctx.topic()
    const logger = ctx.logger({ topicArn })
    const bridge = new contribution.AppAnalyticsBridge(() => new AppsEngineBridge(logger))
    const { result, seen } = await capturingErrors(() => bridge.doLogEvent({ category: 'Survey', action: 'link_clicked' }, DENIED))
    assert.equal(result, undefined)
    assert.equal(seen.length, 1)
    // notifyAboutError prints a PermissionDeniedError as one string (name, message,
    // the App's call stack); anything else it prints as the error object.
    assert.equal(typeof seen[0][0], 'string', 'reported as a PermissionDeniedError')
    assert.match(seen[0][0], new RegExp(`the app \\(${DENIED}\\) lacks the following permissions:\\n\\["analytics\\.write"\\]`))
    const viaAccessor = await capturingErrors(() => new contribution.AnalyticsModify(bridge, DENIED).logEvent({ category: 'c', action: 'a' }))
    assert.equal(viaAccessor.result, undefined)
    assert.equal(viaAccessor.seen.length, 1)
    await logger.flush()
    assert.equal(logger.stats().delivered, 0, 'nothing logged for the denied App')
  })

  it('rejects while analytics are switched off, and declares the permission the Apps-Engine way', async () => {
    const bridge = new contribution.AppAnalyticsBridge(() => null)
    await assert.rejects(bridge.doLogEvent({ category: 'c', action: 'a' }, PERMITTED), /switched off/)
    assert.deepEqual(contribution.AnalyticsPermissions, { analytics: { write: { name: 'analytics.write' } } })
  })
})
