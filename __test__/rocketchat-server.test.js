'use strict'
// rocketchat-sns-analytics/rocketchat against moto: the omnichannel callbacks on a
// stand-in for Rocket.Chat's `callbacks` that follows apps/meteor/lib/callbacks.ts
// (priority order, an id added once, chained hooks passing each callback's return
// value on, `?? item` when it returns nothing), and the metrics on a real prom-client
// registry.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const client = require('prom-client')
const { useMoto } = require('./helpers/setup')
const { AppsEngineBridge } = require('..')
const { bindSettings, registerOmnichannelCallbacks, registerPrometheusMetrics, registerSettings, widgetEventRoute, widgetEventSchema, WIDGET_ROUTE } = require('../rocketchat')
const Ajv = require('ajv')
const { settingsDefinitions } = require('..')
const { waitFor } = require('./helpers/setup')
const moto = require('./helpers/moto')

const ctx = useMoto()

/** Rocket.Chat's Callbacks, as far as these hooks use it (apps/meteor/lib/callbacks.ts). */
class CallbacksStandIn {
  priority = { HIGH: -1000, MEDIUM: 0, LOW: 1000 }
  #hooks = new Map()

  add(hook, callback, priority = this.priority.MEDIUM, id = String(Math.random())) {
    const list = this.#hooks.get(hook) ?? []
    if (list.some((c) => c.id === id)) return
    list.push({ callback, priority, id })
    list.sort((a, b) => a.priority - b.priority)
    this.#hooks.set(hook, list)
  }

