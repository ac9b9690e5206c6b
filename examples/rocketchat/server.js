'use strict'
// A small stand-in for the Rocket.Chat server, wired the way Rocket.Chat wires
// rocketchat-sns-analytics: settings read by id (here from a JSON file, watched for
// changes as the admin page would change them), the Apps-Engine bridge an app logs
// through, the Livechat widget's analytics endpoint with its checks, and /metrics.
//
//   node examples/rocketchat/server.js [settings.json] [port]
//
// Routes:
//   GET  /                                   the widget page (public/)
//   POST /api/v1/livechat/room               { token } -> { rid }: a visitor's room
//   POST /api/v1/livechat/analytics.event    the widget's events -> logWidgetEvent
//   GET  /api/v1/livechat/transcript         ?rid=&token= -> the transcript as text
//   GET  /metrics                            Prometheus text
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { AnalyticsLogger, AppsEngineBridge, optionsFromSettings } = require('../..')

/** The id of the (pretend) Dialogflow app that reports rooms starting. */
const DIALOGFLOW_APP_ID = '21b7d3ba-031b-41d9-8ff2-fbbfa081ae90'
const MAX_BODY_BYTES = 16 * 1024

/** A token bucket per client address: the widget endpoint is public. */
function ipRateLimiter({ perSecond, burst }) {
  const buckets = new Map()
  return (ip) => {
    const now = Date.now()
    const b = buckets.get(ip) ?? { tokens: burst, at: now }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond)
    b.at = now
    buckets.set(ip, b)
    if (buckets.size > 100_000) buckets.delete(buckets.keys().next().value)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
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
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(Object.assign(new Error('body too large'), { status: 413 }))
      else resolve(Buffer.concat(chunks).toString())
    })
    req.on('error', reject)
  })
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(type === 'application/json' ? JSON.stringify(body) : body)
}

/**
 * Starts the server. `settingsFile` holds the SNS_Analytics_* settings by id, as
 * Rocket.Chat's settings collection would.
 */
async function start({ settingsFile, port = 0, host = '127.0.0.1', siteUrl = 'https://chat.example.com', ipLimit = { perSecond: 20, burst: 40 } }) {
  const readSettings = () => JSON.parse(fs.readFileSync(settingsFile, 'utf8'))
  let settings = readSettings()
  const get = (id) => settings[id]

  // Rocket.Chat: settingsRegistry.addGroup(...) with settingsDefinitions(), then:
  const options = optionsFromSettings(get, siteUrl)
  const logger = options ? new AnalyticsLogger(options) : null
  logger?.onError((e) => console.warn(`[analytics] ${e.code}: ${e.message}`))
  // Rocket.Chat: AppAnalyticsBridge.logEvent delegates to this, with the app's permissions.
  const bridge = logger && new AppsEngineBridge(logger, { hasPermission: (appId, permission) => appId === DIALOGFLOW_APP_ID && permission === 'analytics.write' })

  // An admin changes a setting: the logger follows, nothing queued is lost.
  fs.watchFile(settingsFile, { interval: 200 }, () => {
    try {
      settings = readSettings()
      const next = optionsFromSettings(get, siteUrl)
      if (logger && next) logger.reconfigure(next)
    } catch (e) {
      console.warn(`[analytics] settings not applied: ${e.setting ?? ''} ${e.message}`)
    }
  }).unref?.()

  const rooms = new Map() // rid -> { token, transcript }
  const allowed = ipRateLimiter(ipLimit)
  const publicDir = path.join(__dirname, 'public')

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost')
    try {
      if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/widget.js')) {
        const file = url.pathname === '/' ? 'index.html' : 'widget.js'
        return send(res, 200, fs.readFileSync(path.join(publicDir, file)), file.endsWith('.js') ? 'text/javascript' : 'text/html')
      }
      if (req.method === 'GET' && url.pathname === '/metrics') {
        return send(res, 200, logger ? logger.metrics() : '', 'text/plain; version=0.0.4')
      }
      if (req.method === 'POST' && url.pathname === '/api/v1/livechat/room') {
        const { token } = JSON.parse(await readBody(req))
        if (typeof token !== 'string' || token.length < 8) return send(res, 400, { success: false, error: 'token required' })
        const rid = `${crypto.randomBytes(6).toString('hex')}:${crypto.randomBytes(8).toString('hex')}`
        rooms.set(rid, { token, transcript: ['Bot: Hello! How can I help?'] })
        // What the Dialogflow app does on IPostLivechatRoomStarted, through the bridge.
        await bridge?.roomStarted({ id: rid, closer: 'visitor' }, DIALOGFLOW_APP_ID)
        return send(res, 200, { success: true, rid })
      }
      if (req.method === 'GET' && url.pathname === '/api/v1/livechat/transcript') {
        const room = rooms.get(url.searchParams.get('rid'))
        if (!room || room.token !== url.searchParams.get('token')) return send(res, 404, { success: false })
        res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="transcript.txt"' })
        return res.end(room.transcript.join('\n'))
      }
      if (req.method === 'POST' && url.pathname === '/api/v1/livechat/analytics.event') {
        // Public endpoint: limit per address before reading anything.
        if (!allowed(req.socket.remoteAddress)) return send(res, 429, { success: false, error: 'too many requests' })
        if (!logger) return send(res, 404, { success: false, error: 'analytics disabled' })
        let body
        try {
          body = JSON.parse(await readBody(req))
        } catch (e) {
          return send(res, e.status ?? 400, { success: false, error: e.status ? 'body too large' : 'body is not JSON' })
        }
        if (typeof body !== 'object' || body === null) return send(res, 400, { success: false, error: 'body must be an object' })
        // The visitor's token and room, as Rocket.Chat's livechat routes check them.
        const room = typeof body.rid === 'string' ? rooms.get(body.rid) : undefined
        if (!room) return send(res, 404, { success: false, error: 'unknown room' })
        if (typeof body.token !== 'string' || body.token !== room.token) return send(res, 401, { success: false, error: 'invalid visitor token' })
        try {
          const eventId = logger.logWidgetEvent(body)
          return send(res, 200, { success: true, eventId })
        } catch (e) {
          const status = e.code === 'ERR_EVENT_TOO_LARGE' ? 413 : e.code === 'ERR_INVALID_EVENT' ? 400 : 503
          return send(res, status, { success: false, error: e.message, field: e.field })
        }
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
    logger,
    rooms,
    async close() {
      fs.unwatchFile(settingsFile)
      await new Promise((resolve) => server.close(resolve))
      server.closeAllConnections?.()
      if (logger) await logger.close()
    },
  }
}

module.exports = { start, DIALOGFLOW_APP_ID }

if (require.main === module) {
  const settingsFile = process.argv[2] || path.join(__dirname, 'settings.example.json')
  start({ settingsFile, port: Number(process.argv[3] || 3000) }).then((s) => {
    console.log(`listening ${s.url}`)
    const stop = () => s.close().then(() => process.exit(0))
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
}
