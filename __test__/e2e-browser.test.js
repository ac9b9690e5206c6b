'use strict'
// End to end through a real browser: headless Chromium loads the example's widget page
// (examples/rocketchat: this package's Rocket.Chat entry points, on the stand-ins of
// __test__/helpers/rocketchat/ for Rocket.Chat's callbacks, onNewRoom hook and typed
// router in TEST_MODE, and the real @rocket.chat/rest-typings validators), opens a
// tab, clicks the survey link, downloads a transcript and closes the chat; the events
// are read back from SQS, the close once. Then hostile requests (bad token, unknown room,
// oversized body, unknown keys, a flood) are answered as Rocket.Chat's router answers
// them, and nothing more reaches SNS. And the host page of the real Livechat widget
// (examples/rocketchat/public/livechat-host.html and livechat-host.js), over a stand-in of the
// widget's bundle (livechatWidgetStandIn below), sends its events to SNS through the same route.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { chromium } = require('playwright-core')
const { useMoto } = require('./helpers/setup')
const moto = require('./helpers/moto')
const example = require('../examples/rocketchat/server')

const ctx = useMoto()
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const PUBLIC = path.join(__dirname, '..', 'examples', 'rocketchat', 'public')

/**
 * A stand-in for the real Livechat widget's bundle (`<Site_Url>/livechat/rocketchat-livechat.min.js`,
 * not available offline), served in its place to the host page. It is run in the page as its
 * source text, so it uses nothing outside itself. It is the widget's host-page API as
 * packages/livechat/src/embeddable-script.ts@39e50a9ab12acedd3220d223e0b7b3e0e69c7d62 of
 * RocketChat/Rocket.Chat has it: the snippet's queue of RocketChat(fn) calls run with
 * `this` = window.RocketChat.livechat; registerCallback refusing names outside VALID_CALLBACKS;
 * emitCallback passing data only when there is some; openWidget and closeWidget emitting
 * chat-maximized and chat-minimized once per change of state; the iframe's messages
 * ({ src: 'rocketchat', fn, args }, from another window than the page's) calling the page's
 * `api`, whose `callback(name, data)` emits the named callback. The iframe side posts those
 * messages as parentCall of packages/livechat/src/lib/iframe.ts@39e50a9ab12acedd3220d223e0b7b3e0e69c7d62
 * does, with the shapes the widget sends:
 * - restoreWindow / minimizeWindow, no data: the visitor opens or minimizes the widget
 *   (handleRestore, handleMinimize of src/components/App/handlers.ts@802213e1b0669b3ba885489038c8dd2d6985d405);
 * - callback 'chat-started', no data, once the room is created (getRoom of
 *   src/routes/Chat/index.tsx@85f6fa3ff1be28734d8fc1af93d34238f1718b68);
 * - callback 'assign-agent', { name, username, status } (initRoom of
 *   src/lib/room.ts@66bf0d4f593047d4cd8873bed45e2d2ffafb34a3, normalizeAgent of
 *   src/lib/api.ts@880339f836386b57f5f1282ca6620a10eaf3e9d8);
 * - callback 'chat-ended', no data, once the room is closed (closeChat of room.ts).
 * The server side of the widget's requests is the example server's: its livechat/room creates the
 * visitor's room (Livechat.room) and its livechat/room.close closes it (Livechat.closeChat).
 * window.livechatStandIn lets the test act as the visitor.
 */
