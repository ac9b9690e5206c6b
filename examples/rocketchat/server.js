'use strict'
// rocketchat-sns-analytics/rocketchat wired into a small server. It is not Rocket.Chat:
// Rocket.Chat's mechanisms are the test suite's stand-ins (__test__/helpers/rocketchat/),
// each rebuilt from the monorepo file it cites, and its ajv and 400 validator are the
// real @rocket.chat/rest-typings':
//   settings   CachedSettings' watchMultiple (apps/meteor/server/settings/CachedSettings.ts):
//              the values at once, then, debounced, on every change. Here the values
//              come from a JSON file an admin edits.
//   callbacks  Callbacks (apps/meteor/server/lib/callbacks/callbacksBase.ts), with
//              livechat.closeRoom run when a room closes.
//   onNewRoom  a makeFunction hook (packages/patch-injection), awaited when a room
//              starts, as QueueManager.requestRoom does.
//   API.v1     the typed router (packages/http-router's Router.ts, ApiClass.ts) in
//              TEST_MODE, so every answer is checked against its route's response
//              validators; the body limit (413) and a rate limit (429) are this
//              server's, in front of it.
//   findGuest, findRoom  apps/meteor/server/api/v1/omnichannel/lib/livechat.ts, over
//              the rooms this server keeps in memory.
// The package's entry points are the real ones: bindSettings, registerOmnichannelCallbacks,
// registerPrometheusMetrics and widgetEventRoute.
//
//   node examples/rocketchat/server.js [settings.json] [port]
//
// Routes:
//   GET  /                                   the widget page (public/)
//   POST /api/v1/livechat/room               { token } -> { rid }: a visitor's room (runs onNewRoom)
//   POST /api/v1/livechat/room.close         { token, rid }: the visitor closes it (runs livechat.closeRoom)
//   POST /api/v1/livechat/widget-events      the widget's events (widgetEventRoute)
//   GET  /api/v1/livechat/transcript         ?rid=&token= -> the transcript as text
//   GET  /metrics                            prom-client's exposition
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const client = require('prom-client')
const { settingsDefinitions } = require('../..')
const { bindSettings, registerOmnichannelCallbacks, registerPrometheusMetrics, widgetEventRoute, handleShutdown } = require('../../rocketchat')
const { Callbacks } = require('../../__test__/helpers/rocketchat/callbacks')
const { makeFunction } = require('../../__test__/helpers/rocketchat/patch-injection')
const { createRouter } = require('../../__test__/helpers/rocketchat/router')
const { loadRestTypings } = require('../../__test__/helpers/rocketchat/rest-typings')

/** The largest request body read, as a body parser's limit. */
const MAX_BODY_BYTES = 16 * 1024

/** CachedSettings' watchMultiple over a JSON file of settings by id. */
function fileSettings(file, siteUrl) {
  const store = new Map(settingsDefinitions().settings.map((s) => [s.id, s.packageValue]))
  store.set('Site_Url', siteUrl)
  const load = () => {
    const changed = []
    for (const [id, value] of Object.entries(JSON.parse(fs.readFileSync(file, 'utf8')))) {
      if (store.get(id) !== value) changed.push(id)
      store.set(id, value)
    }
    return changed
  }
  load()
  const watchers = new Set()
  fs.watchFile(file, { interval: 200 }, () => {
    let changed
    try {
      changed = load()
    } catch {
      return // a half-written file: the next change reads it whole
    }
    for (const w of watchers) if (changed.some((id) => w.ids.includes(id))) w.schedule()
  }).unref?.()
  return {
    watchMultiple(ids, callback) {
      let timer
      const w = { ids, schedule: () => (clearTimeout(timer), (timer = setTimeout(() => callback(ids.map((id) => store.get(id))), 100))) }
      if (ids.every((id) => store.has(id))) callback(ids.map((id) => store.get(id)))
      watchers.add(w)
      return () => (clearTimeout(timer), watchers.delete(w))
    },
    close: () => fs.unwatchFile(file),
  }
}

/** This server's rate limit, per route and client address, in front of the router. */
function rateLimiter() {
  const windows = new Map()
  return (key, { numRequestsAllowed, intervalTimeInMS }) => {
    const now = Date.now()
    const window = windows.get(key)
    if (!window || now - window.start > intervalTimeInMS) {
      windows.set(key, { start: now, count: 1 })
      return true
    }
    window.count++
    return window.count <= numRequestsAllowed
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      // Past the limit, keep reading (and dropping) so that the 413 reaches the client.
      if (size <= MAX_BODY_BYTES) chunks.push(c)
    })
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(Object.assign(new Error('body too large'), { status: 413 })) : resolve(Buffer.concat(chunks).toString())))
    req.on('error', reject)
  })
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(type === 'application/json' ? JSON.stringify(body) : body)
}

