#!/usr/bin/env node
// The package's command line. One command for now:
//   rocketchat-sns-analytics typegen <plan> > events.d.ts
'use strict'

const path = require('node:path')
const { generateTypes, builtinPlans } = require(path.join(__dirname, '..'))

const usage = `Usage: rocketchat-sns-analytics typegen <plan> > events.d.ts

Writes TypeScript types for the events of a tracking plan to standard output.
<plan> is a built-in plan (${builtinPlans().join(', ')}) or the path of a
.yaml, .yml or .json plan file.`

function main(argv) {
  const [command, plan, ...extra] = argv
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  if (command !== 'typegen' || !plan || extra.length > 0) {
    process.stderr.write(`${usage}\n`)
    return 2
  }
  try {
    process.stdout.write(generateTypes(plan))
    return 0
  } catch (e) {
    process.stderr.write(`rocketchat-sns-analytics typegen: ${e.message}\n`)
    return 1
  }
}

process.exitCode = main(process.argv.slice(2))
