'use strict'
// rocketchat-sns-analytics/rocketchat: the Rocket.Chat server's side, taking
// Rocket.Chat's own objects as arguments so that it can be tested without a server.
//
// Every Rocket.Chat API used here was read in the RocketChat/Rocket.Chat monorepo;
// each function names the file. The Apps-Engine's side is TypeScript for a Rocket.Chat
// pull request, in rocketchat/apps-engine/.
//
// A `controller` is `{ logger }`, where `logger` is an AnalyticsLogger or null while
// analytics are switched off; an AnalyticsLogger itself is accepted too.

const PREFIX = 'rocketchat_sns_analytics_'

/** The server's own site URL setting, the default `siteUrl`. */
const SITE_URL_SETTING = 'Site_Url'

/**
 * Adds the SNS_Analytics settings group to Rocket.Chat's settings registry, a section
 * at a time: `settingsRegistry.addGroup(group, async function () { await
 * this.section(name, async function () { await this.add(id, value, options) }) })`
 * (apps/meteor/app/settings/server/SettingsRegistry.ts). Every setting but the switch
 * carries `enableQuery: { _id: 'SNS_Analytics_Enabled', value: true }`; the labels
 * are i18n keys, whose English is in rocketchat/i18n/en.i18n.json.
 */
async function registerSettings(settingsRegistry) {
  const { settingsDefinitions } = require('..')
  const { group, settings } = settingsDefinitions()
  const sections = new Map()
  for (const s of settings) {
    const { section, ...options } = s.options
    if (!sections.has(section)) sections.set(section, [])
    sections.get(section).push({ id: s.id, packageValue: s.packageValue, options })
  }
  await settingsRegistry.addGroup(group, async function addGroup() {
    for (const [section, list] of sections) {
      await this.section(section, async function addSection() {
        for (const s of list) await this.add(s.id, s.packageValue, s.options)
      })
    }
  })
}

/**
 * Follows Rocket.Chat's cached settings and keeps a logger in step with them:
 * `settings.watchMultiple(ids, callback(values))` (apps/meteor/app/settings/server/
 * CachedSettings.ts: called with the values at once when they are all known, then,
 * debounced, on every change; returns a function that stops the watch).
 *
 * Returns a controller `{ logger, close() }`. `logger` is null while
 * `SNS_Analytics_Enabled` is off; turning it on creates the logger, a change
 * reconfigures it (nothing queued is lost or sent twice), and turning it off closes
 * it, delivering what it holds. A bad value is reported through `onError` with the
 * setting's id (`ERR_INVALID_SETTING`, `setting`), and the running logger keeps its
 * last good configuration; the logger's background failures go to `onError` too.
 * `close()` stops following the settings and closes the logger.
 */
