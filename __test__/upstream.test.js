'use strict'
// The Rocket.Chat pull request in rocketchat/upstream/, checked as far as it can be without the
// monorepo:
// - its definitions type-check against @rocket.chat/apps-engine@1.66.0 alone;
// - the whole pull request compiles over its stand-ins (the server classes of 1.62.0, rebuilt
//   runtime files) with the compiler requiring what the change makes required;
// - its own runtime test passes;
// - every line it adds to a changed file is carried verbatim by the compiled stand-in of that file;
// - the i18n key, the dependency, the changeset and the README table are consistent with it.
// The App's path end to end, against moto, is __test__/upstream-app-path.test.js.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { buildUpstream, tsc, ROOT, UPSTREAM } = require('./helpers/rocketchat/upstream-build')

const SUFFIX = '.additions.md'

/** Every file of the pull request: { file (monorepo path), kind: 'new' | 'changed', source }. */
function pullRequestFiles() {
  const files = []
  for (const entry of fs.readdirSync(UPSTREAM, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const source = path.relative(UPSTREAM, path.join(entry.parentPath ?? entry.path, entry.name))
    if (source === 'README.md' || /^tsconfig[^/]*\.json$/.test(source)) continue
    files.push(source.endsWith(SUFFIX) ? { file: source.slice(0, -SUFFIX.length), kind: 'changed', source } : { file: source, kind: 'new', source })
  }
  return files.sort((a, b) => a.file.localeCompare(b.file))
}

/** An additions note: its "Carried by" files and its code blocks ({ heading, lang, code }). */
function readAdditions(source) {
  const text = fs.readFileSync(path.join(UPSTREAM, source), 'utf8')
  const carried = /^\*\*Carried by:\*\* (.*)$/m.exec(text)
  assert.ok(carried, `${source} says what carries its lines`)
  const carriers = carried[1].startsWith('nothing compiled') ? [] : [...carried[1].matchAll(/`([^`]+)`/g)].map((m) => m[1])
  const blocks = []
  let heading = null
  for (const m of text.matchAll(/^## (.*)$|^```(\w+)\n([\s\S]*?)^```$/gm)) {
    if (m[1] !== undefined) heading = m[1]
    else blocks.push({ heading, lang: m[2], code: m[3] })
  }
  return { text, carriers, blocks }
}

/** Lines without indentation, blank ones dropped: indentation differs where a stand-in nests. */
const normalized = (code) => code.split('\n').map((l) => l.trim()).filter(Boolean)

function containsRun(haystack, needle) {
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((line, j) => haystack[i + j] === line)) return true
  }
  return false
}

describe('the Rocket.Chat pull request in rocketchat/upstream/', () => {
  let built
  before(() => {
    // tsc -p rocketchat/upstream/tsconfig.json: the whole pull request over its stand-ins, strict;
    // a type error fails here with tsc's output.
    built = buildUpstream()
  })
  after(() => built && built.cleanup())

  it('type-checks its definitions against @rocket.chat/apps-engine@1.66.0 alone (no stand-ins, no skipLibCheck)', () => {
    tsc('-p', path.join(UPSTREAM, 'tsconfig.definitions.json'))
  })

  it('passes its own runtime test (base-runtime, node:test, the recording sender)', () => {
    const test = path.join(built.tree, 'packages/apps/base-runtime/src/lib/accessors/modify/tests/analyticsModify.test.js')
    // A test runner of its own: without NODE_TEST_CONTEXT it reports in TAP, not to this runner.
    const env = { ...process.env }
    delete env.NODE_TEST_CONTEXT
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', test], { encoding: 'utf8', env })
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /^# pass 4$/m)
    assert.match(r.stdout, /^# fail 0$/m)
  })

  it('registers the bridge in the test double and in RealAppBridges, on 1.62.0\'s real BaseBridge', () => {
    const { BaseBridge } = require(path.join(ROOT, 'node_modules', 'apps-engine-1.62', 'server', 'bridges', 'BaseBridge'))
    const { AnalyticsBridge } = built.load('packages/apps/src/server/bridges')
    const { TestsAppBridges } = built.load('packages/apps/tests/test-data/bridges/appBridges')
    const { RealAppBridges } = built.load('apps/meteor/app/apps/server/bridges/bridges')
    const { TestsAnalyticsBridge } = built.load('packages/apps/tests/test-data/bridges/analyticsBridge')
    const { AppAnalyticsBridge } = built.load('apps/meteor/app/apps/server/bridges/analytics')
    const test = new TestsAppBridges().getAnalyticsBridge()
    const real = new RealAppBridges({ debugLog() {} }).getAnalyticsBridge()
    assert.ok(test instanceof TestsAnalyticsBridge && test instanceof AnalyticsBridge && test instanceof BaseBridge)
    assert.ok(real instanceof AppAnalyticsBridge && real instanceof AnalyticsBridge && real instanceof BaseBridge)
  })

  it('has every line it adds to a changed file carried verbatim by the compiled stand-in of that file', () => {
    const changed = pullRequestFiles().filter((f) => f.kind === 'changed')
    assert.ok(changed.length >= 15, `${changed.length} changed files`)
    for (const { source } of changed) {
      const { carriers, blocks } = readAdditions(source)
      assert.ok(blocks.length > 0, `${source} lists the lines it adds`)
      const carried = carriers.map((c) => normalized(fs.readFileSync(path.join(ROOT, c), 'utf8')))
      for (const block of blocks) {
        assert.ok(block.heading, `${source}: every block says where it goes`)
        if (block.lang === 'json') {
          // An entry of a JSON object: valid JSON once wrapped.
          JSON.parse(`{${block.code.trim().replace(/,$/, '')}}`)
          continue
        }
        assert.ok(carried.length > 0, `${source}: a ${block.lang} block is carried by a compiled file`)
        assert.ok(
          carried.some((lines) => containsRun(lines, normalized(block.code))),
          `${source} "${block.heading}": its lines are not in ${carriers.join(', ')}:\n${block.code}`,
        )
      }
    }
  })

  it('names the permission as the permission screens look it up, and keeps it out of defaultPermissions', () => {
    const { AppPermissions, defaultPermissions } = built.load('packages/apps/src/server/permissions/AppPermissions')
    assert.deepEqual(AppPermissions.analytics, { write: { name: 'analytics.write' } })
    assert.ok(!defaultPermissions.some((p) => p.name === 'analytics.write'))
    // t(`Apps_Permissions_${permission.name.replace('.', '_')}`): only the first dot.
    const [entry] = readAdditions('packages/i18n/src/locales/en.i18n.json.additions.md').blocks
    const keys = Object.keys(JSON.parse(`{${entry.code.trim().replace(/,$/, '')}}`))
    assert.deepEqual(keys, [`Apps_Permissions_${AppPermissions.analytics.write.name.replace('.', '_')}`])
  })

  it('depends on this package at its version', () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    const [dependency] = readAdditions('apps/meteor/package.json.additions.md').blocks
    assert.deepEqual(JSON.parse(`{${dependency.code.trim().replace(/,$/, '')}}`), { 'rocketchat-sns-analytics': `^${version}` })
  })

  it('has a changeset bumping the four packages it touches, in one present-tense sentence', () => {
    const changesets = pullRequestFiles().filter((f) => f.file.startsWith('.changeset/'))
    assert.equal(changesets.length, 1)
    assert.match(changesets[0].file, /^\.changeset\/[a-z0-9]+(-[a-z0-9]+)*\.md$/)
    const text = fs.readFileSync(path.join(UPSTREAM, changesets[0].source), 'utf8')
    const [, front, body] = /^---\n([\s\S]*?)\n---\n\n([\s\S]*)$/.exec(text)
    assert.deepEqual(front.split('\n').sort(), [
      "'@rocket.chat/apps': minor",
      "'@rocket.chat/apps-engine': minor",
      "'@rocket.chat/i18n': minor",
      "'@rocket.chat/meteor': minor",
    ])
    assert.match(body.trim(), /^Adds [^\n]*\.$/)
    assert.equal(body.trim().split(/\.\s/).length, 1, 'one sentence')
  })

  it('lists every file in the README table, with how it was checked, and cites Rocket.Chat files as path@commit', () => {
    const readme = fs.readFileSync(path.join(UPSTREAM, 'README.md'), 'utf8')
    const rows = new Map()
    for (const m of readme.matchAll(/^\| `([^`]+)` \| (new|changed) \| (.+) \| (.+) \|$/gm)) rows.set(m[1], { kind: m[2], checked: m[4] })
    const files = pullRequestFiles()
    assert.deepEqual([...rows.keys()].sort(), files.map((f) => f.file).sort())
    for (const f of files) {
      assert.equal(rows.get(f.file).kind, f.kind, f.file)
      assert.match(rows.get(f.file).checked, /type-checked|compiled|run|read only|parsed/, f.file)
    }
    // A citation names a full commit, never an abbreviation.
    for (const text of [readme, ...files.filter((f) => f.kind === 'changed').map((f) => readAdditions(f.source).text)]) {
      for (const m of text.matchAll(/`((?:apps|packages)\/[^`@]+)@([0-9a-f]+)`/g)) assert.equal(m[2].length, 40, `${m[1]}@${m[2]}`)
    }
  })
})
