'use strict'
// Lanes under a flood, against moto through a fault proxy: during an SNS outage, the
// Livechat widget floods the route from many visitor tokens at about 10,000 events a
// second and two Apps flood the bridge (within rate limits set out of the way), while
// the server's hooks log their events. The queue holds 400 events: the widget may
// fill a quarter of it, each App a tenth, the Apps together a quarter. When SNS is back,
// every server event arrives; each flooding lane dropped only its own newest events,
// and reported exactly those by id. The figures are printed for the closing note.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { useMoto, waitFor, assertBalanced } = require('./helpers/setup')
const { startFaultProxy } = require('./helpers/fault-proxy')
const { Callbacks } = require('./helpers/rocketchat/callbacks')
const { makeFunction } = require('./helpers/rocketchat/patch-injection')
const { createRouter } = require('./helpers/rocketchat/router')
const { loadRestTypings } = require('./helpers/rocketchat/rest-typings')
const { appsBridge, registerOmnichannelCallbacks, widgetEventRoute, WIDGET_ROUTE } = require('../rocketchat')

const ctx = useMoto()

const APP_A = '4b5c1e0a-31c2-4f3e-9b8e-5f0d3c2a1b00'
const APP_B = '9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6'
const TOKENS = 500
const ROUNDS = 200
/** Per round: widget events, App A's, App B's, server hook events. */
const PER_ROUND = { widget: 50, appA: 15, appB: 2, server: 1 }
/** The queue: the widget may hold a quarter (100), each App a tenth (40), the Apps a quarter. */
const QUEUE = 400
const KEPT = { widget: QUEUE / 4, app: QUEUE / 10 }

let restTypings
let proxy
before(async () => {
  restTypings = await loadRestTypings()
})
after(() => proxy?.close())