function bindSettings(settings, { siteUrl, onError } = {}) {
  const { AnalyticsLogger, settingsDefinitions, optionsFromSettings } = require('..')
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.setting || e.option || e.code}: ${e.message}`))
  const ids = [...settingsDefinitions().settings.map((s) => s.id), SITE_URL_SETTING]
  const controller = {
    logger: null,
    async close() {
      stop()
      const logger = controller.logger
      controller.logger = null
      return logger ? logger.close() : null
    },
  }
  const apply = (values) => {
    const get = (id) => values[ids.indexOf(id)]
    let options
    try {
      options = optionsFromSettings(get, siteUrl ?? get(SITE_URL_SETTING))
    } catch (e) {
      return report(e)
    }
    const running = controller.logger
    if (!options) {
      controller.logger = null
      if (running) running.close().catch(report)
      return undefined
    }
    try {
      if (running) {
        running.reconfigure(options)
      } else {
        controller.logger = new AnalyticsLogger(options)
        controller.logger.onError(report)
      }
    } catch (e) {
      report(e)
    }
    return undefined
  }
  const stop = settings.watchMultiple(ids, (values) => {
    try {
      apply(values)
    } catch (e) {
      report(e)
    }
  })
  return controller
}

/** The logger behind a controller (or the logger itself); null when switched off. */
function loggerOf(source) {
  if (source && typeof source.stats === 'function') return source
  return (source && source.logger) || null
}

// The Chat Session/closed close_method of `room.closer` (IOmnichannelRoom['closer'] in
// @rocket.chat/core-typings, packages/core-typings/src/IRoom.ts: 'user' | 'visitor';
// the Apps-Engine's ILivechatRoom adds 'bot'), as the built-in plan rocketchat-livechat
// names the methods.
const CLOSE_METHOD = { visitor: 'chat window', user: 'agent', bot: 'df_bot' }

/** The catalog event for one hook's payload, or null when there is none to log. */
const HOOKS = {
  // ChainedCallbackSignatures['livechat.newRoom']: (room: IOmnichannelRoom) => IOmnichannelRoom
  'livechat.newRoom': (room) => room && room._id && { category: 'Chat Session', action: 'started', roomId: room._id },
  // EventLikeCallbackSignatures['livechat.closeRoom']: (params: { room: IOmnichannelRoom; options }) => void
  'livechat.closeRoom': (params) => {
    const room = params && params.room
    if (!room || !room._id) return null
    const method = CLOSE_METHOD[room.closer] || 'agent'
    return {
      category: 'Chat Session',
      action: 'closed',
      roomId: room._id,
      eventType: method === 'chat window' ? 'customerAction' : 'session',
      properties: { close_method: method },
    }
  },
  // EventLikeCallbackSignatures['livechat.afterTakeInquiry']:
  //   (inq: InquiryWithAgentInfo, agent: { agentId: string; username: string }) => void
  'livechat.afterTakeInquiry': (inquiry, agent) =>
    inquiry && inquiry.rid && agent && agent.agentId && { category: 'Agent Transfer', action: 'assigned', roomId: inquiry.rid, properties: { agent_id: agent.agentId } },
  // EventLikeCallbackSignatures['livechat:afterReturnRoomAsInquiry']: (params: { room: IRoom }) => void
  // The room goes back to the queue: its agent is unassigned (when the room says who).
  'livechat:afterReturnRoomAsInquiry': (params) => {
    const room = params && params.room
    const agent = room && room.servedBy && room.servedBy._id
    return room && room._id && agent ? { category: 'Agent Transfer', action: 'unassigned', roomId: room._id, properties: { agent_id: agent } } : null
  },
  // ChainedCallbackSignatures['livechat.afterForwardChatToAgent']: (params: { rid, servedBy, oldServedBy }) => params
  'livechat.afterForwardChatToAgent': (params) =>
    params && params.rid && { category: 'Agent Transfer', action: 'successful', roomId: params.rid, properties: { transfer_type: 'agent' } },
  // ChainedCallbackSignatures['livechat.afterForwardChatToDepartment']: (params: { rid, newDepartmentId, oldDepartmentId }) => params
  'livechat.afterForwardChatToDepartment': (params) =>
    params && params.rid && { category: 'Agent Transfer', action: 'successful', roomId: params.rid, properties: { transfer_type: 'department' } },
}

/**
 * Registers on Rocket.Chat's own omnichannel hooks (apps/meteor/lib/callbacks.ts:
 * `callbacks.add(hook, callback, priority, id)`, `callbacks.priority.LOW`; an id
 * already added is ignored, so registering twice is harmless). Each callback logs the
 * catalog's event for the payload, hands the payload on unchanged (the chained hooks
 * pass their return value to the next callback), and never throws into Rocket.Chat:
 * a refused event goes to `onError`, or to the console when there is none. The
 * visitor's token is never read.
 */
function registerOmnichannelCallbacks(callbacks, controller, { onError } = {}) {
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.code || 'error'}: ${e.message}`))
  for (const [hook, toEvent] of Object.entries(HOOKS)) {
    callbacks.add(
      hook,
      (item, constant) => {
        try {
          const logger = loggerOf(controller)
          const event = logger && toEvent(item, constant)
          if (event) logger.log(event)
        } catch (e) {
          try {
            report(e)
          } catch {
            // An onError that throws must not reach Rocket.Chat either.
          }
        }
        return item
      },
      callbacks.priority.LOW,
      `rocketchat-sns-analytics:${hook}`,
    )
  }
}

/**
 * Puts the logger's counters and gauges on a prom-client `Registry` (Rocket.Chat's
 * metrics are prom-client: apps/meteor/app/metrics/server/lib/metrics.ts) as
 * collectors that read `stats()` at scrape time, with per-app counts as labels. The
 * prom-client module is the host's own by default (`require('prom-client')`), so that
 * the metrics belong to the registry's prom-client. While the controller's logger is
 * null (switched off), every value is 0.
 */
