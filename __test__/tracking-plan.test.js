'use strict'
// Tracking plans, validation modes, routing, message groups and the ciao format,
// against moto: what reaches SQS through SNS is what the tests read.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { useMoto, waitFor, SITE_URL, AnalyticsLogger } = require('./helpers/setup')
const { tryOptions } = require('./helpers/options-child')
const { builtinPlans } = require('..')

const ctx = useMoto()

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rc-plan-'))
}

function thrown(fn) {
  try {
    fn()
  } catch (e) {
    return e
  }
  assert.fail('expected a throw')
}

describe('validation: strict', () => {
  it('refuses each kind of violation with what to fix, and publishes only valid events', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat' })
    const cases = [
      [{ category: 'Chat Sesion', action: 'closed' }, 'unplannedEvent', 'category', "Did you mean 'Chat Session'?"],
      [{ category: 'Chat Session', action: 'close' }, 'unplannedEvent', 'action', "Did you mean 'closed'?"],
      [{ category: 'Survey', action: 'link_clicked', eventType: 'customerAction', properties: { url: 'x' } }, 'unplannedProperty', 'properties.url', 'takes no properties'],
      [{ category: 'Chat Session', action: 'closed' }, 'missingProperty', 'properties.close_method', "one of 'agent', 'chat window'"],
      [{ category: 'Escalation', action: 'successful', properties: { queue_time: '42s', sf_chat_key: 'k' } }, 'typeMismatch', 'properties.queue_time', 'must be a number, got the string "42s"'],
      [{ category: 'Chat Session', action: 'closed', properties: { close_method: 'chat-window' } }, 'notAllowedValue', 'properties.close_method', "Did you mean 'chat window'?"],
      [{ category: 'Survey', action: 'link_clicked' }, 'notAllowedValue', 'eventType', "must have eventType 'customerAction'"],
    ]
    for (const [event, kind, p, words] of cases) {
      const err = thrown(() => logger.log(event))
      assert.ok(err instanceof TypeError, `${kind}: ${err}`)
      assert.equal(err.code, 'ERR_TRACKING_PLAN')
      assert.equal(err.plan, 'rocketchat-livechat')
      assert.equal(err.event, `${event.category}/${event.action}`)
      assert.equal(err.field, p)
      assert.equal(err.violations.length, 1, JSON.stringify(err.violations))
      assert.equal(err.violations[0].kind, kind)
      assert.equal(err.violations[0].path, p)
      assert.ok(err.violations[0].message.includes(words), err.violations[0].message)
      assert.ok(err.message.includes(words), err.message)
    }
    const id = logger.log({ category: 'Chat Session', action: 'closed', properties: { close_method: 'chat window' }, eventType: 'customerAction' })
    await logger.flush()
    const stats = logger.stats()
    assert.equal(stats.invalid, cases.length)
    assert.deepEqual(stats.violations, { unplannedEvent: 2, unplannedProperty: 1, missingProperty: 1, typeMismatch: 1, notAllowedValue: 2 })
    const msgs = await ctx.drain(queueUrl, { expected: 1, quietMs: 500 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), [id], 'nothing invalid reached SNS')
  })

  it('lists every violation of one event', () => {
    const logger = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:unused', trackingPlan: 'rocketchat-livechat' })
    const err = thrown(() =>
      logger.log({ category: 'Escalation', action: 'successful', properties: { queue_time: 'slow', extra: 1 } }),
    )
    assert.deepEqual(
      err.violations.map((v) => [v.kind, v.path]),
      [
        ['typeMismatch', 'properties.queue_time'],
        ['unplannedProperty', 'properties.extra'],
        ['missingProperty', 'properties.sf_chat_key'],
      ],
    )
  })

  it('checks the chat-messaging plan, arrays included', () => {
    const logger = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:unused', trackingPlan: 'chat-messaging' })
    logger.log({
      category: 'Poll',
      action: 'created',
      properties: { question: 'Lunch?', multi_select: false, choices: ['pizza', 'soup'], sender_org_uuid: 'o', sender_uuid: 's', channel_type: 'group', message_id: 'm' },
    })
    const err = thrown(() =>
      logger.log({ category: 'Channel', action: 'joined', properties: { user_uuid: 'u', channel_id: 'c', join_type: 'in-app' } }),
    )
    assert.equal(err.violations[0].kind, 'notAllowedValue')
    assert.ok(err.message.includes("'organic', 'internal-share' and 'external-share'"), err.message)
  })
})

