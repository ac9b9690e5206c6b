'use strict'
// GitHub Actions' expansion of `strategy.matrix` into job combinations, rebuilt from
// its documentation, since no npm package ships GitHub's own (closed) implementation:
// https://docs.github.com/en/actions/using-jobs/using-a-matrix-for-your-jobs
// ("Expanding or adding matrix configurations", "Excluding matrix configurations").
//
//   1. Every key but `include` and `exclude` is a variable; the combinations are the
//      cross product of their values, the first key varying slowest.
//   2. `exclude` entries remove each combination that has all of their pairs.
//   3. "For each object in the include list, the key:value pairs in the object will be
//      added to each of the matrix combinations if none of the key:value pairs
//      overwrite any of the original matrix values. If the object cannot be added to
//      any of the matrix combinations, a new matrix combination will be created
//      instead. Note that the original matrix values will not be overwritten, but
//      added matrix values can be overwritten."
//   A combination an `include` created is not extended by later entries (the
//   documentation's fruit/animal example, checked in the test that uses this).
const { isDeepStrictEqual } = require('node:util')

function cartesian(variables) {
  let combos = Object.keys(variables).length === 0 ? [] : [{}]
  for (const [key, values] of Object.entries(variables)) {
    if (!Array.isArray(values)) throw new Error(`matrix.${key} must be a list, got ${JSON.stringify(values)}`)
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })))
  }
  return combos
}

/** The combinations GitHub runs for `matrix` (an object read from the workflow). */
function expandMatrix(matrix) {
  const { include = [], exclude = [], ...variables } = matrix
  const original = Object.keys(variables)
  const combos = cartesian(variables).filter(
    (c) => !exclude.some((ex) => Object.entries(ex).every(([k, v]) => isDeepStrictEqual(c[k], v))),
  )
  const base = combos.length
  for (const entry of include) {
    let added = false
    for (let i = 0; i < base; i++) {
      const combo = combos[i]
      const overwritesOriginal = Object.entries(entry).some(
        ([k, v]) => original.includes(k) && !isDeepStrictEqual(combo[k], v),
      )
      if (!overwritesOriginal) {
        Object.assign(combo, entry)
        added = true
      }
    }
    if (!added) combos.push({ ...entry })
  }
  return combos
}

/** `${{ matrix.a.b }}` in `text` resolved against one combination. */
function resolveMatrixExpression(text, combo) {
  return String(text).replace(/\$\{\{\s*matrix\.([\w.-]+)\s*\}\}/g, (_, dotted) => {
    const value = dotted.split('.').reduce((v, k) => (v == null ? undefined : v[k]), combo)
    if (value === undefined) throw new Error(`${text}: matrix.${dotted} is not defined in ${JSON.stringify(combo)}`)
    return typeof value === 'object' ? JSON.stringify(value) : String(value)
  })
}

module.exports = { expandMatrix, resolveMatrixExpression }
