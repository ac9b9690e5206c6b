'use strict'
// index.d.ts against @rocket.chat/apps-engine's own definitions, and the Rocket.Chat
// side (rocketchat/index.d.ts) against Rocket.Chat's published typings. The bridge helpers
// take ILivechatRoom, ILivechatEventContext and ILivechatTransferEventContext as the
// Apps-Engine hands them to an app, and a server bridge in the Apps-Engine's pattern
// delegates to doLogEvent (tsc --noEmit --strict).
const { it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')

/** tsc --noEmit --strict over `file`. */
function typecheck(file) {
  return spawnSync(
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
      '--esModuleInterop',
      path.join(__dirname, 'types', file),
    ],
    { encoding: 'utf8', cwd: ROOT },
  )
}

it('index.d.ts compiles against the Apps-Engine definitions', () => {
  const r = typecheck('apps-engine.ts')
  assert.equal(r.status, 0, r.stdout + r.stderr)
})

it("the Rocket.Chat side compiles against Rocket.Chat's published typings and its objects' real signatures", () => {
  // @rocket.chat/core-typings and rest-typings (IOmnichannelRoom, ILivechatVisitor,
  // ISetting, the route's Endpoints entry); settings, callbacks and API as declared in
  // types/rocketchat-server.ts from their source files.
  const r = typecheck('rocketchat-server.ts')
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
