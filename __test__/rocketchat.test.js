'use strict'
// The Rocket.Chat integration surface against moto: the Apps-Engine bridge (permission,
// rate limit, appId, the omnichannel helpers), the widget endpoint's body checks, the
// admin settings, and the Prometheus metrics.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { useMoto, SITE_URL, AnalyticsLogger } = require('./helpers/setup')
const { AppsEngineBridge, settingsDefinitions, optionsFromSettings } = require('..')
const moto = require('./helpers/moto')

const ctx = useMoto()
const APP = '4b5c1e0a-31c2-4f3e-9b8e-5f0d3c2a1b00'
/** What the admin lets these Apps log (appAccess: deny by default). */
const APP_ACCESS = { [APP]: { categories: ['*'] }, 'other-app': { categories: ['Survey'] }, 'third-app': { categories: ['Survey'] } }

/** The shape the Apps-Engine hands an app for a Livechat room (ILivechatRoom). */
function livechatRoom(id, closer = 'visitor') {
  const agent = { id: 'agent-7', username: 'ana', roles: ['livechat-agent'] }
  const room = {
    id,
    slugifiedName: id,
    type: 'l',
    creator: agent,
    usernames: [],
    visitor: { id: 'v1', token: 'visitor-token-secret', username: 'guest-1', name: 'Guest' },
    closer,
    servedBy: agent,
    isWaitingResponse: false,
    isOpen: true,
    createdAt: new Date(),
  }
  room.parentRoom = room // rooms can be cyclic
  return room
}

async function rejection(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  assert.fail('expected a rejection')
}

describe('AppsEngineBridge', () => {
  it('logs for an app with its appId attribute, and has no helpers that would repeat what the server hooks log', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat', appAccess: APP_ACCESS })
    const asked = []
    const bridge = new AppsEngineBridge(logger, {
      hasPermission: (appId, permission) => {
        asked.push([appId, permission])
        return true
      },
    })
    const room = livechatRoom('be61:room1')
    const ids = [
      await bridge.doLogEvent({ category: 'Escalation', action: 'attempted', roomId: room.id }, APP),
      await bridge.doLogEvent({ category: 'Escalation', action: 'failed', roomId: room.id, properties: { failure_reason: 'no agents available' } }, APP),
    ]
    await logger.flush()
    const msgs = await ctx.drain(queueUrl, { expected: ids.length })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), ids)
    assert.ok(msgs.every((m) => m.attributes.appId === APP), 'every event names its app')
    assert.deepEqual(
      msgs.map((m) => `${m.json.category}/${m.json.action} ${JSON.stringify(m.json.properties)} ${m.json.eventType}`),
      ['Escalation/attempted {} session', 'Escalation/failed {"failure_reason":"no agents available"} session'],
    )
    assert.deepEqual(asked[0], [APP, 'analytics.write'])
    assert.deepEqual(logger.stats().apps[APP], { logged: 2, permissionDenied: 0, rateLimited: 0, invalid: 0 })
    // Room starts, closes, assignments and transfers are the server hooks' (docs/rocketchat.md,
    // One owner per event): the bridge has no helpers that map the Apps-Engine's events to them.
    for (const helper of ['roomStarted', 'roomClosed', 'agentAssigned', 'agentUnassigned', 'roomTransferred']) {
      assert.equal(bridge[helper], undefined, helper)
    }
  })

  it('refuses an app without the permission, over its rate limit, or with a bad event, and publishes none of it', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: false })
    const logger = ctx.logger({ topicArn, appAccess: APP_ACCESS })
    const bridge = new AppsEngineBridge(logger, {
      hasPermission: (appId) => appId !== 'evil-app',
      appRateLimit: { eventsPerSecond: 0.001, burst: 3 },
    })
    const event = { category: 'Survey', action: 'link_clicked' }
    const denied = await rejection(bridge.doLogEvent(event, 'evil-app'))
    assert.equal(denied.code, 'PERMISSION_DENIED')
    assert.equal(denied.appId, 'evil-app')
    assert.match(denied.message, /lacks the analytics\.write permission/)
    const ok = []
    for (let i = 0; i < 3; i++) ok.push(await bridge.doLogEvent(event, APP))
    const flood = await rejection(bridge.doLogEvent(event, APP))
    assert.equal(flood.code, 'RATE_LIMITED')
    // Another app has its own bucket.
    ok.push(await bridge.doLogEvent(event, 'other-app'))
    const bad = await rejection(new AppsEngineBridge(logger, { hasPermission: () => true }).doLogEvent({ category: 'Survey' }, 'third-app'))
    assert.equal(bad.code, 'ERR_INVALID_EVENT')
    assert.equal(bad.field, 'action')
    const badId = await rejection(bridge.doLogEvent(event, ''))
    assert.equal(badId.code, 'ERR_INVALID_APP_ID')
    const thrower = new AppsEngineBridge(logger, { hasPermission: () => { throw new Error('permission store down') } })
    // Without a check, every App is refused.
    const unchecked = await rejection(new AppsEngineBridge(logger).doLogEvent(event, APP))
    assert.equal(unchecked.code, 'PERMISSION_DENIED')
    assert.match(unchecked.message, /given no hasPermission check/)
    assert.match((await rejection(thrower.doLogEvent(event, APP))).message, /permission store down/)
    await logger.flush()
    const msgs = await ctx.drain(queueUrl, { expected: ok.length, quietMs: 800 })
    assert.deepEqual(new Set(msgs.map((m) => m.attributes.eventId)), new Set(ok))
    const apps = logger.stats().apps
    assert.deepEqual(apps['evil-app'], { logged: 0, permissionDenied: 1, rateLimited: 0, invalid: 0 })
    assert.deepEqual(apps[APP], { logged: 3, permissionDenied: 1, rateLimited: 1, invalid: 0 }, 'the bridge without a check refused it once')
    assert.equal(apps['third-app'].invalid, 1)
  })
})

