'use strict'
// One owner per event (docs/rocketchat.md, "One owner per event"), against moto, with the
// three paths wired to one bindSettings controller as a server wires them: the server's
// hooks (registerOmnichannelCallbacks on the rebuilt callbacks and makeFunction hooks),
// Apps (appsBridge) and the widget's route (widgetEventRoute on the typed router in
// TEST_MODE, with the real @rocket.chat/rest-typings' ajv).
// - Each room's close is logged once, with the most specific close_method, whichever of
//   the three paths reports it first: the 6 orders.
// - Every row of EVENT_OWNERS: the paths it names log it, the others are refused by name.
// - A start's Dialogflow agent comes from the App's report; a refused App report leaves
//   the hook's; controller.close() logs what still waits; an idle controller's timers
//   never keep Node alive.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { useMoto } = require('./helpers/setup')
const moto = require('./helpers/moto')
const { Callbacks } = require('./helpers/rocketchat/callbacks')
const { makeFunction } = require('./helpers/rocketchat/patch-injection')
const { createRouter } = require('./helpers/rocketchat/router')
const { loadRestTypings } = require('./helpers/rocketchat/rest-typings')
const { CachedSettingsStandIn, emulatorSettings } = require('./helpers/rocketchat/settings')
const { appsBridge, bindSettings, registerOmnichannelCallbacks, widgetEventRoute, WIDGET_ROUTE, EVENT_OWNERS, FACT_DELAY_MS } = require('../rocketchat')

// Registered before useMoto's: node:test runs `after` hooks in order, and these
// controllers deliver what they hold before moto stops.
const controllers = []
after(() => Promise.all(controllers.map((c) => c.close().catch(() => {}))))
const ctx = useMoto()

const APP = '4b5c1e0a-31c2-4f3e-9b8e-5f0d3c2a1b00'
const TOKEN = 'visitor-token-secret'
/** Longer than any test: a fact is decided by its reports, or by controller.close(). */
const NEVER = 60_000

let restTypings
before(async () => {
  restTypings = await loadRestTypings()
})

/**
 * A server's wiring on one bindSettings controller, against its own FIFO topic: the
 * hooks, appsBridge and the widget route, and the Livechat rooms its findRoom reads.
 */
async function server({ factDelayMs = NEVER, plan = 'rocketchat-livechat', agentId = '', agentTopics = '{}', appRateLimit, hooks = true } = {}) {
  const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
  const settings = new CachedSettingsStandIn(
    emulatorSettings({
      topicArn,
      endpoint: ctx.moto.endpoint,
      SNS_Analytics_Flush_Interval_Ms: 50,
      SNS_Analytics_Tracking_Plan: plan,
      SNS_Analytics_Dialogflow_Agent_Id: agentId,
      SNS_Analytics_Agent_Topics: agentTopics,
      SNS_Analytics_App_Access: JSON.stringify({ [APP]: { categories: ['*'], dialogflowAgentIds: ['df-agent-9'] } }),
    }),
  )
  const errors = []
  const controller = bindSettings(settings, { onError: (e) => errors.push(e), factDelayMs })
  controllers.push(controller)
  assert.ok(controller.logger, 'switched on')
  const callbacks = new Callbacks()
  const onNewRoom = makeFunction(async () => {})
  const afterTakeInquiry = makeFunction(async () => {})
  if (hooks) registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry, onError: (e) => errors.push(e) })
  // The server's analytics.write check, as the pull request's AppAnalyticsBridge passes it.
  const apps = appsBridge(controller, { hasPermission: () => true, ...(appRateLimit && { appRateLimit }) })
  const rooms = new Map()
  const { API, request } = createRouter({ testMode: true })
  API.v1.post(
    ...widgetEventRoute({
      API,
      controller,
      ajv: restTypings.ajv,
      validateBadRequestErrorResponse: restTypings.validateBadRequestErrorResponse,
      findGuest: async (token) => (token === TOKEN ? { _id: 'v1', token } : null),
      findRoom: async (token, rid) => (token === TOKEN ? (rooms.get(rid) ?? null) : null),
    }),
  )
  const room = (rid) => rooms.get(rid) ?? { _id: rid, t: 'l', open: true, v: { _id: 'v1', token: TOKEN } }
  return {
    controller,
    errors,
    queueUrl,
    callbacks,
    openRoom: (rid) => rooms.set(rid, room(rid)),
    /** onNewRoom, as QueueManager.requestRoom awaits it. */
    hookStarts: (rid) => onNewRoom(room(rid)),
    /** afterTakeInquiry, as RoutingManager.takeInquiry calls it. */
    hookAssigns: (rid) => afterTakeInquiry({ inquiry: { _id: `inquiry-${rid}`, rid }, room: room(rid), agent: { agentId: 'agent7', username: 'ana' } }),
    /** closeRoom: the room closed and read back, then the livechat.closeRoom hook. */
    hookCloses: (rid, closer) => {
      const closed = { ...room(rid), open: undefined, closer, closedAt: new Date() }
      rooms.set(rid, closed)
      return callbacks.run('livechat.closeRoom', { room: closed, options: {} })
    },
    app: (event) => apps.doLogEvent(event, APP),
    /** The widget's POST; resolves once the route has passed it on, with its answer's promise. */
    widget: async (body) => {
      const answer = request('POST', `/v1/${WIDGET_ROUTE}`, { token: TOKEN, ...body })
      // findGuest and findRoom resolve at once: the route has reported before this.
      await new Promise((r) => setImmediate(r))
      return { answer }
    },
    drain: (opts) => ctx.drain(queueUrl, opts),
  }
}

