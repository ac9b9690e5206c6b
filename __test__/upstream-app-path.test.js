'use strict'
// An App's analytics event end to end through the pull request in rocketchat/upstream/, compiled
// (tsconfig.json) and run against moto:
//   the App's `modify.getAnalyticsModifier().logEvent(event)` (base-runtime AnalyticsModify, from
//   getModifier() in accessors/mod.ts) -> bridgeCall -> the App process's request ->
//   handleBridgeMessage (BaseRuntimeSubprocessController stand-in, with the pull request's refusal
//   of a non-sentinel caller) -> RealAppBridges.getAnalyticsBridge() -> AppAnalyticsBridge (the
//   Meteor file) -> AnalyticsBridge.doLogEvent (packages/apps, on @rocket.chat/apps-engine@1.62.0's
//   real BaseBridge, AppPermissionManager and PermissionDeniedError, with the App's granted
//   permissions from AppManager's own lookup) -> this package's appsBridge (the ownership table,
//   then AppsEngineBridge), on the logger that bindSettings keeps in step with the
//   SNS_Analytics_* settings -> SNS -> SQS.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const jsonrpc = require('jsonrpc-lite')
const { useMoto } = require('./helpers/setup')
const moto = require('./helpers/moto')
const { buildUpstream } = require('./helpers/rocketchat/upstream-build')
const { AppsEngineBridge, settingsDefinitions } = require('..')

const ctx = useMoto()
const ENGINE = path.join(moto.ROOT, 'node_modules', 'apps-engine-1.62', 'server')
const { AppManager } = require(path.join(ENGINE, 'AppManager'))
const { AppPermissionManager } = require(path.join(ENGINE, 'managers', 'AppPermissionManager'))
const { PermissionDeniedError } = require(path.join(ENGINE, 'errors', 'PermissionDeniedError'))

const PERMITTED = '0c6c2f5b-7c3e-4c0e-9d4f-6a1b2c3d4e5f'
const OTHER = '2e8e4b7d-9e5a-4e2a-9f6b-8c3d4e5f6a71'
const DENIED = '1d7d3a6c-8d4f-4d1f-8e5a-7b2c3d4e5f60'

