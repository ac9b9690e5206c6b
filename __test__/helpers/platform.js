'use strict'
// What the running Node is, for the few tests that cannot run everywhere: each skips
// itself with the reason, so a run on another platform (npm run test:platforms) names
// what it did not check.

/** 'musl' or 'glibc' on Linux (a musl Node's report has no glibc version), else null. */
function libc() {
  if (process.platform !== 'linux') return null
  return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'
}

module.exports = { libc }