/** The millisecond a UUIDv7 event id was made: when log() ran. */
const loggedAt = (id) => parseInt(id.replace(/-/g, '').slice(0, 12), 16)

const closeBy = (rid, method) => ({ category: 'Chat Session', action: 'closed', roomId: rid, properties: { close_method: method } })
const widgetClose = (rid) => ({ rid, tabId: `tab-${rid}`, category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window' } })

function permutations(items) {
  if (items.length <= 1) return [items]
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]))
}

describe('one Chat Session/closed per room, whichever path reports it first', () => {
  it("the hook ('agent'), an App ('timeout') and the widget ('chat window'), in each of the 6 orders: one close, the App's", async (t) => {
    const s = await server()
    const orders = permutations(['hook', 'app', 'widget'])
    assert.equal(orders.length, 6)
    const runs = []
    for (const order of orders) {
      const rid = `r-${order.join('-')}`
      s.openRoom(rid)
      const run = { rid, order, answers: {}, firstAt: Date.now() }
      for (const reporter of order) {
        // Salesforce closes the room as its own user: core says closer 'user', the hook 'agent'.
        if (reporter === 'hook') await s.hookCloses(rid, 'user')
        if (reporter === 'app') run.answers.app = s.app(closeBy(rid, 'timeout'))
        if (reporter === 'widget') run.answers.widget = (await s.widget(widgetClose(rid))).answer
      }
      runs.push(run)
    }
    const msgs = await s.drain({ expected: orders.length })
    assert.deepEqual(await s.drain({ quietMs: 1500 }), [], 'no second close of any room')
    for (const run of runs) {
      const mine = msgs.filter((m) => m.json.roomId === run.rid)
      assert.equal(mine.length, 1, `${run.order}: one close`)
      const [msg] = mine
      assert.deepEqual([msg.json.properties, msg.json.eventType, msg.attributes.appId], [{ close_method: 'timeout' }, 'session', APP], `${run.order}: the App's, through its path`)
      assert.equal(await run.answers.app, msg.attributes.eventId, `${run.order}: the App gets the event's id`)
      const widget = await run.answers.widget
      assert.equal(widget.statusCode, 200)
      // Reported before the App's report decided the close: merged, the one event's id;
      // after: skipped, as a late report is.
      const widgetBeforeApp = run.order.indexOf('widget') < run.order.indexOf('app')
      assert.deepEqual(widget.body, widgetBeforeApp ? { success: true, id: msg.attributes.eventId } : { success: true, skipped: 'room-close-already-logged' }, `${run.order}: the widget's answer`)
      run.delayMs = loggedAt(msg.attributes.eventId) - run.firstAt
    }
    assert.deepEqual(s.errors, [])
    t.diagnostic(`added close delay, first report to log(), ms: ${runs.map((r) => `${r.order.join('>')} ${r.delayMs}`).join(', ')}`)
  })

  it("the hook and the widget, both orders, on the timer: the server's method stands, the visitor's close gets the tab, a forged close alone logs nothing", async (t) => {
    const s = await server({ factDelayMs: FACT_DELAY_MS })
    const runs = []
    // [hook's closer, order]: an agent's close with a (forged) widget close, and the
    // visitor's own close reported by both.
    for (const [closer, order] of [['user', ['hook', 'widget']], ['user', ['widget', 'hook']], ['visitor', ['hook', 'widget']], ['visitor', ['widget', 'hook']]]) {
      const rid = `r-timer-${closer}-${order.join('-')}`
      s.openRoom(rid)
      const run = { rid, closer, order, firstAt: Date.now() }
      for (const reporter of order) {
        if (reporter === 'hook') await s.hookCloses(rid, closer)
        if (reporter === 'widget') run.answer = (await s.widget(widgetClose(rid))).answer
      }
      runs.push(run)
    }
    // A forged close: the widget says the visitor closed a room that stays open, and
    // the agent closes it later. The agent's close is the one logged.
    s.openRoom('r-forged')
    const forged = (await s.widget(widgetClose('r-forged'))).answer
    assert.deepEqual((await forged).body, { success: true, skipped: 'room-close-left-to-the-server' })
    const alone = { rid: 'r-forged', order: ['hook'], firstAt: Date.now() }
    await s.hookCloses(alone.rid, 'user')
    const msgs = await s.drain({ expected: 5 })
    assert.deepEqual(await s.drain({ quietMs: 1500 }), [])
    for (const run of runs) {
      const [msg] = msgs.filter((m) => m.json.roomId === run.rid)
      const want = run.closer === 'user' ? [{ close_method: 'agent' }, 'session', ''] : [{ close_method: 'chat window' }, 'customerAction', `tab-${run.rid}`]
      assert.deepEqual([msg.json.properties, msg.json.eventType, msg.json.tabId], want, `${run.closer} ${run.order}`)
      assert.equal(msg.attributes.appId, undefined)
      assert.deepEqual((await run.answer).body, { success: true, id: msg.attributes.eventId })
      run.delayMs = loggedAt(msg.attributes.eventId) - run.firstAt
      // The event keeps the time of its report, not of the decision.
      assert.ok(Date.parse(msg.json.timestamp) < loggedAt(msg.attributes.eventId), 'stamped when reported')
    }
    const [agent] = msgs.filter((m) => m.json.roomId === alone.rid)
    assert.deepEqual([agent.json.properties, agent.json.eventType], [{ close_method: 'agent' }, 'session'], 'the forged close left the server\'s intact')
    alone.delayMs = loggedAt(agent.attributes.eventId) - alone.firstAt
    assert.deepEqual(s.errors, [])
    t.diagnostic(`added close delay with factDelayMs ${FACT_DELAY_MS}, first report to log(), ms: ${[...runs, alone].map((r) => `${r.closer ?? 'user'} ${r.order.join('>')} ${r.delayMs}`).join(', ')}`)
  })
})

