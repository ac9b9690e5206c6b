'use strict'
// rocketchat-sns-analytics/rocketchat: the Rocket.Chat server's side, taking
// Rocket.Chat's own objects as arguments so that it can be tested without a server.
//
// Every Rocket.Chat API used here was read in the RocketChat/Rocket.Chat monorepo, in
// its newest version in the search index (Rocket.Chat 8.8/8.10-develop, the era of
// @rocket.chat/apps-engine 1.66.0); each function cites `path@commit`. The Apps-Engine
// side is a Rocket.Chat pull request, in rocketchat/upstream/.
//
// A `controller` is `{ logger }`, where `logger` is an AnalyticsLogger or null while
// analytics are switched off; an AnalyticsLogger itself is accepted too.

const PREFIX = 'rocketchat_sns_analytics_'

/** The server's own site URL setting, the default `siteUrl`. */
const SITE_URL_SETTING = 'Site_Url'

/** What `controller.close()` undoes besides closing the logger: hooks and patches. */
const detachersOf = new WeakMap()

/** Has `close()` of the controller `bindSettings` made run `detach` too. */
function detachOnClose(controller, detach) {
  const detachers = detachersOf.get(controller)
  if (detachers) detachers.add(detach)
}

/**
 * Adds the SNS_Analytics settings group to Rocket.Chat's settings registry, a section
 * at a time: `settingsRegistry.addGroup(group, async function () { await
 * this.section(name, async function () { await this.add(id, value, options) }) })`
 * (apps/meteor/server/settings/SettingsRegistry.ts@9fcb71da6495da073dc2ceffd375d3464ad01b53,
 * as apps/meteor/server/settings/analytics.ts@79dd2f8a9c5fc18d10f16d05fec6604127d0997c
 * uses it). Every setting but the switch carries `enableQuery: { _id:
 * 'SNS_Analytics_Enabled', value: true }`; the labels are i18n keys, whose English is
 * in rocketchat/i18n/en.i18n.json.
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
 * `settings.watchMultiple(ids, callback(values))`
 * (apps/meteor/server/settings/CachedSettings.ts@79dd2f8a9c5fc18d10f16d05fec6604127d0997c:
 * called with the values at once when they are all known, then, debounced, on every
 * change; returns a function that stops the watch).
 *
 * Returns a controller `{ logger, close() }`. `logger` is null while
 * `SNS_Analytics_Enabled` is off; turning it on creates the logger, a change
 * reconfigures it (nothing queued is lost or sent twice), and turning it off closes
 * it, delivering what it holds. A bad value is reported through `onError` with the
 * setting's id (`ERR_INVALID_SETTING`, `setting`), and the running logger keeps its
 * last good configuration; the logger's background failures go to `onError` too.
 * `close()` stops following the settings, detaches the hooks registered on this
 * controller (registerOmnichannelCallbacks) and closes the logger.
 */