describe('validation: warn and off', () => {
  it('warn publishes, counts, and reports each kind and path once through onError', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, trackingPlan: 'rocketchat-livechat', validation: 'warn' })
    const errors = []
    logger.onError((e) => errors.push(e))
    const bad = { category: 'Chat Session', action: 'closed', properties: { close_method: 'bot' } }
    const ids = [logger.log(bad), logger.log(bad), logger.log({ category: 'Bot', action: 'answered' })]
    await logger.flush()
    await waitFor('two reports', () => errors.length === 2)
    assert.equal(errors[0].code, 'ERR_TRACKING_PLAN')
    assert.deepEqual(errors[0].eventIds, [ids[0]])
    assert.deepEqual(errors[0].violations.map((v) => [v.kind, v.path]), [['notAllowedValue', 'properties.close_method']])
    assert.deepEqual(errors[1].violations.map((v) => v.kind), ['unplannedEvent'])
    assert.deepEqual(logger.stats().violations, { unplannedEvent: 1, unplannedProperty: 0, missingProperty: 0, typeMismatch: 0, notAllowedValue: 2 })
    assert.equal(logger.stats().invalid, 0)
    const msgs = await ctx.drain(queueUrl, { expected: 3 })
    assert.deepEqual(msgs.map((m) => m.attributes.eventId), ids, 'all published, in order')
  })

  it('off checks nothing', () => {
    const logger = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:unused', trackingPlan: 'rocketchat-livechat', validation: 'off' })
    logger.log({ category: 'Anything', action: 'goes' })
    assert.equal(logger.stats().violations.unplannedEvent, 0)
  })
})