function registerPrometheusMetrics(source, registry, client = require('prom-client')) {
  const stats = () => {
    const logger = loggerOf(source)
    return logger ? logger.stats() : null
  }
  const total = (name, help, read) =>
    new client.Counter({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        const s = stats()
        this.reset()
        this.inc(s ? read(s) : 0)
      },
    })
  const gauge = (name, help, read) =>
    new client.Gauge({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        const s = stats()
        this.set(s ? read(s) : 0)
      },
    })
  total('events_accepted_total', 'Events log() accepted (overflow drops included), and events recovered from the spool.', (s) => s.accepted)
  total('events_delivered_total', 'Events SNS accepted.', (s) => s.delivered)
  total('events_failed_total', 'Events given up: refused by SNS, out of retry budget, cut off at shutdown, or held for a paused destination when close() ended without a spool.', (s) => s.failed)
  total('events_dropped_total', 'Events discarded because the queue was full (overflow).', (s) => s.dropped)
  total('events_invalid_total', 'Events log() refused as invalid, tracking-plan rejections included.', (s) => s.invalid)
  total('events_retried_total', 'Entries sent again after a transient failure.', (s) => s.retried)
  total('batches_sent_total', 'PublishBatch requests sent, retries included.', (s) => s.batchesSent)
  gauge('events_queued', 'Events accepted, neither settled nor held: waiting to be sent, or in a request.', (s) => s.queued)
  gauge('events_in_flight', 'Events in a PublishBatch request not yet answered, or waiting for a retry.', (s) => s.inFlight)
  gauge('events_held', 'Events held for destinations SNS refused as a whole (paused).', (s) => s.held)
  gauge('events_spooled', 'With spoolDir: unsettled events kept in the spool.', (s) => s.spooled)
  // One series per paused destination, gone when it resumes (reset at every scrape).
  const paused = (name, help, labelNames, read) =>
    new client.Gauge({
      name: PREFIX + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        const s = stats()
        this.reset()
        for (const p of (s && s.paused) || []) read(this, p)
      },
    })
  paused('destination_paused', 'Destinations SNS refused as a whole (no permission, no topic, invalid keys, a disabled KMS key), while paused: 1, by topic and AWS code.', ['topic', 'code'], (g, p) => g.set({ topic: p.topicArn, code: p.awsCode }, 1))
  paused('destination_held_events', 'Events held for a paused destination, by topic.', ['topic'], (g, p) => g.set({ topic: p.topicArn }, p.held))
  new client.Counter({
    name: `${PREFIX}plan_violations_total`,
    help: 'Tracking-plan violations found, by kind.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const s = stats()
      this.reset()
      for (const [kind, n] of Object.entries((s && s.violations) || {})) this.inc({ kind }, n)
    },
  })
  new client.Counter({
    name: `${PREFIX}app_events_total`,
    help: 'Apps-Engine bridge calls, by app id and result.',
    labelNames: ['app', 'result'],
    registers: [registry],
    collect() {
      const s = stats()
      this.reset()
      for (const [app, counts] of Object.entries((s && s.apps) || {})) {
        this.inc({ app, result: 'logged' }, counts.logged)
        this.inc({ app, result: 'permission_denied' }, counts.permissionDenied)
        this.inc({ app, result: 'rate_limited' }, counts.rateLimited)
        this.inc({ app, result: 'invalid' }, counts.invalid)
      }
    },
  })
}

/** The widget's route: widget telemetry, apart from livechat/analytics/dashboards/*. */
const WIDGET_ROUTE = 'livechat/widget-events'

/**
 * The body of the widget's route, a JSON Schema for ajv (Rocket.Chat compiles its
 * routes' bodies with ajv: `body: ajv.compile(schema)`). The visitor's token and the
 * room are required; the event's checks against the plan are the logger's.
 */
const widgetEventSchema = {
  type: 'object',
  properties: {
    token: { type: 'string', minLength: 1 },
    rid: { type: 'string', minLength: 1 },
    tabId: { type: 'string' },
    category: { type: 'string', minLength: 1 },
    action: { type: 'string', minLength: 1 },
    properties: { type: 'object' },
  },
  required: ['token', 'rid', 'category', 'action'],
  additionalProperties: false,
}

/**
 * The widget's route for Rocket.Chat's router, as the arguments of
 * `API.v1.post(path, options, action)` (apps/meteor/app/api/server/api.ts and
 * ApiClass.ts: `success(result)`, `failure(result, errorType)` answering 400; the
 * pattern of apps/meteor/app/api/server/v1/videoConference.ts: `body` an ajv
 * validator, `rateLimiterOptions: { numRequestsAllowed, intervalTimeInMS }`, the action
 * reading `this.bodyParams` and answering `API.v1.success(...)` or
 * `API.v1.failure('error-...')`). The visitor authenticates with the body's token, as
 * the livechat routes do (apps/meteor/app/livechat/server/api/lib/livechat.ts:
 * `findGuest(token)`, `findRoom(token, rid)`; an unknown token throws
 * `invalid-token`, as apps/meteor/app/livechat/server/api/v1/room.ts does).
 *
 *   API.v1.post(...widgetEventRoute({ API, controller, validate: ajv.compile(widgetEventSchema), findGuest, findRoom }))
 */
function widgetEventRoute({ API, controller, validate, findGuest, findRoom, rateLimit = { numRequestsAllowed: 60, intervalTimeInMS: 60_000 } }) {
  return [
    WIDGET_ROUTE,
    { authRequired: false, body: validate, rateLimiterOptions: rateLimit },
    async function action() {
      const { token, rid } = this.bodyParams
      const guest = await findGuest(token)
      if (!guest) throw new Error('invalid-token')
      const room = await findRoom(token, rid)
      if (!room) return API.v1.failure('error-invalid-room')
      const logger = loggerOf(controller)
      if (!logger) return API.v1.failure('error-analytics-disabled')
      try {
        return API.v1.success({ id: logger.logWidgetEvent(this.bodyParams) })
      } catch (e) {
        return API.v1.failure(e.code === 'ERR_EVENT_TOO_LARGE' ? 'error-event-too-large' : 'error-invalid-event', e.field)
      }
    },
  ]
}

module.exports.WIDGET_ROUTE = WIDGET_ROUTE
module.exports.widgetEventSchema = widgetEventSchema
module.exports.widgetEventRoute = widgetEventRoute
module.exports.bindSettings = bindSettings
module.exports.registerSettings = registerSettings
module.exports.registerOmnichannelCallbacks = registerOmnichannelCallbacks
module.exports.registerPrometheusMetrics = registerPrometheusMetrics
