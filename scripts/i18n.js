'use strict'
// Writes rocketchat/i18n/en.i18n.json: the English label and description of every
// SNS_Analytics setting (and select value), under the i18n keys settingsDefinitions()
// gives, for Rocket.Chat's packages/i18n/src/locales/en.i18n.json. A test checks the
// committed file is what this writes.
//   node scripts/i18n.js [--check]
const fs = require('node:fs')
const path = require('node:path')
const { settingsDefinitions } = require('..')

/** `SNS_Analytics_Topic_ARN` -> `Topic ARN`. */
const words = (id, prefix) => id.slice(prefix.length).replace(/^_/, '').replace(/_/g, ' ')

function fragment() {
  const { group, settings } = settingsDefinitions()
  const out = { [group]: 'SNS Analytics', [`${group}_Description`]: 'Analytics events to Amazon SNS (rocketchat-sns-analytics).' }
  for (const s of settings) {
    out[s.options.i18nLabel] = words(s.id, group)
    out[s.options.i18nDescription] = s.description
    for (const v of s.options.values || []) out[v.i18nLabel] = v.key.replace(/_/g, ' ')
  }
  return `${JSON.stringify(out, null, 2)}\n`
}

const file = path.join(__dirname, '..', 'rocketchat', 'i18n', 'en.i18n.json')
if (process.argv.includes('--check')) {
  if (fs.readFileSync(file, 'utf8') !== fragment()) {
    console.error(`${file} is stale: run node scripts/i18n.js`)
    process.exit(1)
  }
} else {
  fs.writeFileSync(file, fragment())
}
module.exports = { fragment }
