'use strict'
// Rocket.Chat's cached settings, rebuilt for tests as far as bindSettings uses them
// (no npm package ships them).
const { settingsDefinitions } = require('../../..')
const { REGION, CREDENTIALS } = require('../moto')

/**
 * Rocket.Chat's cached settings, as far as bindSettings uses them
 * (apps/meteor/server/settings/CachedSettings.ts@79dd2f8a9c5fc18d10f16d05fec6604127d0997c): watchMultiple calls back at once
 * with the values when every id is known, then after each change (debounced there,
 * later here too), and returns a function that stops it.
 */
class CachedSettingsStandIn {
  #store = new Map()
  #watchers = new Set()

  constructor(values) {
    for (const { id, packageValue } of settingsDefinitions().settings) this.#store.set(id, packageValue)
    this.#store.set('Site_Url', 'https://chat.example.com')
    for (const [id, value] of Object.entries(values)) this.#store.set(id, value)
  }

  set(id, value) {
    this.#store.set(id, value)
    for (const w of this.#watchers) setImmediate(() => this.#watchers.has(w) && w.callback(w.ids.map((i) => this.#store.get(i))))
  }

  watchMultiple(ids, callback) {
    const watcher = { ids, callback }
    if (ids.every((id) => this.#store.has(id))) callback(ids.map((id) => this.#store.get(id)))
    this.#watchers.add(watcher)
    return () => this.#watchers.delete(watcher)
  }

  get watching() {
    return this.#watchers.size
  }
}

/**
 * The SNS_Analytics_* values of an enabled logger against moto (or the `endpoint`
 * given), with moto's keys; `more` adds or overrides settings by id.
 */
function emulatorSettings({ topicArn, endpoint, ...more }) {
  return {
    SNS_Analytics_Enabled: true,
    SNS_Analytics_Topic_ARN: topicArn,
    SNS_Analytics_Endpoint: endpoint,
    SNS_Analytics_Region: REGION,
    SNS_Analytics_Access_Key_Id: CREDENTIALS.accessKeyId,
    SNS_Analytics_Secret_Access_Key: CREDENTIALS.secretAccessKey,
    ...more,
  }
}

module.exports = { CachedSettingsStandIn, emulatorSettings }
