'use strict'
// The examples of docs/rocketchat.md that no server runs here:
// - the Rocket.Chat App of examples/rocketchat-app/, type-checked with its own tsconfig.json against
//   @rocket.chat/apps-engine@1.66.0 with the definitions of the pull request in rocketchat/upstream/
//   (tsc, strict, no skipLibCheck); the check is shown to fail on a misspelt accessor, on an event
//   the accessor's type refuses, and without the pull request; its app.json declares what the
//   server checks (analytics.write), and what it logs is in the plan and is the Apps' to log;
// - the events the Livechat host page (examples/rocketchat/public/livechat-host.js) sends are the
//   plan's widget events, which the widget route accepts. __test__/e2e-browser.test.js runs the page.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const yaml = require('js-yaml')

const ROOT = path.join(__dirname, '..')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const APP_DIR = path.join(ROOT, 'examples', 'rocketchat-app')
const APP_TSCONFIG = path.join(APP_DIR, 'tsconfig.json')
const AMBIENT = path.join(ROOT, '__test__', 'helpers', 'rocketchat', 'upstream-checks', 'ambient.d.ts')
const APPS_ENGINE = path.join(ROOT, 'node_modules', '@rocket.chat', 'apps-engine')

const PLAN = yaml.load(fs.readFileSync(path.join(ROOT, 'plans', 'rocketchat-livechat.yaml'), 'utf8'))
const { EVENT_OWNERS } = require('../rocketchat')

/** tsc -p `project`: { status, output }. */
function tsc(project) {
  const r = spawnSync(process.execPath, [TSC, '-p', project], { cwd: ROOT, encoding: 'utf8' })
  return { status: r.status, output: r.stdout + r.stderr }
}

/**
 * The App's class file with `edit` applied, type-checked from a temporary folder with the App's
 * tsconfig.json (its paths and rootDirs stay relative to it), `compilerOptions` laid over it.
 */
function typecheckEdited(edit, compilerOptions = {}) {
  const source = fs.readFileSync(path.join(APP_DIR, 'EscalationAnalyticsApp.ts'), 'utf8')
  const edited = edit(source)
  assert.notEqual(edited, source, 'the edit applies')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-app-example-'))
  try {
    fs.writeFileSync(path.join(dir, 'EscalationAnalyticsApp.ts'), edited)
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: APP_TSCONFIG, compilerOptions, files: ['EscalationAnalyticsApp.ts', AMBIENT] }))
    return tsc(path.join(dir, 'tsconfig.json'))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** `Category/action` of the plan's event, or undefined. */
const planned = (name) => {
  const [category, action] = name.split('/')
  return PLAN.events[category] && PLAN.events[category][action]
}

