'use strict'
// The server's omnichannel hooks and the widget's route against moto, on Rocket.Chat's
// own mechanisms rebuilt from their files (helpers/rocketchat/: callbacks in both
// generations, makeFunction's .patch in both generations, the typed router with its
// TEST_MODE response check) and on the real @rocket.chat/rest-typings (its ajv and
// validateBadRequestErrorResponse).
const { describe, it, before } = require('node:test')
const assert = require('node:assert/strict')
const { useMoto, waitFor } = require('./helpers/setup')
const moto = require('./helpers/moto')
const { Callbacks, LegacyCallbacks } = require('./helpers/rocketchat/callbacks')
const { makeFunction, makeFunctionLegacy } = require('./helpers/rocketchat/patch-injection')
const { createRouter } = require('./helpers/rocketchat/router')
const { loadRestTypings } = require('./helpers/rocketchat/rest-typings')
const { CachedSettingsStandIn } = require('./helpers/rocketchat/settings')
const { bindSettings, registerOmnichannelCallbacks, widgetEventRoute, WIDGET_ROUTE } = require('../rocketchat')

const ctx = useMoto()

const OUR_HOOKS = ['livechat.closeRoom', 'livechat:afterReturnRoomAsInquiry', 'livechat.afterForwardChatToAgent', 'livechat.afterForwardChatToDepartment']
const OLD_HOOKS = ['livechat.newRoom', 'livechat.afterTakeInquiry']

const room = (_id, overrides) => ({ _id, t: 'l', open: true, v: { _id: 'visitor1', token: 'visitor-token-secret' }, ...overrides })
const agent = { agentId: 'agent7', username: 'ana' }

/** The catalog's six omnichannel events as they reach SNS, in order. */
const SIX = [
  ['Chat Session', 'started', 'session', {}],
  ['Agent Transfer', 'assigned', 'session', { agent_id: 'agent7' }],
  ['Agent Transfer', 'unassigned', 'session', { agent_id: 'agent7' }],
  ['Agent Transfer', 'successful', 'session', { transfer_type: 'agent' }],
  ['Agent Transfer', 'successful', 'session', { transfer_type: 'department' }],
  ['Chat Session', 'closed', 'customerAction', { close_method: 'chat window' }],
  ['Chat Session', 'closed', 'session', { close_method: 'agent' }],
]

/** Fires every hook but the two makeFunction ones, in the order of SIX. */
async function fireCallbacks(callbacks, rid) {
  await callbacks.run('livechat:afterReturnRoomAsInquiry', { room: room(rid, { servedBy: { _id: 'agent7', username: 'ana', ts: new Date() } }) })
  const forward = { rid, servedBy: { _id: 'agent8', ts: new Date() }, oldServedBy: { _id: 'agent7', ts: new Date() } }
  assert.equal(await callbacks.run('livechat.afterForwardChatToAgent', forward), forward, 'a chained hook gets its item back')
  const toDepartment = { rid, newDepartmentId: 'd2', oldDepartmentId: 'd1' }
  assert.equal(await callbacks.run('livechat.afterForwardChatToDepartment', toDepartment), toDepartment)
  const closed = { room: room(rid, { open: undefined, closer: 'visitor', closedAt: new Date() }), options: {} }
  assert.equal(await callbacks.run('livechat.closeRoom', closed), closed)
  await callbacks.run('livechat.closeRoom', { room: room(`${rid}-2`, { closer: 'user' }), options: {} })
}

const summary = (msgs) => msgs.map((m) => [m.json.category, m.json.action, m.json.eventType, m.json.properties])

/**
 * A room's start and close wait `factDelayMs` for other paths' reports (RoomFacts), so
 * they reach SNS after the events logged at once: the messages compared as a set.
 */
const sorted = (rows) => rows.map((row) => JSON.stringify(row)).sort()

/** Short, so that the tests do not wait long; every report here comes well within it. */
const FACT_DELAY_MS = 200