/** waitFor with a minute's patience: delivering what a flood left takes moto a while. */
async function until(what, done, state) {
  const end = Date.now() + 60_000
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${state()}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('a flood from the widget and from Apps during an outage', () => {
  it('leaves every server event delivered; each flooding lane drops its own newest events and reports them by id', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    proxy = await startFaultProxy(ctx.moto.endpoint)
    const errors = []
    const logger = ctx.logger({
      topicArn,
      endpoint: proxy.endpoint,
      trackingPlan: 'rocketchat-livechat',
      maxQueueEvents: QUEUE,
      // Rooms publish in parallel, as a busy server would have them.
      messageGroup: 'room',
      retryInitialBackoffMs: 20,
      retryMaxBackoffMs: 200,
      appAccess: { [APP_A]: { categories: ['*'] }, [APP_B]: { categories: ['*'] } },
    })
    logger.onError((e) => errors.push(e))
    const controller = { logger, factDelayMs: 200 }
    const callbacks = new Callbacks()
    registerOmnichannelCallbacks(callbacks, controller, { onNewRoom: makeFunction(async () => {}), afterTakeInquiry: makeFunction(async () => {}) })
    // The rate limits out of the way: the lanes are what is under test.
    const apps = appsBridge(controller, { hasPermission: () => true, appRateLimit: { eventsPerSecond: 1e6, burst: 1e6, bytesPerSecond: 1e12, burstBytes: 1e12 } })
    const { API, request } = createRouter({ testMode: true })
    API.v1.post(
      ...widgetEventRoute({
        API,
        controller,
        ajv: restTypings.ajv,
        validateBadRequestErrorResponse: restTypings.validateBadRequestErrorResponse,
        rateLimit: false,
        findGuest: async (token) => (token.startsWith('visitor-') ? { _id: token, token } : null),
        findRoom: async (token, rid) => (rid === `room-${token}` ? { _id: rid, t: 'l', open: true, v: { _id: token, token } } : null),
      }),
    )

    proxy.outage(600_000, ['http503'])
    const logged = { widget: [], appA: [], appB: [] }
    const widgetAnswers = []
    const started = process.hrtime.bigint()
    let widgetSent = 0
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < PER_ROUND.widget; i++) {
        const token = `visitor-${widgetSent++ % TOKENS}`
        widgetAnswers.push(request('POST', `/v1/${WIDGET_ROUTE}`, { token, rid: `room-${token}`, category: 'Survey', action: 'link_clicked' }))
      }
      for (let i = 0; i < PER_ROUND.appA; i++) logged.appA.push(apps.doLogEvent({ category: 'Escalation', action: 'attempted' }, APP_A))
      for (let i = 0; i < PER_ROUND.appB; i++) logged.appB.push(apps.doLogEvent({ category: 'Escalation', action: 'attempted' }, APP_B))
      await callbacks.run('livechat.afterForwardChatToAgent', { rid: `server-room-${round}`, servedBy: { _id: 'agent8', ts: new Date() }, oldServedBy: { _id: 'agent7', ts: new Date() } })
    }
    for (const answer of await Promise.all(widgetAnswers)) {
      assert.equal(answer.statusCode, 200, JSON.stringify(answer.body))
      logged.widget.push(answer.body.id)
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    logged.appA = await Promise.all(logged.appA)
    logged.appB = await Promise.all(logged.appB)
    const during = logger.stats().sources

    // The proxy answers on this thread: it refuses its first request once the flood
    // loop lets it run, and only then does SNS come back.
    await waitFor('the outage to refuse a request', () => proxy.seen.injected > 0)
    proxy.heal()
    const healed = Date.now()
    const total = ROUNDS * PER_ROUND.server + KEPT.widget + 2 * KEPT.app
    await until('the held events to be delivered', () => logger.stats().delivered === total, () => JSON.stringify(logger.stats()))
    await until('the drops to be reported', () => errors.filter((e) => e.code === 'ERR_QUEUE_FULL').flatMap((e) => e.eventIds).length === ROUNDS * (PER_ROUND.widget + PER_ROUND.appA + PER_ROUND.appB) - KEPT.widget - 2 * KEPT.app, () => errors.length)
    console.log(`delivered ${Date.now() - healed} ms after SNS came back`)
    const messages = await ctx.drain(queueUrl, { expected: total })
    console.log(`drained ${Date.now() - healed} ms after`)
    const delivered = new Set(messages.map((m) => m.attributes.eventId))
    const { sources } = logger.stats()

    // The server's lane: every hook event arrived.
    const serverEvents = messages.filter((m) => m.json.category === 'Agent Transfer')
    assert.equal(serverEvents.length, ROUNDS * PER_ROUND.server)
    assert.deepEqual(new Set(serverEvents.map((m) => m.json.roomId)).size, ROUNDS)
    assert.equal(sources.server.dropped, 0)
    // Each flooding lane: its newest events dropped, exactly those reported, by lane.
    const reported = (lane) => new Set(errors.filter((e) => e.code === 'ERR_QUEUE_FULL' && e.message.includes(lane)).flatMap((e) => e.eventIds))
    for (const [lane, ids, kept] of [
      ["the Livechat widget's lane", logged.widget, KEPT.widget],
      [`App ${APP_A}'s lane`, logged.appA, KEPT.app],
      [`App ${APP_B}'s lane`, logged.appB, KEPT.app],
    ]) {
      assert.ok(ids.slice(0, kept).every((id) => delivered.has(id)), `${lane}: its first ${kept} delivered`)
      assert.ok(ids.slice(kept).every((id) => !delivered.has(id)), `${lane}: the rest not`)
      assert.deepEqual(reported(lane), new Set(ids.slice(kept)), `${lane}: the dropped ids reported`)
    }
    assert.equal(sources.widget.dropped, logged.widget.length - KEPT.widget)
    assert.equal(sources.app[APP_A].dropped, logged.appA.length - KEPT.app)
    assert.equal(sources.app[APP_B].dropped, logged.appB.length - KEPT.app)
    for (const lane of [sources.server, sources.widget, sources.apps]) assert.deepEqual([lane.heldEvents, lane.heldBytes], [0, 0])
    assertBalanced(await logger.flush())

    const row = (name, lane) => `${name.padEnd(8)} logged ${String(lane.logged).padStart(6)}  delivered ${String(lane.delivered).padStart(5)}  dropped ${String(lane.dropped).padStart(6)}`
    console.log(`flood: ${logged.widget.length} widget events from ${TOKENS} tokens in ${seconds.toFixed(2)} s (${Math.round(logged.widget.length / seconds)}/s) with two App floods, SNS down throughout; queue ${QUEUE} events`)
    console.log(`held during the flood: server ${during.server.heldEvents}, widget ${during.widget.heldEvents}, apps ${during.apps.heldEvents}`)
    console.log(`${row('server', sources.server)}`)
    console.log(`${row('widget', sources.widget)}`)
    console.log(`${row('app A', sources.app[APP_A])}`)
    console.log(`${row('app B', sources.app[APP_B])}`)
  })

  it("one visitor token, or one room, is capped per minute: the route answers 429, and the widget's lane counts the refusals", async () => {
    const { topicArn } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat', widgetEventsPerVisitor: 3, widgetEventsPerRoom: 5 })
    const { API, request } = createRouter({ testMode: true })
    API.v1.post(
      ...widgetEventRoute({
        API,
        controller: { logger },
        ajv: restTypings.ajv,
        validateBadRequestErrorResponse: restTypings.validateBadRequestErrorResponse,
        findGuest: async (token) => ({ _id: token, token }),
        findRoom: async (token, rid) => ({ _id: rid, t: 'l', open: true, v: { _id: token, token } }),
      }),
    )
    const send = (token, rid) => request('POST', `/v1/${WIDGET_ROUTE}`, { token, rid, category: 'Survey', action: 'link_clicked' })
    for (let i = 0; i < 3; i++) assert.equal((await send('visitor-1', 'room-1')).statusCode, 200)
    const overVisitor = await send('visitor-1', 'room-1')
    assert.equal(overVisitor.statusCode, 429)
    assert.match(overVisitor.body.error, /visitor token is over its cap of 3 widget events per 60 s \(widgetEventsPerVisitor\)/)
    // A second token in the same room: the room's cap is 5.
    for (let i = 0; i < 2; i++) assert.equal((await send('visitor-2', 'room-1')).statusCode, 200)
    const overRoom = await send('visitor-2', 'room-1')
    assert.equal(overRoom.statusCode, 429)
    assert.match(overRoom.body.error, /room is over its cap of 5 widget events per 60 s \(widgetEventsPerRoom\)/)
    assert.equal((await send('visitor-3', 'room-2')).statusCode, 200, 'another visitor in another room is not affected')
    const { widget } = logger.stats().sources
    assert.deepEqual([widget.logged, widget.refused], [6, 2])
    assert.throws(() => logger.logWidgetEvent({ token: 'visitor-1', rid: 'room-9', category: 'Survey', action: 'link_clicked' }), { code: 'RATE_LIMITED', field: 'token' })
  })

  it("an App over its byte budget is refused with RATE_LIMITED naming the budget, and its lane counts it", async () => {
    const { topicArn } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, appAccess: { [APP_A]: { categories: ['*'] } } })
    const apps = appsBridge({ logger }, { hasPermission: () => true, appRateLimit: { eventsPerSecond: 1000, burst: 1000, bytesPerSecond: 1, burstBytes: 2048 } })
    const big = { category: 'Escalation', action: 'failed', properties: { note: 'x'.repeat(1500) } }
    await apps.doLogEvent(big, APP_A)
    await apps.doLogEvent(big, APP_A)
    await assert.rejects(apps.doLogEvent(big, APP_A), (e) => e.code === 'RATE_LIMITED' && /byte budget \(appRateLimit\.bytesPerSecond 1, burstBytes 2048\)/.test(e.message))
    const lane = logger.stats().sources.app[APP_A]
    assert.deepEqual([lane.logged, lane.refused], [2, 1])
  })
})
