'use strict'
// fast-check arbitraries of analytics events that mix values JSON carries with values
// JSON.stringify would silently drop or change, each built with the oracle's answer:
// the paths where a value JSON cannot carry really sits, and otherwise the JSON the
// event must arrive as. The oracle is V8's own JSON.stringify wherever it is exact;
// the generator only records where it planted something JSON cannot carry.
const fc = require('fast-check')

/** Marks what JSON leaves out: an object property whose value is undefined. */
const OMIT = Symbol('omit')

/**
 * A leaf node: `make()` builds the value; `bad(inArray)` tells whether it is a value
 * JSON cannot carry there; `json` is what JSON writes for it (OMIT where it is left
 * out). Other nodes (arrays, objects, toJSON wrappers, getters, cycles) are built by
 * build().
 */
const leaf = (name, make, { bad = false, json, badInArray } = {}) => ({
  name,
  make: () => make(),
  bad: (inArray) => (inArray && badInArray !== undefined ? badInArray : bad),
  json,
})

const cleanScalar = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
)

/** A value JSON carries as itself (−0 is written 0). */
const clean = cleanScalar.map((v) => leaf('clean', () => v, { json: Object.is(v, -0) ? 0 : v }))

/** Strings of any UTF-16 code units: a lone surrogate cannot be carried as UTF-8. */
const anyUnits = fc.string({ unit: 'binary', maxLength: 6 }).map((s) => leaf('units', () => s, { bad: !s.isWellFormed(), json: s }))

const hostile = fc.oneof(
  fc.constant(leaf('function', () => () => 1, { bad: true })),
  fc.constant(leaf('symbol', () => Symbol('x'), { bad: true })),
  fc.bigInt().map((n) => leaf('bigint', () => n, { bad: true })),
  fc.constantFrom(NaN, Infinity, -Infinity).map((n) => leaf(String(n), () => n, { bad: true })),
  fc.constant(leaf('boxed NaN', () => new Number(NaN), { bad: true })),
  fc.constant(leaf('boxed BigInt', () => Object(7n), { bad: true })),
  fc.constant(
    leaf(
      'throwing toJSON',
      () => ({
        toJSON() {
          throw new Error('toJSON boom')
        },
      }),
      { bad: true },
    ),
  ),
)

/** What JSON defines and carries: undefined (left out of objects), Dates, boxes, toJSON. */
const jsonDefined = fc.oneof(
  fc.constant(leaf('undefined', () => undefined, { json: OMIT, badInArray: true })),
  fc.date({ noInvalidDate: true }).map((d) => leaf('Date', () => new Date(d), { json: d.toJSON() })),
  fc.constant(leaf('invalid Date', () => new Date(NaN), { json: null })),
  fc.integer().map((n) => leaf('boxed Number', () => new Number(n), { json: n })),
  fc.string({ maxLength: 8 }).map((s) => leaf('boxed String', () => new String(s), { json: s })),
  fc.boolean().map((b) => leaf('boxed Boolean', () => new Boolean(b), { json: b })),
)

/** A throwing getter in place of the property (arrays get it through an index getter). */
const throwingGetter = fc.constant({
  name: 'throwing getter',
  getter: true,
  bad: () => true,
})

/** A reference back to the object `up` levels above (0 = the holder itself). */
const cycle = fc.nat({ max: 3 }).map((up) => ({ name: 'cycle', cycle: up, bad: () => true }))

/** Leaves whose value has a toJSON of its own. */
const TO_JSON_NAMES = ['Date', 'invalid Date', 'toJSON', 'throwing toJSON']

/** The value tree: leaves, arrays and objects of it, toJSON wrappers around it. */
const { node } = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: clean, weight: 6 },
    { arbitrary: anyUnits, weight: 1 },
    { arbitrary: hostile, weight: 2 },
    { arbitrary: jsonDefined, weight: 2 },
    { arbitrary: throwingGetter, weight: 1 },
    { arbitrary: cycle, weight: 1 },
    { arbitrary: fc.array(tie('node'), { maxLength: 4 }).map((children) => ({ name: 'array', array: true, children, bad: () => false })), weight: 2 },
    {
      arbitrary: fc.array(fc.tuple(fc.string({ maxLength: 6 }), tie('node')), { maxLength: 3 }).map((entries) => ({ name: 'object', entries: dedupe(entries), bad: () => false })),
      weight: 1,
    },
    {
      // JSON calls toJSON once: a Date (or anything with its own toJSON) that a toJSON
      // returns is written as a plain object, so the model leaves those out here.
      arbitrary: tie('node')
        .filter((inner) => !TO_JSON_NAMES.includes(inner.name))
        .map((inner) => ({ name: 'toJSON', toJSON: inner, bad: () => false })),
      weight: 1,
    },
  ),
}))

/** Values the core accepts as a property: mostly what a real caller logs. */
const validNode = fc.oneof(
  { arbitrary: clean, weight: 4 },
  { arbitrary: jsonDefined, weight: 2 },
  { arbitrary: fc.array(clean, { maxLength: 4 }).map((children) => ({ name: 'array', array: true, children, bad: () => false })), weight: 1 },
  { arbitrary: clean.map((inner) => ({ name: 'toJSON', toJSON: inner, bad: () => false })), weight: 1 },
)

function dedupe(entries) {
  const seen = new Set()
  return entries.filter(([k]) => !seen.has(k) && seen.add(k))
}