  /** callbacks.run: each callback gets the previous one's result (or the item). */
  async run(hook, item, constant) {
    for (const { callback } of this.#hooks.get(hook) ?? []) item = (await callback(item, constant)) ?? item
    return item
  }

  count(hook) {
    return (this.#hooks.get(hook) ?? []).length
  }
}

const room = (overrides) => ({ _id: 'be61e543dfe6:wqbFXoeX2kdSZhSyi', t: 'l', v: { _id: 'visitor1', token: 'visitor-token-secret' }, ...overrides })

describe('registerOmnichannelCallbacks', () => {
  it("logs the catalog's events from Rocket.Chat's own hooks and hands every payload on unchanged", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const controller = { logger: ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat' }) }
    const callbacks = new CallbacksStandIn()
    const seenByNext = []
    callbacks.add('livechat.newRoom', (r) => {
      seenByNext.push(r)
    }, callbacks.priority.LOW + 1, 'after-us')
    registerOmnichannelCallbacks(callbacks, controller)
    registerOmnichannelCallbacks(callbacks, controller) // an id is added once
    assert.equal(callbacks.count('livechat.closeRoom'), 1)

    const started = room()
    assert.equal(await callbacks.run('livechat.newRoom', started), started)
    assert.equal(seenByNext[0], started, 'the next callback gets the room itself')
    await callbacks.run('livechat.afterTakeInquiry', { _id: 'inq1', rid: started._id }, { agentId: 'agent7', username: 'ana' })
    await callbacks.run('livechat:afterReturnRoomAsInquiry', { room: room({ servedBy: { _id: 'agent7', username: 'ana', ts: new Date() } }) })
    const forward = { rid: started._id, servedBy: { _id: 'agent8', ts: new Date() }, oldServedBy: { _id: 'agent7', ts: new Date() } }
    assert.equal(await callbacks.run('livechat.afterForwardChatToAgent', forward), forward)
    const toDepartment = { rid: started._id, newDepartmentId: 'd2', oldDepartmentId: 'd1' }
    assert.equal(await callbacks.run('livechat.afterForwardChatToDepartment', toDepartment), toDepartment)
    const closed = { room: room({ closer: 'visitor' }), options: {} }
    assert.equal(await callbacks.run('livechat.closeRoom', closed), closed)
    await callbacks.run('livechat.closeRoom', { room: room({ closer: 'user' }), options: {} })

    await controller.logger.flush()
    const msgs = await ctx.drain(queueUrl, { expected: 7 })
    assert.deepEqual(
      msgs.map((m) => [m.json.category, m.json.action, m.json.eventType, m.json.properties]),
      [
        ['Chat Session', 'started', 'session', {}],
        ['Agent Transfer', 'assigned', 'session', { agent_id: 'agent7' }],
        ['Agent Transfer', 'unassigned', 'session', { agent_id: 'agent7' }],
        ['Agent Transfer', 'successful', 'session', { transfer_type: 'agent' }],
        ['Agent Transfer', 'successful', 'session', { transfer_type: 'department' }],
        ['Chat Session', 'closed', 'customerAction', { close_method: 'chat window' }],
        ['Chat Session', 'closed', 'session', { close_method: 'agent' }],
      ],
    )
    for (const m of msgs) {
      assert.equal(m.json.roomId, started._id)
      assert.ok(!m.body.includes('visitor-token-secret'), 'the visitor token never leaves')
    }
  })

  it('never throws into Rocket.Chat: switched off, odd payloads, refused events', async () => {
    const callbacks = new CallbacksStandIn()
    const controller = { logger: null }
    const errors = []
    registerOmnichannelCallbacks(callbacks, controller, { onError: (e) => errors.push(e) })
    const off = room()
    assert.equal(await callbacks.run('livechat.newRoom', off), off, 'switched off: handed on, nothing logged')
    for (const odd of [undefined, null, 'x', {}, { room: 5 }]) {
      for (const hook of ['livechat.newRoom', 'livechat.closeRoom', 'livechat.afterTakeInquiry', 'livechat.afterForwardChatToAgent']) {
        assert.equal(await callbacks.run(hook, odd), odd)
      }
    }
    // Switched on with a closed logger: log() throws ERR_LOGGER_CLOSED, which goes to onError.
    const { topicArn } = await ctx.topic()
    controller.logger = ctx.logger({ topicArn })
    await controller.logger.close()
    const r = room()
    assert.equal(await callbacks.run('livechat.newRoom', r), r)
    assert.deepEqual(errors.map((e) => e.code), ['ERR_LOGGER_CLOSED'])
  })
})

describe('registerPrometheusMetrics', () => {
  it("puts the logger's counters on a real prom-client registry, read at scrape time, per app", async () => {
    const { topicArn } = await ctx.topic()
    const controller = { logger: null }
    const registry = new client.Registry()
    registerPrometheusMetrics(controller, registry)
    const value = async (name, labels = {}) => {
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === `rocketchat_sns_analytics_${name}`)
      const sample = metric.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
      return sample ? sample.value : undefined
    }
    assert.equal(await value('events_delivered_total'), 0, 'switched off: 0')

    controller.logger = ctx.logger({ topicArn })
    for (let i = 0; i < 3; i++) controller.logger.log({ category: 'c', action: 'a' })
    assert.throws(() => controller.logger.log({ category: 'c' }))
    const bridge = new AppsEngineBridge(controller.logger, { hasPermission: (appId) => appId !== 'evil-app' })
    await bridge.doLogEvent({ category: 'c', action: 'from-app' }, 'good-app')
    await bridge.doLogEvent({ category: 'c', action: 'from-app' }, 'evil-app').catch(() => {})
    await controller.logger.flush()

    assert.equal(await value('events_delivered_total'), 4)
    assert.equal(await value('events_accepted_total'), 4)
    assert.equal(await value('events_invalid_total'), 1)
    assert.equal(await value('events_queued'), 0)
    assert.equal(await value('events_held'), 0)
    assert.equal(await value('app_events_total', { app: 'good-app', result: 'logged' }), 1)
    assert.equal(await value('app_events_total', { app: 'evil-app', result: 'permission_denied' }), 1)
    const text = await registry.metrics()
    assert.match(text, /# TYPE rocketchat_sns_analytics_events_delivered_total counter/)
    assert.match(text, /rocketchat_sns_analytics_app_events_total\{app="good-app",result="logged"\} 1/)
  })

  it('shows each paused destination and what it holds, and drops it when it resumes', async () => {
    const missing = `arn:aws:sns:us-east-1:123456789012:rc-metrics-missing-${process.pid}`
    const controller = { logger: ctx.logger({ topicArn: missing, retryInitialBackoffMs: 10, retryMaxBackoffMs: 50 }) }
    const registry = new client.Registry()
    registerPrometheusMetrics(controller, registry)
    for (let i = 0; i < 5; i++) controller.logger.log({ category: 'c', action: 'a' })
    const report = await controller.logger.flush()
    assert.equal(report.held, 5)
    const text = await registry.metrics()
    assert.match(text, new RegExp(`rocketchat_sns_analytics_destination_paused\\{topic="${missing}",code="NotFound"\\} 1`))
    assert.match(text, new RegExp(`rocketchat_sns_analytics_destination_held_events\\{topic="${missing}"\\} 5`))
    assert.match(text, /rocketchat_sns_analytics_events_held 5/)
    await moto.topicWithQueue(ctx.moto, { name: missing.split(':').pop() })
    await waitFor('the topic to resume', () => controller.logger.stats().delivered === 5)
    const after = await registry.metrics()
    assert.doesNotMatch(after, /destination_paused\{/)
    assert.match(after, /rocketchat_sns_analytics_events_held 0/)
  })
})

/**
 * Rocket.Chat's cached settings, as far as bindSettings uses them
 * (apps/meteor/app/settings/server/CachedSettings.ts): watchMultiple calls back at once
 * with the values when every id is known, then after each change (debounced there,
 * later here too), and returns a function that stops it.
 */
class CachedSettingsStandIn {
  #store = new Map()
  #watchers = new Set()

  constructor(values) {
    for (const { id, packageValue } of settingsDefinitions().settings) this.#store.set(id, packageValue)
    this.#store.set('Site_Url', 'https://chat.example.com')
    for (const [id, value] of Object.entries(values)) this.#store.set(id, value)
  }

  set(id, value) {
    this.#store.set(id, value)
    for (const w of this.#watchers) setImmediate(() => this.#watchers.has(w) && w.callback(w.ids.map((i) => this.#store.get(i))))
  }

  watchMultiple(ids, callback) {
    const watcher = { ids, callback }
    if (ids.every((id) => this.#store.has(id))) callback(ids.map((id) => this.#store.get(id)))
    this.#watchers.add(watcher)
    return () => this.#watchers.delete(watcher)
  }

  get watching() {
    return this.#watchers.size
  }
}

describe('bindSettings', () => {
  it('creates the logger when the switch goes on, reconfigures it on a change, closes it when it goes off', async () => {
    const first = await ctx.topic({ fifo: true })
    const second = await ctx.topic({ fifo: true })
    const settings = new CachedSettingsStandIn({
      SNS_Analytics_Topic_ARN: first.topicArn,
      SNS_Analytics_Endpoint: ctx.moto.endpoint,
      SNS_Analytics_Region: moto.REGION,
      SNS_Analytics_Access_Key_Id: moto.CREDENTIALS.accessKeyId,
      SNS_Analytics_Secret_Access_Key: moto.CREDENTIALS.secretAccessKey,
    })
    const errors = []
    const controller = bindSettings(settings, { onError: (e) => errors.push(e) })
    assert.equal(controller.logger, null, 'off by default')

    settings.set('SNS_Analytics_Enabled', true)
    await waitFor('the logger', () => controller.logger)
    const logger = controller.logger
    const before = logger.log({ category: 'Window', action: 'opened', eventType: 'customerAction', properties: { session_id: 's1' } })

    settings.set('SNS_Analytics_Topic_ARN', second.topicArn)
    settings.set('SNS_Analytics_Max_Batch_Size', 'eleven')
    await waitFor('the bad value reported', () => errors.length > 0)
    assert.equal(errors[0].code, 'ERR_INVALID_SETTING')
    assert.equal(errors[0].setting, 'SNS_Analytics_Max_Batch_Size')
    assert.equal(controller.logger, logger, 'the running logger stays')
    settings.set('SNS_Analytics_Max_Batch_Size', 10)
    await new Promise((r) => setImmediate(r))
    const after = logger.log({ category: 'Window', action: 'opened', eventType: 'customerAction', properties: { session_id: 's2' } })

    settings.set('SNS_Analytics_Enabled', false)
    await waitFor('the logger closed', () => controller.logger === null && logger.closed)
    const inFirst = await ctx.drain(first.queueUrl, { expected: 1 })
    const inSecond = await ctx.drain(second.queueUrl, { expected: 1 })
    assert.deepEqual(inFirst.map((m) => m.attributes.eventId), [before], 'queued before the change: its topic')
    assert.deepEqual(inSecond.map((m) => m.attributes.eventId), [after], 'logged after the change: the new topic')

    await controller.close()
    assert.equal(settings.watching, 0, 'close() stops following the settings')
  })
})

describe('registerSettings', () => {
  /** SettingsRegistry.addGroup's callback context (apps/meteor/app/settings/server/SettingsRegistry.ts). */
  class SettingsRegistryStandIn {
    added = []
    async addGroup(group, cb) {
      const registry = this
      await cb.call({
        async section(section, sectionCb) {
          await sectionCb.call({
            async add(id, value, options) {
              registry.added.push({ group, section, id, value, options })
            },
          })
        },
        async add(id, value, options) {
          registry.added.push({ group, section: undefined, id, value, options })
        },
      })
    }
  }

  it('adds every setting in its section, all but the switch waiting for it, with an English label and description', async () => {
    const registry = new SettingsRegistryStandIn()
    await registerSettings(registry)
    const defs = settingsDefinitions().settings
    assert.equal(registry.added.length, defs.length)
    const i18n = require('../rocketchat/i18n/en.i18n.json')
    for (const s of registry.added) {
      assert.equal(s.group, 'SNS_Analytics')
      assert.ok(s.section, `${s.id} is in a section`)
      assert.equal(s.options.section, undefined, 'the section comes from this.section, not an option')
      if (s.id === 'SNS_Analytics_Enabled') assert.equal(s.options.enableQuery, undefined)
      else assert.deepEqual(s.options.enableQuery, { _id: 'SNS_Analytics_Enabled', value: true })
      assert.ok(i18n[s.options.i18nLabel], `a label for ${s.id}`)
      assert.ok(i18n[s.options.i18nDescription], `a description for ${s.id}`)
    }
    assert.deepEqual(
      [...new Set(registry.added.map((s) => s.section))],
      [...new Set(defs.map((s) => s.options.section))],
    )
  })

  it('ships the i18n fragment that scripts/i18n.js writes', () => {
    const { execFileSync } = require('node:child_process')
    execFileSync(process.execPath, [require.resolve('../scripts/i18n.js'), '--check'])
  })
})

describe('widgetEventRoute', () => {
  /**
   * The router as far as the route uses it: API.v1.post(path, options, action); a body
   * the `body` validator refuses, or an action that throws, answers 400 (failure), as
   * apps/meteor/app/api/server/api.ts does; success and failure wrap a result.
   */
  function routerStandIn() {
    const routes = new Map()
    const API = {
      v1: {
        post: (path, options, action) => routes.set(path, { options, action }),
        success: (result = {}) => ({ statusCode: 200, body: { ...result, success: true } }),
        failure: (error, errorType) => ({ statusCode: 400, body: { success: false, error, ...(errorType && { errorType }) } }),
      },
    }
    const call = async (path, body) => {
      const { options, action } = routes.get(path)
      if (!options.body(body)) return API.v1.failure(options.body.errors.map((e) => `${e.instancePath} ${e.message}`).join('; '), 'error-invalid-params')
      try {
        return await action.call({ bodyParams: body })
      } catch (e) {
        return API.v1.failure(e.message)
      }
    }
    return { API, call, routes }
  }

  it("answers as Rocket.Chat's routes answer, and logs only a known visitor's event in their room", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const controller = { logger: ctx.logger({ topicArn }) }
    const { API, call, routes } = routerStandIn()
    const visitors = new Map([['visitor-token', { _id: 'v1', token: 'visitor-token' }]])
    const rooms = new Map([['visitor-token/be61:room', { _id: 'be61:room', v: { token: 'visitor-token' } }]])
    const validate = new Ajv().compile(widgetEventSchema)
    API.v1.post(
      ...widgetEventRoute({
        API,
        controller,
        validate,
        findGuest: async (token) => visitors.get(token) ?? null,
        findRoom: async (token, rid) => rooms.get(`${token}/${rid}`) ?? null,
      }),
    )
    assert.deepEqual([...routes.keys()], [WIDGET_ROUTE])
    assert.deepEqual(routes.get(WIDGET_ROUTE).options.rateLimiterOptions, { numRequestsAllowed: 60, intervalTimeInMS: 60_000 })
    assert.doesNotMatch(WIDGET_ROUTE, /analytics\/dashboards/)

    const event = { token: 'visitor-token', rid: 'be61:room', tabId: 'tab-1', category: 'Window', action: 'opened', properties: { session_id: 's-1' } }
    const ok = await call(WIDGET_ROUTE, event)
    assert.equal(ok.statusCode, 200)
    const cases = [
      [{ ...event, extra: 1 }, 'error-invalid-params'],
      [{ ...event, token: '' }, 'error-invalid-params'],
      [{ ...event, token: 'stranger' }, 'invalid-token'],
      [{ ...event, rid: 'someone-elses-room' }, 'error-invalid-room'],
      [{ ...event, category: 'Chat Session', action: 'started' }, 'error-invalid-event'],
    ]
    for (const [body, error] of cases) {
      const answer = await call(WIDGET_ROUTE, body)
      assert.equal(answer.statusCode, 400, JSON.stringify(body))
      assert.ok([answer.body.error, answer.body.errorType].includes(error), `${JSON.stringify(answer.body)} should be ${error}`)
    }
    controller.logger = null
    assert.equal((await call(WIDGET_ROUTE, event)).body.error, 'error-analytics-disabled')

    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, ok.body.id)
    assert.equal(msg.json.eventType, 'customerAction')
    assert.ok(!msg.body.includes('visitor-token'), 'the token never leaves')
  })
})