/** Properties that make each catalog event valid under the built-in plan. */
const SAMPLE_PROPERTIES = {
  'Chat Session/started': {},
  'Agent Transfer/assigned': { agent_id: 'agent7' },
  'Agent Transfer/unassigned': { agent_id: 'agent7' },
  'Agent Transfer/failed': { failure_reason: 'no agent available' },
  'Agent Disconnect/triggered': {},
  'Escalation/attempted': {},
  'Escalation/failed': { failure_reason: 'no agents available' },
  'Escalation/successful': { queue_time: 42, sf_chat_key: 'sf-key-1' },
  'Transcript Download/selected': {},
  'Survey/link_clicked': {},
  'Window/opened': { session_id: 's-1' },
  'Window/closed': {},
}

/** What makes each hook-carried row happen in Rocket.Chat: the hook that logs it. */
const HOOK_TRIGGERS = {
  'Chat Session/started': (s, rid) => s.hookStarts(rid),
  "Chat Session/closed with close_method 'agent'": (s, rid) => s.hookCloses(rid, 'user'),
  "Chat Session/closed with close_method 'chat window'": (s, rid) => s.hookCloses(rid, 'visitor'),
  'Agent Transfer/assigned': (s, rid) => s.hookAssigns(rid),
  'Agent Transfer/unassigned': (s, rid) => s.callbacks.run('livechat:afterReturnRoomAsInquiry', { room: { _id: rid, t: 'l', servedBy: { _id: 'agent7', username: 'ana' } } }),
  "Agent Transfer/successful with transfer_type 'agent'": (s, rid) => s.callbacks.run('livechat.afterForwardChatToAgent', { rid, servedBy: { _id: 'agent8' }, oldServedBy: { _id: 'agent7' } }),
  "Agent Transfer/successful with transfer_type 'department'": (s, rid) => s.callbacks.run('livechat.afterForwardChatToDepartment', { rid, newDepartmentId: 'd2', oldDepartmentId: 'd1' }),
}

