'use strict'
// The real @rocket.chat/rest-typings (the version in package.json), for its `ajv`
// instance and its error-response validators. Its published dist is ESM with the
// extension-less and directory imports Rocket.Chat's build resolves; plain Node does
// not, so a resolve hook (bundler-resolve.mjs) resolves them the same way.
const { register } = require('node:module')
const { pathToFileURL } = require('node:url')

let loaded
/** Resolves the module namespace of @rocket.chat/rest-typings. */
function loadRestTypings() {
  if (!loaded) {
    register('./bundler-resolve.mjs', pathToFileURL(__filename))
    loaded = import('@rocket.chat/rest-typings')
  }
  return loaded
}

module.exports = { loadRestTypings }
