'use strict'
// rocketchat-sns-analytics/rocketchat wired into a small server. It is not Rocket.Chat:
// Rocket.Chat's objects are stand-ins here, each following the real one's semantics
// as read in the RocketChat/Rocket.Chat monorepo:
//   settings   CachedSettings (apps/meteor/app/settings/server/CachedSettings.ts):
//              watchMultiple calls back with the values at once, then, debounced, on
//              every change. Here the values come from a JSON file an admin edits.
//   callbacks  apps/meteor/lib/callbacks.ts: add(hook, fn, priority, id) with an id
//              added once, run() passing each callback's result (or the item) on.
//   API.v1     the router (apps/meteor/app/api/server/api.ts): post(path, { body,
//              rateLimiterOptions }, action), the body checked by its ajv validator,
//              success() and failure() (400), a thrown error answered as a failure.
//   findGuest, findRoom  apps/meteor/app/livechat/server/api/lib/livechat.ts, over
//              the rooms this server keeps in memory.
// The package's entry points are the real ones: bindSettings, registerOmnichannelCallbacks,
// registerPrometheusMetrics and widgetEventRoute.
//
//   node examples/rocketchat/server.js [settings.json] [port]
//
// Routes:
//   GET  /                                   the widget page (public/)
//   POST /api/v1/livechat/room               { token } -> { rid }: a visitor's room (runs livechat.newRoom)
//   POST /api/v1/livechat/widget-events      the widget's events (widgetEventRoute)
//   GET  /api/v1/livechat/transcript         ?rid=&token= -> the transcript as text
//   GET  /metrics                            prom-client's exposition
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const Ajv = require('ajv')
const client = require('prom-client')
const { settingsDefinitions } = require('../..')
const { bindSettings, registerOmnichannelCallbacks, registerPrometheusMetrics, widgetEventRoute, widgetEventSchema } = require('../../rocketchat')

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

/** apps/meteor/lib/callbacks.ts, as far as the hooks used here go. */
function createCallbacks() {
  const hooks = new Map()
  return {
    priority: { HIGH: -1000, MEDIUM: 0, LOW: 1000 },
    add(hook, callback, priority = 0, id = crypto.randomUUID()) {
      const list = hooks.get(hook) ?? []
      if (list.some((c) => c.id === id)) return
      list.push({ callback, priority, id })
      list.sort((a, b) => a.priority - b.priority)
      hooks.set(hook, list)
    },
    async run(hook, item, constant) {
      for (const { callback } of hooks.get(hook) ?? []) item = (await callback(item, constant)) ?? item
      return item
    },
  }
}

/** The router's API.v1, as far as the routes here use it, served over node:http. */
function createRouter() {
  const routes = new Map()
  const limits = new Map()
  const allowed = (path, ip, { numRequestsAllowed, intervalTimeInMS }) => {
    const key = `${path} ${ip}`
    const now = Date.now()
    const window = limits.get(key)
    if (!window || now - window.start > intervalTimeInMS) {
      limits.set(key, { start: now, count: 1 })
      return true
    }
    window.count++
    return window.count <= numRequestsAllowed
  }
  const v1 = {
    post: (path, options, action) => routes.set(path, { options, action }),
    success: (result = {}) => ({ statusCode: 200, body: { ...result, success: true } }),
    failure: (error, errorType) => ({ statusCode: 400, body: { success: false, error, ...(errorType && { errorType }) } }),
  }
  async function handle(path, bodyText, ip) {
    const route = routes.get(path)
    if (!route) return { statusCode: 404, body: { success: false, error: 'not found' } }
    if (route.options.rateLimiterOptions && !allowed(path, ip, route.options.rateLimiterOptions)) {
      return { statusCode: 429, body: { success: false, error: 'error-too-many-requests' } }
    }
    let bodyParams
    try {
      bodyParams = JSON.parse(bodyText)
    } catch {
      return v1.failure('error-invalid-json')
    }
    if (route.options.body && !route.options.body(bodyParams)) {
      return v1.failure(route.options.body.errors.map((e) => `${e.instancePath} ${e.message}`).join('; '), 'error-invalid-params')
    }
    try {
      return await route.action.call({ bodyParams })
    } catch (e) {
      return v1.failure(e.message)
    }
  }
  return { API: { v1 }, handle }
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
  const settings = fileSettings(settingsFile, siteUrl)
  const callbacks = createCallbacks()
  const { API, handle } = createRouter()
  const registry = new client.Registry()
  const report = (e) => console.warn(`[analytics] ${e.setting || e.code || ''}: ${e.message}`)

  const controller = bindSettings(settings, { onError: report })
  registerOmnichannelCallbacks(callbacks, controller, { onError: report })
  registerPrometheusMetrics(controller, registry)

  const rooms = new Map() // rid -> IOmnichannelRoom-like, with its visitor's token and a transcript
  const findGuest = async (token) => ([...rooms.values()].some((r) => r.v.token === token) ? { token } : null)
  const findRoom = async (token, rid) => {
    const room = rooms.get(rid)
    return room && room.v.token === token ? room : null
  }
  API.v1.post(...widgetEventRoute({ API, controller, validate: new Ajv().compile(widgetEventSchema), findGuest, findRoom, rateLimit }))
  API.v1.post('livechat/room', {}, async function action() {
    const { token } = this.bodyParams
    if (typeof token !== 'string' || token.length < 8) return API.v1.failure('error-invalid-token')
    const rid = `${crypto.randomBytes(6).toString('hex')}:${crypto.randomBytes(8).toString('hex')}`
    const room = { _id: rid, t: 'l', v: { token }, transcript: ['Bot: Hello! How can I help?'] }
    rooms.set(rid, room)
    await callbacks.run('livechat.newRoom', room)
    return API.v1.success({ rid })
  })

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
    const stop = () => s.close().then(() => process.exit(0))
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}