describe("an App's analytics event through the pull request, to SNS", () => {
  let built
  let runtime
  let host
  let settings
  let snsAnalytics
  let Logger
  let bridges
  let debugLines
  let queueUrl
  let savedEnv
  let savedInstance

  before(async () => {
    built = buildUpstream()
    runtime = {
      ...built.load('packages/apps/base-runtime/src/lib/accessors/mod'),
      ...built.load('packages/apps/base-runtime/src/lib/bridges/bridgeCall'),
    }
    host = {
      ...built.load('packages/apps/src/server/runtime/base/BaseRuntimeSubprocessController'),
      ...built.load('packages/apps/src/server/accessors'),
    }
    ;({ settings } = built.load('apps/meteor/server/settings'))
    ;({ Logger } = built.load('packages/logger/src'))

    // AppPermissionManager grants everything when NODE_ENV is 'test'; the real lookup instead:
    // getPermissionsById reads each installed App's storage item.
    savedEnv = process.env.NODE_ENV
    delete process.env.NODE_ENV
    savedInstance = AppManager.Instance
    const manager = Object.create(AppManager.prototype)
    manager.apps = new Map([
      [PERMITTED, { getStorageItem: () => ({ permissionsGranted: [{ name: 'analytics.write' }] }) }],
      [OTHER, { getStorageItem: () => ({ permissionsGranted: [{ name: 'analytics.write' }] }) }],
      [DENIED, { getStorageItem: () => ({ permissionsGranted: [{ name: 'user.read' }] }) }],
    ])
    AppManager.Instance = manager

    // The server's settings: every SNS_Analytics_* at its default, then the admin's values.
    for (const s of settingsDefinitions().settings) settings.set(s.id, s.packageValue)
    settings.set('Site_Url', 'https://chat.example.com')
    ;({ snsAnalytics } = built.load('apps/meteor/server/lib/snsAnalytics'))
    assert.equal(snsAnalytics.logger, null, 'off until enabled')
    let topicArn
    ;({ topicArn, queueUrl } = await ctx.topic({ fifo: true }))
    for (const [id, value] of Object.entries({
      SNS_Analytics_Topic_ARN: topicArn,
      SNS_Analytics_Region: moto.REGION,
      SNS_Analytics_Endpoint: ctx.moto.endpoint,
      SNS_Analytics_Access_Key_Id: moto.CREDENTIALS.accessKeyId,
      SNS_Analytics_Secret_Access_Key: moto.CREDENTIALS.secretAccessKey,
      SNS_Analytics_Flush_Interval_Ms: 50,
      // The admin lets both Apps log every category (appAccess denies Apps by default).
      SNS_Analytics_App_Access: JSON.stringify({ [PERMITTED]: { categories: ['*'] }, [OTHER]: { categories: ['*'] } }),
      SNS_Analytics_Enabled: true,
    })) {
      settings.set(id, value)
    }
    assert.ok(snsAnalytics.logger, 'bindSettings made the logger')

    // One RealAppBridges per server (AppManager.getBridges()), shared by every App's controller.
    debugLines = []
    bridges = new (built.load('apps/meteor/app/apps/server/bridges/bridges').RealAppBridges)({ debugLog: (...args) => debugLines.push(args.join(' ')) })
  })

  after(async () => {
    if (snsAnalytics) await snsAnalytics.close()
    AppManager.Instance = savedInstance
    if (savedEnv !== undefined) process.env.NODE_ENV = savedEnv
    if (built) built.cleanup()
  })

  /**
   * One App's process and the host's controller for it: the App's requests go as JSON-RPC to
   * the controller, as messenger.ts's sendRequest sends them (resolving to the success object,
   * rejecting with the error object); a structured clone stands for the codec between the two.
   */
  function appProcess(appId) {
    const controller = new host.BaseRuntimeSubprocessController(bridges, { info: { id: appId } })
    const sendRequest = async ({ method, params }) => {
      const request = structuredClone(jsonrpc.request(Math.random().toString(36).slice(2), method, params))
      const response = await controller.handleIncomingBridgeRequest(jsonrpc.parseObject(request))
      if (response instanceof jsonrpc.ErrorObject) throw structuredClone(response)
      return structuredClone(response)
    }
    return { sendRequest, modify: new runtime.AppAccessors(sendRequest).getModifier() }
  }

  /** Runs `fn` with AppPermissionManager.notifyAboutError's errors, and its console output, captured. */
  async function capturingNotifications(fn) {
    const notify = AppPermissionManager.notifyAboutError
    const printed = console.error
    const notified = []
    const lines = []
    AppPermissionManager.notifyAboutError = function (err) {
      notified.push(err)
      return notify.call(this, err)
    }
    console.error = (...args) => lines.push(args.join(' '))
    try {
      return { result: await fn(), notified, lines }
    } finally {
      AppPermissionManager.notifyAboutError = notify
      console.error = printed
    }
  }

  it('publishes the event with the appId of the App that ran it, which the host put in', async () => {
    const { modify } = appProcess(PERMITTED)
    const when = new Date('2026-09-20T10:00:00.000Z')
    const ids = [
      await modify.getAnalyticsModifier().logEvent({ category: 'Escalation', action: 'attempted', roomId: 'r1', timestamp: when }),
      // Another App's id in the event is the event's data, not its attribution.
      await modify.getAnalyticsModifier().logEvent({ category: 'Agent Transfer', action: 'failed', properties: { failure_reason: OTHER } }),
    ]
    const msgs = await ctx.drain(queueUrl, { expected: 2 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), ids)
    assert.deepEqual(msgs.map((m) => m.attributes.appId), [PERMITTED, PERMITTED])
    assert.equal(msgs[0].json.timestamp, when.toISOString())
    assert.equal(msgs[1].json.properties.failure_reason, OTHER)
    assert.ok(debugLines.includes(`The App ${PERMITTED} is logging an analytics event`), debugLines.join('\n'))
  })

  it('rejects an event the tracking plan refuses with what is wrong in it: nothing published', async () => {
    const { modify } = appProcess(PERMITTED)
    const before = snsAnalytics.logger.stats()
    await assert.rejects(
      modify.getAnalyticsModifier().logEvent({ category: 'Agent Transfer', action: 'failed' }),
      { message: "analytics event Agent Transfer/failed violates tracking plan 'rocketchat-livechat': Agent Transfer/failed requires property 'failure_reason' (a string)" },
    )
    await snsAnalytics.logger.flush()
    assert.equal(snsAnalytics.logger.stats().delivered, before.delivered)
    assert.equal(snsAnalytics.logger.stats().apps[PERMITTED].invalid, before.apps[PERMITTED].invalid + 1)
  })

  it("rejects an event another path owns, naming its owner: nothing published, nothing counted for the App", async () => {
    const { modify } = appProcess(PERMITTED)
    const before = snsAnalytics.logger.stats()
    await assert.rejects(modify.getAnalyticsModifier().logEvent({ category: 'Agent Transfer', action: 'assigned', roomId: 'r1', properties: { agent_id: 'a1' } }), {
      message: "Agent Transfer/assigned is logged by the server's afterTakeInquiry hook; Apps cannot log it (docs/rocketchat.md, One owner per event)",
    })
    await snsAnalytics.logger.flush()
    assert.equal(snsAnalytics.logger.stats().delivered, before.delivered)
    assert.deepEqual(snsAnalytics.logger.stats().apps[PERMITTED], before.apps[PERMITTED], 'refused before the bridge')
  })

  it("publishes through the host's Modify with the appId it was built for", async () => {
    const id = await new host.Modify(bridges, PERMITTED).getAnalyticsModifier().logEvent({ category: 'Chat Session', action: 'started', roomId: 'r2' })
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, id)
    assert.equal(msg.attributes.appId, PERMITTED)
  })

  it("refuses, at the host, a call whose caller is another App's raw id: nothing published", async () => {
    const { sendRequest } = appProcess(PERMITTED)
    const before = snsAnalytics.logger.stats()
    // A valid event, which OTHER may log: only the caller's id is wrong.
    const event = { category: 'Escalation', action: 'attempted' }
    for (const params of [[event, OTHER], [event], ['APP_ID', event], [event, 'APP_ID', OTHER]]) {
      await assert.rejects(sendRequest({ method: 'bridges:getAnalyticsBridge:doLogEvent', params }), (e) => {
        assert.deepEqual(e.error, { code: 1000, message: 'Invalid bridge request' }, JSON.stringify(params))
        return true
      })
    }
    // What the App sees through the runtime's bridgeCall (formatErrorResponse).
    await assert.rejects(runtime.bridgeCall(sendRequest, 'getAnalyticsBridge', 'doLogEvent', event, OTHER), { message: 'Invalid bridge request' })
    await snsAnalytics.logger.flush()
    const now = snsAnalytics.logger.stats()
    assert.equal(now.delivered, before.delivered)
    assert.equal(now.apps[OTHER], undefined, 'nothing counted for the impersonated App')
    assert.deepEqual(now.apps[PERMITTED], before.apps[PERMITTED])
  })

  it('gives an App without analytics.write undefined and a PermissionDeniedError: nothing published', async () => {
    const { modify } = appProcess(DENIED)
    const before = snsAnalytics.logger.stats()
    const { result, notified, lines } = await capturingNotifications(() => modify.getAnalyticsModifier().logEvent({ category: 'Escalation', action: 'attempted' }))
    assert.equal(result, undefined, 'the host answered null; the accessor gives undefined')
    assert.equal(notified.length, 1)
    assert.ok(notified[0] instanceof PermissionDeniedError)
    assert.match(notified[0].message, new RegExp(`the app \\(${DENIED}\\) lacks the following permissions:\\n\\["analytics\\.write"\\]`))
    assert.equal(lines.length, 1, 'printed once, as notifyAboutError does')
    await snsAnalytics.logger.flush()
    assert.equal(snsAnalytics.logger.stats().delivered, before.delivered)
    assert.equal(snsAnalytics.logger.stats().apps[DENIED], undefined, 'the shim never saw it')
  })

  it('refuses while the settings switch analytics off, and logs on a new logger once they are on again', async () => {
    const { modify } = appProcess(PERMITTED)
    const first = snsAnalytics.logger
    settings.set('SNS_Analytics_Enabled', false)
    assert.equal(snsAnalytics.logger, null)
    const event = { category: 'Escalation', action: 'attempted', roomId: 'r3' }
    await assert.rejects(modify.getAnalyticsModifier().logEvent(event), { message: 'SNS analytics are switched off (SNS_Analytics_Enabled)' })
    settings.set('SNS_Analytics_Enabled', true)
    assert.ok(snsAnalytics.logger && snsAnalytics.logger !== first)
    const id = await modify.getAnalyticsModifier().logEvent(event)
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, id)
    assert.equal(msg.attributes.appId, PERMITTED)
    assert.equal(snsAnalytics.logger.stats().apps[PERMITTED].logged, 1, 'counted by the new logger')
  })

  it("refuses the runtime's placeholder if a host ever lets it through unsubstituted", async () => {
    // The package's own check, on the shim:
    await assert.rejects(new AppsEngineBridge(snsAnalytics.logger).doLogEvent({ category: 'c', action: 'a' }, 'APP_ID'), (e) => {
      assert.equal(e.code, 'ERR_INVALID_APP_ID')
      assert.match(e.message, /placeholder "APP_ID".*handleBridgeMessage substitutes the App's real id/)
      return true
    })
    // and behind the Apps-Engine's bridge, where the test mode of AppPermissionManager grants
    // every App every permission (so the id reaches the shim).
    process.env.NODE_ENV = 'test'
    try {
      await assert.rejects(bridges.getAnalyticsBridge().doLogEvent({ category: 'c', action: 'a' }, 'APP_ID'), { code: 'ERR_INVALID_APP_ID' })
    } finally {
      delete process.env.NODE_ENV
    }
  })

  it('published nothing else, and the server logged no error', async () => {
    await snsAnalytics.logger.flush()
    assert.deepEqual(await ctx.drain(queueUrl), [])
    assert.deepEqual(Logger.entries, [])
  })
})
