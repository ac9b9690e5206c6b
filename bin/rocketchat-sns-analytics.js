#!/usr/bin/env node
// The package's command line:
//   rocketchat-sns-analytics typegen <plan> > events.d.ts
//   rocketchat-sns-analytics dead-letter <spoolDir> list|export|replay|purge [options]
'use strict'

const path = require('node:path')
const { parseArgs } = require('node:util')
const addon = require(path.join(__dirname, '..'))

const usage = `Usage: rocketchat-sns-analytics typegen <plan> > events.d.ts
       rocketchat-sns-analytics dead-letter <spoolDir> list|export|replay|purge [options]

typegen writes TypeScript types for the events of a tracking plan to standard
output. <plan> is a built-in plan (${addon.builtinPlans().join(', ')}) or the path of a
.yaml, .yml or .json plan file.

dead-letter works on the events SNS refused for good for their own sake, which a
logger with spoolDir keeps in <spoolDir>/dead-letter/. It may run while the logger
does.
  list      one line per record: id, topic, code, attempts, first and last attempt
  export    the records as JSON lines on standard output (the message byte for byte)
  replay    publishes them again as they were sent (same id, so FIFO deduplication
            holds; same message, attributes and group) to --topic, or with
            --to-recorded-topics to each record's own; what SNS accepts leaves the
            store, what it refuses again stays, once
  purge     removes them (--all, or those --id/--code select)
Control characters in what the store holds are printed as \\xNN escapes (and a
backslash as \\\\); export's JSON escapes them as \\u00NN.
Options:
  --code <code>     only records refused with this AWS code (repeatable)
  --id <id>         only this event (repeatable)
  --topic <arn>     replay: publish every selected record to this topic
  --to-recorded-topics
                    replay: publish each record to the topic it records (whoever
                    can write the spool folder can write any topic there: list first)
  --message-group-id <id>  replay: group of records without one sent to a FIFO topic
  --region <r>, --endpoint <url>, --request-timeout-ms <ms>
                    replay: how to reach SNS (default: the AWS environment, as the
                    logger; credentials come from the AWS default chain)
  --timeout-ms <ms> replay: how long to keep trying (default 60000)
  --all             purge: every record
Exit status: 0 done; 1 replay left records in the store, or an error; 2 usage.`

// What a terminal may act on instead of showing: the C0 controls, DEL and the C1
// controls (U+0080-U+009F, which some terminals take as escape sequences too).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * `value` as text that is safe to print: each control character as a \xNN escape
 * and a backslash doubled, so that an escape in the output always means one. Every
 * value that comes from the store, or from an error that may quote it, goes through
 * here: the store is a file anyone who can write the folder can craft.
 */
function printable(value) {
  return String(value)
    .replace(/\\/g, '\\\\')
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/**
 * One JSON line for export: JSON.stringify escapes the C0 controls already; DEL and
 * the C1 controls are escaped as \u00NN as well, so the line reads back unchanged.
 */
function jsonLine(value) {
  const json = JSON.stringify(value).replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return `${json}\n`
}

/** Prints `message` (made printable) and, for a usage error, the usage. */
function fail(message, code = 1, { usage: withUsage = false } = {}) {
  process.stderr.write(`rocketchat-sns-analytics: ${printable(message)}\n${withUsage ? `${usage}\n` : ''}`)
  return code
}

function typegen(args) {
  const [plan, ...extra] = args
  if (!plan || extra.length > 0) return fail('typegen takes one plan', 2, { usage: true })
  try {
    process.stdout.write(addon.generateTypes(plan))
    return 0
  } catch (e) {
    return fail(`typegen: ${e.message}`)
  }
}

const iso = (ms) => {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString()
}

function number(flag, value) {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n)) throw Object.assign(new Error(`${flag} must be a number, got ${value}`), { usage: true })
  return n
}

