'use strict'
// `npm run bench` keeps working: a smoke run with tiny counts (no timing assertions:
// speed is the benchmark's business, on a quiet machine).
const { it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

it('the benchmark runs end to end and reports every measurement', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'bench', 'run.js'), '--smoke'], { encoding: 'utf8', timeout: 300_000 })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  for (const row of ['main thread ns/event', 'log() p99 ns', 'CPU us/event', 'events/s', 'enqueue->SNS p99 ms', 'peak RSS MiB', 'queued bytes/event beyond body', 'stub SNS capacity alone', 'against moto', 'log() over every call', 'p99.9 ns', 'log() mean / floor mean', 'first call of a turn', 'log() stage by stage', 'the serializer\'s check']) {
    assert.ok(r.stdout.includes(row), `missing "${row}" in\n${r.stdout}`)
  }
  const report = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'bench', 'results', 'smoke.json'), 'utf8'))
  for (const impl of ['addon', 'js-batch', 'js-publish']) {
    assert.equal(report.results[impl][0].acked, report.results[impl][0].events, `${impl}: every event reached the stub`)
  }
  // The tail mode times every call, with and without a burst, and delivers them all.
  for (const pace of ['steady', 'burst']) {
    const run = report.tails[pace][0]
    assert.equal(run.delivered, run.events + 5_000, `${pace}: the warm-up and every timed event were delivered`)
    for (const side of ['floor', 'log']) assert.ok(run[side].p999Ns >= run[side].p99Ns && run[side].p99Ns >= run[side].p50Ns, `${pace} ${side}: percentiles in order`)
  }
  // The stage table times each stage of log() in a process of its own.
  for (const stage of ['floor', 'serializer', 'nativeReusedText', 'log']) {
    const [ns] = report.tails.parts[stage]
    assert.ok(Number.isFinite(ns) && ns > 0, `stage ${stage}: ${ns} ns per call`)
  }
})
