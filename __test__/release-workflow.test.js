'use strict'
// The release workflow, read as GitHub would run it: its matrices expanded by GitHub's
// documented rules (helpers/github-matrix.js), so that a job that silently collapses
// to fewer combinations, a platform that is built but never tested, a napi flag that
// the pinned CLI rejects, or a JavaScript action inside Alpine on an arm64 runner
// fails here rather than on release day. actionlint (in .ci/run) checks the syntax.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const yaml = require('js-yaml')
const { expandMatrix, resolveMatrixExpression } = require('./helpers/github-matrix')

const ROOT = path.join(__dirname, '..')
const TARGETS = require('../package.json').napi.targets
const workflow = yaml.load(fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8'))
const jobs = workflow.jobs

/** Every napi target named anywhere in a job's matrix. */
function targetsNamed(matrix) {
  const found = new Set()
  const walk = (v) => {
    if (typeof v === 'string' && TARGETS.includes(v)) found.add(v)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(matrix)
  return found
}

/** The combinations a job runs, each with its target, host and (where set) node. */
function runs(jobName) {
  const job = jobs[jobName]
  const combos = job.strategy?.matrix ? expandMatrix(job.strategy.matrix) : [{}]
  return combos.map((combo) => ({
    combo,
    target: TARGETS.find((t) => JSON.stringify(combo).includes(`"${t}"`)),
    host: resolveMatrixExpression(job['runs-on'], combo),
    name: resolveMatrixExpression(job.name ?? jobName, combo),
  }))
}

const testJobs = Object.keys(jobs).filter((name) => name.startsWith('test-') && jobs[name].strategy?.matrix)

describe('GitHub matrix expansion (as documented)', () => {
  it("expands the documentation's fruit and animal example", () => {
    const combos = expandMatrix({
      fruit: ['apple', 'pear'],
      animal: ['cat', 'dog'],
      include: [
        { color: 'green' },
        { color: 'pink', animal: 'cat' },
        { fruit: 'apple', shape: 'circle' },
        { fruit: 'banana' },
        { fruit: 'banana', animal: 'cat' },
      ],
    })
    assert.deepEqual(combos, [
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' },
    ])
  })

  it('excludes before it includes', () => {
    const combos = expandMatrix({ os: ['a', 'b'], v: [1, 2], exclude: [{ os: 'a', v: 2 }], include: [{ os: 'a', v: 2, extra: true }] })
    assert.deepEqual(combos, [{ os: 'a', v: 1 }, { os: 'b', v: 1 }, { os: 'b', v: 2 }, { os: 'a', v: 2, extra: true }])
  })

  it('collapses an include list beside a single key, as the old test-native matrix did', () => {
    const combos = expandMatrix({
      include: [
        { target: 'x86_64-unknown-linux-gnu', host: 'ubuntu-22.04' },
        { target: 'x86_64-pc-windows-msvc', host: 'windows-latest' },
      ],
      node: [20, 22],
    })
    assert.deepEqual(combos, [
      { node: 20, target: 'x86_64-pc-windows-msvc', host: 'windows-latest' },
      { node: 22, target: 'x86_64-pc-windows-msvc', host: 'windows-latest' },
    ])
  })
})

describe('release workflow', () => {
  it('builds every napi target exactly once', () => {
    const built = runs('build').map((r) => r.target)
    assert.deepEqual([...built].sort(), [...TARGETS].sort())
  })

  it("runs every target a test job names, and every Node it names, in that job's expansion", () => {
    for (const name of testJobs) {
      const matrix = jobs[name].strategy.matrix
      const expanded = runs(name)
      for (const target of targetsNamed(matrix)) {
        const nodes = matrix.node ?? [undefined]
        for (const node of nodes) {
          const hits = expanded.filter((r) => r.target === target && r.combo.node === node)
          assert.equal(hits.length, 1, `${name}: ${target}${node ? ` on Node ${node}` : ''} runs ${hits.length} times in ${JSON.stringify(expanded.map((r) => r.name))}`)
        }
      }
    }
  })

  it('tests every target it builds, and publishes only after every test job', () => {
    const tested = new Set(testJobs.flatMap((name) => runs(name).map((r) => r.target)))
    assert.deepEqual([...tested].sort(), [...TARGETS].sort())
    const needs = [jobs.publish.needs].flat()
    for (const name of [...testJobs, 'test-full']) assert.ok(needs.includes(name), `publish needs ${name}`)
  })

  it('tests each binary on its own architecture', () => {
    for (const name of testJobs) {
      for (const r of runs(name)) {
        const arm = r.target.startsWith('aarch64')
        if (r.target.includes('linux')) assert.equal(/arm/.test(r.host), arm, `${r.name} runs on ${r.host}`)
        if (r.target.includes('apple')) assert.equal(r.host === 'macos-15-intel', !arm, `${r.name} runs on ${r.host}`)
      }
    }
  })

  it('runs no JavaScript action inside an Alpine container on an arm64 runner', () => {
    for (const [name, job] of Object.entries(jobs)) {
      const image = typeof job.container === 'string' ? job.container : job.container?.image
      if (!image) continue
      const hosts = (job.strategy?.matrix ? runs(name) : [{ host: job['runs-on'] }]).map((r) => r.host)
      if (!/alpine/.test(image) || !hosts.some((h) => /arm/.test(h))) continue
      const jsActions = job.steps.filter((s) => s.uses && !s.uses.startsWith('docker://'))
      assert.deepEqual(jsActions.map((s) => s.uses), [], `${name} runs JavaScript actions in ${image} on ${hosts}`)
    }
  })

  it("passes napi build only flags the pinned @napi-rs/cli accepts (musl through -x)", () => {
    const help = execFileSync(process.execPath, [path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), 'build', '--help'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    })
    const known = new Set([...help.matchAll(/(?:^|[\s,])(--?[a-zA-Z][\w-]*)/g)].map((m) => m[1]))
    for (const r of runs('build')) {
      const command = resolveMatrixExpression(r.combo.build, r.combo)
      const flags = command.split(/\s+/).filter((w) => w.startsWith('-'))
      for (const flag of flags) assert.ok(known.has(flag), `${r.target}: napi build ${flag} is not an option of the pinned CLI`)
      if (r.target.includes('musl')) assert.ok(flags.includes('-x') || flags.includes('--cross-compile'), `${r.target} builds through zig`)
    }
  })
})