async function deadLetter(args) {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        code: { type: 'string', multiple: true },
        id: { type: 'string', multiple: true },
        topic: { type: 'string' },
        'to-recorded-topics': { type: 'boolean' },
        'message-group-id': { type: 'string' },
        region: { type: 'string' },
        endpoint: { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'timeout-ms': { type: 'string' },
        all: { type: 'boolean' },
      },
    })
  } catch (e) {
    return fail(e.message, 2, { usage: true })
  }
  const { values, positionals } = parsed
  const [spoolDir, action, ...extra] = positionals
  if (!spoolDir || !action || extra.length > 0) {
    return fail('dead-letter takes a spool folder and an action', 2, { usage: true })
  }
  const selection = { ids: values.id, codes: values.code }
  const replayOnly = ['topic', 'to-recorded-topics', 'message-group-id', 'region', 'endpoint', 'request-timeout-ms', 'timeout-ms']
  if (action !== 'replay') {
    const misplaced = replayOnly.find((f) => values[f] !== undefined)
    if (misplaced) return fail(`--${misplaced} is an option of replay only`, 2, { usage: true })
  }
  if (action !== 'purge' && values.all) return fail('--all is an option of purge only', 2, { usage: true })
  const selected = (records) =>
    records.filter(
      (r) => (!values.id || values.id.includes(r.id)) && (!values.code || values.code.includes(r.code)),
    )
  const warnDamaged = (damaged) => {
    if (damaged > 0) {
      process.stderr.write(`rocketchat-sns-analytics: ${damaged} damaged stretches of the store were skipped\n`)
    }
  }
  switch (action) {
    case 'list': {
      const { records, damaged } = await addon.listDeadLetters(spoolDir)
      warnDamaged(damaged)
      const rows = selected(records).map((r) =>
        [r.id, r.topicArn, r.code, r.attempts, iso(r.firstAttemptMs), iso(r.lastAttemptMs)].map(printable),
      )
      const header = ['id', 'topic', 'code', 'attempts', 'first attempt', 'last attempt']
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
      const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
      process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n')
      return 0
    }
    case 'export': {
      const { records, damaged } = await addon.listDeadLetters(spoolDir)
      warnDamaged(damaged)
      for (const r of selected(records)) process.stdout.write(jsonLine(r))
      return 0
    }
    case 'replay': {
      // Never a default: a record's topic is whatever was written in the folder.
      if ((values.topic === undefined) === (values['to-recorded-topics'] === undefined)) {
        return fail(
          values.topic === undefined
            ? 'replay needs --topic <arn> (every selected record to that topic) or --to-recorded-topics (each record to the topic it records)'
            : 'replay takes --topic <arn> or --to-recorded-topics, not both',
          2,
        )
      }
      const options = {
        topicArn: values.topic,
        toRecordedTopics: values['to-recorded-topics'],
        messageGroupId: values['message-group-id'],
        region: values.region,
        endpoint: values.endpoint,
        requestTimeoutMs: number('--request-timeout-ms', values['request-timeout-ms']),
        timeoutMs: number('--timeout-ms', values['timeout-ms']),
      }
      const report = await addon.replayDeadLetters(spoolDir, options, selection)
      warnDamaged(report.damaged)
      const out = [`selected ${report.selected}, delivered ${report.delivered.length}, refused again ${report.refused.length}, not sent ${report.failed.length}; ${report.remaining} left in the store`]
      for (const id of report.delivered) out.push(`delivered  ${printable(id)}`)
      for (const r of report.refused) out.push(`refused    ${printable(r.id)}  ${printable(r.code)}: ${printable(r.reason)}`)
      for (const f of report.failed) out.push(`not sent   ${printable(f.id)}  ${printable(f.reason)}`)
      process.stdout.write(out.join('\n') + '\n')
      return report.refused.length + report.failed.length === 0 ? 0 : 1
    }
    case 'purge': {
      if (!values.all && !values.id && !values.code) {
        return fail('purge needs --all, or --id/--code to say which records', 2, { usage: true })
      }
      const report = await addon.purgeDeadLetters(spoolDir, values.all ? {} : selection)
      process.stdout.write(`removed ${report.removed.length}; ${report.remaining} left in the store\n`)
      for (const id of report.removed) process.stdout.write(`removed  ${printable(id)}\n`)
      return 0
    }
    default:
      return fail(`unknown dead-letter action "${action}"`, 2, { usage: true })
  }
}

async function main(argv) {
  const [command, ...rest] = argv
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  try {
    if (command === 'typegen') return typegen(rest)
    if (command === 'dead-letter') return await deadLetter(rest)
  } catch (e) {
    if (e.usage) return fail(e.message, 2, { usage: true })
    return fail(`${command}: ${e.message}`)
  }
  return fail(command === undefined ? 'no command' : `unknown command "${command}"`, 2, { usage: true })
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