for (const [generation, make] of [['makeFunction', makeFunction], ['makeFunction before withMiddleware', makeFunctionLegacy]]) {
  describe(`registerOmnichannelCallbacks on a current server (callbacks with removers, ${generation} hooks)`, () => {
    it("logs the six catalog events from the hooks that fire them, handing every payload on unchanged", async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const controller = { logger: ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat' }), factDelayMs: FACT_DELAY_MS }
      const callbacks = new Callbacks()
      const seen = { onNewRoom: [], afterTakeInquiry: [], ee: [] }
      // The hooks as apps/meteor/server/lib/omnichannel/hooks.ts declares them: async.
      const onNewRoom = make(async (r) => {
        seen.onNewRoom.push(r)
        return 'onNewRoom result'
      })
      const afterTakeInquiry = make(async (params) => {
        seen.afterTakeInquiry.push(params)
      })
      // The enterprise edition patches afterTakeInquiry too (ee/.../hooks/afterTakeInquiry.ts).
      afterTakeInquiry.patch(async (originalFn, params) => {
        seen.ee.push(params)
        await originalFn(params)
      })
      registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry })
      registerOmnichannelCallbacks(callbacks, controller, { onNewRoom: null, afterTakeInquiry: null }) // ids are added once
      for (const hook of OUR_HOOKS) assert.equal(callbacks.getCallbacks(hook).length, 1, hook)
      for (const hook of OLD_HOOKS) assert.equal(callbacks.getCallbacks(hook).length, 1, `${hook}: the second call's fallback`)

      const rid = 'be61e543dfe6:wqbFXoeX2kdSZhSyi'
      const started = room(rid)
      assert.equal(await onNewRoom(started), 'onNewRoom result', "the hook's own result, unchanged")
      assert.deepEqual(seen.onNewRoom, [started])
      assert.equal(seen.onNewRoom[0], started, 'the same room object, not a copy')
      const taken = { inquiry: { _id: 'inq1', rid }, room: started, agent }
      assert.equal(await afterTakeInquiry(taken), undefined)
      assert.equal(seen.ee[0], taken, 'the patch below ours got the same arguments')
      assert.equal(seen.afterTakeInquiry[0], taken)
      await fireCallbacks(callbacks, rid)

      const msgs = await ctx.drain(queueUrl, { expected: 7 })
      assert.deepEqual(sorted(summary(msgs)), sorted(SIX))
      for (const m of msgs) assert.ok(!m.body.includes('visitor-token-secret'), 'the visitor token never leaves')
      assert.deepEqual(sorted(msgs.map((m) => [m.json.roomId, m.json.properties])), sorted([...SIX.slice(0, 6).map((e) => [rid, e[3]]), [`${rid}-2`, SIX[6][3]]]))
    })

    it('calls next exactly once and lets what the hook throws reach Rocket.Chat unchanged', async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const controller = { logger: ctx.logger({ topicArn }), factDelayMs: FACT_DELAY_MS }
      let calls = 0
      const failure = new Error('CRM webhook down')
      const onNewRoom = make(async () => {
        calls += 1
        throw failure
      })
      let syncCalls = 0
      const afterTakeInquiry = make(() => {
        syncCalls += 1
        throw failure
      })
      const errors = []
      registerOmnichannelCallbacks(new Callbacks(), controller, { onNewRoom, afterTakeInquiry, onError: (e) => errors.push(e) })
      await assert.rejects(onNewRoom(room('r-throws')), (e) => e === failure)
      assert.equal(calls, 1)
      assert.throws(() => afterTakeInquiry({ inquiry: { rid: 'r-throws' }, room: room('r-throws'), agent }), (e) => e === failure, 'a synchronous throw too')
      assert.equal(syncCalls, 1)
      assert.deepEqual(errors, [], 'nothing of ours failed')
      // The inquiry was taken (afterTakeInquiry runs after the fact): logged. A failed
      // onNewRoom is not a start Rocket.Chat counts (QueueManager.requestRoom stops there):
      // not logged.
      const msgs = await ctx.drain(queueUrl, { expected: 1 })
      assert.deepEqual(msgs.map((m) => m.json.action), ['assigned'])
      assert.deepEqual(await ctx.drain(queueUrl, { quietMs: FACT_DELAY_MS + 800 }), [], 'no Chat Session/started')
    })

    it('logs Chat Session/started only once onNewRoom resolves, and nothing when it throws synchronously', async () => {
      const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
      const controller = { logger: ctx.logger({ topicArn }), factDelayMs: FACT_DELAY_MS }
      let release
      const gate = new Promise((resolve) => {
        release = resolve
      })
      const onNewRoom = make(async (r) => {
        await gate
        return r._id
      })
      const failure = new TypeError('no department')
      const throwsAtOnce = make(() => {
        throw failure
      })
      const errors = []
      registerOmnichannelCallbacks(new Callbacks(), controller, { onNewRoom, afterTakeInquiry: make(async () => {}), onError: (e) => errors.push(e) })
      registerOmnichannelCallbacks(new Callbacks(), { logger: controller.logger, factDelayMs: FACT_DELAY_MS }, { onNewRoom: throwsAtOnce, afterTakeInquiry: make(async () => {}) })
      assert.throws(() => throwsAtOnce(room('r-sync-throw')), (e) => e === failure, 'the same error object, thrown as it was')
      const pending = onNewRoom(room('r-waits'))
      await new Promise((r) => setTimeout(r, FACT_DELAY_MS + 300))
      await controller.logger.flush()
      assert.deepEqual(await ctx.drain(queueUrl, { quietMs: 500 }), [], 'nothing while onNewRoom has not resolved')
      release()
      assert.equal(await pending, 'r-waits', "the hook's own result")
      const [msg] = await ctx.drain(queueUrl, { expected: 1 })
      assert.deepEqual([msg.json.roomId, msg.json.action], ['r-waits', 'started'])
      assert.deepEqual(await ctx.drain(queueUrl, { quietMs: FACT_DELAY_MS + 800 }), [], 'r-sync-throw logged nothing')
      assert.deepEqual(errors, [])
    })
  })
}