describe('logWidgetEvent', () => {
  it('lets an App log only the categories and the agent topics the admin allowed it (appAccess, deny by default)', async () => {
    const main = await ctx.topic({ fifo: true })
    const allowed = await ctx.topic({ fifo: true })
    const other = await ctx.topic({ fifo: true })
    const logger = ctx.logger({
      topicArn: main.topicArn,
      agentTopics: { 'agent-1': allowed.topicArn, 'agent-2': other.topicArn },
      appAccess: { [APP]: { categories: ['Escalation'], dialogflowAgentIds: ['agent-1'] } },
    })
    const bridge = new AppsEngineBridge(logger, { hasPermission: () => true })
    const ok = await bridge.doLogEvent({ category: 'Escalation', action: 'attempted', roomId: 'r1', dialogflowAgentId: 'agent-1' }, APP)
    const category = await rejection(bridge.doLogEvent({ category: 'Survey', action: 'link_clicked' }, APP))
    assert.deepEqual([category.code, category.field], ['PERMISSION_DENIED', 'category'])
    assert.match(category.message, /may not log category "Survey": appAccess allows it "Escalation" only/)
    const topic = await rejection(bridge.doLogEvent({ category: 'Escalation', action: 'attempted', roomId: 'r1', dialogflowAgentId: 'agent-2' }, APP))
    assert.deepEqual([topic.code, topic.field], ['PERMISSION_DENIED', 'dialogflowAgentId'])
    const unlisted = await rejection(bridge.doLogEvent({ category: 'Escalation', action: 'attempted' }, 'unlisted-app'))
    assert.deepEqual([unlisted.code, unlisted.field], ['PERMISSION_DENIED', 'appId'])
    assert.match(unlisted.message, /SNS_Analytics_App_Access/)
    // The server's own events are not the Apps' business.
    logger.log({ category: 'Survey', action: 'link_clicked', dialogflowAgentId: 'agent-2' })
    await logger.flush()
    const [toAllowed] = await ctx.drain(allowed.queueUrl, { expected: 1 })
    assert.equal(toAllowed.attributes.eventId, ok)
    assert.equal(toAllowed.json.appId, APP, 'the App is named in the body too')
    const toOther = await ctx.drain(other.queueUrl, { expected: 1 })
    assert.deepEqual(toOther.map((m) => [m.json.category, m.json.appId]), [['Survey', undefined]], 'nothing of the App reached the agent it was not allowed')
    assert.deepEqual(await ctx.drain(main.queueUrl, { quietMs: 500 }), [])
  })

  it("publishes a widget event as the visitor's, without the token", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn })
    const id = logger.logWidgetEvent({ token: 'visitor-token-secret', rid: 'be61:room2', tabId: 'tab-9', category: 'Window', action: 'opened', properties: { session_id: 's-1' } })
    await logger.flush()
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, id)
    assert.equal(msg.json.eventType, 'customerAction')
    assert.equal(msg.json.roomId, 'be61:room2')
    assert.equal(msg.json.tabId, 'tab-9')
    assert.ok(!msg.body.includes('visitor-token-secret'))
  })

  it('refuses hostile bodies with a code and the field', () => {
    const logger = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:unused' })
    const base = { token: 't', rid: 'r1', category: 'Survey', action: 'link_clicked' }
    const cases = [
      [{ ...base, isAdmin: true }, 'ERR_INVALID_EVENT', 'body'],
      [{ ...base, token: undefined }, 'ERR_INVALID_EVENT', 'token'],
      [{ ...base, rid: '../../etc' }, 'ERR_INVALID_EVENT', 'rid'],
      [{ ...base, category: 'Escalation', action: 'failed' }, 'ERR_INVALID_EVENT', 'action'],
      [{ ...base, properties: { injected: '1' } }, 'ERR_INVALID_EVENT', 'properties.injected'],
      [{ ...base, tabId: 'x'.repeat(9000) }, 'ERR_EVENT_TOO_LARGE', 'body'],
      ['not an object', 'ERR_INVALID_EVENT', 'body'],
    ]
    for (const [body, code, field] of cases) {
      assert.throws(() => logger.logWidgetEvent(body), (e) => {
        assert.ok(e instanceof TypeError, String(e))
        assert.equal(e.code, code, e.message)
        assert.equal(e.field, field, e.message)
        return true
      })
    }
    assert.equal(logger.stats().invalid, cases.length)
  })
})

