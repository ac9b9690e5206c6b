'use strict'
// Rocket.Chat's `callbacks`, rebuilt for tests: no npm package ships it (it is part of
// the private apps/meteor app). Two generations, each faithful to the file it cites:
//
// - `Callbacks`: apps/meteor/server/lib/callbacks/callbacksBase.ts@4e43840098dd6bb55f16397d277619dd276035df
//   (the hook table: apps/meteor/server/lib/callbacks.ts@1780d2a3e4f4f259f5c2c198f79f04a0a83b4dc5).
//   `add` returns a remover; a second `add` with an id already there adds nothing and
//   returns the remover of the one that is.
// - `LegacyCallbacks`: apps/meteor/lib/callbacks.ts@02af8ce30c0393b638db4c0301fe3eaf0ee1e5f9,
//   where `add` returns nothing and only `remove(hook, id)` takes a callback off.
//
// Both: callbacks sorted by priority ascending (compareByRanking of
// apps/meteor/lib/utils/comparisons.ts: HIGH -1000 first, LOW 1000 last; a stable
// sort keeps insertion order among equals); `run` pipes the item through every
// callback in turn, a callback returning null or undefined passing the item on
// (`?? item`), the constant handed to each unchanged, an exception rejecting `run`;
// `runAsync` starts each callback in its own `setTimeout(..., 0)` and returns the
// item at once. The metrics trackers and the logger are left out.

const CallbackPriority = Object.freeze({ HIGH: -1000, MEDIUM: 0, LOW: 1000 })

let nextId = 0
const randomId = () => `cb${++nextId}`

class Callbacks {
  priority = CallbackPriority
  #callbacks = new Map()
  #sequentialRunners = new Map()
  #asyncRunners = new Map()

  #runOne(callback, item, constant) {
    return Promise.resolve(callback(item, constant))
  }

  #createSequentialRunner(callbacks) {
    const wrapCallback = (callback) => async (item, constant) => (await this.#runOne(callback, item, constant)) ?? item
    const identity = (item) => Promise.resolve(item)
    const pipe = (curr, next) => async (item, constant) => next(await curr(item, constant), constant)
    return callbacks.map(wrapCallback).reduce(pipe, identity)
  }

  #createAsyncRunner(callbacks) {
    return (item, constant) => {
      for (const callback of callbacks) {
        setTimeout(() => {
          void this.#runOne(callback, item, constant)
        }, 0)
      }
      return item
    }
  }

  getCallbacks(hook) {
    return this.#callbacks.get(hook) ?? []
  }

  setCallbacks(hook, callbacks) {
    this.#callbacks.set(hook, callbacks)
    this.#sequentialRunners.set(hook, this.#createSequentialRunner(callbacks))
    this.#asyncRunners.set(hook, this.#createAsyncRunner(callbacks))
  }

  add(hook, callback, priority = this.priority.MEDIUM, id = randomId()) {
    const callbacks = this.getCallbacks(hook)
    if (callbacks.some((cb) => cb.id === id)) {
      return () => {
        this.remove(hook, id)
      }
    }
    callbacks.push(Object.assign(callback, { hook, priority, id, stack: new Error().stack }))
    callbacks.sort((a, b) => (a.priority ?? this.priority.MEDIUM) - (b.priority ?? this.priority.MEDIUM))
    this.setCallbacks(hook, callbacks)
    return () => {
      this.remove(hook, id)
    }
  }

  remove(hook, id) {
    this.setCallbacks(
      hook,
      this.getCallbacks(hook).filter((callback) => callback.id !== id),
    )
  }

  run(hook, item, constant) {
    const runner = this.#sequentialRunners.get(hook) ?? (async (item) => item)
    return runner(item, constant)
  }

  runAsync(hook, item, constant) {
    const runner = this.#asyncRunners.get(hook) ?? ((item) => item)
    return runner(item, constant)
  }
}

/** The generation before `add` returned a remover (apps/meteor/lib/callbacks.ts@02af8ce3). */
class LegacyCallbacks extends Callbacks {
  add(hook, callback, priority, id) {
    super.add(hook, callback, priority, id)
  }
}

module.exports = { Callbacks, LegacyCallbacks, CallbackPriority }