function bindSettings(settings, { siteUrl, onError } = {}) {
  const { AnalyticsLogger, settingsDefinitions, optionsFromSettings } = require('..')
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.setting || e.option || e.code}: ${e.message}`))
  const ids = [...settingsDefinitions().settings.map((s) => s.id), SITE_URL_SETTING]
  const detachers = new Set()
  const controller = {
    logger: null,
    async close() {
      stop()
      for (const detach of detachers) detach()
      detachers.clear()
      const logger = controller.logger
      controller.logger = null
      return logger ? logger.close() : null
    },
  }
  detachersOf.set(controller, detachers)
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

/**
 * One "Chat Session/closed" per room, whichever path sees the close first: the
 * server's `livechat.closeRoom` hook or the widget's route. Rooms are remembered per
 * controller (or logger), the `capacity` most recent for `ttlMs`: a Livechat room is
 * never reopened (a new conversation is a new room), and both paths report a close
 * within moments of each other, so an hour is ample and bounds the memory. Across
 * server instances the widget route also asks the room itself: a room that is no
 * longer open was closed through the server, whose hook logs the close.
 */
class ClosedRooms {
  static capacity = 10_000
  static ttlMs = 60 * 60_000
  #claimed = new Map()

  /** How many registerOmnichannelCallbacks are attached for this controller now. */
  hooked = 0

  /** Whether a close of `rid` has been logged. */
  isClaimed(rid, now = Date.now()) {
    const at = this.#claimed.get(rid)
    return at !== undefined && now - at < ClosedRooms.ttlMs
  }

  /** Records that a close of `rid` was logged (called only once it was). */
  claim(rid, now = Date.now()) {
    this.#claimed.delete(rid)
    this.#claimed.set(rid, now)
    // A Map iterates in insertion order: the first key is the oldest claim.
    while (this.#claimed.size > ClosedRooms.capacity) this.#claimed.delete(this.#claimed.keys().next().value)
  }
}

const isClose = (event) => event.category === 'Chat Session' && event.action === 'closed'

const closedRoomsBySource = new WeakMap()

function closedRoomsOf(source) {
  const key = source && typeof source === 'object' ? source : closedRoomsOf
  let rooms = closedRoomsBySource.get(key)
  if (!rooms) closedRoomsBySource.set(key, (rooms = new ClosedRooms()))
  return rooms
}

// The Chat Session/closed close_method of `room.closer`: IOmnichannelRoom['closer'] is
// 'user' | 'visitor' (@rocket.chat/core-typings), and core sets nothing else
// (apps/meteor/server/lib/omnichannel/closeRoom.ts@9fcb71da6495da073dc2ceffd375d3464ad01b53,
// doCloseRoom). The names are the built-in plan rocketchat-livechat's.
const CLOSE_METHOD = { visitor: 'chat window', user: 'agent' }

const startedEvent = (room) => room && room._id && { category: 'Chat Session', action: 'started', roomId: room._id }

const assignedEvent = (rid, agent) => rid && agent && agent.agentId && { category: 'Agent Transfer', action: 'assigned', roomId: rid, properties: { agent_id: agent.agentId } }

/**
 * Agent Transfer/assigned from any form `afterTakeInquiry` has had:
 * - the makeFunction hook `afterTakeInquiry({ inquiry, room, agent })`
 *   (apps/meteor/server/lib/omnichannel/hooks.ts@4ddbc683c78066e4d04aafebffeb17779ccf6d7f);
 * - the callback `livechat.afterTakeInquiry({ inquiry, room }, agent)`, its last form
 *   (apps/meteor/lib/callbacks.ts@ee1d34530b31ef6e61e8aa81485934782a5b3ebd);
 * - the callback `livechat.afterTakeInquiry(inquiry, agent)`, the form before
 *   (apps/meteor/lib/callbacks.ts@02af8ce30c0393b638db4c0301fe3eaf0ee1e5f9).
 * `agent` is `{ agentId, username }`; the room is `room._id`, else `inquiry.rid`.
 */
function takenEvent(first, second) {
  if (!first || typeof first !== 'object') return null
  if ('inquiry' in first || 'room' in first) {
    const agent = 'agent' in first ? first.agent : second
    return assignedEvent((first.room && first.room._id) || (first.inquiry && first.inquiry.rid), agent)
  }
  return assignedEvent(first.rid, second)
}

/** A refusal of `room.closer`: neither of the values core sets. */
function unknownCloser(room) {
  const error = new TypeError(
    `room ${room._id} was closed by ${JSON.stringify(room.closer)}: Rocket.Chat sets room.closer to 'user' or 'visitor' only, so no Chat Session/closed close_method is known for it; nothing was logged for this close`,
  )
  error.code = 'ERR_INVALID_EVENT'
  error.field = 'room.closer'
  return error
}

/** The callback hooks, by name, and the event each logs (`null`: nothing to log). */
const CALLBACK_HOOKS = {
  // EventLikeCallbackSignatures['livechat.closeRoom']: (params: { room: IOmnichannelRoom; options }) => void
  // (apps/meteor/server/lib/callbacks.ts@1780d2a3e4f4f259f5c2c198f79f04a0a83b4dc5; run by
  // closeRoom.ts@9fcb71da after the close is committed, with the room read back).
  'livechat.closeRoom': (params, _constant, closedRooms) => {
    const room = params && params.room
    if (!room || !room._id) return null
    const method = CLOSE_METHOD[room.closer]
    if (!method) throw unknownCloser(room)
    if (closedRooms.isClaimed(room._id)) return null
    return {
      category: 'Chat Session',
      action: 'closed',
      roomId: room._id,
      eventType: method === 'chat window' ? 'customerAction' : 'session',
      properties: { close_method: method },
    }
  },
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
 * The hooks that became makeFunction hooks, by the option that passes each, with the
 * callback name a server from before the change runs instead.
 */
const FUNCTION_HOOKS = {
  // onNewRoom(room: IOmnichannelRoom), awaited by QueueManager.requestRoom
  // (apps/meteor/server/lib/omnichannel/QueueManager.ts@366f6a7f1c7b3176664e03a74c0647688c7af069);
  // before: ChainedCallbackSignatures['livechat.newRoom']: (room) => room
  // (apps/meteor/lib/callbacks.ts@ee1d34530b31ef6e61e8aa81485934782a5b3ebd).
  onNewRoom: { callback: 'livechat.newRoom', toEvent: startedEvent },
  // afterTakeInquiry({ inquiry, room, agent }), not awaited by RoutingManager.takeInquiry
  // (apps/meteor/server/lib/omnichannel/RoutingManager.ts@5c53320a04588603dcc39910b28fe3f339868c68);
  // before: the callback livechat.afterTakeInquiry (see takenEvent).
  afterTakeInquiry: { callback: 'livechat.afterTakeInquiry', toEvent: takenEvent },
}

/**
 * Logs the catalog's Chat Session and Agent Transfer events from Rocket.Chat's own
 * omnichannel hooks, in both of their forms:
 *
 * - Callbacks (apps/meteor/server/lib/callbacks.ts@1780d2a3e4f4f259f5c2c198f79f04a0a83b4dc5):
 *   `callbacks.add(hook, fn, callbacks.priority.LOW, id)` for `livechat.closeRoom`,
 *   `livechat:afterReturnRoomAsInquiry`, `livechat.afterForwardChatToAgent` and
 *   `livechat.afterForwardChatToDepartment`. An id already added is not added again.
 * - The makeFunction hooks `onNewRoom` and `afterTakeInquiry`
 *   (apps/meteor/server/lib/omnichannel/hooks.ts@4ddbc683c78066e4d04aafebffeb17779ccf6d7f),
 *   when passed: `hook.patch(fn)` (packages/patch-injection/src/makeFunction.ts@a8e140c46fc8c600200ac9c1ca77b6f249513baf,
 *   and the form before it, @7d6ba5d3b92ebfd454fa7b26d419a2f5e92b710e). The patch logs,
 *   then calls `next` once with the same arguments and returns what it returns: an
 *   exception or rejection of the hook reaches Rocket.Chat as it would without us.
 *   When they are not passed (a server from before the change), the callbacks
 *   `livechat.newRoom` and `livechat.afterTakeInquiry` are used instead.
 *
 * Each logs the catalog's event for the payload and hands the payload on unchanged;
 * nothing is thrown into Rocket.Chat: a refused event goes to `onError`, or to the
 * console. The visitor's token is never read. A visitor's close is logged once: see
 * ClosedRooms.
 *
 * Returns a function that detaches every callback and patch it added (the remover
 * `add` and `.patch` return, or `callbacks.remove(hook, id)` where `add` returns
 * none, as before apps/meteor/server/lib/callbacks/callbacksBase.ts@4e43840098dd6bb55f16397d277619dd276035df);
 * the controller `bindSettings` returns calls it on `close()`.
 */
function registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry, onError } = {}) {
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.code || 'error'}: ${e.message}`))
  const closedRooms = closedRoomsOf(controller)
  const logFor = (toEvent, first, second) => {
    try {
      const logger = loggerOf(controller)
      const event = logger && toEvent(first, second, closedRooms)
      if (!event) return
      logger.log(event)
      if (isClose(event)) closedRooms.claim(event.roomId)
    } catch (e) {
      try {
        report(e)
      } catch {
        // An onError that throws must not reach Rocket.Chat either.
      }
    }
  }
  const detachers = []
  const addCallback = (hook, toEvent) => {
    const id = `rocketchat-sns-analytics:${hook}`
    const remover = callbacks.add(
      hook,
      (item, constant) => {
        logFor(toEvent, item, constant)
        return item
      },
      callbacks.priority.LOW,
      id,
    )
    detachers.push(typeof remover === 'function' ? remover : () => callbacks.remove(hook, id))
  }
  for (const [hook, toEvent] of Object.entries(CALLBACK_HOOKS)) addCallback(hook, toEvent)
  const patched = { onNewRoom, afterTakeInquiry }
  for (const [name, { callback, toEvent }] of Object.entries(FUNCTION_HOOKS)) {
    const hook = patched[name]
    if (hook == null) {
      addCallback(callback, toEvent)
      continue
    }
    if (typeof hook.patch !== 'function') {
      throw new TypeError(`registerOmnichannelCallbacks: ${name} must be Rocket.Chat's ${name} hook (a makeFunction function with .patch), got ${typeof hook}`)
    }
    detachers.push(
      hook.patch((next, ...args) => {
        logFor(toEvent, ...args)
        return next(...args)
      }),
    )
  }
  let attached = true
  closedRooms.hooked += 1
  const detach = () => {
    if (!attached) return
    attached = false
    closedRooms.hooked -= 1
    for (const remove of detachers) remove()
  }
  detachOnClose(controller, detach)
  return detach
}