/**
 * Builds node `n` as the value at `path`. Returns { value, getter?, bad: [paths],
 * json }: bad lists every path under it (its own included) where a value JSON cannot
 * carry sits, and json is meaningful only when bad is empty.
 */
function build(n, path, inArray, ancestors) {
  if (n.getter) return { getter: true, bad: [path], json: undefined }
  if (n.cycle !== undefined) {
    const target = ancestors[Math.max(0, ancestors.length - 1 - n.cycle)]
    return { value: target, bad: [path], json: undefined }
  }
  if (n.toJSON) {
    // toJSON's result sits at the same path, with the same holder.
    const inner = build(n.toJSON, path, inArray, ancestors)
    const value = {}
    Object.defineProperty(value, 'toJSON', {
      value() {
        if (inner.getter) throw new Error('getter boom via toJSON')
        return inner.value
      },
      enumerable: false,
    })
    return { value, bad: inner.bad, json: inner.json }
  }
  if (n.array) {
    const value = []
    const bad = []
    const json = []
    ancestors.push(value)
    n.children.forEach((c, i) => {
      const here = `${path}[${i}]`
      const built = build(c, here, true, ancestors)
      defineOn(value, i, built)
      bad.push(...built.bad)
      json.push(built.json)
    })
    ancestors.pop()
    return { value, bad, json }
  }
  if (n.entries) {
    const value = {}
    const bad = []
    const json = {}
    ancestors.push(value)
    for (const [k, c] of n.entries) {
      const here = `${path}.${k}`
      const built = build(c, here, false, ancestors)
      defineOn(value, k, built)
      bad.push(...built.bad)
      if (built.json !== OMIT) Object.defineProperty(json, k, { value: built.json, enumerable: true, writable: true, configurable: true })
    }
    ancestors.pop()
    return { value, bad, json }
  }
  return { value: n.make(), bad: n.bad(inArray) ? [path] : [], json: n.json }
}

/** Puts a built value (or its throwing getter) on its holder as an own property. */
function defineOn(holder, key, built) {
  if (built.getter) {
    Object.defineProperty(holder, key, {
      get() {
        throw new Error('getter boom')
      },
      enumerable: true,
      configurable: true,
    })
  } else {
    Object.defineProperty(holder, key, { value: built.value, enumerable: true, writable: true, configurable: true })
  }
}

/**
 * An event whose category and action are valid, with optional known fields, and
 * properties from the value tree. Gives { event, bad, expected } where expected is
 * the JSON the event carries (when bad is empty).
 */
const eventCase = fc
  .record({
    properties: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.oneof({ arbitrary: validNode, weight: 5 }, { arbitrary: node, weight: 1 })), { maxLength: 4 }),
    roomId: fc.option(fc.oneof({ arbitrary: fc.string({ maxLength: 8 }).map((s) => leaf('clean', () => s, { json: s })), weight: 5 }, { arbitrary: hostile, weight: 1 }), { nil: undefined }),
    timestamp: fc.option(
      fc.oneof(
        { arbitrary: fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).map((d) => leaf('Date', () => new Date(d), { json: d.toJSON() })), weight: 6 },
        fc.constant(leaf('NaN', () => NaN, { bad: true })),
        fc.constant(leaf('function', () => () => 1, { bad: true })),
      ),
      { nil: undefined },
    ),
    propertiesCycle: fc.nat({ max: 9 }).map((n) => n === 0),
  })
  .map(({ properties, roomId, timestamp, propertiesCycle }) => {
    const event = { category: 'Property Test', action: 'logged' }
    const bad = []
    const expected = { category: 'Property Test', action: 'logged' }
    const root = [event]
    for (const [key, leafNode, path] of [
      ['roomId', roomId, 'roomId'],
      ['timestamp', timestamp, 'timestamp'],
    ]) {
      if (!leafNode) continue
      const built = build(leafNode, path, false, root)
      event[key] = built.value
      bad.push(...built.bad)
      if (built.json !== OMIT) expected[key] = built.json
    }
    const props = {}
    const propsJson = {}
    event.properties = props
    const ancestors = [event, props]
    for (const [k, n] of dedupe(properties)) {
      const here = `properties.${k}`
      const built = build(n, here, false, ancestors)
      defineOn(props, k, built)
      bad.push(...built.bad)
      if (built.json !== OMIT) Object.defineProperty(propsJson, k, { value: built.json, enumerable: true, writable: true, configurable: true })
    }
    if (propertiesCycle) {
      // A cycle through the properties back to the event itself.
      Object.defineProperty(props, '~self-cycle', { value: event, enumerable: true, writable: true, configurable: true })
      bad.push('properties.~self-cycle')
    }
    expected.properties = propsJson
    return { event, bad, expected }
  })

/**
 * Why the core refuses an event whose JSON is `expected` (the fields a refusal may
 * name), or [] if it accepts it: property values must be scalars or arrays of
 * scalars, property names non-empty, the timestamp not null.
 */
function schemaFaults(expected) {
  const faults = []
  const isScalar = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v)
  for (const [k, v] of Object.entries(expected.properties)) {
    if (k === '') faults.push('properties')
    else if (!(isScalar(v) || (Array.isArray(v) && v.every(isScalar)))) faults.push(`properties.${k}`)
  }
  if (expected.timestamp === null) faults.push('timestamp')
  return faults
}

module.exports = { eventCase, schemaFaults, node, build, defineOn, OMIT }
