'use strict'
// End to end through a real browser: headless Chromium loads the example's widget page
// (examples/rocketchat: this package's Rocket.Chat entry points, on the stand-ins of
// __test__/helpers/rocketchat/ for Rocket.Chat's callbacks, onNewRoom hook and typed
// router in TEST_MODE, and the real @rocket.chat/rest-typings validators), opens a
// tab, clicks the survey link, downloads a transcript and closes the chat; the events
// are read back from SQS, the close once. Then hostile requests (bad token, unknown room,
// oversized body, unknown keys, a flood) are answered as Rocket.Chat's router answers
// them, and nothing more reaches SNS.
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
    assert.match(metrics, /^rocketchat_sns_analytics_events_invalid_total [1-9]/m)
  })
})