/**
 * Puts the logger's counters and gauges on a prom-client `Registry` (Rocket.Chat's
 * metrics are prom-client: apps/meteor/server/lib/metrics/lib/metrics.ts@96b2c0ba958a9d6882d083499847d5e7ae1d05f7) as
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
 * The body of the widget's route, a JSON Schema for Rocket.Chat's ajv. The visitor's
 * token and the room are required; the event's checks against the plan are the
 * logger's.
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

/** Why a widget event was answered without being logged. */
const CLOSE_ALREADY_LOGGED = 'room-close-already-logged'

/**
 * The route's 200 answer: the logged event's id, or `skipped` when the event was a
 * Chat Session/closed for a room whose close is already logged (see ClosedRooms).
 */
const widgetEventResponseSchema = {
  type: 'object',
  properties: {
    success: { type: 'boolean', enum: [true] },
    id: { type: 'string' },
    skipped: { type: 'string', enum: [CLOSE_ALREADY_LOGGED] },
  },
  required: ['success'],
  oneOf: [{ required: ['id'] }, { required: ['skipped'] }],
  additionalProperties: false,
}

/** The 400 errorType for each error logWidgetEvent throws; others are `error-analytics-unavailable`. */
const WIDGET_ERROR_TYPES = {
  ERR_INVALID_EVENT: 'error-invalid-event',
  ERR_TRACKING_PLAN: 'error-invalid-event',
  ERR_EVENT_TOO_LARGE: 'error-event-too-large',
}