describe('the Rocket.Chat App example (examples/rocketchat-app/)', () => {
  const source = fs.readFileSync(path.join(APP_DIR, 'EscalationAnalyticsApp.ts'), 'utf8')
  const appJson = JSON.parse(fs.readFileSync(path.join(APP_DIR, 'app.json'), 'utf8'))

  it("type-checks against @rocket.chat/apps-engine@1.66.0 with the pull request's definitions", () => {
    assert.equal(require(path.join(APPS_ENGINE, 'package.json')).version, '1.66.0')
    const r = tsc(APP_TSCONFIG)
    assert.equal(r.status, 0, r.output)
  })

  it('fails the check on a type error: a misspelt accessor, an event the accessor refuses', () => {
    const cases = [
      [(s) => s.replace('modify.getAnalyticsModifier()', 'modify.getAnalyticsModifer()'), /error TS2551: Property 'getAnalyticsModifer' does not exist on type 'IModify'/],
      [(s) => s.replace('properties: { failure_reason: failure }', 'properties: { failure_reason: { reason: failure } }'), /error TS2353: Object literal may only specify known properties, and 'reason' does not exist/],
      [(s) => s.replace("action: 'attempted', roomId: room.id, eventType: 'session'", "action: 'attempted', roomId: room.id, eventType: 'server'"), /error TS2322: Type '"server"' is not assignable/],
      [(s) => s.replace("const attempted = await analytics.logEvent(", 'const attempted: string = await analytics.logEvent('), /error TS2322: Type 'string \| undefined' is not assignable to type 'string'/],
    ]
    for (const [edit, expected] of cases) {
      const r = typecheckEdited(edit)
      assert.notEqual(r.status, 0, `compiled: ${expected}`)
      assert.match(r.output, expected)
    }
  })

  it('does not compile against @rocket.chat/apps-engine@1.66.0 alone: getAnalyticsModifier is the pull request', () => {
    const r = typecheckEdited((s) => `${s}\n`, {
      rootDirs: [],
      paths: { '@rocket.chat/apps-engine/*': [path.join(APPS_ENGINE, '*')] },
    })
    assert.notEqual(r.status, 0)
    assert.match(r.output, /error TS2339: Property 'getAnalyticsModifier' does not exist on type 'IModify'/)
    assert.equal(r.output.match(/error TS/g).length, 1, r.output)
  })

  it('declares in app.json the permission the server checks, and the others its handler uses', () => {
    const [, permission] = /pub const PERMISSION: &str = "([^"]+)";/.exec(fs.readFileSync(path.join(ROOT, 'src', 'binding', 'bridge.rs'), 'utf8'))
    assert.equal(permission, 'analytics.write')
    // The pull request's AppPermissions entry (the stand-in carries it; __test__/upstream.test.js
    // checks it against the additions note), which AnalyticsBridge.doLogEvent checks.
    const standIn = fs.readFileSync(path.join(ROOT, '__test__/helpers/rocketchat/monorepo/packages/apps-engine/src/definition/metadata/AppPermissions.ts'), 'utf8')
    assert.match(standIn, new RegExp(`'analytics': \\{\\s*write: \\{ name: '${permission.replace('.', '\\.')}' \\}`))
    const names = appJson.permissions.map((p) => p.name)
    assert.ok(names.includes(permission), `${names}`)
    // The others are 1.66.0's: livechat-status.read for isOnlineAsync, livechat-visitor.write for
    // transferVisitor (LivechatBridge's doIsOnlineAsync and doTransferVisitor in 1.62.0's server/).
    const { AppPermissions } = require(path.join(APPS_ENGINE, 'definition', 'metadata', 'AppPermissions'))
    const known = Object.values(AppPermissions).flatMap((scope) => Object.values(scope).map((p) => p.name))
    assert.deepEqual(names.filter((n) => n !== permission && !known.includes(n)), [])
    assert.ok(names.includes(AppPermissions['livechat-status'].read.name) && names.includes(AppPermissions['livechat-visitor'].write.name))
  })

  it("has an app.json whose class, interfaces and icon are the App's, and which requires the release after 1.66.0", () => {
    const { AppInterface } = require(path.join(APPS_ENGINE, 'definition', 'metadata', 'AppInterface'))
    assert.match(appJson.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const className = path.basename(appJson.classFile, '.ts')
    assert.ok(fs.existsSync(path.join(APP_DIR, appJson.classFile)))
    assert.match(source, new RegExp(`export class ${className} extends App implements ${appJson.implements.join(', ')} \\{`))
    for (const name of appJson.implements) assert.equal(AppInterface[name], name)
    assert.deepEqual([...fs.readFileSync(path.join(APP_DIR, appJson.iconFile)).subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'a PNG icon')
    for (const key of ['name', 'nameSlug', 'version', 'description']) assert.equal(typeof appJson[key], 'string')
    for (const key of ['name', 'homepage', 'support']) assert.equal(typeof appJson.author[key], 'string')
    // 1.66.0 has no getAnalyticsModifier: the App needs the minor release of the pull request's
    // changeset (rocketchat/upstream/.changeset/apps-analytics-modifier.md).
    assert.match(fs.readFileSync(path.join(ROOT, 'rocketchat/upstream/.changeset/apps-analytics-modifier.md'), 'utf8'), /'@rocket\.chat\/apps-engine': minor/)
    assert.equal(appJson.requiredApiVersion, '^1.67.0')
  })

  it("logs only planned events that are the Apps' to log, with planned failure reasons", () => {
    const events = [...source.matchAll(/category: '([^']+)',\s*action: '([^']+)'/g)].map((m) => `${m[1]}/${m[2]}`)
    assert.deepEqual(events, ['Escalation/attempted', 'Escalation/failed'])
    for (const name of events) {
      assert.ok(planned(name), `${name} is in the plan`)
      assert.ok(EVENT_OWNERS[name] && EVENT_OWNERS[name].app, `${name} may come from an App`)
    }
    const [, union] = /type FailureReason = ([^;]+);/.exec(source)
    const reasons = [...union.matchAll(/'([^']+)'/g)].map((m) => m[1])
    assert.ok(reasons.length > 0)
    for (const reason of reasons) assert.ok(planned('Escalation/failed').properties.failure_reason.values.includes(reason), reason)
  })
})

describe('the Livechat host page example (examples/rocketchat/public/livechat-host.js)', () => {
  it("sends the plan's widget events only, with their planned properties", () => {
    const source = fs.readFileSync(path.join(ROOT, 'examples', 'rocketchat', 'public', 'livechat-host.js'), 'utf8')
    const tracked = [...source.matchAll(/track\('([^']+)', '([^']+)'(?:, \{ (\w+): ([^}]+) \})?\)/g)]
    assert.deepEqual(
      tracked.map((m) => `${m[1]}/${m[2]}`),
      ['Window/opened', 'Window/closed', 'Chat Session/closed'],
    )
    for (const [, category, action, property, value] of tracked) {
      const name = `${category}/${action}`
      assert.equal(planned(name) && planned(name).widget, true, `${name} is a widget event of the plan`)
      if (property) {
        const spec = planned(name).properties[property]
        assert.ok(spec, `${name}.${property} is planned`)
        if (spec.values) assert.ok(spec.values.includes(value.trim().replace(/^'|'$/g, '')), `${name}.${property} = ${value}`)
      }
      const owner = EVENT_OWNERS[name]
      const carriers = owner.by ? owner.values[value.trim().replace(/^'|'$/g, '')] : owner
      assert.ok(carriers.widget, `the widget route carries ${name}`)
    }
  })
})
