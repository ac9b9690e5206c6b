'use strict'
// rocketchat-sns-analytics/rocketchat against moto: the metrics on a real prom-client
// registry, and the settings on stand-ins for Rocket.Chat's cached settings and
// settings registry. The omnichannel hooks and the widget route are in
// rocketchat-hooks.test.js.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const client = require('prom-client')
const { useMoto } = require('./helpers/setup')
const { AppsEngineBridge } = require('..')
const { bindSettings, registerOmnichannelCallbacks, registerPrometheusMetrics, registerSettings } = require('../rocketchat')
const { settingsDefinitions } = require('..')
const { waitFor } = require('./helpers/setup')
const { CachedSettingsStandIn, emulatorSettings } = require('./helpers/rocketchat/settings')
const { Callbacks } = require('./helpers/rocketchat/callbacks')
const moto = require('./helpers/moto')

const ctx = useMoto()

describe('registerPrometheusMetrics', () => {
  it("puts the logger's counters on a real prom-client registry, read at scrape time, per app", async () => {
    const { topicArn } = await ctx.topic()
    const controller = { logger: null }
    const registry = new client.Registry()
    registerPrometheusMetrics(controller, registry)
    const value = async (name, labels = {}) => {
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === `rocketchat_sns_analytics_${name}`)
      const sample = metric.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
      return sample ? sample.value : undefined
    }
    assert.equal(await value('events_accepted_total'), 0, 'switched off: 0')
    assert.equal(await value('events_delivered_total'), undefined, 'switched off: no series by topic')

    controller.logger = ctx.logger({ topicArn, appAccess: { 'good-app': { categories: ['c'] }, 'evil-app': { categories: ['c'] } } })
    for (let i = 0; i < 3; i++) controller.logger.log({ category: 'c', action: 'a' })
    assert.throws(() => controller.logger.log({ category: 'c' }))
    const bridge = new AppsEngineBridge(controller.logger, { hasPermission: (appId) => appId !== 'evil-app' })
    await bridge.doLogEvent({ category: 'c', action: 'from-app' }, 'good-app')
    await bridge.doLogEvent({ category: 'c', action: 'from-app' }, 'evil-app').catch(() => {})
    await controller.logger.flush()

    assert.equal(await value('events_delivered_total'), 4)
    assert.equal(await value('events_accepted_total'), 4)
    assert.equal(await value('events_invalid_total'), 1)
    assert.equal(await value('events_queued'), 0)
    assert.equal(await value('events_held'), 0)
    assert.equal(await value('app_events_total', { app: 'good-app', result: 'logged' }), 1)
    assert.equal(await value('app_events_total', { app: 'evil-app', result: 'permission_denied' }), 1)
    const text = await registry.metrics()
    assert.match(text, /# TYPE rocketchat_sns_analytics_events_delivered_total counter/)
    assert.match(text, /rocketchat_sns_analytics_app_events_total\{app="good-app",result="logged"\} 1/)
    // The lanes, as the core's exposition has them: same names, labels and values.
    assert.equal(await value('source_events_total', { source: 'server', outcome: 'delivered' }), 3)
    assert.equal(await value('source_events_total', { source: 'app', app: 'good-app', outcome: 'delivered' }), 1)
    assert.equal(await value('source_held_events', { source: 'widget' }), 0)
    const core = controller.logger.metrics()
    for (const line of ['rocketchat_sns_analytics_source_events_total{source="server",app="",outcome="delivered"} 3', 'rocketchat_sns_analytics_source_events_total{source="app",app="good-app",outcome="delivered"} 1']) {
      assert.ok(core.includes(line), line)
    }
  })

  it('publishes exactly what logger.metrics() has: the same families, types, labels and values, after the same run', async () => {
    const { topicArn } = await ctx.topic({ fifo: true })
    const missing = `arn:aws:sns:us-east-1:123456789012:rc-metrics-parity-${process.pid}.fifo`
    const spoolDir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'rc-metrics-'))
    const controller = {
      logger: ctx.logger({
        topicArn,
        trackingPlan: 'rocketchat-livechat',
        agentTopics: { 'df-missing': missing },
        appAccess: { 'good-app': { categories: ['*'], dialogflowAgentIds: ['df-missing'] } },
        spoolDir,
        retryInitialBackoffMs: 10,
        retryMaxBackoffMs: 50,
      }),
    }
    const registry = new client.Registry()
    registerPrometheusMetrics(controller, registry)
    const { logger } = controller
    logger.log({ category: 'Escalation', action: 'attempted' })
    logger.log({ category: 'Escalation', action: 'attempted', dialogflowAgentId: 'df-missing' })
    assert.throws(() => logger.log({ category: 'Nope', action: 'x' }))
    logger.logWidgetEvent({ token: 'visitor-1', rid: 'room-1', category: 'Survey', action: 'link_clicked' })
    const bridge = new AppsEngineBridge(logger, { hasPermission: (appId) => appId === 'good-app' })
    await bridge.doLogEvent({ category: 'Escalation', action: 'attempted' }, 'good-app')
    await bridge.doLogEvent({ category: 'Escalation', action: 'attempted' }, 'evil-app').catch(() => {})
    await logger.flush()
    await waitFor('the paused destination', () => logger.stats().paused.length === 1)

    // Each exposition as a set: `# TYPE` and `# HELP` lines, and samples with their
    // labels in name order (each exporter orders labels its own way).
    const parse = (text) => {
      const lines = new Map()
      for (const line of text.split('\n').filter(Boolean)) {
        if (line.startsWith('#')) {
          lines.set(line, null)
          continue
        }
        const [, name, labels = '', value] = line.match(/^([a-z_]+)(?:\{(.*)\})? (\S+)$/)
        const sorted = labels ? [...labels.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`).sort().join(',') : ''
        lines.set(`${name}{${sorted}}`, Number(value))
      }
      return lines
    }
    const prom = parse(await registry.metrics())
    const core = parse(logger.metrics())
    assert.deepEqual([...prom.keys()].sort(), [...core.keys()].sort(), 'the same families, help, types and series')
    for (const [key, value] of core) {
      if (key.startsWith('rocketchat_sns_analytics_oldest_undelivered_age_seconds')) {
        assert.ok(Math.abs(prom.get(key) - value) < 1, key)
      } else {
        assert.equal(prom.get(key), value, key)
      }
    }
    // What the run made, as both have it.
    for (const [key, value] of [
      ['rocketchat_sns_analytics_events_held{}', 1],
      [`rocketchat_sns_analytics_destination_held_events{topic="${missing}"}`, 1],
      ['rocketchat_sns_analytics_source_events_total{app="",outcome="delivered",source="widget"}', 1],
      ['rocketchat_sns_analytics_source_events_total{app="good-app",outcome="delivered",source="app"}', 1],
      ['rocketchat_sns_analytics_app_events_total{app="evil-app",result="permission_denied"}', 1],
      ['rocketchat_sns_analytics_spool_in_use{}', 1],
    ]) {
      assert.equal(core.get(key), value, key)
    }
    assert.ok(core.get(`rocketchat_sns_analytics_oldest_undelivered_age_seconds{topic="${missing}"}`) >= 0, 'the held event has an age')
    await logger.close({ timeoutMs: 100 })
  })

  it('shows each paused destination and what it holds, and drops it when it resumes', async () => {
    const missing = `arn:aws:sns:us-east-1:123456789012:rc-metrics-missing-${process.pid}`
    const controller = { logger: ctx.logger({ topicArn: missing, retryInitialBackoffMs: 10, retryMaxBackoffMs: 50 }) }
    const registry = new client.Registry()
    registerPrometheusMetrics(controller, registry)
    for (let i = 0; i < 5; i++) controller.logger.log({ category: 'c', action: 'a' })
    const report = await controller.logger.flush()
    assert.equal(report.held, 5)
    const text = await registry.metrics()
    // prom-client writes labels in its own order.
    assert.match(text, new RegExp(`rocketchat_sns_analytics_destination_paused\\{(?=[^}]*topic="${missing}")(?=[^}]*code="NotFound")[^}]*\\} 1`))
    assert.match(text, new RegExp(`rocketchat_sns_analytics_destination_held_events\\{topic="${missing}"\\} 5`))
    assert.match(text, /rocketchat_sns_analytics_events_held 5/)
    await moto.topicWithQueue(ctx.moto, { name: missing.split(':').pop() })
    await waitFor('the topic to resume', () => controller.logger.stats().delivered === 5)
    const after = await registry.metrics()
    assert.doesNotMatch(after, /destination_paused\{/)
    assert.match(after, /rocketchat_sns_analytics_events_held 0/)
  })
})

describe('bindSettings', () => {
  it('creates the logger when the switch goes on, reconfigures it on a change, closes it when it goes off', async () => {
    const first = await ctx.topic({ fifo: true })
    const second = await ctx.topic({ fifo: true })
    const settings = new CachedSettingsStandIn(emulatorSettings({ topicArn: first.topicArn, endpoint: ctx.moto.endpoint, SNS_Analytics_Enabled: false }))
    const errors = []
    const controller = bindSettings(settings, { onError: (e) => errors.push(e) })
    assert.equal(controller.logger, null, 'off by default')

    settings.set('SNS_Analytics_Enabled', true)
    await waitFor('the logger', () => controller.logger)
    const logger = controller.logger
    const before = logger.log({ category: 'Window', action: 'opened', eventType: 'customerAction', properties: { session_id: 's1' } })

    settings.set('SNS_Analytics_Topic_ARN', second.topicArn)
    settings.set('SNS_Analytics_Max_Batch_Size', 'eleven')
    await waitFor('the bad value reported', () => errors.length > 0)
    assert.equal(errors[0].code, 'ERR_INVALID_SETTING')
    assert.equal(errors[0].setting, 'SNS_Analytics_Max_Batch_Size')
    assert.equal(controller.logger, logger, 'the running logger stays')
    settings.set('SNS_Analytics_Max_Batch_Size', 10)
    await new Promise((r) => setImmediate(r))
    const after = logger.log({ category: 'Window', action: 'opened', eventType: 'customerAction', properties: { session_id: 's2' } })

    settings.set('SNS_Analytics_Enabled', false)
    await waitFor('the logger closed', () => controller.logger === null && logger.closed)
    const inFirst = await ctx.drain(first.queueUrl, { expected: 1 })
    const inSecond = await ctx.drain(second.queueUrl, { expected: 1 })
    assert.deepEqual(inFirst.map((m) => m.attributes.eventId), [before], 'queued before the change: its topic')
    assert.deepEqual(inSecond.map((m) => m.attributes.eventId), [after], 'logged after the change: the new topic')

    await controller.close()
    assert.equal(settings.watching, 0, 'close() stops following the settings')
  })
})

describe('bindSettings and the room facts', () => {
  it('logs what waits for other reports on the logger it closes when analytics are switched off', async () => {
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true })
    const settings = new CachedSettingsStandIn(emulatorSettings({ topicArn, endpoint: ctx.moto.endpoint }))
    // Longer than the test: only the switch can end the wait.
    const controller = bindSettings(settings, { factDelayMs: 60_000 })
    assert.equal(controller.factDelayMs, 60_000)
    const callbacks = new Callbacks()
    registerOmnichannelCallbacks(callbacks, controller)
    const logger = controller.logger
    await callbacks.run('livechat.closeRoom', { room: { _id: 'r-switched-off', t: 'l', closer: 'user' }, options: {} })
    settings.set('SNS_Analytics_Enabled', false)
    await waitFor('the logger closed', () => controller.logger === null && logger.closed)
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.deepEqual([msg.json.roomId, msg.json.properties.close_method], ['r-switched-off', 'agent'])
    await controller.close()
  })
})

describe('registerSettings', () => {
  /** SettingsRegistry.addGroup's callback context (apps/meteor/server/settings/SettingsRegistry.ts@9fcb71da6495da073dc2ceffd375d3464ad01b53). */
  class SettingsRegistryStandIn {
    added = []
    async addGroup(group, cb) {
      const registry = this
      await cb.call({
        async section(section, sectionCb) {
          await sectionCb.call({
            async add(id, value, options) {
              registry.added.push({ group, section, id, value, options })
            },
          })
        },
        async add(id, value, options) {
          registry.added.push({ group, section: undefined, id, value, options })
        },
      })
    }
  }

  it('adds every setting in its section, all but the switch waiting for it, with an English label and description', async () => {
    const registry = new SettingsRegistryStandIn()
    await registerSettings(registry)
    const defs = settingsDefinitions().settings
    assert.equal(registry.added.length, defs.length)
    const i18n = require('../rocketchat/i18n/en.i18n.json')
    for (const s of registry.added) {
      assert.equal(s.group, 'SNS_Analytics')
      assert.ok(s.section, `${s.id} is in a section`)
      assert.equal(s.options.section, undefined, 'the section comes from this.section, not an option')
      if (s.id === 'SNS_Analytics_Enabled') assert.equal(s.options.enableQuery, undefined)
      else assert.deepEqual(s.options.enableQuery, { _id: 'SNS_Analytics_Enabled', value: true })
      assert.ok(i18n[s.options.i18nLabel], `a label for ${s.id}`)
      assert.ok(i18n[s.options.i18nDescription], `a description for ${s.id}`)
    }
    assert.deepEqual(
      [...new Set(registry.added.map((s) => s.section))],
      [...new Set(defs.map((s) => s.options.section))],
    )
  })

  it('ships the i18n fragment that scripts/i18n.js writes', () => {
    const { execFileSync } = require('node:child_process')
    execFileSync(process.execPath, [require.resolve('../scripts/i18n.js'), '--check'])
  })
})