/**
 * The widget's route for Rocket.Chat's router, as the arguments of
 * `API.v1.post(path, options, action)`, a typed route as
 * apps/meteor/server/api/v1/omnichannel/transcript.ts@404e1e28ed56214ba20c8aea18a5cd37e5311fcd
 * declares one: `body` and a `response` validator for every status the route answers
 * (200 and 400), compiled with Rocket.Chat's own `ajv` and its
 * `validateBadRequestErrorResponse` (both exported by @rocket.chat/rest-typings), so
 * that the route passes packages/http-router's TEST_MODE check
 * (packages/http-router/src/Router.ts@05360738ef253d8ad85a1eb64e311dd94c7037c7).
 *
 * The visitor authenticates with the body's token, as the livechat routes do
 * (apps/meteor/server/api/v1/omnichannel/lib/livechat.ts@52ee6c277218499adf7ac8b5fede8b6f7a4c9095:
 * `findGuest(token)`, `findRoom(token, rid)`). Failures answer Rocket.Chat's 400
 * shape (apps/meteor/server/api/ApiClass.ts@b2da25443e9c7472fb23fb68799290b6d67e6cbe,
 * `failure(error, errorType, stack, { details })`): `invalid-token` and `invalid-room`
 * as `error`, as the livechat room routes answer; the logger's refusals with their
 * message as `error`, `errorType` `error-invalid-event` or `error-event-too-large`
 * (`error-analytics-unavailable` for a full queue or a closed logger), and `details:
 * { field }`; switched off, `errorType` `error-analytics-disabled`.
 *
 *   import { ajv, validateBadRequestErrorResponse } from '@rocket.chat/rest-typings';
 *   API.v1.post(...widgetEventRoute({ API, controller, ajv, validateBadRequestErrorResponse, findGuest, findRoom }))
 */