describe('admin settings', () => {
  it('defines a private settings group and turns its values into options, then into a logger', async () => {
    const defs = settingsDefinitions()
    assert.equal(defs.group, 'SNS_Analytics')
    assert.ok(defs.settings.every((s) => s.options.public === false))
    assert.deepEqual(
      defs.settings.filter((s) => s.options.secret).map((s) => s.id),
      ['SNS_Analytics_Access_Key_Id', 'SNS_Analytics_Secret_Access_Key', 'SNS_Analytics_Session_Token'],
    )
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const other = await ctx.topic({ fifo: true })
    const values = {
      SNS_Analytics_Enabled: true,
      SNS_Analytics_Topic_ARN: topicArn,
      SNS_Analytics_Region: moto.REGION,
      SNS_Analytics_Endpoint: ctx.moto.endpoint,
      SNS_Analytics_Access_Key_Id: moto.CREDENTIALS.accessKeyId,
      SNS_Analytics_Secret_Access_Key: moto.CREDENTIALS.secretAccessKey,
      SNS_Analytics_Flush_Interval_Ms: 50,
    }
    const get = (id) => values[id]
    assert.equal(optionsFromSettings(() => undefined), null, 'off until enabled')
    const options = optionsFromSettings(get, SITE_URL)
    assert.equal(options.siteUrl, SITE_URL)
    assert.equal(options.trackingPlan, 'rocketchat-livechat', 'the default plan')
    const logger = new AnalyticsLogger(options)
    ctx.loggers.push(logger)
    const first = logger.log({ category: 'Chat Session', action: 'started' })
    // An admin changes the topic: reconfigure, nothing queued lost.
    values.SNS_Analytics_Topic_ARN = other.topicArn
    logger.reconfigure(optionsFromSettings(get, SITE_URL))
    const second = logger.log({ category: 'Chat Session', action: 'started' })
    await logger.flush()
    assert.deepEqual((await ctx.drain(queueUrl, { expected: 1 })).map((m) => m.attributes.eventId), [first])
    assert.deepEqual((await ctx.drain(other.queueUrl, { expected: 1 })).map((m) => m.attributes.eventId), [second])
  })

  it('names the setting to fix', () => {
    const cases = [
      [{ SNS_Analytics_Enabled: true }, 'SNS_Analytics_Topic_ARN'],
      [{ SNS_Analytics_Enabled: true, SNS_Analytics_Topic_ARN: 'not-an-arn' }, 'SNS_Analytics_Topic_ARN'],
      [{ SNS_Analytics_Enabled: true, SNS_Analytics_Topic_ARN: 'arn:aws:sns:us-east-1:123456789012:t', SNS_Analytics_Max_Batch_Size: 50 }, 'SNS_Analytics_Max_Batch_Size'],
      [{ SNS_Analytics_Enabled: true, SNS_Analytics_Topic_ARN: 'arn:aws:sns:us-east-1:123456789012:t', SNS_Analytics_Agent_Topics: '{"a": "arn:aws:sns:eu-west-1:123456789012:x"}' }, 'SNS_Analytics_Agent_Topics'],
      [{ SNS_Analytics_Enabled: true, SNS_Analytics_Topic_ARN: 'arn:aws:sns:us-east-1:123456789012:t', SNS_Analytics_Validation: 'loud' }, 'SNS_Analytics_Validation'],
    ]
    for (const [values, setting] of cases) {
      assert.throws(() => optionsFromSettings((id) => values[id], SITE_URL), (e) => {
        assert.equal(e.code, 'ERR_INVALID_SETTING', e.message)
        assert.equal(e.setting, setting, e.message)
        assert.ok(e.message.includes(setting), e.message)
        return true
      })
    }
  })
})

