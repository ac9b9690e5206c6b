'use strict'
// @rocket.chat/patch-injection, rebuilt for tests: the package is private to the
// monorepo (packages/patch-injection/package.json@002a684744908d8e07f1e8f6c535f27ea29745b2,
// "private": true) and not on npm. Two generations, each faithful to its files:
//
// - `makeFunction`: packages/patch-injection/src/makeFunction.ts@a8e140c46fc8c600200ac9c1ca77b6f249513baf
//   over withMiddleware (src/midleware.ts@864c00fd78c1ab15ba7aa41f1899b831a94e6432).
//   The newest patch is the outermost; `next()` with no arguments calls the next layer
//   with the same ones, `next(a, b)` replaces them; a patch whose `condition()` is
//   false is passed by with the arguments unchanged; `.patch` returns a remover.
// - `makeFunctionLegacy`: src/makeFunction.ts@7d6ba5d3b92ebfd454fa7b26d419a2f5e92b710e
//   with src/addPatch.ts@9d827bc4287e65373d10fb4b3071986703cb41e7: patches in a Set,
//   the original at the bottom; `next` is the layer below itself, so it must be called
//   with the arguments (`next()` would call it with none); `.patch` returns a remover.
//
// Neither catches: what a layer throws (or a returned promise rejects with) reaches
// the caller.

function withMiddleware(fn) {
  const middlewares = []
  const buildRunner = () =>
    middlewares.reduce(
      (next, middleware) => (ctx) => middleware(ctx, (...args) => next(args.length ? args : ctx)),
      (ctx) => fn(...ctx),
    )
  let runner = buildRunner()
  const use = (middleware) => {
    middlewares.push(middleware)
    runner = buildRunner()
    return () => {
      const index = middlewares.indexOf(middleware)
      if (index > -1) middlewares.splice(index, 1)
      runner = buildRunner()
    }
  }
  const run = (...args) => runner(args)
  return Object.assign(run, { use, fn })
}

function makeFunction(fn) {
  const wrapped = withMiddleware(fn)
  const patch = (patchFn, condition) =>
    wrapped.use((ctx, next) => {
      if (!condition || condition()) return patchFn(next, ...ctx)
      return next(...ctx)
    })
  const originalSignature = () => {
    throw new Error('OriginalSignature of patched functions is not meant to be executed directly.')
  }
  const patchSignature = () => {
    throw new Error('PatchSignature of patched functions is not meant to be executed directly.')
  }
  return Object.assign(wrapped, { patch, originalSignature, patchSignature })
}

function makeFunctionLegacy(fn) {
  const patches = new Set()
  patches.add({ patchFunction: (_next, ...args) => fn(...args) })
  const result = (...args) => {
    let newFn = fn
    for (const patch of patches) {
      if (patch.condition && !patch.condition()) continue
      const nextFn = newFn
      newFn = (...args) => patch.patchFunction(nextFn, ...args)
    }
    return newFn(...args)
  }
  result.patch = (patchFunction, condition) => {
    const patchData = { patchFunction, condition }
    patches.add(patchData)
    return () => {
      patches.delete(patchData)
    }
  }
  return result
}

module.exports = { makeFunction, makeFunctionLegacy, withMiddleware }
