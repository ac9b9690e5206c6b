'use strict'
// docs/operations.md, the runbook, against what the package declares: a section for
// every onError code index.d.ts declares on DeliveryError and none for a code it does
// not, and a row of the metrics table for every family metricDefinitions() lists (with
// its type and labels) and none for a family it does not. Every metric name the page
// mentions anywhere (the alert rules' PromQL included) must exist.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const DTS = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8')
const DOC_PATH = 'docs/operations.md'
const DOC = fs.readFileSync(path.join(ROOT, DOC_PATH), 'utf8')

const PREFIX = 'rocketchat_sns_analytics_'
/** An error code as the package spells them: ERR_SPOOL, DESTINATION_RESUMED, ... */
const CODE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/

/**
 * Codes onError reports that index.d.ts does not list on `DeliveryError.code` yet.
 * The runbook documents them all the same; each entry expires: once index.d.ts
 * declares the code, the test below fails until the entry is removed.
 */
const REPORTED_BUT_UNDECLARED = {}

/** The body of `export interface <name> { ... }` in index.d.ts. */
function interfaceBody(name) {
  const start = DTS.search(new RegExp(`^export interface ${name}\\b[^{]*\\{`, 'm'))
  assert.ok(start >= 0, `index.d.ts declares no interface ${name}`)
  let depth = 0
  for (let i = DTS.indexOf('{', start); i < DTS.length; i++) {
    if (DTS[i] === '{') depth++
    else if (DTS[i] === '}' && --depth === 0) return DTS.slice(DTS.indexOf('{', start) + 1, i)
  }
  throw new Error(`index.d.ts: interface ${name} is not closed`)
}

/** The string literals of `export type <name> = 'A' | 'B'`, if index.d.ts has it. */
function typeAliasLiterals(name) {
  const m = new RegExp(`^export (?:declare )?type ${name}\\s*=([^;]*?)(?:;|\\n\\s*\\n|\\n(?=export|/\\*\\*))`, 'ms').exec(DTS)
  return m ? [...m[1].matchAll(/'([^']+)'|"([^"]+)"/g)].map((x) => x[1] ?? x[2]) : []
}

/**
 * The onError codes index.d.ts declares: the codes named in the doc comment of
 * `DeliveryError.code`, and the literals of its type when that is a union of strings
 * (written inline or as a type alias).
 */
function declaredCodes() {
  const body = interfaceBody('DeliveryError')
  const member = /^([ \t]*\/\*\*[\s\S]*?\*\/\s*)?[ \t]*code\??\s*:\s*([^\n;]+)/m.exec(body.replace(/^\s*\n/, ''))
  assert.ok(member, 'index.d.ts: DeliveryError has no `code` member')
  const [, doc = '', type] = member
  const codes = new Set()
  for (const m of doc.matchAll(/`'?([A-Z][A-Z0-9_]*)'?`/g)) if (CODE.test(m[1])) codes.add(m[1])
  for (const m of type.matchAll(/'([^']+)'|"([^"]+)"/g)) codes.add(m[1] ?? m[2])
  const alias = /^\s*([A-Z][A-Za-z0-9_]*)\s*$/.exec(type)
  if (alias) for (const literal of typeAliasLiterals(alias[1])) codes.add(literal)
  return codes
}

