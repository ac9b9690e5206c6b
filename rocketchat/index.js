'use strict'
// rocketchat-sns-analytics/rocketchat: the Rocket.Chat server's side, taking
// Rocket.Chat's own objects as arguments so that it can be tested without a server.
//
// Every Rocket.Chat API used here was read in the RocketChat/Rocket.Chat monorepo, in
// its newest version in the search index (Rocket.Chat 8.8/8.10-develop, the era of
// @rocket.chat/apps-engine 1.66.0); each function cites `path@commit`. The Apps-Engine
// side is a Rocket.Chat pull request, in rocketchat/upstream/.
//
// A `controller` is `{ logger, factDelayMs? }`, where `logger` is an AnalyticsLogger or
// null while analytics are switched off, and `factDelayMs` how long a room's start or
// close waits for the other paths' reports of it (RoomFacts; read when the first entry
// point is wired to the controller); an AnalyticsLogger itself is accepted too.

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
 * Returns a controller `{ logger, factDelayMs, close() }`. `logger` is null while
 * `SNS_Analytics_Enabled` is off; turning it on creates the logger, a change
 * reconfigures it (nothing queued is lost or sent twice), and turning it off closes
 * it, delivering what it holds, the room facts still waiting included. A bad value is
 * reported through `onError` with the setting's id (`ERR_INVALID_SETTING`, `setting`),
 * and the running logger keeps its last good configuration; the logger's background
 * failures go to `onError` too. `factDelayMs` (default FACT_DELAY_MS) is how long a
 * room's start or close waits for the other paths' reports of it (RoomFacts).
 * `close(options)` stops following the settings, detaches the hooks registered on this
 * controller (registerOmnichannelCallbacks), logs the room facts still waiting at once,
 * and closes the logger with `options` (AnalyticsLogger.close's).
 */
function bindSettings(settings, { siteUrl, onError, factDelayMs } = {}) {
  const { AnalyticsLogger, settingsDefinitions, optionsFromSettings } = require('..')
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.setting || e.option || e.code}: ${e.message}`))
  const ids = [...settingsDefinitions().settings.map((s) => s.id), SITE_URL_SETTING]
  const detachers = new Set()
  const controller = {
    logger: null,
    factDelayMs: checkFactDelay(factDelayMs, 'bindSettings: factDelayMs'),
    close(options) {
      stop()
      for (const detach of detachers) detach()
      detachers.clear()
      const logger = controller.logger
      controller.logger = null
      // Nothing waiting for other reports is lost: it is logged now, on this logger
      // (synchronously, except a fallback after an App's report was refused). The
      // logger's close starts in this same turn, so that a host that calls
      // process.exit() right after (on SIGTERM, say) leaves its deadline to the addon's
      // 'exit' hook.
      const facts = roomFactsOf(controller).flush(logger)
      const closed = logger ? logger.close(options) : Promise.resolve(null)
      return facts.then(() => closed)
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
      if (running) {
        roomFactsOf(controller)
          .flush(running)
          .then(() => running.close())
          .catch(report)
      }
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

// The three paths of this package that carry events: the server's own hooks
// (registerOmnichannelCallbacks), Rocket.Chat Apps through the Apps-Engine bridge
// (appsBridge), and the Livechat widget's route (widgetEventRoute).
const HOOK = 'hook'
const APP = 'app'
const WIDGET = 'widget'

/** What each path is called in a refusal. */
const PATH_NAMES = { [HOOK]: "the server's hooks", [APP]: 'Apps', [WIDGET]: 'the widget route' }

/**
 * One owner per event (docs/rocketchat.md, "One owner per event", has the same table
 * with the emitters of the seed catalog and the reasons). For every catalog event:
 * the paths that may carry it, each with what carries it there. An entry with `by`
 * depends on one property: `values` gives the carriers of each value, `other` those of
 * any other value or of none. A path an entry does not name may not log the event.
 * An event the table does not list (a custom plan's) may come from Apps only.
 *
 * Chat Session/started and /closed may reach several paths for one room; RoomFacts
 * makes them one event per room. One forward of a room logs two events, both meant:
 * Rocket.Chat's forwardRoomToAgent runs RoutingManager.takeInquiry, whose
 * afterTakeInquiry logs Agent Transfer/assigned (every assignment of an agent: the first
 * take and each forward), then the livechat.afterForwardChatToAgent callback, which logs
 * Agent Transfer/successful (every transfer)
 * (apps/meteor/server/lib/omnichannel/Helper.ts@5c53320a04588603dcc39910b28fe3f339868c68).
 */
const EVENT_OWNERS = deepFreeze({
  'Chat Session/started': {
    [HOOK]: "the server's onNewRoom hook",
    [APP]: "an App (the Dialogflow App, on IPostLivechatRoomStarted), merged into the hook's event for its dialogflowAgentId",
  },
  'Chat Session/closed': {
    by: 'close_method',
    values: {
      agent: { [HOOK]: "the server's livechat.closeRoom hook (room.closer 'user')", [APP]: 'an App (the Salesforce App)' },
      'chat window': { [HOOK]: "the server's livechat.closeRoom hook (room.closer 'visitor')", [WIDGET]: 'the widget route' },
      timeout: { [APP]: 'an App (the Salesforce App)' },
      expired_session: { [APP]: 'an App (the Salesforce App)' },
      liveagent_disconnected: { [APP]: 'an App (the Salesforce App)' },
      df_bot: { [APP]: 'an App (the Dialogflow App)' },
      escalation_failure: { [APP]: 'an App' },
      visitor_abandonment: { [APP]: 'an App' },
    },
    other: { [APP]: 'an App (a close method of a custom plan)' },
  },
  'Agent Transfer/assigned': { [HOOK]: "the server's afterTakeInquiry hook" },
  'Agent Transfer/unassigned': { [HOOK]: "the server's livechat:afterReturnRoomAsInquiry callback" },
  'Agent Transfer/successful': {
    by: 'transfer_type',
    values: {
      agent: { [HOOK]: "the server's livechat.afterForwardChatToAgent callback" },
      department: { [HOOK]: "the server's livechat.afterForwardChatToDepartment callback" },
    },
    other: { [APP]: "an App (the Salesforce App's handover, which Rocket.Chat does not see)" },
  },
  'Agent Transfer/failed': { [APP]: 'an App' },
  'Agent Disconnect/triggered': { [APP]: 'an App (the Salesforce App)' },
  'Escalation/attempted': { [APP]: 'an App (the Dialogflow App)' },
  'Escalation/failed': { [APP]: 'an App (the Salesforce App or the Dialogflow App)' },
  'Escalation/successful': { [APP]: 'an App (the Salesforce App)' },
  'Transcript Download/selected': { [WIDGET]: 'the widget route' },
  'Survey/link_clicked': { [WIDGET]: 'the widget route' },
  'Window/opened': { [WIDGET]: 'the widget route' },
  'Window/closed': { [WIDGET]: 'the widget route' },
})

function deepFreeze(value) {
  for (const inner of Object.values(value)) if (inner && typeof inner === 'object') deepFreeze(inner)
  return Object.freeze(value)
}

/** The events the widget route carries, for its refusals. */
const WIDGET_EVENTS = Object.keys(EVENT_OWNERS).filter((name) => EVENT_OWNERS[name][WIDGET])

/**
 * Throws ERR_EVENT_OWNER when `path` may not log `event` (see EVENT_OWNERS), naming
 * the event, the path and the owner.
 */
function checkOwner(event, path) {
  let name = `${event.category}/${event.action}`
  const entry = EVENT_OWNERS[name]
  if (!entry) {
    if (path === APP) return
    throw ownerError(`${name} is not an event of the widget; the widget route logs ${WIDGET_EVENTS.join(', ')} only`, name, path)
  }
  let carriers = entry
  let field
  if (entry.by) {
    const value = event.properties && typeof event.properties === 'object' ? event.properties[entry.by] : undefined
    if (typeof value === 'string' && Object.hasOwn(entry.values, value)) {
      carriers = entry.values[value]
      name = `${name} with ${entry.by} '${value}'`
    } else {
      carriers = entry.other
    }
    field = `properties.${entry.by}`
  }
  if (carriers[path]) return
  const owners = [HOOK, APP, WIDGET].filter((p) => carriers[p]).map((p) => carriers[p])
  throw ownerError(`${name} is logged by ${owners.join(' and ')}; ${PATH_NAMES[path]} cannot log it`, `${event.category}/${event.action}`, path, field)
}

function ownerError(reason, event, path, field) {
  const error = new TypeError(`${reason} (docs/rocketchat.md, One owner per event)`)
  error.code = 'ERR_EVENT_OWNER'
  error.event = event
  error.path = path
  if (field) error.field = field
  return error
}

// The one close_method mapping, used by every path. `room.closer` is IOmnichannelRoom's
// 'user' | 'visitor' (@rocket.chat/core-typings), and core sets nothing else
// (apps/meteor/server/lib/omnichannel/closeRoom.ts@9fcb71da6495da073dc2ceffd375d3464ad01b53,
// doCloseRoom). The names are the built-in plan rocketchat-livechat's. An App reports
// its own close_method (EVENT_OWNERS), and the widget only ever 'chat window', the
// visitor's.
const CLOSE_METHOD = Object.freeze({ visitor: 'chat window', user: 'agent' })

/** The close_method of a room Rocket.Chat closed; throws for a closer core never sets. */
function closeMethodOf(room) {
  const method = Object.hasOwn(CLOSE_METHOD, room.closer) ? CLOSE_METHOD[room.closer] : undefined
  if (!method) throw unknownCloser(room)
  return method
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

/** Chat Session/closed as the catalog has it: 'chat window' is the visitor's own action. */
const closedEvent = (roomId, method) => ({
  category: 'Chat Session',
  action: 'closed',
  roomId,
  eventType: method === CLOSE_METHOD.visitor ? 'customerAction' : 'session',
  properties: { close_method: method },
})

/** Why logging is refused while SNS_Analytics_Enabled is off. */
function analyticsOff() {
  const error = new Error('SNS analytics are switched off (SNS_Analytics_Enabled)')
  error.code = 'ERR_ANALYTICS_DISABLED'
  return error
}

/**
 * How specific a report of a room's close is; the most specific one is logged. The
 * hook knows only who closed the room: 'agent' (closer 'user') says least, since it is
 * also what a Salesforce timeout, a bot or core's visitor-abandonment monitor look
 * like to core; 'chat window' is the visitor's. An App's report names the reason
 * itself. The widget's report counts only where no hook is attached: with the hooks,
 * it adds its tab to the hook's 'chat window' and nothing else (RoomFacts #logOne).
 */
const CLOSE_RANK = { hookAgent: 0, hookVisitor: 1, widget: 2, app: 3 }

function closeRank({ path, event }) {
  if (path === APP) return CLOSE_RANK.app
  if (path === WIDGET) return CLOSE_RANK.widget
  return event.properties.close_method === CLOSE_METHOD.visitor ? CLOSE_RANK.hookVisitor : CLOSE_RANK.hookAgent
}

/**
 * The room facts several paths report. `rank` orders the reports of one room (the
 * highest is logged; equal ranks keep the first); `complete` says when nothing more
 * specific can come, so that the event is logged without waiting.
 */
const ROOM_FACTS = {
  // The hook owns the start; an App's report adds the room's Dialogflow agent, which
  // Rocket.Chat core does not know (see docs/rocketchat.md). With no hook attached,
  // an App's report is all there is.
  'Chat Session/started': {
    rank: ({ path }) => (path === HOOK ? 1 : 0),
    complete: (reports, hooked) => reports.some((r) => r.path === APP) && (hooked === 0 || reports.some((r) => r.path === HOOK)),
  },
  'Chat Session/closed': {
    rank: closeRank,
    complete: (reports) => reports.some((r) => r.rank === CLOSE_RANK.app),
  },
}

const isRoomFact = (event) => Object.hasOwn(ROOM_FACTS, `${event.category}/${event.action}`)

/** The default of `factDelayMs`; see RoomFacts. */
const FACT_DELAY_MS = 2000
const MAX_FACT_DELAY_MS = 60_000

function checkFactDelay(value, where) {
  if (value === undefined) return FACT_DELAY_MS
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_FACT_DELAY_MS) {
    const error = new TypeError(`${where} must be a number of milliseconds from 0 to ${MAX_FACT_DELAY_MS}, got ${typeof value === 'number' ? value : typeof value}`)
    error.code = 'ERR_INVALID_OPTION'
    error.option = 'factDelayMs'
    throw error
  }
  return value
}

/**
 * One Chat Session/started and one Chat Session/closed per room, whichever paths
 * report it and in whatever order. The first report of a room's fact starts a timer of
 * `factDelayMs`; the reports of that room and fact within it are merged, and at expiry
 * ONE event is logged: the highest-ranked report's, through its own path (the hook's
 * and the widget's with logger.log, an App's with its bridge, so that its appId and
 * rate limit apply), with the dialogflowAgentId of any report that has one. A report
 * after which nothing more specific can come (ROOM_FACTS' `complete`) logs at once. If
 * the chosen report is refused (an App over its rate limit, say), the next one is
 * logged instead: a valid report is never lost to an invalid one.
 *
 * Each report resolves to `{ id }`, the one event's id, or rejects with its own
 * refusal when nothing could be logged from it; a report after the fact was logged
 * resolves to `{ skipped: true, id }`. Every event keeps the time of its report, not of
 * the decision. The rooms logged are remembered, the `capacity` most recent for `ttlMs`:
 * reports of one fact come within moments of each other, so an hour is ample and
 * bounds the memory. Timers are unref'd: an idle controller never keeps Node alive;
 * `flush()` (controller.close() of bindSettings) logs what is pending at once, and so
 * does the process's end (see flushOnExit).
 */
class RoomFacts {
  static capacity = 10_000
  static ttlMs = 60 * 60_000
  #controller
  #pending = new Map()
  #logged = new Map()

  /** How many registerOmnichannelCallbacks are attached for this controller now. */
  hooked = 0

  constructor(controller, delayMs) {
    this.#controller = controller
    this.delayMs = delayMs
  }

  /**
   * Adds a report `{ path, event, log(event, logger) }` (the event with its roomId) to
   * its room's fact; see the class.
   */
  report(report) {
    const name = `${report.event.category}/${report.event.action}`
    const key = `${name}\n${report.event.roomId}`
    const logged = this.#loggedId(key)
    if (logged !== undefined) return Promise.resolve({ skipped: true, id: logged })
    let fact = this.#pending.get(key)
    // Being logged (an App's path is asynchronous): this report comes after the decision.
    if (fact && fact.deciding) return fact.deciding.then(() => this.report(report))
    if (!fact) {
      fact = { key, name, roomId: report.event.roomId, reports: [], deciding: null, timer: null }
      this.#pending.set(key, fact)
      flushOnExit(this)
      fact.timer = setTimeout(() => this.#decide(fact), this.delayMs)
      fact.timer.unref?.()
    }
    const rule = ROOM_FACTS[name]
    const entry = { ...report, event: { ...report.event, timestamp: report.event.timestamp ?? new Date() } }
    entry.rank = rule.rank(entry)
    fact.reports.push(entry)
    const outcome = new Promise((resolve, reject) => Object.assign(entry, { resolve, reject }))
    if (rule.complete(fact.reports, this.hooked)) this.#decide(fact)
    return outcome
  }

  /** Whether a report of this room's fact is waiting. */
  isPending(name, roomId) {
    return this.#pending.has(`${name}\n${roomId}`)
  }

  /** Logs every pending fact now, through `logger` (default: the controller's). */
  flush(logger) {
    return Promise.all([...this.#pending.values()].map((fact) => fact.deciding || this.#decide(fact, logger)))
  }

  #decide(fact, logger = loggerOf(this.#controller)) {
    clearTimeout(fact.timer)
    fact.deciding = this.#logOne(fact, logger)
      // #logOne settles every report itself; a timer's promise must never reject unhandled.
      .catch(() => {})
      .finally(() => {
        this.#pending.delete(fact.key)
        if (this.#pending.size === 0) waitingFacts.delete(this)
      })
    return fact.deciding
  }

  async #logOne(fact, logger) {
    let candidates = [...fact.reports].sort((a, b) => b.rank - a.rank)
    if (fact.name === 'Chat Session/closed' && this.hooked > 0) {
      // With the hooks attached, the server says who closed the room: the widget's
      // report (anyone's, from the public route) only adds its tab to the visitor's own
      // close, and never stands in for the server's. A close the server never reports
      // here (the room is still open, or it closed on another instance, whose hook
      // logs it) is not logged from the widget.
      const widget = fact.reports.find((r) => r.path === WIDGET)
      const visitorClose = fact.reports.find((r) => r.path === HOOK && r.event.properties.close_method === CLOSE_METHOD.visitor)
      if (widget && visitorClose && widget.event.tabId !== undefined) visitorClose.event = { ...visitorClose.event, tabId: widget.event.tabId }
      candidates = candidates.filter((r) => r.path !== WIDGET)
    }
    const agentId = fact.reports.map((r) => r.event.dialogflowAgentId).find((id) => typeof id === 'string' && id)
    const refusals = new Map()
    let id
    for (const candidate of candidates) {
      try {
        if (!logger) throw analyticsOff()
        const event = agentId && !candidate.event.dialogflowAgentId ? { ...candidate.event, dialogflowAgentId: agentId } : candidate.event
        id = await candidate.log(event, logger)
        break
      } catch (e) {
        refusals.set(candidate, e)
      }
    }
    if (id !== undefined) this.#remember(fact.key, id)
    for (const r of fact.reports) {
      if (id === undefined && !candidates.includes(r)) r.resolve({ leftToServer: true })
      else if (id !== undefined && !refusals.has(r)) r.resolve({ id })
      else r.reject(withRoom(refusals.get(r) ?? analyticsOff(), fact.roomId))
    }
  }

  #loggedId(key, now = Date.now()) {
    const logged = this.#logged.get(key)
    return logged && now - logged.at < RoomFacts.ttlMs ? logged.id : undefined
  }

  #remember(key, id, now = Date.now()) {
    this.#logged.delete(key)
    this.#logged.set(key, { id, at: now })
    // A Map iterates in insertion order: the first key is the oldest.
    while (this.#logged.size > RoomFacts.capacity) this.#logged.delete(this.#logged.keys().next().value)
  }
}

/** The RoomFacts with facts waiting. */
const waitingFacts = new Set()
let exitListening = false

/**
 * Logs the facts of `facts` still waiting when the process exits: process.exit() (a
 * host's own SIGTERM handler, as Rocket.Chat's broker's), or the script's end. Only
 * synchronous work runs on 'exit', and each fact's chosen report is logged
 * synchronously (log() and AppsEngineBridge.doLogEvent log before they return). The
 * listener is prepended, to run before the addon's own 'exit' listener, which then
 * delivers what is logged. One listener for every controller.
 */
function flushOnExit(facts) {
  waitingFacts.add(facts)
  if (exitListening) return
  exitListening = true
  process.prependListener('exit', () => {
    for (const waiting of waitingFacts) waiting.flush()
  })
}

/** `error`, with the room it was about. */
function withRoom(error, roomId) {
  if (error && typeof error === 'object' && error.roomId === undefined) {
    try {
      error.roomId = roomId
    } catch {
      // A frozen error goes as it is.
    }
  }
  return error
}

const roomFactsBySource = new WeakMap()

/** The RoomFacts of a controller (or logger): one per controller, shared by every path. */
function roomFactsOf(source) {
  const key = source && typeof source === 'object' ? source : roomFactsOf
  let facts = roomFactsBySource.get(key)
  if (!facts) {
    const delayMs = checkFactDelay(key === source ? source.factDelayMs : undefined, 'controller.factDelayMs')
    roomFactsBySource.set(key, (facts = new RoomFacts(source, delayMs)))
  }
  return facts
}

/** Chat Session/started once Rocket.Chat counts the start: see FUNCTION_HOOKS.onNewRoom. */
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

/** The callback hooks, by name, and the event each logs (`null`: nothing to log). */
const CALLBACK_HOOKS = {
  // EventLikeCallbackSignatures['livechat.closeRoom']: (params: { room: IOmnichannelRoom; options }) => void
  // (apps/meteor/server/lib/callbacks.ts@1780d2a3e4f4f259f5c2c198f79f04a0a83b4dc5; run by
  // closeRoom.ts@9fcb71da after the close is committed, with the room read back).
  'livechat.closeRoom': (params) => {
    const room = params && params.room
    if (!room || !room._id) return null
    return closedEvent(room._id, closeMethodOf(room))
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
 * callback name a server from before the change runs instead. `afterNext`: the patch
 * logs once `next` resolves, not before calling it.
 */
const FUNCTION_HOOKS = {
  // onNewRoom(room: IOmnichannelRoom), awaited by QueueManager.requestRoom after the
  // room is committed; only once it resolves does requestRoom save the 'livechat-started'
  // message and fire IPostLivechatRoomStarted, and a rejection leaves the room unrouted
  // (apps/meteor/server/lib/omnichannel/QueueManager.ts@366f6a7f1c7b3176664e03a74c0647688c7af069).
  // So a start is logged as Rocket.Chat counts it: once onNewRoom resolves.
  // Before: ChainedCallbackSignatures['livechat.newRoom']: (room) => room
  // (apps/meteor/lib/callbacks.ts@ee1d34530b31ef6e61e8aa81485934782a5b3ebd).
  onNewRoom: { callback: 'livechat.newRoom', toEvent: startedEvent, afterNext: true },
  // afterTakeInquiry({ inquiry, room, agent }), not awaited by RoutingManager.takeInquiry,
  // which has taken the inquiry already
  // (apps/meteor/server/lib/omnichannel/RoutingManager.ts@5c53320a04588603dcc39910b28fe3f339868c68);
  // before: the callback livechat.afterTakeInquiry (see takenEvent).
  afterTakeInquiry: { callback: 'livechat.afterTakeInquiry', toEvent: takenEvent, afterNext: false },
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
 *   and the form before it, @7d6ba5d3b92ebfd454fa7b26d419a2f5e92b710e). The patch calls
 *   `next` once with the same arguments and returns what it returns, the same value or
 *   promise: an exception or rejection of the hook reaches Rocket.Chat as it would
 *   without us. The afterTakeInquiry patch logs before calling `next` (the inquiry is
 *   taken already); the onNewRoom patch logs once `next` resolves, and nothing if it
 *   throws or rejects (see FUNCTION_HOOKS). When they are not passed (a server from
 *   before the change), the callbacks `livechat.newRoom` and `livechat.afterTakeInquiry`
 *   are used instead.
 *
 * Each logs the catalog's event for the payload and hands the payload on unchanged;
 * nothing is thrown into Rocket.Chat: a refused event goes to `onError` (with `roomId`
 * when it is a room's start or close), or to the console. The visitor's token is never
 * read. Starts and closes go through the controller's RoomFacts, which other paths
 * report to as well: one event per room.
 *
 * Returns a function that detaches every callback and patch it added (the remover
 * `add` and `.patch` return, or `callbacks.remove(hook, id)` where `add` returns
 * none, as before apps/meteor/server/lib/callbacks/callbacksBase.ts@4e43840098dd6bb55f16397d277619dd276035df);
 * the controller `bindSettings` returns calls it on `close()`.
 */
function registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry, onError } = {}) {
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.code || 'error'}: ${e.message}`))
  const reportSafely = (e) => {
    try {
      report(e)
    } catch {
      // An onError that throws must not reach Rocket.Chat either.
    }
  }
  const facts = roomFactsOf(controller)
  const logFor = (toEvent, first, second) => {
    try {
      const logger = loggerOf(controller)
      const event = logger && toEvent(first, second)
      if (!event) return
      if (!isRoomFact(event)) {
        logger.log(event)
        return
      }
      facts.report({ path: HOOK, event, log: (merged, target) => target.log(merged) }).catch((e) => {
        // Switched off before the fact was decided: a hook logs nothing then, as below.
        if (e && e.code !== 'ERR_ANALYTICS_DISABLED') reportSafely(e)
      })
    } catch (e) {
      reportSafely(e)
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
  for (const [name, { callback, toEvent, afterNext }] of Object.entries(FUNCTION_HOOKS)) {
    const hook = patched[name]
    if (hook == null) {
      addCallback(callback, toEvent)
      continue
    }
    if (typeof hook.patch !== 'function') {
      throw new TypeError(`registerOmnichannelCallbacks: ${name} must be Rocket.Chat's ${name} hook (a makeFunction function with .patch), got ${typeof hook}`)
    }
    const patch = afterNext
      ? (next, ...args) => {
          const result = next(...args)
          // The caller gets `result` itself, rejection and all; this branch only watches it.
          if (result && typeof result.then === 'function') result.then(() => logFor(toEvent, ...args), () => {})
          else logFor(toEvent, ...args)
          return result
        }
      : (next, ...args) => {
          logFor(toEvent, ...args)
          return next(...args)
        }
    detachers.push(hook.patch(patch))
  }
  let attached = true
  facts.hooked += 1
  const detach = () => {
    if (!attached) return
    attached = false
    facts.hooked -= 1
    for (const remove of detachers) remove()
  }
  detachOnClose(controller, detach)
  return detach
}

/**
 * Puts the logger's counters and gauges on a prom-client `Registry` (Rocket.Chat's
 * metrics are prom-client: apps/meteor/server/lib/metrics/lib/metrics.ts@96b2c0ba958a9d6882d083499847d5e7ae1d05f7) as
 * collectors that read the logger at scrape time: every family of `metricDefinitions()`,
 * with the samples of `logger.metricFamilies()`, the same definition `logger.metrics()`
 * renders, so both expositions have the same names, labels and values. The
 * prom-client module is the host's own by default (`require('prom-client')`), so that
 * the metrics belong to the registry's prom-client. While the controller's logger is
 * null (switched off), unlabelled metrics read 0 and labelled ones have no series.
 */
function registerPrometheusMetrics(source, registry, client = require('prom-client')) {
  const { metricDefinitions } = require('..')
  // One read of the logger per scrape: prom-client collects metric by metric, and
  // every family must come from the same moment. The read is forgotten once the
  // scrape's turn of the event loop is over.
  let read = null
  const current = () => {
    if (!read) {
      const logger = loggerOf(source)
      read = new Map((logger ? logger.metricFamilies() : []).map((f) => [f.name, f]))
      setImmediate(() => {
        read = null
      })
    }
    return read
  }
  for (const definition of metricDefinitions()) {
    const Metric = definition.type === 'counter' ? client.Counter : client.Gauge
    new Metric({
      name: definition.name,
      help: definition.help,
      labelNames: definition.labelNames,
      registers: [registry],
      collect() {
        this.reset()
        const family = current().get(definition.name)
        // Switched off: an unlabelled metric reads 0, a labelled one has no series.
        const samples = family ? family.samples : definition.labelNames.length === 0 ? [{ labels: {}, value: 0 }] : []
        for (const sample of samples) {
          // In the definition's label order, as logger.metrics() writes them.
          const labels = Object.fromEntries(definition.labelNames.map((name) => [name, sample.labels[name]]))
          if (definition.type === 'counter') this.inc(labels, sample.value)
          else this.set(labels, sample.value)
        }
      },
    })
  }
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
/** Why a widget close was answered without an event: only the server's hook can log it. */
const CLOSE_LEFT_TO_SERVER = 'room-close-left-to-the-server'

/**
 * The route's 200 answer: the logged event's id (for a close, the id of the room's one
 * Chat Session/closed, whichever report it came from), or `skipped` when the event was
 * a Chat Session/closed for a room whose close was logged before it came (RoomFacts).
 */
const widgetEventResponseSchema = {
  type: 'object',
  properties: {
    success: { type: 'boolean', enum: [true] },
    id: { type: 'string' },
    skipped: { type: 'string', enum: [CLOSE_ALREADY_LOGGED, CLOSE_LEFT_TO_SERVER] },
  },
  required: ['success'],
  oneOf: [{ required: ['id'] }, { required: ['skipped'] }],
  additionalProperties: false,
}

/**
 * What the route answers a widget over its caps per visitor or room with: ApiClass's
 * `tooManyRequests(msg)`, 429 `{ success: false, error }`
 * (apps/meteor/server/api/ApiClass.ts@b2da25443e9c7472fb23fb68799290b6d67e6cbe).
 */
const widgetTooManyRequestsSchema = {
  type: 'object',
  properties: { success: { type: 'boolean', enum: [false] }, error: { type: 'string' } },
  required: ['success', 'error'],
  additionalProperties: false,
}

/** The 400 errorType for each error the route answers; others are `error-analytics-unavailable`. */
const WIDGET_ERROR_TYPES = {
  ERR_INVALID_EVENT: 'error-invalid-event',
  ERR_TRACKING_PLAN: 'error-invalid-event',
  ERR_EVENT_TOO_LARGE: 'error-event-too-large',
  ERR_EVENT_OWNER: 'error-event-owner',
  ERR_ANALYTICS_DISABLED: 'error-analytics-disabled',
}

/** The widget body's tab id bound: MAX_TAB_ID of src/core/rocketchat/widget.rs, which logWidgetEvent applies. */
const MAX_TAB_ID_BYTES = 128

function invalidWidgetEvent(field, reason) {
  const error = new TypeError(`invalid widget event: ${field} ${reason}`)
  error.code = 'ERR_INVALID_EVENT'
  error.field = field
  return error
}

/**
 * The widget's Chat Session/closed of `room`, checked now, since it is logged (with
 * logger.log, as the other reports of the room's close) only if it is the most specific
 * report: the visitor's close, 'chat window', with nothing else in its properties, and
 * the tab id as logWidgetEvent bounds it (src/core/rocketchat/widget.rs, bounded_str).
 */
function widgetCloseEvent({ tabId, properties }, room) {
  const method = properties && properties.close_method
  if (method !== CLOSE_METHOD.visitor) {
    throw invalidWidgetEvent('properties.close_method', `must be '${CLOSE_METHOD.visitor}' (the widget reports the visitor's own close), got ${JSON.stringify(method)}`)
  }
  const extra = Object.keys(properties).find((key) => key !== 'close_method')
  if (extra !== undefined) throw invalidWidgetEvent(`properties.${extra}`, 'is not planned for Chat Session/closed from the widget')
  const event = closedEvent(room._id, method)
  if (tabId !== undefined) {
    if (tabId === '') throw invalidWidgetEvent('tabId', 'must not be empty')
    if (Buffer.byteLength(tabId) > MAX_TAB_ID_BYTES) throw invalidWidgetEvent('tabId', `must be at most ${MAX_TAB_ID_BYTES} characters`)
    // \p{Cc}: Rust's char::is_control, which bounded_str refuses.
    if (/\p{Cc}/u.test(tabId)) throw invalidWidgetEvent('tabId', 'must not contain control characters')
    event.tabId = tabId
  }
  return event
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
 * as `error`, as the livechat room routes answer; the refusals with their message as
 * `error`, `errorType` `error-invalid-event`, `error-event-too-large` or
 * `error-event-owner` (an event the widget does not own: EVENT_OWNERS)
 * (`error-analytics-unavailable` for a full queue or a closed logger), and `details:
 * { field }`; switched off, `errorType` `error-analytics-disabled`. A visitor token or
 * a room over its cap a minute (the logger's widgetEventsPerVisitor and
 * widgetEventsPerRoom) answers 429 with `tooManyRequests(message)`, the same shape.
 *
 * A Chat Session/closed goes through the controller's RoomFacts with the hook's and the
 * Apps' reports of the same close: the route answers once the room's one close is
 * logged (at most `factDelayMs` later), with that event's id.
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
  const facts = roomFactsOf(controller)
  const options = {
    authRequired: false,
    body: ajv.compile(widgetEventSchema),
    response: { 200: ajv.compile(widgetEventResponseSchema), 400: validateBadRequestErrorResponse, 429: ajv.compile(widgetTooManyRequestsSchema) },
    rateLimiterOptions: rateLimit,
  }
  const refused = (e) => e.code === 'RATE_LIMITED' ? API.v1.tooManyRequests(e.message) : API.v1.failure(e.message, WIDGET_ERROR_TYPES[e.code] ?? 'error-analytics-unavailable', undefined, e.field ? { details: { field: e.field } } : undefined)
  return [
    WIDGET_ROUTE,
    options,
    async function action() {
      const { token, rid, category, action, properties } = this.bodyParams
      const guest = await findGuest(token)
      if (!guest) return API.v1.failure('invalid-token')
      const room = await findRoom(token, rid)
      if (!room) return API.v1.failure('invalid-room')
      const closes = category === 'Chat Session' && action === 'closed'
      let close
      try {
        if (closes) close = widgetCloseEvent(this.bodyParams, room)
        checkOwner({ category, action, properties }, WIDGET)
      } catch (e) {
        return refused(e)
      }
      const logger = loggerOf(controller)
      if (!logger) return refused(analyticsOff())
      if (!closes) {
        try {
          return API.v1.success({ id: logger.logWidgetEvent(this.bodyParams) })
        } catch (e) {
          return refused(e)
        }
      }
      // A room no longer open was closed through the server, on whichever instance: its
      // livechat.closeRoom hook reports the close there, when the hooks are attached
      // here. Unless that report is waiting here, this one would make a second event.
      if (facts.hooked > 0 && room.open !== true && !facts.isPending('Chat Session/closed', room._id)) {
        return API.v1.success({ skipped: CLOSE_ALREADY_LOGGED })
      }
      try {
        const outcome = await facts.report({ path: WIDGET, event: close, log: (merged, target) => target.log(merged) })
        if (outcome.leftToServer) return API.v1.success({ skipped: CLOSE_LEFT_TO_SERVER })
        return API.v1.success(outcome.skipped ? { skipped: CLOSE_ALREADY_LOGGED } : { id: outcome.id })
      } catch (e) {
        return refused(e)
      }
    },
  ]
}

/**
 * The Apps-Engine side of the controller, for the server's AppAnalyticsBridge
 * (rocketchat/upstream/apps/meteor/app/apps/server/bridges/analytics.ts):
 * `doLogEvent(event, appId)` resolves to the event id or rejects, as
 * AppsEngineBridge.doLogEvent does, with one AppsEngineBridge (`options`: its
 * hasPermission and appRateLimit) per logger instance, so that each App's rate limit
 * lives as long as the logger does. On the way:
 * - an event EVENT_OWNERS keeps from Apps is refused (ERR_EVENT_OWNER), naming its owner;
 * - Chat Session/started and /closed, which need their `roomId`, go through the
 *   controller's RoomFacts with the hook's and the widget's reports of the same room,
 *   and resolve to the id of the room's one event; the App's report, when it is the one
 *   logged, goes through the App's bridge (its appId attribute and rate limit);
 * - switched off, it rejects with `SNS analytics are switched off (SNS_Analytics_Enabled)`.
 */
function appsBridge(controller, options) {
  const { AppsEngineBridge } = require('..')
  const facts = roomFactsOf(controller)
  const bridges = new WeakMap()
  const bridgeFor = (logger) => {
    let bridge = bridges.get(logger)
    if (!bridge) bridges.set(logger, (bridge = new AppsEngineBridge(logger, options)))
    return bridge
  }
  return {
    async doLogEvent(event, appId) {
      const logger = loggerOf(controller)
      if (!logger) throw analyticsOff()
      // Anything else is AppsEngineBridge's to refuse, with its own message.
      const named = event && typeof event === 'object' && typeof event.category === 'string' && typeof event.action === 'string'
      if (named) checkOwner(event, APP)
      if (!named || !isRoomFact(event)) return bridgeFor(logger).doLogEvent(event, appId)
      if (typeof event.roomId !== 'string' || event.roomId === '') {
        const error = new TypeError(`${event.category}/${event.action} from an App needs roomId, the room it is about: one is logged per room (docs/rocketchat.md, One owner per event)`)
        error.code = 'ERR_INVALID_EVENT'
        error.field = 'roomId'
        throw error
      }
      // The App's report may reach SNS inside another path's event (its Dialogflow agent,
      // on the hook's start): it passes the App's checks before it is merged.
      const permitted = typeof options?.hasPermission === 'function' && options.hasPermission(appId, 'analytics.write') === true
      // Refused there, with AppsEngineBridge's error and count.
      if (!permitted) return bridgeFor(logger).doLogEvent(event, appId)
      logger.checkAppAccess(appId, event.category, typeof event.dialogflowAgentId === 'string' ? event.dialogflowAgentId : undefined)
      const outcome = await facts.report({ path: APP, event, log: (merged, target) => bridgeFor(target).doLogEvent(merged, appId) })
      return outcome.id
    },
  }
}

module.exports.WIDGET_ROUTE = WIDGET_ROUTE
module.exports.widgetEventSchema = widgetEventSchema
module.exports.widgetEventResponseSchema = widgetEventResponseSchema
module.exports.widgetEventRoute = widgetEventRoute
module.exports.appsBridge = appsBridge
module.exports.EVENT_OWNERS = EVENT_OWNERS
module.exports.FACT_DELAY_MS = FACT_DELAY_MS
module.exports.bindSettings = bindSettings
module.exports.registerSettings = registerSettings
module.exports.registerOmnichannelCallbacks = registerOmnichannelCallbacks
module.exports.registerPrometheusMetrics = registerPrometheusMetrics
module.exports.handleShutdown = require('./shutdown').handleShutdown
module.exports.DEFAULT_GRACE_MS = require('./shutdown').DEFAULT_GRACE_MS