/** Starts the server; `settingsFile` holds the SNS_Analytics_* settings by id. */
async function start({ settingsFile, port = 0, host = '127.0.0.1', siteUrl = 'https://chat.example.com', rateLimit = { numRequestsAllowed: 40, intervalTimeInMS: 10_000 } }) {
  const { ajv, validateBadRequestErrorResponse } = await loadRestTypings()
  const settings = fileSettings(settingsFile, siteUrl)
  const callbacks = new Callbacks()
  const onNewRoom = makeFunction(async () => {})
  const { API, request, routes } = createRouter({ testMode: true })
  const allowed = rateLimiter()
  const registry = new client.Registry()
  const report = (e) => console.warn(`[analytics] ${e.setting || e.code || ''}: ${e.message}`)

  const controller = bindSettings(settings, { onError: report })
  registerOmnichannelCallbacks(callbacks, controller, { onNewRoom, afterTakeInquiry: makeFunction(async () => {}), onError: report })
  registerPrometheusMetrics(controller, registry)

  const rooms = new Map() // rid -> IOmnichannelRoom-like, with its visitor's token and a transcript
  const findGuest = async (token) => ([...rooms.values()].some((r) => r.v.token === token) ? { token } : null)
  const findRoom = async (token, rid) => {
    const room = rooms.get(rid)
    return room && room.v.token === token ? room : null
  }
  API.v1.post(...widgetEventRoute({ API, controller, ajv, validateBadRequestErrorResponse, findGuest, findRoom, rateLimit }))

  const tokenSchema = { type: 'string', minLength: 8 }
  const response = (properties) => ({
    200: ajv.compile({ type: 'object', properties: { success: { type: 'boolean', enum: [true] }, ...properties }, required: ['success'], additionalProperties: false }),
    400: validateBadRequestErrorResponse,
  })
  API.v1.post(
    'livechat/room',
    { authRequired: false, body: ajv.compile({ type: 'object', properties: { token: tokenSchema }, required: ['token'], additionalProperties: false }), response: response({ rid: { type: 'string' } }) },
    async function action() {
      const { token } = this.bodyParams
      const rid = `${crypto.randomBytes(6).toString('hex')}:${crypto.randomBytes(8).toString('hex')}`
      const room = { _id: rid, t: 'l', open: true, v: { token }, transcript: ['Bot: Hello! How can I help?'] }
      rooms.set(rid, room)
      await onNewRoom(room)
      return API.v1.success({ rid })
    },
  )
  API.v1.post(
    'livechat/room.close',
    { authRequired: false, body: ajv.compile({ type: 'object', properties: { token: tokenSchema, rid: { type: 'string' } }, required: ['token', 'rid'], additionalProperties: false }), response: response({}) },
    async function action() {
      const { token, rid } = this.bodyParams
      const room = await findRoom(token, rid)
      if (!room) throw new Error('invalid-room')
      if (room.open) {
        // closeRoom.ts: the room is closed by the visitor, read back, then the hook runs.
        delete room.open
        Object.assign(room, { closer: 'visitor', closedBy: { _id: token }, closedAt: new Date() })
        await callbacks.run('livechat.closeRoom', { room, options: {} })
      }
      return API.v1.success()
    },
  )

  /** A POST under /api/v1/: the body limit, the rate limit, then the router. */
  async function handle(route, bodyText, ip) {
    const routeOptions = routes.get(`POST /v1/${route}`)?.options
    if (routeOptions?.rateLimiterOptions && !allowed(`${route} ${ip}`, routeOptions.rateLimiterOptions)) {
      return { statusCode: 429, body: { success: false, error: 'error-too-many-requests' } }
    }
    let bodyParams
    try {
      bodyParams = JSON.parse(bodyText)
    } catch {
      bodyParams = {} // Router.parseBodyParams: a body that does not parse is {}
    }
    return request('POST', `/v1/${route}`, bodyParams)
  }

  const publicDir = path.join(__dirname, 'public')
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost')
    try {
      if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/widget.js')) {
        const file = url.pathname === '/' ? 'index.html' : 'widget.js'
        return send(res, 200, fs.readFileSync(path.join(publicDir, file)), file.endsWith('.js') ? 'text/javascript' : 'text/html')
      }
      if (req.method === 'GET' && url.pathname === '/metrics') return send(res, 200, await registry.metrics(), registry.contentType)
      if (req.method === 'GET' && url.pathname === '/api/v1/livechat/transcript') {
        const room = await findRoom(url.searchParams.get('token'), url.searchParams.get('rid'))
        if (!room) return send(res, 404, { success: false })
        res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="transcript.txt"' })
        return res.end(room.transcript.join('\n'))
      }
      if (req.method === 'POST' && url.pathname.startsWith('/api/v1/')) {
        const answer = await handle(url.pathname.slice('/api/v1/'.length), await readBody(req), req.socket.remoteAddress)
        return send(res, answer.statusCode, answer.body)
      }
      return send(res, 404, { success: false, error: 'not found' })
    } catch (e) {
      return send(res, e.status ?? 500, { success: false, error: e.status ? e.message : 'internal error' })
    }
  })
  await new Promise((resolve) => server.listen(port, host, resolve))
  const address = server.address()
  return {
    url: `http://${address.address}:${address.port}`,
    controller,
    callbacks,
    rooms,
    async close() {
      settings.close()
      await new Promise((resolve) => server.close(resolve))
      server.closeAllConnections?.()
      await controller.close()
    },
  }
}

module.exports = { start }

if (require.main === module) {
  const settingsFile = process.argv[2] || path.join(__dirname, 'settings.example.json')
  start({ settingsFile, port: Number(process.argv[3] || 3000) }).then((s) => {
    console.log(`listening ${s.url}`)
    // As docs/rocketchat.md wires it: the logger delivers what it holds within the grace
    // period, whatever this server's own handler below does.
    handleShutdown(s.controller)
    const stop = () => s.close().then(() => process.exit(0))
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}
