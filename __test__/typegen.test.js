'use strict'
// `npx rocketchat-sns-analytics typegen <plan>`: the generated types compile, accept
// the plan's events, and reject unplanned ones at compile time (tsc --noEmit).
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const CLI = path.join(ROOT, 'bin', 'rocketchat-sns-analytics.js')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

function typegen(plan) {
  return execFileSync(process.execPath, [CLI, 'typegen', plan], { encoding: 'utf8' })
}

/** Compiles `files` (name → text) strictly; returns tsc's output, '' when clean. */
function tsc(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-typegen-'))
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  const r = spawnSync(
    process.execPath,
    [TSC, '--noEmit', '--strict', '--target', 'es2020', '--module', 'commonjs', ...Object.keys(files).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f))],
    { encoding: 'utf8' },
  )
  return (r.stdout + r.stderr).trim()
}

const INDEX = JSON.stringify(path.join(ROOT, 'index'))

describe('typegen', () => {
  it('types the livechat plan so that wrong events fail to compile', () => {
    const usage = `
import { AnalyticsLogger } from ${INDEX}
import type { PlannedLogger, PlannedEvent, WidgetEvent } from './events'

declare const logger: AnalyticsLogger
// The real logger is a PlannedLogger: planned events are AnalyticsEvents.
const analytics: PlannedLogger = logger
analytics.log({ category: 'Chat Session', action: 'closed', properties: { close_method: 'agent' } })
analytics.log({ category: 'Chat Session', action: 'started', roomId: 'r1', timestamp: new Date() })
analytics.log({ category: 'Escalation', action: 'successful', properties: { queue_time: 42, sf_chat_key: 'k' } })
analytics.log({ category: 'Survey', action: 'link_clicked', eventType: 'customerAction' })
const fromWidget: WidgetEvent = { category: 'Window', action: 'opened', eventType: 'customerAction', properties: { session_id: 's' } }
const any: PlannedEvent = fromWidget
void any

// @ts-expect-error a misspelt action
analytics.log({ category: 'Chat Session', action: 'close', properties: { close_method: 'agent' } })
// @ts-expect-error a value outside the enum
analytics.log({ category: 'Chat Session', action: 'closed', properties: { close_method: 'chat-window' } })
// @ts-expect-error a required property missing
analytics.log({ category: 'Escalation', action: 'successful', properties: { queue_time: 42 } })
// @ts-expect-error a property of the wrong type
analytics.log({ category: 'Escalation', action: 'successful', properties: { queue_time: '42', sf_chat_key: 'k' } })
// @ts-expect-error a widget event must say it is the visitor's
analytics.log({ category: 'Survey', action: 'link_clicked' })
// @ts-expect-error an unplanned property
analytics.log({ category: 'Transcript Download', action: 'selected', eventType: 'customerAction', properties: { format: 'pdf' } })
// @ts-expect-error Escalation/attempted is not a widget event
const notWidget: WidgetEvent = { category: 'Escalation', action: 'attempted' }
void notWidget
`
    const out = tsc({ 'events.d.ts': typegen('rocketchat-livechat'), 'usage.ts': usage })
    assert.equal(out, '', out)
  })

  it('types arrays, optional and nullable properties, and a plan file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-typegen-plan-'))
    const plan = path.join(dir, 'plan.yaml')
    fs.writeFileSync(
      plan,
      'name: messaging\nextend: chat-messaging\nevents:\n  Mail:\n    sent:\n      properties:\n        to: string[]\n        cc: string[]?\n        reply_to: { type: string, nullable: true }\n        at: timestamp\n',
    )
    const usage = `
import type { PlannedLogger } from './events'
declare const analytics: PlannedLogger
analytics.log({ category: 'Mail', action: 'sent', properties: { to: ['a'], reply_to: null, at: '2022-09-26T17:50:47.225Z' } })
analytics.log({ category: 'Poll', action: 'created', properties: { question: 'q', multi_select: true, choices: ['a', 'b'], sender_org_uuid: 'o', sender_uuid: 's', channel_type: 'group', message_id: 'm' } })
// @ts-expect-error to must be an array
analytics.log({ category: 'Mail', action: 'sent', properties: { to: 'a', reply_to: null, at: 0 } })
// @ts-expect-error polls go to announcement or group channels only
analytics.log({ category: 'Poll', action: 'created', properties: { question: 'q', multi_select: true, choices: [], sender_org_uuid: 'o', sender_uuid: 's', channel_type: '1-1', message_id: 'm' } })
`
    const out = tsc({ 'events.d.ts': typegen(plan), 'usage.ts': usage })
    assert.equal(out, '', out)
  })

  it('explains a bad plan and a bad command line', () => {
    const bad = spawnSync(process.execPath, [CLI, 'typegen', 'no-such-plan.yaml'], { encoding: 'utf8' })
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /tracking plan file no-such-plan\.yaml cannot be read/)
    const usage = spawnSync(process.execPath, [CLI, 'typegn'], { encoding: 'utf8' })
    assert.equal(usage.status, 2)
    assert.match(usage.stderr, /Usage: rocketchat-sns-analytics typegen <plan>/)
  })
})