describe('metrics()', () => {
  it('exposes the counters in the Prometheus text format with stable names and labels', async () => {
    const { topicArn } = await ctx.topic({ fifo: false })
    const logger = ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat', appAccess: APP_ACCESS })
    const bridge = new AppsEngineBridge(logger, { hasPermission: (a) => a === APP })
    logger.log({ category: 'Survey', action: 'link_clicked', eventType: 'customerAction' })
    assert.throws(() => logger.log({ category: 'Survey', action: 'clicked' }))
    await bridge.doLogEvent({ category: 'Chat Session', action: 'started' }, APP)
    await bridge.doLogEvent({ category: 'Chat Session', action: 'started' }, 'nope').catch(() => {})
    await logger.flush()
    const text = logger.metrics()
    for (const line of [
      '# TYPE rocketchat_sns_analytics_events_delivered_total counter',
      `rocketchat_sns_analytics_events_delivered_total{topic="${topicArn}"} 2`,
      'rocketchat_sns_analytics_events_invalid_total{reason="tracking_plan"} 1',
      'rocketchat_sns_analytics_plan_violations_total{kind="unplannedEvent"} 1',
      `rocketchat_sns_analytics_app_events_total{app="${APP}",result="logged"} 1`,
      'rocketchat_sns_analytics_app_events_total{app="nope",result="permission_denied"} 1',
      'rocketchat_sns_analytics_events_queued 0',
    ]) {
      assert.ok(text.split('\n').includes(line), `missing ${line}\n${text}`)
    }
  })
})
