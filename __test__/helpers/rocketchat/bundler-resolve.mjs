// A module resolve hook for loading @rocket.chat/rest-typings' published dist in plain
// Node. The package ships ESM with the extension-less and directory imports that
// Rocket.Chat's own build (TypeScript and Meteor's bundler) resolves
// (`export * from './apps'`, `import Ajv from 'ajv/dist/2020'`), which Node's ESM
// resolver refuses. This hook resolves them the way those tools do: `<x>.js`, then
// `<x>/index.js`, and nothing else; a specifier that resolves as it is stays as it is.
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' && error?.code !== 'ERR_UNSUPPORTED_DIR_IMPORT') throw error
    for (const candidate of [`${specifier}.js`, `${specifier}/index.js`]) {
      try {
        return await nextResolve(candidate, context)
      } catch {
        // try the next form
      }
    }
    throw error
  }
}
