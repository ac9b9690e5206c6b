'use strict'
// The widget side: one room per visitor token, one tab id per browser tab, and an
// analytics call for each thing the visitor does. The server checks the token and
// the room; the addon checks the event.
;(async () => {
  const status = document.getElementById('status')
  let sent = 0
  const random = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')
  const token = sessionStorage.getItem('visitorToken') || random()
  sessionStorage.setItem('visitorToken', token)
  const tabId = random().slice(0, 12)
  // Window/opened's session_id: a random id of its own, never a part of the token,
  // which is the visitor's credential.
  const sessionId = sessionStorage.getItem('analyticsSessionId') || random()
  sessionStorage.setItem('analyticsSessionId', sessionId)

  const { rid } = await (await fetch('/api/v1/livechat/room', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })).json()
  document.getElementById('room').textContent = rid

  async function track(category, action, properties) {
    const res = await fetch('/api/v1/livechat/widget-events', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, rid, tabId, category, action, properties }),
      keepalive: true,
    })
    const body = await res.json()
    if (!res.ok) throw new Error(`${res.status} ${body.error}`)
    sent++
    status.textContent = `${sent} events sent (last: ${category}/${action})`
    status.dataset.sent = String(sent)
    return body.id
  }

  document.getElementById('survey').addEventListener('click', (e) => {
    e.preventDefault()
    track('Survey', 'link_clicked')
  })
  document.getElementById('transcript').addEventListener('click', async (e) => {
    e.preventDefault()
    await track('Transcript Download', 'selected')
    const a = document.createElement('a')
    a.href = `/api/v1/livechat/transcript?rid=${encodeURIComponent(rid)}&token=${encodeURIComponent(token)}`
    a.download = 'transcript.txt'
    document.body.appendChild(a)
    a.click()
    a.remove()
  })
  // The visitor ends the chat: the room is closed, and the event reports it with this
  // tab's id. Both at once: the server merges the two reports of the close, and
  // answers the event once the room's one Chat Session/closed is logged.
  document.getElementById('close').addEventListener('click', async () => {
    await Promise.all([
      track('Chat Session', 'closed', { close_method: 'chat window' }),
      fetch('/api/v1/livechat/room.close', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, rid }) }),
    ])
    status.dataset.closed = 'true'
  })

  await track('Window', 'opened', { session_id: sessionId })
  status.dataset.ready = 'true'
})().catch((e) => {
  document.getElementById('status').textContent = `error: ${e.message}`
})
