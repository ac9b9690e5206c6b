'use strict'
// The package's entry: the generated loader (binding.js) with one class of ours in
// front of it. Everything else is the binding's own; index.d.ts describes both.
//
// AnalyticsLogger.log() runs the event serializer here, in JavaScript, and hands the
// text to a plain native function with the logger's slot: a napi-rs class method, and
// JSON.stringify called from Rust, each cost more than the work they wrap
// (docs/performance.md, "Why the design is as it is"); the function is made with N-API
// itself, without napi-rs's per-call machinery. The
// serializer is the addon's own (src/binding/event_json.js): it refuses, with the
// path, every value JSON.stringify would drop or change. Errors are the binding's:
// a refusal goes back to it for its TypeError, and anything that is not a plain object
// goes to the native log() for its message.
const binding = require('./binding.js')

const { __rejectEvent: rejectEvent } = binding
const logJson = binding.__logJsonFunction()
const eventJson = binding.__eventJson()

class AnalyticsLogger extends binding.AnalyticsLogger {
  #slot

  constructor(options) {
    super(options)
    this.#slot = super.__slot()
  }

  log(event) {
    if (typeof event !== 'object' || event === null || Array.isArray(event)) return super.log(event)
    const json = eventJson(event)
    return typeof json === 'string' ? logJson(this.#slot, json) : rejectEvent(this.#slot, json)
  }
}

// One assignment per name, not an object literal: Node finds a CommonJS module's named
// exports for `import { AnalyticsLogger } from ...` by reading these lines
// (cjs-module-lexer), and it does not see `name: value` entries.
module.exports.AnalyticsLogger = AnalyticsLogger
module.exports.AppsEngineBridge = binding.AppsEngineBridge
module.exports.builtinPlans = binding.builtinPlans
module.exports.generateTypes = binding.generateTypes
module.exports.listDeadLetters = binding.listDeadLetters
module.exports.metricDefinitions = binding.metricDefinitions
module.exports.optionsFromSettings = binding.optionsFromSettings
module.exports.purgeDeadLetters = binding.purgeDeadLetters
module.exports.replayDeadLetters = binding.replayDeadLetters
module.exports.settingsDefinitions = binding.settingsDefinitions