describe('registerOmnichannelCallbacks on a server from before the makeFunction hooks', () => {
  it('logs the six catalog events from the old callback names, both afterTakeInquiry forms included', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const controller = { logger: ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat' }), factDelayMs: FACT_DELAY_MS }
    const callbacks = new LegacyCallbacks()
    const after = []
    callbacks.add('livechat.newRoom', (r) => {
      after.push(r)
    }, callbacks.priority.LOW + 1, 'after-us')
    registerOmnichannelCallbacks(callbacks, controller)
    for (const hook of [...OUR_HOOKS, ...OLD_HOOKS]) assert.ok(callbacks.getCallbacks(hook).some((c) => c.id === `rocketchat-sns-analytics:${hook}`), hook)

    const rid = 'be61:legacy'
    const started = room(rid)
    assert.equal(await callbacks.run('livechat.newRoom', started), started, 'a chained hook gets the room back')
    assert.equal(after[0], started, 'the next callback gets the room itself')
    // The last form (apps/meteor/lib/callbacks.ts@ee1d3453): ({ inquiry, room }, agent).
    await callbacks.run('livechat.afterTakeInquiry', { inquiry: { _id: 'inq1', rid }, room: started }, agent)
    await fireCallbacks(callbacks, rid)
    const msgs = await ctx.drain(queueUrl, { expected: 7 })
    assert.deepEqual(sorted(summary(msgs)), sorted(SIX))

    // The form before (apps/meteor/lib/callbacks.ts@02af8ce3): (inquiry, agent).
    await callbacks.run('livechat.afterTakeInquiry', { _id: 'inq2', rid: 'be61:older' }, { agentId: 'agent9', username: 'bo' })
    const [older] = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual([older.json.roomId, older.json.action, older.json.properties], ['be61:older', 'assigned', { agent_id: 'agent9' }])
  })
})

