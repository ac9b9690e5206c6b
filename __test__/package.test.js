'use strict'
// The package as an app gets it: `npm run package`'s tarballs (packed here from the
// current build with --no-build) installed into a clean temporary app by `npm install`,
// then required by name (CommonJS) and imported by name (ES module), each logging to
// the local emulator.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { useMoto } = require('./helpers/setup')
const { ROOT, REGION, CREDENTIALS } = require('./helpers/moto')

const ctx = useMoto()

describe('the packed package in a clean app', () => {
  let work
  let app
  let tarballs
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-sns-analytics-app-'))
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package.js'), '--no-build', '--out', path.join(work, 'dist')], { encoding: 'utf8' })
    tarballs = JSON.parse(out.trim().split('\n').pop())
    app = path.join(work, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'clean-app', private: true }))
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: app, encoding: 'utf8' })
  })
  after(() => fs.rmSync(work, { recursive: true, force: true }))

  it('lists every platform package of napi.targets as an optional dependency, at its version', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'rocketchat-sns-analytics', 'package.json'), 'utf8'))
    const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
    assert.equal(Object.keys(installed.optionalDependencies).length, root.napi.targets.length)
    for (const [name, version] of Object.entries(installed.optionalDependencies)) {
      assert.match(name, /^rocketchat-sns-analytics-(linux|darwin|win32)-/)
      assert.equal(version, root.version)
    }
    assert.equal(installed.devDependencies, undefined)
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'rocketchat-sns-analytics', 'src')), 'no sources in the package')
    // The Rocket.Chat pull request in rocketchat/upstream/ is not package code.
    assert.deepEqual(fs.readdirSync(path.join(app, 'node_modules', 'rocketchat-sns-analytics', 'rocketchat')).sort(), ['i18n', 'index.d.ts', 'index.js', 'shutdown.js'])
  })

  it('exports the Rocket.Chat side as rocketchat-sns-analytics/rocketchat, in both module systems', () => {
    const names = ['bindSettings', 'registerOmnichannelCallbacks', 'registerPrometheusMetrics', 'widgetEventRoute', 'appsBridge', 'handleShutdown']
    const cjs = `const rc = require('rocketchat-sns-analytics/rocketchat'); console.log(${names.map((n) => `typeof rc.${n}`).join(', ')})`
    const esm = `import { ${names.join(', ')} } from 'rocketchat-sns-analytics/rocketchat'; console.log(${names.map((n) => `typeof ${n}`).join(', ')})`
    for (const [flag, source] of [['--input-type=commonjs', cjs], ['--input-type=module', esm]]) {
      const out = execFileSync(process.execPath, [flag, '-e', source], { cwd: app, encoding: 'utf8' })
      assert.equal(out.trim(), names.map(() => 'function').join(' '))
    }
  })

  for (const [kind, file, source] of [
    ['require()d by name (CommonJS)', 'use.cjs', "const { AnalyticsLogger } = require('rocketchat-sns-analytics')"],
    ['import-ed by name (ES module)', 'use.mjs', "import { AnalyticsLogger } from 'rocketchat-sns-analytics'"],
  ]) {
    it(`is ${kind} and logs to the emulator`, async () => {
      const { topicArn, queueUrl } = await ctx.topic()
      fs.writeFileSync(
        path.join(app, file),
        `${source}
const logger = new AnalyticsLogger(JSON.parse(process.env.OPTIONS))
const id = logger.log({ category: 'Window', action: 'opened', properties: { via: ${JSON.stringify(file)} } })
logger.close().then((report) => console.log(JSON.stringify({ id, report })))
`,
      )
      const options = { topicArn, siteUrl: 'https://chat.example.com', endpoint: ctx.moto.endpoint, region: REGION, credentials: CREDENTIALS }
      const out = execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8', env: { ...process.env, OPTIONS: JSON.stringify(options) } })
      const { id, report } = JSON.parse(out.trim().split('\n').pop())
      assert.equal(report.delivered, 1)
      const [msg] = await ctx.drain(queueUrl, { expected: 1 })
      assert.equal(msg.attributes.eventId, id)
      assert.equal(msg.json.properties.via, file)
    })
  }

  it("runs the README's quick start as written, with the AWS environment pointing at the emulator", async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const quickStart = readme.slice(readme.indexOf('## Quick start\n'))
    const install = quickStart.match(/```sh\n(.*)\n```/)[1]
    assert.equal(install, 'npm install rocketchat-sns-analytics', 'the install line')
    const snippet = quickStart.match(/```js\n([\s\S]*?)```/)[1]
    const arn = snippet.match(/topicArn: '([^']+)'/)[1]
    // The snippet's own topic, on moto's account.
    const { topicArn, queueUrl } = await ctx.topic({ fifo: true, name: arn.split(':').pop().replace(/\.fifo$/, '') })
    assert.equal(topicArn, arn)
    fs.writeFileSync(path.join(app, 'analytics.js'), snippet)
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL_SNS: ctx.moto.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    }
    const out = execFileSync(process.execPath, ['analytics.js'], { cwd: app, encoding: 'utf8', env })
    const id = out.match(/^logged ([0-9a-f-]{36})$/m)[1]
    assert.match(out, /delivered: 1,/)
    const [msg] = await ctx.drain(queueUrl, { expected: 1 })
    assert.equal(msg.attributes.eventId, id)
    assert.deepEqual([msg.json.category, msg.json.action, msg.json.properties.failure_reason], ['Escalation', 'failed', 'no agents available'])
  })
})
