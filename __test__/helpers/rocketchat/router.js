'use strict'
// Rocket.Chat's REST router for typed routes (`API.v1.post(path, options, action)`),
// rebuilt for tests: the router (packages/http-router) and the API class live in the
// private monorepo, on no npm package. Faithful to:
//
// - packages/http-router/src/Router.ts@05360738ef253d8ad85a1eb64e311dd94c7037c7 (method()):
//   a body the `body` validator refuses answers 400 `{ success: false, errorType:
//   'invalid-params', error }` (the validator's messages joined by '\n '); then the
//   action; then, when NODE_ENV is 'test' or TEST_MODE is set, the answer's status
//   must have a validator in `response` (a typed route without one THROWS "Missing
//   response validator for endpoint ..."), and a body it refuses (dates coerced to ISO
//   strings first) becomes 400 `{ success: false, errorType: 'error-invalid-body',
//   error: 'Invalid response for endpoint ...' }`.
// - apps/meteor/server/api/ApiClass.ts@b2da25443e9c7472fb23fb68799290b6d67e6cbe:
//   get/post/put/delete register with `{ tags: [], ...options, typed: true }`;
//   `success(result = {}, statusCode = 200)` sets `result.success = true`;
//   `failure(result, errorType, stack, error)` answers 400: an object gets
//   `success: false`, a string becomes `{ success: false, error, stack }` plus
//   `errorType` and `details` (JSON-parsed when it is text) when given; an action that
//   throws answers `failure(e.message, e.error, TEST_MODE ? e.stack : undefined, e)`;
//   `tooManyRequests(msg)` answers 429 `{ success: false, error: msg || 'Too many
//   requests' }`.
//   The action runs with `this.bodyParams`. Rate limits are not applied under
//   TEST_MODE (shouldAddRateLimitToRoute), and not here at all.
// Authentication, query parameters, middlewares and headers are left out: the widget
// route uses none of them.

const isObject = (value) => typeof value === 'object' && value !== null

function coerceDatesToStrings(obj) {
  if (Array.isArray(obj)) return obj.map(coerceDatesToStrings)
  if (obj && typeof obj === 'object') {
    const out = {}
    for (const [key, value] of Object.entries(obj)) out[key] = value instanceof Date ? value.toISOString() : coerceDatesToStrings(value)
    return out
  }
  return obj
}

function success(result = {}, statusCode = 200) {
  if (isObject(result)) result.success = true
  return { statusCode, body: result }
}

function tooManyRequests(msg) {
  return { statusCode: 429, body: { success: false, error: msg || 'Too many requests' } }
}

function failure(result, errorType, stack, error) {
  const response = { statusCode: 400, body: result }
  if (isObject(result)) {
    response.body.success = false
  } else {
    response.body = { success: false, error: result, stack }
    if (errorType) response.body.errorType = errorType
    if (error && typeof error === 'object' && 'details' in error && error.details) {
      try {
        response.body.details = JSON.parse(error.details)
      } catch {
        response.body.details = error.details
      }
    }
  }
  return response
}

/**
 * `{ API, request }`: `API.v1.post` registers a typed route; `request(method, path,
 * body)` runs it as the router does and resolves `{ statusCode, body }` with the body
 * as the client receives it (JSON). `testMode` is TEST_MODE (default on, as
 * Rocket.Chat's API test lanes run).
 */
function createRouter({ testMode = true } = {}) {
  const routes = new Map()
  const register = (method) =>
    function route(subpath, options, action) {
      routes.set(`${method} /v1/${subpath}`, { options: { tags: [], ...options, typed: true }, action })
      return this
    }
  const v1 = { get: register('GET'), post: register('POST'), put: register('PUT'), delete: register('DELETE'), success, failure, tooManyRequests }

  async function request(method, path, bodyParams) {
    const route = routes.get(`${method} ${path}`)
    if (!route) return { statusCode: 404, body: { success: false, error: 'Not found' } }
    const { options, action } = route
    if (typeof options.body === 'function' && !options.body(bodyParams)) {
      return { statusCode: 400, body: { success: false, errorType: 'invalid-params', error: options.body.errors?.map((e) => e.message).join('\n ') } }
    }
    let response
    try {
      response = await action.call({ bodyParams })
    } catch (e) {
      response = failure(e.message, e.error, testMode ? e.stack : undefined, e)
    }
    const { statusCode } = response
    const body = JSON.parse(JSON.stringify(response.body ?? null))
    if (testMode) {
      const validator = options.response?.[statusCode]
      if (!validator && options.typed) {
        throw new Error(`Missing response validator for endpoint ${method} - ${path} with status code ${statusCode}`)
      }
      if (validator && !validator(coerceDatesToStrings(response.body))) {
        const why = validator.errors
          ?.map((error) => `${error.message} (${[error.instancePath, Object.entries(error.params).map(([k, v]) => `${k}: ${v}`).join(', ')].filter(Boolean).join(' - ')})`)
          .join('\n')
        return { statusCode: 400, body: { success: false, errorType: 'error-invalid-body', error: `Invalid response for endpoint ${method} - ${path}. Error: ${why}` } }
      }
    }
    return { statusCode, body }
  }

  return { API: { v1 }, request, routes }
}

module.exports = { createRouter }