describe('detaching', () => {
  const cases = [
    ['Callbacks with removers and makeFunction', Callbacks, makeFunction],
    ['LegacyCallbacks (remove by id) and makeFunction before withMiddleware', LegacyCallbacks, makeFunctionLegacy],
  ]
  for (const [name, CallbacksClass, make] of cases) {
    it(`removes every callback and patch: ${name}`, async () => {
      const { topicArn } = await ctx.topic()
      const logger = ctx.logger({ topicArn })
      const callbacks = new CallbacksClass()
      const onNewRoom = make(async (r) => r._id)
      const afterTakeInquiry = make(async () => 'taken')
      const detach = registerOmnichannelCallbacks(callbacks, { logger }, { onNewRoom, afterTakeInquiry })
      const other = registerOmnichannelCallbacks(new CallbacksClass(), { logger }) // old names, another registry
      assert.equal(typeof detach, 'function')
      detach()
      detach() // twice is harmless
      for (const hook of [...OUR_HOOKS, ...OLD_HOOKS]) assert.equal(callbacks.getCallbacks(hook).length, 0, hook)
      assert.equal(await onNewRoom(room('r-detached')), 'r-detached', 'the hook runs as if never patched')
      assert.equal(await afterTakeInquiry({ inquiry: { rid: 'r-detached' }, room: room('r-detached'), agent }), 'taken')
      await fireCallbacks(callbacks, 'r-detached')
      await logger.flush()
      assert.equal(logger.stats().delivered, 0, 'nothing logged once detached')
      other()
    })
  }

  it("controller.close() of bindSettings detaches what was registered on it", async () => {
    const settings = new CachedSettingsStandIn({ SNS_Analytics_Endpoint: ctx.moto.endpoint, SNS_Analytics_Region: moto.REGION })
    const controller = bindSettings(settings)
    const callbacks = new Callbacks()
    const onNewRoom = makeFunction(async () => 'created')
    registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry: makeFunction(async () => {}) })
    assert.equal(callbacks.getCallbacks('livechat.closeRoom').length, 1)
    await controller.close()
    for (const hook of OUR_HOOKS) assert.equal(callbacks.getCallbacks(hook).length, 0, hook)
    assert.equal(await onNewRoom(room('r1')), 'created')
  })
})

describe('never throws into Rocket.Chat', () => {
  it('switched off, odd payloads, refused events, an unknown closer', async () => {
    const callbacks = new Callbacks()
    const controller = { logger: null, factDelayMs: FACT_DELAY_MS }
    const errors = []
    const onNewRoom = makeFunction(async (r) => r)
    registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry: makeFunction(async (p) => p), onError: (e) => errors.push(e) })
    const off = room('r-off')
    assert.equal(await onNewRoom(off), off, 'switched off: handed on, nothing logged')
    for (const odd of [undefined, null, 'x', {}, { room: 5 }]) {
      for (const hook of OUR_HOOKS) assert.equal(await callbacks.run(hook, odd), odd)
      assert.equal(await onNewRoom(odd), odd)
    }
    const { topicArn } = await ctx.topic()
    controller.logger = ctx.logger({ topicArn })
    await callbacks.run('livechat.closeRoom', { room: room('r-bot', { closer: 'bot' }), options: {} })
    await controller.logger.close()
    // Switched on with a closed logger: log() throws ERR_LOGGER_CLOSED, which goes to
    // onError with the room, once the start's wait for other reports is over.
    const r = room('r-closed')
    assert.equal(await onNewRoom(r), r)
    await waitFor('the refused start reported', () => errors.length === 2)
    assert.deepEqual(errors.map((e) => [e.code, e.field, e.roomId]), [['ERR_INVALID_EVENT', 'room.closer', undefined], ['ERR_LOGGER_CLOSED', undefined, 'r-closed']])
    assert.match(errors[0].message, /room r-bot was closed by "bot": Rocket.Chat sets room.closer to 'user' or 'visitor' only/)
  })
})

