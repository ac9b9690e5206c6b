'use strict'
// The analytics of the real Rocket.Chat Livechat widget, from the page that embeds it (the
// "host page"), through the widget's host-page API: RocketChat(function () { this.... }).
// Read in packages/livechat of RocketChat/Rocket.Chat, at the newest versions in the search index:
//   src/embeddable-script.ts@39e50a9ab12acedd3220d223e0b7b3e0e69c7d62 (formerly src/widget.ts,
//     read at 4b4d8e0b96b575f2c88bf06a8267e9c9a55468be): `this` is window.RocketChat.livechat, whose
//     setGuestToken, onChatMaximized, onChatMinimized, onChatStarted and onChatEnded are used
//     here. It has setters and callback registrations only: no getter of the token, the room or
//     any other state.
//   src/lib/iframe.ts@39e50a9ab12acedd3220d223e0b7b3e0e69c7d62: the widget's iframe calls the page
//     with postMessage({ src: 'rocketchat', fn: 'callback', args: [name, data] }).
//   What the callbacks carry: chat-maximized and chat-minimized nothing (openWidget, closeWidget in
//     embeddable-script.ts); chat-started nothing (getRoom in src/routes/Chat/index.tsx@
//     85f6fa3ff1be28734d8fc1af93d34238f1718b68, once Livechat.room has created the room); chat-ended
//     nothing (closeChat in src/lib/room.ts@66bf0d4f593047d4cd8873bed45e2d2ffafb34a3, on the room's
//     livechat-close message, whoever closed it); assign-agent { name, username, status } (initRoom in
//     room.ts, normalizeAgent in src/lib/api.ts@880339f836386b57f5f1282ca6620a10eaf3e9d8), no room.
// So the page gets neither the visitor's token nor the room id from the widget:
// - the token is the page's own: it makes one and hands it to the widget with setGuestToken
//   (hooks.ts@78da2ffbabc4d5aa21ef2d7aa2ad4dbc4725e164 registers the visitor with it, grantVisitor);
// - the room is asked of the server once the widget reports chat-started: GET
//   /api/v1/livechat/config?token= answers the visitor's open room as config.room, never creating one
//   (apps/meteor/server/api/v1/omnichannel/config.ts@5e55fca5f70959c3f9b2d768e6b7def5d83611af,
//   findOpenRoom in apps/meteor/server/api/v1/omnichannel/lib/livechat.ts@52ee6c277218499adf7ac8b5fede8b6f7a4c9095;
//   the widget itself reads its room there: loadConfig in src/lib/main.ts@85f6fa3ff1be28734d8fc1af93d34238f1718b68).
// What happens before the room exists (the visitor opens the widget, then writes) is held, and sent
// once the room is known. Events are POSTed, in order, to the server's widget route
// (widgetEventRoute of rocketchat-sns-analytics/rocketchat, WIDGET_ROUTE livechat/widget-events):
// { token, rid, tabId, category, action, properties }. Only the widget's own events of the
// rocketchat-livechat plan: Window/opened (chat-maximized; session_id), Window/closed
// (chat-minimized), Chat Session/closed with close_method 'chat window' (chat-ended: the server's
// livechat.closeRoom hook decides whose close it was, docs/rocketchat.md, One owner per event).
// Survey/link_clicked and Transcript Download/selected happen inside the widget's iframe, which
// reports no callback for them.
// Each POST and its answer is announced as a 'livechat-analytics' event on document.
// Served from another origin than Rocket.Chat, the page needs the server's CORS settings
// (API_Enable_CORS, API_CORS_Origin) to allow it.
;(function () {
  /** Held events before the room is known: at most this many, the oldest dropped. */
  const MAX_HELD = 20

  const random = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')
  /** A value kept in `storage` under `key`, made with `make` the first time. */
  const kept = (storage, key, make) => {
    let value = storage.getItem(key)
    if (!value) storage.setItem(key, (value = make()))
    return value
  }

  /**
   * Starts the analytics of the widget embedded in this page. `siteUrl`: the Rocket.Chat server,
   * the Site_Url the embed snippet loads the widget from.
   */
  window.livechatAnalytics = function livechatAnalytics({ siteUrl }) {
    const server = String(siteUrl).replace(/\/+$/, '')
    // The visitor's token, this page's own (the visitor's credential: it is sent to the server and
    // nowhere else). The tab and the session have random ids of their own, never a part of it.
    const token = kept(localStorage, 'rcLivechatVisitorToken', random)
    const tabId = kept(sessionStorage, 'rcLivechatTabId', () => random().slice(0, 16))
    const sessionId = kept(sessionStorage, 'rcLivechatAnalyticsSessionId', random)

    let rid = null
    const held = []
    let sending = Promise.resolve()

    const announce = (detail) => document.dispatchEvent(new CustomEvent('livechat-analytics', { detail }))

    async function post(room, event) {
      let status = 0
      let answer = {}
      try {
        const res = await fetch(`${server}/api/v1/livechat/widget-events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token, rid: room, tabId, ...event }),
          keepalive: true,
        })
        status = res.status
        answer = await res.json().catch(() => ({}))
      } catch (e) {
        answer = { error: e.message }
      }
      if (status !== 200) console.warn(`[livechat analytics] ${event.category}/${event.action}: ${status} ${answer.error || ''}`)
      announce({ ...event, rid: room, status, answer })
    }

    /** Sends after everything sent before it: one conversation's events stay in order. */
    const send = (room, event) => (sending = sending.then(() => post(room, event)))

    function track(category, action, properties) {
      const event = properties ? { category, action, properties } : { category, action }
      if (rid) return send(rid, event)
      held.push(event)
      if (held.length > MAX_HELD) held.shift()
    }

    /** The visitor's open room, from the server (config.room), then what was held. */
    async function learnRoom() {
      try {
        const res = await fetch(`${server}/api/v1/livechat/config?token=${encodeURIComponent(token)}`)
        const { config } = await res.json()
        if (!config || !config.room || typeof config.room._id !== 'string') return
        rid = config.room._id
      } catch (e) {
        console.warn(`[livechat analytics] livechat/config: ${e.message}`)
        return
      }
      for (const event of held.splice(0)) send(rid, event)
    }

    window.RocketChat(function () {
      // Before the widget's first request: the visitor the widget registers is this token's.
      this.setGuestToken(token)
      this.onChatMaximized(() => track('Window', 'opened', { session_id: sessionId }))
      this.onChatMinimized(() => track('Window', 'closed'))
      this.onChatStarted(() => learnRoom())
      this.onChatEnded(() => {
        // The room of the chat that ended; the next chat gets a room of its own.
        track('Chat Session', 'closed', { close_method: 'chat window' })
        rid = null
        held.length = 0
      })
    })
    // A page loaded during a conversation (a reload, another page of the site): its room.
    learnRoom()
  }
})()