describe('plan sources', () => {
  it('reads YAML and JSON files and objects, and extends a built-in plan', () => {
    const dir = tmpDir()
    fs.writeFileSync(
      path.join(dir, 'ours.yaml'),
      [
        'name: ours',
        'extend: rocketchat-livechat',
        'events:',
        '  Chat Session:',
        '    closed:',
        '      extend: Chat Session/closed',
        '      properties:',
        '        closed_by_bot: boolean?',
        '  Bot:',
        '    answered:',
        '      properties: { intent: string }',
      ].join('\n'),
    )
    fs.writeFileSync(path.join(dir, 'mail.json'), JSON.stringify({ events: { Mail: { sent: { properties: { email: 'string' } } } } }))
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:unused'
    const yaml = ctx.logger({ topicArn, trackingPlan: path.join(dir, 'ours.yaml') })
    yaml.log({ category: 'Chat Session', action: 'closed', properties: { close_method: 'agent', closed_by_bot: true } })
    yaml.log({ category: 'Bot', action: 'answered', properties: { intent: 'billing' } })
    yaml.log({ category: 'Survey', action: 'link_clicked', eventType: 'customerAction' })
    assert.equal(thrown(() => yaml.log({ category: 'Bot', action: 'answered' })).plan, 'ours')

    const json = ctx.logger({ topicArn, trackingPlan: path.join(dir, 'mail.json') })
    json.log({ category: 'Mail', action: 'sent', properties: { email: 'a@b.c' } })
    assert.equal(thrown(() => json.log({ category: 'Mail', action: 'opened' })).code, 'ERR_TRACKING_PLAN')

    const object = ctx.logger({ topicArn, trackingPlan: { name: 'inline-test', extend: 'chat-messaging', events: { Mail: { sent: null } } } })
    object.log({ category: 'Mail', action: 'sent' })
    object.log({ category: 'Channel', action: 'left', properties: { user_uuid: 'u', channel_id: 'c' } })
    assert.equal(thrown(() => object.log({ category: 'Mail', action: 'sent', properties: { x: 1 } })).plan, 'inline-test')
    assert.deepEqual(builtinPlans(), ['rocketchat-livechat', 'chat-messaging'])
  })

  it('names the file and the place of a mistake in a plan', () => {
    const dir = tmpDir()
    const file = path.join(dir, 'bad.yaml')
    fs.writeFileSync(file, 'events:\n  Chat Session:\n    closed:\n      properties:\n        close_method: strng\n')
    const err = thrown(() => new AnalyticsLogger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:t', siteUrl: SITE_URL, trackingPlan: file }))
    assert.ok(err instanceof TypeError)
    assert.equal(err.code, 'ERR_INVALID_OPTION')
    assert.equal(err.option, 'trackingPlan')
    assert.ok(err.message.includes(`file ${file}: events."Chat Session".closed.properties.close_method has an unknown type 'strng' (did you mean 'string'?)`), err.message)
    const missing = thrown(() => new AnalyticsLogger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:t', siteUrl: SITE_URL, trackingPlan: 'rocketchat-livechatt' }))
    assert.ok(missing.message.includes('give a built-in plan (rocketchat-livechat, chat-messaging)'), missing.message)
  })

  it('a plan path must be a regular file of at most 1 MiB: /dev/zero, a FIFO, a folder and a big file are refused before reading, without hanging', () => {
    const dir = tmpDir()
    const zero = path.join(dir, 'zero.yaml')
    fs.symlinkSync('/dev/zero', zero)
    const fifo = path.join(dir, 'pipe.yaml')
    execFileSync('mkfifo', [fifo])
    const folder = path.join(dir, 'folder.json')
    fs.mkdirSync(folder)
    const big = path.join(dir, 'big.yaml')
    fs.writeFileSync(big, `events: {}\n#${'x'.repeat(1 << 20)}`)
    const fine = path.join(dir, 'fine.yaml')
    fs.writeFileSync(fine, 'events: { Bot: { answered: null } }\n')
    const refusals = [
      ['/dev/zero', 'is neither a built-in plan nor a path ending in .yaml, .yml or .json'],
      [zero, 'is not a regular file but a character device'],
      [fifo, 'is not a regular file but a named pipe (FIFO)'],
      [folder, 'is not a regular file but a folder'],
      [big, `is ${(1 << 20) + 12} bytes, over the limit of a plan file, 1048576 bytes (1 MiB)`],
    ]
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:t'
    const cases = [...refusals, [fine]].flatMap(([plan]) => [
      { logger: { topicArn, trackingPlan: plan } },
      { settings: { SNS_Analytics_Enabled: true, SNS_Analytics_Topic_ARN: topicArn, SNS_Analytics_Tracking_Plan: plan } },
    ])
    const results = tryOptions(cases)
    refusals.forEach(([plan, words], i) => {
      const [option, setting] = results.slice(2 * i, 2 * i + 2)
      assert.ok(option, `${plan} was taken`)
      assert.equal(option.code, 'ERR_INVALID_OPTION')
      assert.equal(option.option, 'trackingPlan')
      assert.ok(option.message.includes(`tracking plan file ${plan} ${words}`), option.message)
      assert.ok(setting, `${plan} was taken as a setting`)
      assert.equal(setting.code, 'ERR_INVALID_SETTING')
      assert.equal(setting.setting, 'SNS_Analytics_Tracking_Plan')
      assert.ok(setting.message.includes(`SNS_Analytics_Tracking_Plan: invalid AnalyticsLogger option trackingPlan: tracking plan file ${plan} ${words}`), setting.message)
    })
    assert.deepEqual(results.slice(-2), [null, null], 'a small regular plan file is read')
    // Typegen reads plans the same way.
    assert.throws(() => require('..').generateTypes(fifo), /is not a regular file but a named pipe/)
  })

  it('under RC_SNS_ANALYTICS_PATH_ROOT, a plan file (and what it extends) must be inside that folder', () => {
    const root = tmpDir()
    const outside = tmpDir()
    fs.writeFileSync(path.join(root, 'inside.yaml'), 'events: { Bot: { answered: null } }\n')
    fs.writeFileSync(path.join(outside, 'outside.yaml'), 'events: { Bot: { answered: null } }\n')
    fs.writeFileSync(path.join(root, 'climbs.yaml'), `extend: ${path.join(outside, 'outside.yaml')}\n`)
    fs.symlinkSync(outside, path.join(root, 'link'))
    const topicArn = 'arn:aws:sns:us-east-1:123456789012:t'
    const plans = ['inside.yaml', 'rocketchat-livechat', path.join(outside, 'outside.yaml'), 'link/outside.yaml', 'climbs.yaml']
    const results = tryOptions(
      plans.map((p) => ({ logger: { topicArn, trackingPlan: p.endsWith('.yaml') && !path.isAbsolute(p) ? path.join(root, p) : p } })),
      { RC_SNS_ANALYTICS_PATH_ROOT: root },
    )
    assert.deepEqual(results.slice(0, 2), [null, null], 'inside, and a built-in plan')
    for (const [i, e] of results.slice(2).entries()) {
      assert.ok(e, `${plans[i + 2]} was taken`)
      assert.equal(e.option, 'trackingPlan')
      assert.ok(e.message.includes(`is outside RC_SNS_ANALYTICS_PATH_ROOT=${fs.realpathSync(root)}`), e.message)
    }
  })
})

describe('routing', () => {
  it('sends each event to its agent topic, else its destination, else topicArn, never mixing batches', async () => {
    const main = await ctx.topic({ fifo: true })
    const agentA = await ctx.topic({ fifo: true })
    const agentB = await ctx.topic({ fifo: true })
    const escalations = await ctx.topic({ fifo: true })
    const dir = tmpDir()
    // The seed's df_config.json: one topic per Dialogflow agent, as an attribute.
    const dfConfig = path.join(dir, 'df_config.json')
    fs.writeFileSync(dfConfig, JSON.stringify({ 'agent-a': { sns_arn_topic: agentA.topicArn }, 'agent-b': agentB.topicArn }))
    const logger = ctx.logger({
      topicArn: main.topicArn,
      agentTopics: dfConfig,
      trackingPlan: { extend: 'rocketchat-livechat', destinations: { Escalation: escalations.topicArn } },
    })
    const want = { main: [], a: [], b: [], esc: [] }
    for (let i = 0; i < 8; i++) {
      want.a.push(logger.log({ category: 'Chat Session', action: 'started', dialogflowAgentId: 'agent-a', roomId: `r${i}` }))
      want.b.push(logger.log({ category: 'Escalation', action: 'attempted', dialogflowAgentId: 'agent-b' }))
      want.esc.push(logger.log({ category: 'Escalation', action: 'attempted', dialogflowAgentId: 'agent-z' }))
      want.main.push(logger.log({ category: 'Agent Disconnect', action: 'triggered' }))
    }
    const report = await logger.flush()
    assert.equal(report.delivered, 32)
    const got = async (t, n) => (await ctx.drain(t.queueUrl, { expected: n })).map((m) => m.attributes.eventId)
    assert.deepEqual(await got(agentA, 8), want.a, 'agent topic from df_config.json, in order')
    assert.deepEqual(await got(agentB, 8), want.b, 'the agent wins over the destination')
    assert.deepEqual(await got(escalations, 8), want.esc, 'plan destination')
    assert.deepEqual(await got(main, 8), want.main, 'topicArn for the rest')
  })

  it('takes agentTopics as an object and refuses a topic in another region', () => {
    const base = { topicArn: 'arn:aws:sns:us-east-1:123456789012:main.fifo', siteUrl: SITE_URL }
    new AnalyticsLogger({ ...base, agentTopics: { x: 'arn:aws:sns:us-east-1:123456789012:x.fifo' } }).close()
    const err = thrown(() => new AnalyticsLogger({ ...base, agentTopics: { x: 'arn:aws:sns:eu-west-1:123456789012:x' } }))
    assert.equal(err.option, 'agentTopics.x')
    assert.ok(err.message.includes('region eu-west-1'), err.message)
  })
})

describe('message groups', () => {
  it("'room' gives each conversation its own ordered group", async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const logger = ctx.logger({ topicArn, messageGroup: 'room' })
    const want = {}
    for (let i = 0; i < 12; i++) {
      const room = `room${i % 3}`
      ;(want[room] ??= []).push(logger.log({ category: 'Chat', action: 'step', roomId: room, properties: { i } }))
    }
    const noRoom = logger.log({ category: 'Chat', action: 'step' })
    await logger.flush()
    const msgs = await ctx.drain(queueUrl, { expected: 13 })
    const byGroup = {}
    for (const m of msgs) (byGroup[m.groupId] ??= []).push(m.attributes.eventId)
    for (const [room, ids] of Object.entries(want)) {
      assert.deepEqual(byGroup[`${SITE_URL}/${room}`], ids, `${room} in order`)
    }
    assert.deepEqual(byGroup[SITE_URL], [noRoom], 'no room: the site group')
  })

  it('refuses a room id that cannot be a MessageGroupId', () => {
    const logger = ctx.logger({ topicArn: 'arn:aws:sns:us-east-1:123456789012:t.fifo', messageGroup: 'room' })
    const err = thrown(() => logger.log({ category: 'c', action: 'a', roomId: 'a room' }))
    assert.equal(err.code, 'ERR_INVALID_EVENT')
    assert.equal(err.field, 'roomId')
  })
})

describe('format: ciao', () => {
  it('publishes the flat Ciao body of the design seed', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: false })
    const logger = ctx.logger({
      topicArn,
      format: 'ciao',
      application: 'WhatsApp',
      business: 'BR',
      deployment: 'brazil-prod',
      sourceComponent: 'Ciao',
      dialogflowAgentId: 'b5983b72-cac6-4f85-b9d0-be61e543dfe6',
      trackingPlan: { events: { 'Outage Info': { requested: { properties: { party_id: 'string', region: 'string?', cause: 'string?' } } } } },
    })
    const id = logger.log({
      category: 'Outage Info',
      action: 'requested',
      roomId: 'be61e543dfe6:wqbFXoeX2kdSZhSyi',
      eventType: 'customerAction',
      timestamp: 1651688848191,
      // Caller order differs from the plan: details follow the plan.
      properties: { cause: 'none', party_id: '3a5bf619-6353-4412-a21b-bf2b1eab94db', region: 'none' },
    })
    await logger.flush()
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual(JSON.parse(msg.body), {
      application: 'WhatsApp',
      business: 'BR',
      ciao_deployment: 'brazil-prod',
      dialogflow_agent_id: 'b5983b72-cac6-4f85-b9d0-be61e543dfe6',
      event: 'outage_info_requested',
      event_detail_1: 'none',
      event_detail_2: 'none',
      event_detail_3: null,
      event_detail_4: null,
      event_type: 'customer_action',
      party_id: '3a5bf619-6353-4412-a21b-bf2b1eab94db',
      session_id: 'dfcx:b5983b72-cac6-4f85-b9d0-be61e543dfe6:wqbFXoeX2kdSZhSyi',
      source_component: 'Ciao',
      timestamp: 1651688848191,
    })
    assert.equal(msg.attributes.eventId, id)
  })

  it('needs its fields, and refuses a plan whose events do not fit', () => {
    const base = { topicArn: 'arn:aws:sns:us-east-1:123456789012:t', siteUrl: SITE_URL, format: 'ciao' }
    assert.equal(thrown(() => new AnalyticsLogger(base)).option, 'application')
    const err = thrown(
      () => new AnalyticsLogger({ ...base, application: 'a', business: 'b', deployment: 'd', trackingPlan: 'chat-messaging' }),
    )
    assert.equal(err.option, 'format')
    assert.ok(err.message.includes('Message/sent 10'), err.message)
  })
})