/** The text of the `## <title>` section of the runbook, up to the next `## `. */
function section(title) {
  const start = DOC.search(new RegExp(`^## ${title.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&')}\\s*$`, 'm'))
  assert.ok(start >= 0, `${DOC_PATH} has no section "## ${title}"`)
  const rest = DOC.slice(start + 3)
  const end = rest.search(/^## /m)
  return end < 0 ? rest : rest.slice(0, end)
}

/** The codes the runbook documents: a `### \`CODE\`` heading each. */
function documentedCodes() {
  const text = section('What each `onError` code means')
  return new Set([...text.matchAll(/^### `([^`]+)`\s*$/gm)].map((m) => m[1]))
}

/** The metrics table's rows: name → { type, labels }. */
function documentedMetrics() {
  const rows = new Map()
  for (const m of section('Metrics').matchAll(/^\| `([a-z0-9_]+)` \| ([^|]+) \| ([^|]*) \|/gm)) {
    const labels = m[3].trim() === '—' ? [] : [...m[3].matchAll(/`([^`]+)`/g)].map((x) => x[1])
    if (rows.has(m[1])) assert.fail(`${DOC_PATH}: the metrics table has two rows for ${m[1]}`)
    rows.set(m[1], { type: m[2].trim(), labels })
  }
  return rows
}

const missing = (want, have) => [...want].filter((x) => !have.has(x)).sort()

describe(`${DOC_PATH} covers every onError code index.d.ts declares`, () => {
  const declared = declaredCodes()
  const documented = documentedCodes()

  it('finds the codes in index.d.ts', () => {
    for (const code of ['ERR_PUBLISH_FAILED', 'ERR_SPOOL', 'DESTINATION_RESUMED']) {
      assert.ok(declared.has(code), `the reading of DeliveryError.code in index.d.ts missed ${code}: found ${[...declared].join(', ')}`)
    }
  })

  it('has a section for each declared code', () => {
    const absent = missing(declared, documented)
    assert.deepEqual(absent, [], `${DOC_PATH} has no "### \`CODE\`" section under "What each onError code means" for: ${absent.join(', ')} (declared on DeliveryError.code in index.d.ts)`)
  })

  it('documents no code that index.d.ts does not declare', () => {
    const known = new Set([...declared, ...Object.keys(REPORTED_BUT_UNDECLARED)])
    const extra = missing(documented, known)
    assert.deepEqual(extra, [], `${DOC_PATH} documents codes that DeliveryError.code in index.d.ts does not declare: ${extra.join(', ')}`)
  })

  it('still needs each code it documents beyond index.d.ts', () => {
    for (const [code, why] of Object.entries(REPORTED_BUT_UNDECLARED)) {
      assert.ok(!declared.has(code), `index.d.ts now declares ${code}: remove it from REPORTED_BUT_UNDECLARED in __test__/operations-doc.test.js`)
      assert.ok(documented.has(code), `${DOC_PATH} should document ${code} (${why})`)
    }
  })
})

describe(`${DOC_PATH} covers every metric family`, () => {
  const { metricDefinitions } = require('..')
  const families = new Map(metricDefinitions().map((f) => [f.name, f]))
  const rows = documentedMetrics()

  it('has a row for each family of metricDefinitions()', () => {
    assert.ok(families.size > 0, 'metricDefinitions() lists no family')
    const absent = missing(families.keys(), rows)
    assert.deepEqual(absent, [], `${DOC_PATH}'s metrics table has no row for: ${absent.join(', ')}`)
  })

  it('has no row for a family metricDefinitions() does not list', () => {
    const extra = missing(rows.keys(), families)
    assert.deepEqual(extra, [], `${DOC_PATH}'s metrics table has rows for metrics that do not exist: ${extra.join(', ')}`)
  })

  it("gives each family's type and labels as metricDefinitions() does", () => {
    const wrong = []
    for (const [name, row] of rows) {
      const family = families.get(name)
      if (!family) continue
      if (row.type !== family.type) wrong.push(`${name} is a ${family.type}, the table says ${row.type}`)
      if (row.labels.join(',') !== family.labelNames.join(',')) {
        wrong.push(`${name} has the labels [${family.labelNames.join(', ')}], the table says [${row.labels.join(', ')}]`)
      }
    }
    assert.deepEqual(wrong, [], `${DOC_PATH}'s metrics table is wrong:\n${wrong.join('\n')}`)
  })

  it('names only metrics that exist, in the alert rules and everywhere else', () => {
    const named = new Set(DOC.match(new RegExp(`\\b${PREFIX}[a-z0-9_]+`, 'g')))
    const unknown = missing(named, families)
    assert.deepEqual(unknown, [], `${DOC_PATH} names metrics that metricDefinitions() does not list: ${unknown.join(', ')}`)
  })
})