function livechatWidgetStandIn() {
  const VALID_CALLBACKS = ['chat-maximized', 'chat-minimized', 'chat-started', 'chat-ended', 'pre-chat-form-submit', 'offline-form-submit', 'show-widget', 'hide-widget', 'assign-agent', 'agent-status-change', 'queue-position-change', 'no-agent-online']
  const callbacks = new Map()
  const registerCallback = (name, fn) => VALID_CALLBACKS.includes(name) && callbacks.set(name, [...(callbacks.get(name) || []), fn])
  const emitCallback = (name, data) => (callbacks.get(name) || []).forEach((fn) => (data !== undefined ? fn(data) : fn()))
  const widget = { state: 'closed', token: undefined, rid: undefined, hooks: [] }

  const iframe = document.createElement('iframe')
  iframe.id = 'rocketchat-iframe'
  iframe.srcdoc = "<script>window.parentCall = function (method) { parent.postMessage({ src: 'rocketchat', fn: method, args: [].slice.call(arguments, 1) }, '*') }<\/script>"
  const loaded = new Promise((resolve) => iframe.addEventListener('load', resolve))
  document.body.appendChild(iframe)

  const openWidget = () => {
    if (widget.state === 'opened') return
    widget.state = 'opened'
    emitCallback('chat-maximized')
  }
  const closeWidget = () => {
    if (widget.state === 'closed') return
    widget.state = 'closed'
    emitCallback('chat-minimized')
  }
  const api = {
    ready() {},
    openWidget,
    minimizeWindow: closeWidget,
    restoreWindow: openWidget,
    callback: (name, data) => emitCallback(name, data),
  }
  window.addEventListener('message', (event) => {
    if (event.source === event.target || !event.data || typeof event.data !== 'object' || event.data.src !== 'rocketchat') return
    const { fn, args } = event.data
    if (Object.prototype.hasOwnProperty.call(api, fn)) api[fn](...args)
  })

  const livechat = {
    setGuestToken(token) {
      widget.hooks.push(['setGuestToken', token])
      widget.token = token
    },
    maximizeWidget: () => emitCallback('chat-maximized'),
    minimizeWidget: () => emitCallback('chat-minimized'),
    onChatMaximized: (fn) => registerCallback('chat-maximized', fn),
    onChatMinimized: (fn) => registerCallback('chat-minimized', fn),
    onChatStarted: (fn) => registerCallback('chat-started', fn),
    onChatEnded: (fn) => registerCallback('chat-ended', fn),
    onAssignAgent: (fn) => registerCallback('assign-agent', fn),
    onAgentStatusChange: (fn) => registerCallback('agent-status-change', fn),
    onQueuePositionChange: (fn) => registerCallback('queue-position-change', fn),
    onServiceOffline: (fn) => registerCallback('no-agent-online', fn),
  }
  const queue = window.RocketChat._
  window.RocketChat._.push = function (c) {
    c.call(window.RocketChat.livechat)
  }
  window.RocketChat = window.RocketChat._.push
  window.RocketChat.livechat = livechat
  queue.forEach((c) => c.call(window.RocketChat.livechat))

  const parentCall = async (...args) => {
    await loaded
    iframe.contentWindow.parentCall(...args)
  }
  const post = async (route, body) => {
    const res = await fetch(`/api/v1/livechat/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (!res.ok) throw new Error(`${route}: ${res.status}`)
    return res.json()
  }
  window.livechatStandIn = {
    get token() {
      return widget.token
    },
    get rid() {
      return widget.rid
    },
    hooks: widget.hooks,
    open: () => parentCall('restoreWindow'),
    minimize: () => parentCall('minimizeWindow'),
    async startChat() {
      // A token the page did not set is the widget's own (createToken), which the page never sees.
      widget.token = widget.token || Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')
      widget.rid = (await post('room', { token: widget.token })).rid
      await parentCall('callback', 'chat-started')
    },
    assignAgent: (agent) => parentCall('callback', 'assign-agent', { name: agent.name, username: agent.username, status: agent.status }),
    async finishChat() {
      await post('room.close', { token: widget.token, rid: widget.rid })
      await parentCall('callback', 'chat-ended')
    },
  }
}

/** Shares a run of `n` characters with `b`. */
const sharesRun = (a, b, n = 8) => [...Array(Math.max(0, a.length - n + 1)).keys()].some((i) => b.includes(a.slice(i, i + n)))

describe('the reference integration in a real browser', () => {
  let server
  let browser
  let topic
  let settingsFile

  before(async () => {
    topic = await ctx.topic({ fifo: true })
    settingsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rc-example-')), 'settings.json')
    fs.writeFileSync(
      settingsFile,
      JSON.stringify({
        SNS_Analytics_Enabled: true,
        SNS_Analytics_Topic_ARN: topic.topicArn,
        SNS_Analytics_Region: moto.REGION,
        SNS_Analytics_Endpoint: ctx.moto.endpoint,
        SNS_Analytics_Access_Key_Id: moto.CREDENTIALS.accessKeyId,
        SNS_Analytics_Secret_Access_Key: moto.CREDENTIALS.secretAccessKey,
        SNS_Analytics_Message_Group: 'room',
        SNS_Analytics_Flush_Interval_Ms: 50,
      }),
    )
    server = await example.start({ settingsFile, rateLimit: { numRequestsAllowed: 20, intervalTimeInMS: 60_000 } })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless'] })
  })
  after(async () => {
    if (browser) await browser.close()
    if (server) await server.close()
  })

  it("delivers what the visitor does in the widget, and the server's own room start, to SQS", async () => {
    const page = await browser.newPage({ acceptDownloads: true })
    await page.goto(server.url)
    await page.waitForSelector('#status[data-ready="true"]')
    const rid = await page.textContent('#room')
    await page.click('#survey')
    await page.waitForSelector('#status[data-sent="2"]')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#transcript')])
    assert.equal(download.suggestedFilename(), 'transcript.txt')
    assert.match(fs.readFileSync(await download.path(), 'utf8'), /Hello! How can I help\?/)
    await page.waitForSelector('#status[data-sent="3"]')
    await page.click('#close')
    await page.waitForSelector('#status[data-closed="true"]')
    await page.close()
    assert.equal(server.rooms.get(rid).closer, 'visitor', 'the room was closed, and its livechat.closeRoom hook ran')

    await server.controller.logger.flush()
    // Five, not six: the close is logged once, the widget's report of it (docs/rocketchat.md,
    // One owner per event). The room's start waits factDelayMs for an App's report of it,
    // so it may come after the widget's first events.
    const msgs = await ctx.drain(topic.queueUrl, { expected: 5 })
    assert.deepEqual(await ctx.drain(topic.queueUrl, { quietMs: 1000 }), [], 'nothing more: not a second close')
    const started = msgs.find((m) => m.json.action === 'started')
    const widget = msgs.filter((m) => m !== started)
    const got = widget.map((m) => `${m.json.category}/${m.json.action}`)
    assert.deepEqual(got, ['Window/opened', 'Survey/link_clicked', 'Transcript Download/selected', 'Chat Session/closed'])
    assert.equal(started.json.category, 'Chat Session')
    for (const m of msgs) {
      assert.equal(m.json.roomId, rid)
      assert.equal(m.groupId, `https://chat.example.com/${rid}`, 'one ordered group per conversation')
    }
    assert.equal(started.json.eventType, 'session', "logged by the server's onNewRoom hook")
    assert.ok(widget.every((m) => m.json.eventType === 'customerAction' && m.json.tabId.length > 0))
    assert.ok(msgs.every((m) => m.attributes.appId === undefined))
    assert.equal(widget[3].json.properties.close_method, 'chat window')
  })

  // Before the hostile requests: their flood uses up the route's rate limit for this address.
  it("delivers the real Livechat widget's events from its host page through the widget route", async () => {
    const page = await browser.newPage()
    // The example server serves widget.js's page only: the host page and its script are served
    // from examples/rocketchat/public here, on the same origin (no CORS).
    await page.route(
      (url) => url.pathname === '/livechat-host.html' || url.pathname === '/livechat-host.js',
      (route) => route.fulfill({ path: path.join(PUBLIC, path.basename(new URL(route.request().url()).pathname)) }),
    )
    await page.route(
      (url) => url.pathname === '/livechat/rocketchat-livechat.min.js',
      (route) => route.fulfill({ contentType: 'text/javascript', body: `;(${livechatWidgetStandIn})()` }),
    )
    // The example server has no livechat/config: answered here as Rocket.Chat's
    // (apps/meteor/server/api/v1/omnichannel/config.ts@5e55fca5f70959c3f9b2d768e6b7def5d83611af:
    // { config: { ..., room }, success }, room the visitor's open room, findOpenRoom), from the
    // example server's rooms.
    const configTokens = []
    await page.route(
      (url) => url.pathname === '/api/v1/livechat/config',
      (route) => {
        const token = new URL(route.request().url()).searchParams.get('token')
        configTokens.push(token)
        const room = [...server.rooms.values()].find((r) => r.open && r.v.token === token)
        return route.fulfill({ json: { config: { enabled: true, online: true, ...(room && { room: { _id: room._id, open: true } }) }, success: true } })
      },
    )
    await page.addInitScript(() => {
      window.analyticsSent = []
      document.addEventListener('livechat-analytics', (e) => window.analyticsSent.push(e.detail))
    })
    await page.goto(`${server.url}/livechat-host.html`)
    await page.waitForFunction(() => window.livechatStandIn && window.livechatStandIn.token)
    const { token, tabId, sessionId, hooks } = await page.evaluate(() => ({
      token: localStorage.getItem('rcLivechatVisitorToken'),
      tabId: sessionStorage.getItem('rcLivechatTabId'),
      sessionId: sessionStorage.getItem('rcLivechatAnalyticsSessionId'),
      hooks: window.livechatStandIn.hooks,
    }))
    assert.deepEqual(hooks, [['setGuestToken', token]], 'the page hands the widget its own visitor token')
    const sent = (n) => page.waitForFunction((n) => window.analyticsSent.length === n, n)

    // Opened before any room exists: held until the room is known.
    await page.evaluate(() => window.livechatStandIn.open())
    await page.evaluate(() => window.livechatStandIn.startChat())
    await sent(1)
    const rid = await page.evaluate(() => window.livechatStandIn.rid)
    assert.equal(server.rooms.get(rid).v.token, token, "the widget's room is the page's visitor's")
    assert.ok(configTokens.includes(token), 'the room was asked of livechat/config')
    // The agent's data carries no room: nothing is sent.
    await page.evaluate(() => window.livechatStandIn.assignAgent({ name: 'Ana', username: 'ana', status: 'online' }))
    await page.evaluate(() => window.livechatStandIn.minimize())
    await sent(2)
    await page.evaluate(() => window.livechatStandIn.finishChat())
    await sent(3)
    const answers = await page.evaluate(() => window.analyticsSent)
    await page.close()
    assert.deepEqual(
      answers.map((a) => [`${a.category}/${a.action}`, a.rid, a.status, typeof a.answer.id]),
      [
        ['Window/opened', rid, 200, 'string'],
        ['Window/closed', rid, 200, 'string'],
        ['Chat Session/closed', rid, 200, 'string'],
      ],
    )
    assert.equal(server.rooms.get(rid).closer, 'visitor')

    await server.controller.logger.flush()
    const msgs = await ctx.drain(topic.queueUrl, { expected: 4 })
    assert.deepEqual(await ctx.drain(topic.queueUrl, { quietMs: 1000 }), [], 'nothing more: one close')
    const started = msgs.find((m) => m.json.action === 'started')
    assert.equal(started.json.category, 'Chat Session')
    const widget = msgs.filter((m) => m !== started)
    assert.deepEqual(
      widget.map((m) => `${m.json.category}/${m.json.action}`),
      ['Window/opened', 'Window/closed', 'Chat Session/closed'],
    )
    assert.deepEqual(
      widget.map((m) => m.attributes.eventId),
      answers.map((a) => a.answer.id),
      'the ids the route answered',
    )
    for (const m of msgs) assert.equal(m.json.roomId, rid)
    for (const m of widget) {
      assert.equal(m.json.eventType, 'customerAction')
      assert.equal(m.json.tabId, tabId, "the page's tab id")
    }
    // The session and tab ids are random, never a part of the visitor's token.
    for (const id of [widget[0].json.properties.session_id, widget[0].json.tabId]) {
      assert.ok(typeof id === 'string' && id.length >= 16 && !sharesRun(id, token), `${id} shares a part of the token ${token}`)
    }
    assert.deepEqual(widget[0].json.properties, { session_id: sessionId }, "the page's session id")
    assert.deepEqual(widget[2].json.properties, { close_method: 'chat window' })
    assert.ok(msgs.every((m) => !JSON.stringify(m.json).includes(token)), 'the token never reaches SNS')
  })

  it('answers hostile requests with the right status and lets none of them reach SNS', async () => {
    const page = await browser.newPage()
    await page.goto(server.url)
    await page.waitForSelector('#status[data-ready="true"]')
    const rid = await page.textContent('#room')
    const token = await page.evaluate(() => sessionStorage.getItem('visitorToken'))
    await page.close()
    await server.controller.logger.flush()
    await ctx.drain(topic.queueUrl, { expected: 2 }) // the room's start and its tab opening

    const post = (body, raw) =>
      fetch(`${server.url}/api/v1/livechat/widget-events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw ?? JSON.stringify(body),
      })
    const event = { token, rid, category: 'Survey', action: 'link_clicked' }
    // As Rocket.Chat's typed router answers, in TEST_MODE: 400 in its error shape for
    // every refusal (invalid-token and invalid-room as the livechat routes answer;
    // invalid-params for a body the schema refuses, or one that does not parse), 413
    // from the body limit.
    const cases = [
      [{ ...event, token: 'not-the-visitor' }, 400, 'invalid-token'],
      [{ ...event, rid: 'no:such-room' }, 400, 'invalid-room'],
      [{ ...event, isAdmin: true }, 400, 'invalid-params'],
      [{ ...event, category: 'Escalation', action: 'failed' }, 400, 'error-event-owner'],
      [{ ...event, properties: { injected: 'x' } }, 400, 'error-invalid-event'],
      [{ ...event, tabId: 'x'.repeat(9000) }, 400, 'error-event-too-large'],
      [null, 413, 'body too large', JSON.stringify({ ...event, pad: 'x'.repeat(20_000) })],
      [null, 400, 'invalid-params', '{not json'],
    ]
    for (const [body, status, error, raw] of cases) {
      const res = await post(body, raw)
      const answer = await res.json()
      const what = `${raw ? raw.slice(0, 40) : JSON.stringify(body).slice(0, 80)} -> ${res.status} ${JSON.stringify(answer)}`
      assert.equal(res.status, status, what)
      assert.ok([answer.error, answer.errorType].includes(error), what)
    }
    // A flood from one address: the route's rateLimiterOptions answer 429.
    const statuses = []
    for (let i = 0; i < 60; i++) statuses.push((await post({ ...event, token: 'bad' })).status)
    assert.ok(statuses.includes(429), `statuses: ${[...new Set(statuses)]}`)
    await server.controller.logger.flush()
    const leaked = await ctx.drain(topic.queueUrl, { quietMs: 1000 })
    assert.deepEqual(leaked.map((m) => m.body), [], 'nothing hostile reached SNS')
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    assert.match(metrics, /^rocketchat_sns_analytics_events_invalid_total\{reason="invalid_event"\} [1-9]/m)
  })
})
