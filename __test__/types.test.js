'use strict'
// index.d.ts against @rocket.chat/apps-engine's own definitions: the bridge helpers
// take ILivechatRoom, ILivechatEventContext and ILivechatTransferEventContext as the
// Apps-Engine hands them to an app, and a server bridge in the Apps-Engine's pattern
// delegates to doLogEvent (tsc --noEmit --strict).
const { it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

it('index.d.ts compiles against the Apps-Engine definitions', () => {
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--noEmit',
      '--strict',
      '--target', 'es2022',
      '--module', 'nodenext',
      '--moduleResolution', 'nodenext',
      // The library's own .d.ts files are not ours to check; our use of them is.
      '--skipLibCheck',
      path.join(__dirname, 'types', 'apps-engine.ts'),
    ],
    { encoding: 'utf8', cwd: ROOT },
  )
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
