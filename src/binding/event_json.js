// The JSON text of an analytics event, or where and why it has none. This script is
// the one place that decides which JavaScript values an event may hold; it evaluates
// to the function `eventJson(value, rootName)`. The addon compiles it
// (src/binding/event_json.rs) for the Apps-Engine bridge and the widget endpoint, and
// index.js takes the same function from the addon for log()'s fast path.
//
// Why not plain JSON.stringify: it drops or changes some values without a word. A
// function or a symbol property disappears, NaN and Infinity become null, undefined
// or a hole in an array becomes null, a BigInt or a cycle throws a message that names
// no field, and a lone UTF-16 surrogate becomes an escape that UTF-8 cannot carry. An
// analytics event must never lose or change a value silently, so each of these is
// refused here with the path where it sits.
//
// What JSON itself defines goes through as JSON carries it: an object property whose
// value is undefined is left out, and a value with a toJSON method (a Date) becomes
// what toJSON returns, which is then checked like any other value.
//
// Returns the JSON text, or a refusal `{ path, field, level, inArray, got }` (a value
// JSON cannot carry: `got` names it) or `{ path, field, level, inArray, reason }` (a
// getter or toJSON that threw, or a malformed string). `field` is the top-level key
// the value sits under (null for the root) and `level` how deep it is (0 for the
// root, 1 for a top-level value): the addon turns these into its error message.
;(() => {
  'use strict'
  /** Deeper than this is refused: the event schema is three levels deep. */
  const MAX_DEPTH = 100
  const OBJECT_PROTO = Object.prototype
  const ARRAY_PROTO = Array.prototype
  const DATE_PROTO = Date.prototype
  const DATE_TO_JSON = DATE_PROTO.toJSON
  const { getPrototypeOf, keys, create } = Object
  const { isArray } = Array
  const stringify = JSON.stringify
  const isWellFormed = String.prototype.isWellFormed
  /** JSON.stringify writes a lone surrogate as this escape, in lower case (ES2019). */
  const SURROGATE_ESCAPE = '\\ud'

  /**
   * Whether JSON.stringify(value) carries value exactly: plain objects and arrays of
   * strings, booleans, finite numbers, null, Dates with the built-in toJSON, and
   * undefined as an object property. One pass, no allocation: the common case.
   * Anything else (a toJSON of its own, a class instance, a boxed primitive, a
   * function, a cycle) answers false and takes the exact pass.
   */
  function plain(value, depth, inArray) {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return true
      case 'number':
        return value - value === 0 // finite: NaN and ±Infinity give NaN
      case 'undefined':
        return !inArray
      case 'object': {
        if (value === null) return true
        if (depth === MAX_DEPTH) return false
        const proto = getPrototypeOf(value)
        if (proto === OBJECT_PROTO || proto === null) {
          if (typeof value.toJSON === 'function') return false
          for (const key in value) {
            if (!plain(value[key], depth + 1, false)) return false
          }
          return true
        }
        if (proto === ARRAY_PROTO) {
          if (typeof value.toJSON === 'function') return false
          for (let i = 0; i < value.length; i++) {
            if (!plain(value[i], depth + 1, true)) return false
          }
          return true
        }
        return proto === DATE_PROTO && value.toJSON === DATE_TO_JSON
      }
      default:
        return false
    }
  }

  /** Thrown inside the exact pass; returned to the caller as the refusal. */
  class Refusal {
    constructor(at, what) {
      this.path = at.path
      this.field = at.field
      this.level = at.level
      this.inArray = at.inArray
      Object.assign(this, what)
    }
  }

  function errorText(error) {
    try {
      return String(error)
    } catch {
      return 'an exception that cannot be printed'
    }
  }

  /** Where a value sits: its path, top-level key, depth and whether in an array. */
  function child(at, key, inArray) {
    const level = at.level + 1
    let path
    if (inArray) path = `${at.path}[${key}]`
    else if (level === 1) path = key
    else path = `${at.path}.${key}`
    return { path, field: level === 1 ? key : at.field, level, inArray }
  }

  function read(holder, key, at) {
    try {
      return holder[key]
    } catch (error) {
      throw new Refusal(at, { reason: `cannot be read: its getter threw ${errorText(error)}` })
    }
  }

  function checkString(s, at) {
    if (!isWellFormed.call(s)) {
      throw new Refusal(at, { reason: 'contains a lone UTF-16 surrogate, which UTF-8 cannot carry' })
    }
    return s
  }

  /** Marks an object property that JSON leaves out (its value is undefined). */
  const OMIT = Symbol('omit')

  /**
   * What JSON.stringify writes for `value`, found under `key` at `at`, as a value
   * with nothing left for JSON to drop or change (toJSON results in place, boxed
   * primitives unboxed), or OMIT; throws a Refusal for anything JSON cannot carry.
   * Reads each getter and calls each toJSON once, as JSON.stringify does.
   */
  function toPlain(value, key, at, ancestors) {
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      let toJSON
      try {
        toJSON = value.toJSON
      } catch (error) {
        throw new Refusal(at, { reason: `cannot be serialized: reading its toJSON threw ${errorText(error)}` })
      }
      if (typeof toJSON === 'function') {
        try {
          value = toJSON.call(value, key)
        } catch (error) {
          throw new Refusal(at, { reason: `cannot be serialized: its toJSON() threw ${errorText(error)}` })
        }
      }
    }
    if (typeof value === 'object' && value !== null) {
      // JSON.stringify unwraps boxed primitives (new Number(1), Object(1n)).
      try {
        if (value instanceof Number) value = Number(value)
        else if (value instanceof String) value = String(value)
        else if (value instanceof Boolean) value = Boolean.prototype.valueOf.call(value)
        else if (value instanceof BigInt) value = BigInt.prototype.valueOf.call(value)
      } catch (error) {
        throw new Refusal(at, { reason: `cannot be serialized: its valueOf() threw ${errorText(error)}` })
      }
    }
    switch (typeof value) {
      case 'string':
        return checkString(value, at)
      case 'boolean':
        return value
      case 'number':
        if (value - value === 0) return value
        throw new Refusal(at, { got: String(value) })
      case 'undefined':
        if (at.inArray) throw new Refusal(at, { got: 'undefined (an array element JSON would write as null)' })
        return OMIT
      case 'bigint':
        throw new Refusal(at, { got: 'a BigInt' })
      case 'function':
        throw new Refusal(at, { got: 'a function' })
      case 'symbol':
        throw new Refusal(at, { got: 'a symbol' })
      default:
        break
    }
    if (value === null) return null
    const seen = ancestors.values.indexOf(value)
    if (seen !== -1) throw new Refusal(at, { got: `a circular reference to ${ancestors.paths[seen]}` })
    if (ancestors.values.length === MAX_DEPTH) throw new Refusal(at, { got: `a value nested more than ${MAX_DEPTH} levels deep` })
    ancestors.values.push(value)
    ancestors.paths.push(at.path)
    let out
    if (isArray(value)) {
      const length = value.length
      out = new Array(length)
      for (let i = 0; i < length; i++) {
        const here = child(at, i, true)
        out[i] = toPlain(read(value, i, here), String(i), here, ancestors)
      }
    } else {
      let names
      try {
        names = keys(value)
      } catch (error) {
        throw new Refusal(at, { reason: `cannot be serialized: listing its keys threw ${errorText(error)}` })
      }
      // No prototype: a key named __proto__ stays an ordinary property, as in JSON.
      out = create(null)
      for (const name of names) {
        const here = child(at, name, false)
        checkString(name, here)
        const v = toPlain(read(value, name, here), name, here, ancestors)
        if (v !== OMIT) out[name] = v
      }
    }
    ancestors.values.pop()
    ancestors.paths.pop()
    return out
  }

  /** The slow pass, exact in every case: a plain copy, then its JSON. */
  function exact(value, rootName) {
    const root = { path: rootName, field: null, level: 0, inArray: false }
    try {
      const copy = toPlain(value, '', root, { values: [], paths: [] })
      if (copy === OMIT) throw new Refusal(root, { got: 'undefined' })
      return stringify(copy)
    } catch (error) {
      if (error instanceof Refusal) return error
      throw error
    }
  }

  return function eventJson(value, rootName) {
    if (typeof value === 'object' && value !== null) {
      try {
        if (plain(value, 0, false)) {
          const json = stringify(value)
          if (json.indexOf(SURROGATE_ESCAPE) === -1) return json
        }
      } catch {
        // A getter that threw: the exact pass reads it again and says where.
      }
    }
    return exact(value, rootName || 'event')
  }
})()