/** Every row of EVENT_OWNERS: an event, or one value of the property it depends on, or its `other`. */
function ownershipRows() {
  const rows = []
  for (const [name, entry] of Object.entries(EVENT_OWNERS)) {
    const [category, action] = name.split('/')
    if (!entry.by) {
      rows.push({ label: name, named: name, category, action, properties: SAMPLE_PROPERTIES[name], carriers: entry })
      continue
    }
    for (const [value, carriers] of Object.entries(entry.values)) {
      const named = `${name} with ${entry.by} '${value}'`
      rows.push({ label: named, named, category, action, properties: { [entry.by]: value }, carriers })
    }
    // Any other value: a close method of a custom plan (no plan here), or no transfer_type.
    const other = name === 'Chat Session/closed' ? { close_method: 'custom_close' } : {}
    rows.push({ label: `${name}, other ${entry.by}`, named: name, category, action, properties: other, carriers: entry.other, noPlan: name === 'Chat Session/closed' })
  }
  // Not in the table: a custom plan's event.
  rows.push({ label: 'Custom/thing (not in the table)', named: 'Custom/thing', category: 'Custom', action: 'thing', properties: {}, carriers: { app: 'Apps' }, noPlan: true, notInTable: true })
  return rows
}

describe('EVENT_OWNERS, row by row', () => {
  it('names every catalog event of the built-in plan, and the docs table has the same events', async () => {
    const { builtinPlans } = require('..')
    assert.ok(builtinPlans().includes('rocketchat-livechat'))
    const planEvents = Object.keys(SAMPLE_PROPERTIES).concat('Chat Session/closed', 'Agent Transfer/successful').sort()
    assert.deepEqual(Object.keys(EVENT_OWNERS).sort(), planEvents)
    const docs = require('node:fs').readFileSync(path.join(__dirname, '..', 'docs', 'rocketchat.md'), 'utf8')
    const section = docs.slice(docs.indexOf('### One owner per event'))
    const documented = new Set([...section.matchAll(/^\| (\S[^|]*?\/[^|]*?) \|/gm)].map((m) => m[1].replace(/ \(.*\)$/, '').replace(/`/g, '')))
    for (const name of Object.keys(EVENT_OWNERS)) assert.ok(documented.has(name), `docs/rocketchat.md's table has a row for ${name}`)
    assert.ok(Object.isFrozen(EVENT_OWNERS) && Object.isFrozen(EVENT_OWNERS['Chat Session/closed'].values.agent), 'one table, read-only')
  })

  it('logs each row from the paths it names, and refuses it from the others, naming the event, the path and the owner', async () => {
    const planned = await server()
    const planless = await server({ plan: '' })
    const rows = ownershipRows()
    const hookRows = rows.filter((r) => r.carriers.hook).map((r) => r.label)
    assert.deepEqual(hookRows.sort(), Object.keys(HOOK_TRIGGERS).sort(), 'a hook for exactly the rows the hooks carry')
    const expected = new Map([
      [planned, []],
      [planless, []],
    ])
    const pending = []
    let n = 0
    for (const row of rows) {
      const s = row.noPlan ? planless : planned
      const event = { category: row.category, action: row.action, properties: row.properties }
      for (const p of ['hook', 'app', 'widget']) {
        const rid = `row-${++n}-${p}`
        s.openRoom(rid)
        const allowed = Boolean(row.carriers[p])
        const what = `${row.label} from ${p}`
        if (p === 'hook') {
          if (!allowed) continue // no hook of ours produces it: checked above
          await HOOK_TRIGGERS[row.label](s, rid)
          expected.get(s).push({ rid, event, appId: undefined, what })
        } else if (p === 'app') {
          const logged = s.app({ ...event, roomId: rid })
          if (allowed) {
            pending.push(logged.then((id) => assert.ok(id, what)))
            expected.get(s).push({ rid, event, appId: APP, what })
            continue
          }
          await assert.rejects(logged, (e) => {
            assert.equal(e.code, 'ERR_EVENT_OWNER', `${what}: ${e.message}`)
            assert.ok(e.message.startsWith(`${row.named} is logged by `), `${what}: ${e.message}`)
            assert.ok(e.message.endsWith('; Apps cannot log it (docs/rocketchat.md, One owner per event)'), `${what}: ${e.message}`)
            for (const owner of Object.values(row.carriers)) assert.ok(e.message.includes(owner), `${what} names ${owner}: ${e.message}`)
            return true
          })
        } else {
          const { answer } = await s.widget({ rid, tabId: 'tab-1', ...event })
          if (allowed) {
            pending.push(answer.then((a) => assert.deepEqual([a.statusCode, typeof a.body.id], [200, 'string'], `${what}: ${JSON.stringify(a.body)}`)))
            expected.get(s).push({ rid, event, appId: undefined, what })
            continue
          }
          const { statusCode, body } = await answer
          assert.equal(statusCode, 400, what)
          assert.ok(restTypings.validateBadRequestErrorResponse(body), "Rocket.Chat's 400 shape")
          if (row.category === 'Chat Session' && row.action === 'closed') {
            // The widget reports the visitor's own close only.
            assert.deepEqual([body.errorType, body.details], ['error-invalid-event', { field: 'properties.close_method' }], `${what}: ${body.error}`)
            continue
          }
          assert.equal(body.errorType, 'error-event-owner', `${what}: ${body.error}`)
          assert.ok(body.error.endsWith('the widget route cannot log it (docs/rocketchat.md, One owner per event)') || row.notInTable, `${what}: ${body.error}`)
          assert.ok(body.error.startsWith(row.notInTable ? 'Custom/thing is not an event of the widget' : `${row.named} is logged by `), `${what}: ${body.error}`)
        }
      }
    }
    // The starts and the generic or widget closes wait for other reports: close() logs them.
    await Promise.all([planned.controller.close(), planless.controller.close()])
    await Promise.all(pending)
    for (const [s, rows] of expected) {
      const msgs = await s.drain({ expected: rows.length })
      assert.deepEqual(await s.drain({ quietMs: 1000 }), [])
      for (const { rid, event, appId, what } of rows) {
        const mine = msgs.filter((m) => m.json.roomId === rid)
        assert.equal(mine.length, 1, `${what}: logged once`)
        assert.deepEqual([mine[0].json.category, mine[0].json.action, mine[0].json.properties, mine[0].attributes.appId], [event.category, event.action, event.properties, appId], what)
      }
      assert.deepEqual(s.errors, [])
    }
  })

  it('refuses an App start or close without its room, and what AppsEngineBridge refuses as it does', async () => {
    const s = await server()
    await assert.rejects(s.app({ category: 'Chat Session', action: 'closed', properties: { close_method: 'timeout' } }), (e) => {
      assert.deepEqual([e.code, e.field], ['ERR_INVALID_EVENT', 'roomId'])
      assert.match(e.message, /Chat Session\/closed from an App needs roomId/)
      return true
    })
    await assert.rejects(s.app({ category: 'Survey' }), { code: 'ERR_INVALID_EVENT', field: 'action' })
    await assert.rejects(s.app('not an event'), { code: 'ERR_INVALID_EVENT' })
    await assert.rejects(appsBridge(s.controller, { hasPermission: () => true }).doLogEvent({ category: 'Escalation', action: 'attempted' }, 'APP_ID'), { code: 'ERR_INVALID_APP_ID' })
  })
})

describe('Chat Session/started', () => {
  it("is the hook's event, with the Dialogflow agent of the App's report, routed by it; without one, the configured agent", async () => {
    const agentTopic = await ctx.topic({ fifo: true })
    const s = await server({ agentId: 'configured-agent', agentTopics: JSON.stringify({ 'df-agent-9': agentTopic.topicArn }) })
    const started = (rid) => ({ category: 'Chat Session', action: 'started', roomId: rid, dialogflowAgentId: 'df-agent-9' })
    // Both reports are all there is to hear: logged at once, in either order.
    await s.hookStarts('r-hook-then-app')
    const first = await s.app(started('r-hook-then-app'))
    const secondAnswer = s.app(started('r-app-then-hook'))
    await s.hookStarts('r-app-then-hook')
    const second = await secondAnswer
    const routed = await ctx.drain(agentTopic.queueUrl, { expected: 2 })
    assert.deepEqual(
      routed.map((m) => [m.json.roomId, m.json.dialogflowAgentId, m.attributes.appId, m.attributes.eventId]),
      [
        ['r-hook-then-app', 'df-agent-9', undefined, first],
        ['r-app-then-hook', 'df-agent-9', undefined, second],
      ],
      "the hook's event (no appId), on the agent's topic",
    )
    // The hook alone: after the wait (here, close()), with the logger's configured agent.
    await s.hookStarts('r-hook-alone')
    await s.controller.close()
    const [alone] = await s.drain({ expected: 1 })
    assert.deepEqual([alone.json.roomId, alone.json.dialogflowAgentId], ['r-hook-alone', 'configured-agent'])
    assert.deepEqual(await s.drain({ quietMs: 1000 }), [])
  })

  it("is the App's own, at once, where no hook is attached", async () => {
    const s = await server({ hooks: false })
    const id = await s.app({ category: 'Chat Session', action: 'started', roomId: 'r-app-only' })
    const [msg] = await s.drain({ expected: 1 })
    assert.deepEqual([msg.attributes.eventId, msg.attributes.appId], [id, APP])
  })
})

describe('nothing valid is lost', () => {
  it("logs the hook's close when the App's more specific report is refused, and the App gets its refusal", async () => {
    const s = await server({ appRateLimit: { eventsPerSecond: 0.001, burst: 1 } })
    await s.app({ category: 'Escalation', action: 'attempted', roomId: 'r-busy' }) // the App's last token
    await s.hookCloses('r-busy', 'user')
    await assert.rejects(s.app(closeBy('r-busy', 'timeout')), (e) => {
      assert.deepEqual([e.code, e.roomId], ['RATE_LIMITED', 'r-busy'])
      return true
    })
    const msgs = await s.drain({ expected: 2 })
    const closes = msgs.filter((m) => m.json.action === 'closed')
    assert.deepEqual(closes.map((m) => [m.json.roomId, m.json.properties.close_method, m.attributes.appId]), [['r-busy', 'agent', undefined]])
    assert.deepEqual(s.errors, [], "the hook's own report was logged: nothing to report")
  })

  it('controller.close() logs the facts still waiting at once, and answers their reporters', async () => {
    const s = await server()
    s.openRoom('r-flush-widget')
    const { answer } = await s.widget(widgetClose('r-flush-widget'))
    await s.hookCloses('r-flush-hook', 'user')
    await s.hookStarts('r-flush-start')
    await s.controller.close()
    const msgs = await s.drain({ expected: 3 })
    const byRoom = Object.fromEntries(msgs.map((m) => [m.json.roomId, m]))
    assert.deepEqual(Object.keys(byRoom).sort(), ['r-flush-hook', 'r-flush-start', 'r-flush-widget'])
    assert.deepEqual((await answer).body, { success: true, id: byRoom['r-flush-widget'].attributes.eventId })
    assert.equal(byRoom['r-flush-hook'].json.properties.close_method, 'agent')
  })

  it('refuses a bad factDelayMs, naming it', () => {
    for (const bad of [-1, Number.NaN, '2000', 60_001]) {
      assert.throws(() => bindSettings(new CachedSettingsStandIn({}), { factDelayMs: bad }), (e) => {
        assert.deepEqual([e.code, e.option], ['ERR_INVALID_OPTION', 'factDelayMs'])
        assert.match(e.message, /bindSettings: factDelayMs must be a number of milliseconds from 0 to 60000/)
        return true
      })
      assert.throws(() => appsBridge({ logger: null, factDelayMs: bad }), { code: 'ERR_INVALID_OPTION', option: 'factDelayMs' })
    }
  })

  it("never keeps Node alive while a fact waits (the timers are unref'd), and logs it as the process ends", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const root = path.join(__dirname, '..')
    const script = `
      const { AnalyticsLogger } = require(${JSON.stringify(root)})
      const { registerOmnichannelCallbacks } = require(${JSON.stringify(path.join(root, 'rocketchat'))})
      const { Callbacks } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'rocketchat', 'callbacks'))})
      const logger = new AnalyticsLogger({ topicArn: process.env.TOPIC_ARN, endpoint: process.env.ENDPOINT, region: ${JSON.stringify(moto.REGION)}, credentials: ${JSON.stringify(moto.CREDENTIALS)}, siteUrl: 'https://chat.example.com' })
      const callbacks = new Callbacks()
      registerOmnichannelCallbacks(callbacks, { logger, factDelayMs: ${NEVER} })
      callbacks.run('livechat.closeRoom', { room: { _id: 'r-at-exit', t: 'l', closer: 'user' }, options: {} }).then(() => console.log('reported'))
      process.on('exit', () => console.log('accepted ' + logger.stats().accepted))
    `
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TOPIC_ARN: topicArn, ENDPOINT: ctx.moto.endpoint } })
    assert.equal(r.signal, null, `ended by itself, not by the ${NEVER} ms timer: ${r.stderr}`)
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), ['reported', 'accepted 1'])
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual([msg.json.roomId, msg.json.properties.close_method], ['r-at-exit', 'agent'])
  })
})
