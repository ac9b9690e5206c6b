'use strict'
// Compiles the pull request in rocketchat/upstream/ together with its stand-ins
// (__test__/helpers/rocketchat/monorepo/), using rocketchat/upstream/tsconfig.json, into a
// temporary folder laid out as the monorepo after the change. TypeScript merged the two source
// folders by `rootDirs`, so the compiled files are merged the same way, and a node_modules
// resolves the packages as the monorepo does:
// - @rocket.chat/apps-engine: the published 1.66.0 package (definitions only), with the pull
//   request's compiled definitions laid over it, as the workspace package packages/apps-engine
//   would build;
// - @rocket.chat/apps: its dist/ is the compiled packages/apps/src (the Meteor bridges
//   deep-import @rocket.chat/apps/dist/server/...);
// - @rocket.chat/logger: the stand-in;
// - apps-engine-1.62 (the server classes the stand-ins re-export), apps-engine-1.66 (the
//   published definitions the stand-ins build on), jsonrpc-lite and rocketchat-sns-analytics
//   (this repository): links to the real packages.
// Links keep one module instance per real file: Node resolves a linked package to its real path,
// so the test and the compiled code share AppManager, AppPermissionManager and the addon.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..', '..')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const UPSTREAM = path.join(ROOT, 'rocketchat', 'upstream')
const STAND_INS = path.join(ROOT, '__test__', 'helpers', 'rocketchat', 'monorepo')

/** Runs tsc with `args`; on errors, throws with what tsc printed. */
function tsc(...args) {
  try {
    return execFileSync(process.execPath, [TSC, ...args], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' })
  } catch (e) {
    throw new Error(`tsc ${args.join(' ')} failed:\n${e.stdout}${e.stderr}`)
  }
}

/** Copies every file under `from` into `into`, refusing a path both trees have. */
function merge(from, into) {
  for (const entry of fs.readdirSync(from, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const source = path.join(entry.parentPath ?? entry.path, entry.name)
    const target = path.join(into, path.relative(from, source))
    if (fs.existsSync(target)) throw new Error(`${path.relative(from, source)} is both in the pull request and among the stand-ins`)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.copyFileSync(source, target)
  }
}

function link(target, at) {
  fs.mkdirSync(path.dirname(at), { recursive: true })
  fs.symlinkSync(target, at, 'dir')
}

/**
 * Builds the monorepo tree; returns `{ tree, load(relativePath), cleanup() }`, where `load`
 * requires a compiled file by its monorepo path (without extension).
 */
function buildUpstream() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rc-analytics-upstream-'))
  const out = path.join(work, 'out')
  tsc('-p', path.join(UPSTREAM, 'tsconfig.json'), '--outDir', out)
  const tree = path.join(work, 'monorepo')
  merge(path.join(out, path.relative(ROOT, UPSTREAM)), tree)
  merge(path.join(out, path.relative(ROOT, STAND_INS)), tree)

  const modules = path.join(tree, 'node_modules')
  link(path.join(ROOT, 'node_modules', 'apps-engine-1.62'), path.join(modules, 'apps-engine-1.62'))
  link(path.join(ROOT, 'node_modules', '@rocket.chat', 'apps-engine'), path.join(modules, 'apps-engine-1.66'))
  link(path.join(ROOT, 'node_modules', 'jsonrpc-lite'), path.join(modules, 'jsonrpc-lite'))
  link(ROOT, path.join(modules, 'rocketchat-sns-analytics'))
  const engine = path.join(modules, '@rocket.chat', 'apps-engine')
  fs.cpSync(path.join(ROOT, 'node_modules', '@rocket.chat', 'apps-engine'), engine, { recursive: true, dereference: true })
  fs.cpSync(path.join(tree, 'packages', 'apps-engine', 'src'), engine, { recursive: true })
  const apps = path.join(modules, '@rocket.chat', 'apps')
  fs.mkdirSync(apps, { recursive: true })
  fs.writeFileSync(path.join(apps, 'package.json'), JSON.stringify({ name: '@rocket.chat/apps', private: true, main: './dist/index.js' }))
  link(path.join(tree, 'packages', 'apps', 'src'), path.join(apps, 'dist'))
  link(path.join(tree, 'packages', 'logger', 'src'), path.join(modules, '@rocket.chat', 'logger'))

  return {
    tree,
    load: (relative) => require(path.join(tree, relative)),
    cleanup: () => fs.rmSync(work, { recursive: true, force: true }),
  }
}

module.exports = { buildUpstream, tsc, ROOT, UPSTREAM, STAND_INS }