function widgetEventRoute({ API, controller, ajv, validateBadRequestErrorResponse, findGuest, findRoom, rateLimit = { numRequestsAllowed: 60, intervalTimeInMS: 60_000 } }) {
  if (!ajv || typeof ajv.compile !== 'function') {
    throw new TypeError("widgetEventRoute: ajv must be Rocket.Chat's ajv instance (import { ajv } from '@rocket.chat/rest-typings')")
  }
  if (typeof validateBadRequestErrorResponse !== 'function') {
    throw new TypeError("widgetEventRoute: validateBadRequestErrorResponse must be Rocket.Chat's (import { validateBadRequestErrorResponse } from '@rocket.chat/rest-typings')")
  }
  const closedRooms = closedRoomsOf(controller)
  const options = {
    authRequired: false,
    body: ajv.compile(widgetEventSchema),
    response: { 200: ajv.compile(widgetEventResponseSchema), 400: validateBadRequestErrorResponse },
    rateLimiterOptions: rateLimit,
  }
  return [
    WIDGET_ROUTE,
    options,
    async function action() {
      const { token, rid, category, action } = this.bodyParams
      const guest = await findGuest(token)
      if (!guest) return API.v1.failure('invalid-token')
      const room = await findRoom(token, rid)
      if (!room) return API.v1.failure('invalid-room')
      const logger = loggerOf(controller)
      if (!logger) return API.v1.failure('SNS analytics are switched off (SNS_Analytics_Enabled)', 'error-analytics-disabled')
      const closes = isClose({ category, action })
      // A room no longer open was closed through the server, on whichever instance:
      // its livechat.closeRoom hook logs the close, when the hooks are attached here.
      if (closes && (closedRooms.isClaimed(room._id) || (closedRooms.hooked > 0 && room.open !== true))) {
        return API.v1.success({ skipped: CLOSE_ALREADY_LOGGED })
      }
      let id
      try {
        id = logger.logWidgetEvent(this.bodyParams)
      } catch (e) {
        return API.v1.failure(e.message, WIDGET_ERROR_TYPES[e.code] ?? 'error-analytics-unavailable', undefined, e.field ? { details: { field: e.field } } : undefined)
      }
      if (closes) closedRooms.claim(room._id)
      return API.v1.success({ id })
    },
  ]
}

module.exports.WIDGET_ROUTE = WIDGET_ROUTE
module.exports.widgetEventSchema = widgetEventSchema
module.exports.widgetEventResponseSchema = widgetEventResponseSchema
module.exports.widgetEventRoute = widgetEventRoute
module.exports.bindSettings = bindSettings
module.exports.registerSettings = registerSettings
module.exports.registerOmnichannelCallbacks = registerOmnichannelCallbacks
module.exports.registerPrometheusMetrics = registerPrometheusMetrics