describe('widgetEventRoute', () => {
  let restTypings
  before(async () => {
    restTypings = await loadRestTypings()
  })

  /** The route on the TEST_MODE router, with a known visitor and their rooms. */
  function serve(controller, { withResponse = true } = {}) {
    const { API, request } = createRouter({ testMode: true })
    const visitors = new Map([['visitor-token', { _id: 'v1', token: 'visitor-token' }]])
    const rooms = new Map()
    const [path, options, action] = widgetEventRoute({
      API,
      controller,
      ajv: restTypings.ajv,
      validateBadRequestErrorResponse: restTypings.validateBadRequestErrorResponse,
      findGuest: async (token) => visitors.get(token) ?? null,
      findRoom: async (token, rid) => rooms.get(`${token}/${rid}`) ?? null,
    })
    if (!withResponse) delete options.response
    API.v1.post(path, options, action)
    const openRoom = (rid, fields = { open: true }) => rooms.set(`visitor-token/${rid}`, { _id: rid, t: 'l', v: { token: 'visitor-token' }, ...fields })
    return { post: (body) => request('POST', `/v1/${WIDGET_ROUTE}`, body), openRoom, options }
  }

  it("answers in Rocket.Chat's shapes, each one passing the router's TEST_MODE response check", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const controller = { logger: ctx.logger({ topicArn }) }
    const { post, openRoom, options } = serve(controller)
    assert.deepEqual(options.rateLimiterOptions, { numRequestsAllowed: 60, intervalTimeInMS: 60_000 })
    assert.equal(options.authRequired, false)
    openRoom('be61:room')
    const event = { token: 'visitor-token', rid: 'be61:room', tabId: 'tab-1', category: 'Window', action: 'opened', properties: { session_id: 's-1' } }
    const ok = await post(event)
    assert.equal(ok.statusCode, 200)
    assert.deepEqual(Object.keys(ok.body).sort(), ['id', 'success'])

    const { properties: _, ...bare } = event
    const cases = [
      [{ ...event, extra: 1 }, { errorType: 'invalid-params' }],
      [{ ...event, token: '' }, { errorType: 'invalid-params' }],
      [{ ...event, token: 'stranger' }, { error: 'invalid-token' }],
      [{ ...event, rid: 'someone-elses-room' }, { error: 'invalid-room' }],
      [{ ...event, category: 'Chat Session', action: 'started' }, { errorType: 'error-event-owner', error: "Chat Session/started is logged by the server's onNewRoom hook and an App (the Dialogflow App, on IPostLivechatRoomStarted), merged into the hook's event for its dialogflowAgentId; the widget route cannot log it (docs/rocketchat.md, One owner per event)" }],
      [{ ...event, category: 'Escalation', action: 'failed', properties: { failure_reason: 'no agents available' } }, { errorType: 'error-event-owner' }],
      [{ ...bare, category: 'Custom', action: 'clicked' }, { errorType: 'error-event-owner' }],
      [{ ...event, category: 'Chat Session', action: 'closed', properties: { close_method: 'timeout' } }, { errorType: 'error-invalid-event', details: { field: 'properties.close_method' } }],
      [{ ...bare, category: 'Chat Session', action: 'closed' }, { errorType: 'error-invalid-event', details: { field: 'properties.close_method' } }],
      [{ ...event, category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window', extra: 1 } }, { errorType: 'error-invalid-event', details: { field: 'properties.extra' } }],
      [{ ...event, category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window' }, tabId: 'x'.repeat(129) }, { errorType: 'error-invalid-event', details: { field: 'tabId' } }],
      [{ ...event, category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window' }, tabId: 'tab\u0007' }, { errorType: 'error-invalid-event', details: { field: 'tabId' } }],
      [{ ...event, properties: { nested: { deep: true } } }, { errorType: 'error-invalid-event', details: { field: 'properties.nested' } }],
      [{ ...event, properties: { big: 'x'.repeat(300_000) } }, { errorType: 'error-event-too-large' }],
    ]
    for (const [body, expected] of cases) {
      const answer = await post(body)
      assert.equal(answer.statusCode, 400, JSON.stringify(body).slice(0, 200))
      assert.notEqual(answer.body.errorType, 'error-invalid-body', `the 400 validator accepts it: ${answer.body.error}`)
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(answer.body[key], value, `${key} of ${JSON.stringify(answer.body).slice(0, 300)}`)
      assert.ok(restTypings.validateBadRequestErrorResponse(answer.body), "Rocket.Chat's 400 shape")
    }
    controller.logger = null
    const off = await post(event)
    assert.deepEqual([off.statusCode, off.body.errorType], [400, 'error-analytics-disabled'])

    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, ok.body.id)
    assert.equal(msg.json.eventType, 'customerAction')
    assert.ok(!msg.body.includes('visitor-token'), 'the token never leaves')
  })

  it('fails in TEST_MODE without its response validators, as a typed route of Rocket.Chat would', async () => {
    const { topicArn } = await ctx.topic()
    const { post, openRoom } = serve({ logger: ctx.logger({ topicArn }) }, { withResponse: false })
    openRoom('r1')
    await assert.rejects(post({ token: 'visitor-token', rid: 'r1', category: 'Window', action: 'opened', properties: { session_id: 's-1' } }), /Missing response validator for endpoint POST - \/v1\/livechat\/widget-events with status code 200/)
  })

  it('refuses to build without Rocket.Chat ajv and 400 validator, naming them', () => {
    const base = { API: createRouter().API, controller: { logger: null }, findGuest: async () => null, findRoom: async () => null }
    assert.throws(() => widgetEventRoute({ ...base, validateBadRequestErrorResponse: () => true }), /ajv must be Rocket.Chat's ajv instance/)
    assert.throws(() => widgetEventRoute({ ...base, ajv: restTypings.ajv }), /validateBadRequestErrorResponse must be Rocket.Chat's/)
  })

  it("logs a visitor close once, the widget's, whether the widget or the livechat.closeRoom hook reports it first", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    // Long enough for the second report of each close, which follows the first at once.
    const controller = { logger: ctx.logger({ topicArn }), factDelayMs: 1000 }
    const callbacks = new Callbacks()
    registerOmnichannelCallbacks(callbacks, controller, { onNewRoom: makeFunction(async () => {}), afterTakeInquiry: makeFunction(async () => {}) })
    const { post, openRoom } = serve(controller)
    const close = (rid) => ({ token: 'visitor-token', rid, tabId: `tab-${rid}`, category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window' } })
    const closedByVisitor = (rid) => ({ room: room(rid, { open: undefined, closer: 'visitor', closedAt: new Date() }), options: {} })
    /** Posts `body`, and resolves (to the answer's promise) once the route has reported it. */
    const reported = async (body) => {
      const answer = post(body)
      // The route reaches RoomFacts after findGuest and findRoom, which resolve at once.
      await new Promise((r) => setImmediate(r))
      return { answer }
    }

    // The widget first, while the room is still open; then the server closes it.
    openRoom('r-widget-first')
    const first = await reported(close('r-widget-first'))
    openRoom('r-widget-first', { open: undefined, closer: 'visitor' })
    await callbacks.run('livechat.closeRoom', closedByVisitor('r-widget-first'))
    const firstAnswer = await first.answer
    assert.equal(firstAnswer.statusCode, 200)
    assert.ok(firstAnswer.body.id)

    // The server first; the widget's event comes after, in this process, while the
    // hook's report waits: merged, and the widget's report (it has the tab) is logged.
    openRoom('r-hook-first', { open: undefined, closer: 'visitor' })
    await callbacks.run('livechat.closeRoom', closedByVisitor('r-hook-first'))
    const second = await post(close('r-hook-first'))
    assert.equal(second.statusCode, 200)
    assert.ok(second.body.id)

    // The server closed it on another instance: the room read back is no longer open.
    openRoom('r-other-instance', { open: undefined, closedAt: new Date(), closer: 'visitor' })
    const third = await post(close('r-other-instance'))
    assert.deepEqual(third.body, { success: true, skipped: 'room-close-already-logged' })
    // A widget close of a room whose close is logged already is skipped.
    openRoom('r-widget-first')
    assert.deepEqual((await post(close('r-widget-first'))).body, { success: true, skipped: 'room-close-already-logged' })

    const msgs = await ctx.drain(queueUrl, { expected: 2 })
    assert.deepEqual(await ctx.drain(queueUrl, { quietMs: 1500 }), [], 'no second close')
    assert.deepEqual(msgs.map((m) => [m.json.roomId, m.json.properties.close_method, m.json.eventType, m.json.tabId, m.attributes.eventId]), [
      ['r-widget-first', 'chat window', 'customerAction', 'tab-r-widget-first', firstAnswer.body.id],
      ['r-hook-first', 'chat window', 'customerAction', 'tab-r-hook-first', second.body.id],
    ])
    await waitFor('every event settled', () => controller.logger.stats().queued === 0)
    assert.equal(controller.logger.stats().delivered, 2, 'logged once each, nothing else sent')
  })

  it('logs the widget close of a closed room when no hook is attached for this controller', async () => {
    const { topicArn, queueUrl } = await ctx.topic()
    const { post, openRoom } = serve({ logger: ctx.logger({ topicArn }), factDelayMs: FACT_DELAY_MS })
    openRoom('r-no-hooks', { open: undefined })
    const answer = await post({ token: 'visitor-token', rid: 'r-no-hooks', category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window' } })
    assert.ok(answer.body.id, 'without the hooks nothing else logs it, so the widget does')
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, answer.body.id)
  })
})
