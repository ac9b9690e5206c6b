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
            holds; same message, attributes and group); what SNS accepts leaves the
            store, what it refuses again stays, once
  purge     removes them (--all, or those --id/--code select)
Options:
  --code <code>     only records refused with this AWS code (repeatable)
  --id <id>         only this event (repeatable)
  --topic <arn>     replay: publish to this topic instead of each record's own
  --message-group-id <id>  replay: group of records without one sent to a FIFO topic
  --region <r>, --endpoint <url>, --request-timeout-ms <ms>
                    replay: how to reach SNS (default: the AWS environment, as the
                    logger; credentials come from the AWS default chain)
  --timeout-ms <ms> replay: how long to keep trying (default 60000)
  --all             purge: every record
Exit status: 0 done; 1 replay left records in the store, or an error; 2 usage.`

function fail(message, code = 1) {
  process.stderr.write(`rocketchat-sns-analytics: ${message}\n`)
  return code
}

function typegen(args) {
  const [plan, ...extra] = args
  if (!plan || extra.length > 0) return fail(usage, 2)
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
        'message-group-id': { type: 'string' },
        region: { type: 'string' },
        endpoint: { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'timeout-ms': { type: 'string' },
        all: { type: 'boolean' },
      },
    })
  } catch (e) {
    return fail(`${e.message}\n${usage}`, 2)
  }
  const { values, positionals } = parsed
  const [spoolDir, action, ...extra] = positionals
  if (!spoolDir || !action || extra.length > 0) return fail(usage, 2)
  const selection = { ids: values.id, codes: values.code }
  const replayOnly = ['topic', 'message-group-id', 'region', 'endpoint', 'request-timeout-ms', 'timeout-ms']
  if (action !== 'replay') {
    const misplaced = replayOnly.find((f) => values[f] !== undefined)
    if (misplaced) return fail(`--${misplaced} is an option of replay only\n${usage}`, 2)
  }
  if (action !== 'purge' && values.all) return fail(`--all is an option of purge only\n${usage}`, 2)
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
      const rows = selected(records).map((r) => [
        r.id,
        r.topicArn,
        r.code,
        String(r.attempts),
        iso(r.firstAttemptMs),
        iso(r.lastAttemptMs),
      ])
      const header = ['id', 'topic', 'code', 'attempts', 'first attempt', 'last attempt']
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
      const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
      process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n')
      return 0
    }
    case 'export': {
      const { records, damaged } = await addon.listDeadLetters(spoolDir)
      warnDamaged(damaged)
      for (const r of selected(records)) process.stdout.write(`${JSON.stringify(r)}\n`)
      return 0
    }
    case 'replay': {
      const options = {
        topicArn: values.topic,
        messageGroupId: values['message-group-id'],
        region: values.region,
        endpoint: values.endpoint,
        requestTimeoutMs: number('--request-timeout-ms', values['request-timeout-ms']),
        timeoutMs: number('--timeout-ms', values['timeout-ms']),
      }
      const report = await addon.replayDeadLetters(spoolDir, options, selection)
      warnDamaged(report.damaged)
      const out = [`selected ${report.selected}, delivered ${report.delivered.length}, refused again ${report.refused.length}, not sent ${report.failed.length}; ${report.remaining} left in the store`]
      for (const id of report.delivered) out.push(`delivered  ${id}`)
      for (const r of report.refused) out.push(`refused    ${r.id}  ${r.code}: ${r.reason}`)
      for (const f of report.failed) out.push(`not sent   ${f.id}  ${f.reason}`)
      process.stdout.write(out.join('\n') + '\n')
      return report.refused.length + report.failed.length === 0 ? 0 : 1
    }
    case 'purge': {
      if (!values.all && !values.id && !values.code) {
        return fail(`purge needs --all, or --id/--code to say which records\n${usage}`, 2)
      }
      const report = await addon.purgeDeadLetters(spoolDir, values.all ? {} : selection)
      process.stdout.write(`removed ${report.removed.length}; ${report.remaining} left in the store\n`)
      for (const id of report.removed) process.stdout.write(`removed  ${id}\n`)
      return 0
    }
    default:
      return fail(`unknown dead-letter action ${JSON.stringify(action)}\n${usage}`, 2)
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
    if (e.usage) return fail(`${e.message}\n${usage}`, 2)
    return fail(`${command}: ${e.message}`)
  }
  return fail(usage, 2)
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
