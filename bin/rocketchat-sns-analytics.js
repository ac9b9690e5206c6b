#!/usr/bin/env node
// The package's command line:
//   rocketchat-sns-analytics typegen <plan> > events.d.ts
//   rocketchat-sns-analytics dead-letter <spoolDir> list|export|replay|purge [options]
'use strict'

const fs = require('node:fs')
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
  --options-file <path>
                    replay: how to reach SNS, as the logger's options say it: a JSON
                    object of region, endpoint, credentials ({ accessKeyId,
                    secretAccessKey, sessionToken? }) and requestTimeoutMs, nothing
                    else. It holds a secret: it must be a regular file (not a link)
                    of yours that only you can read or write (chmod 600), 64 KiB at
                    most
  --region <r>, --endpoint <url>, --request-timeout-ms <ms>
                    replay: how to reach SNS; each overrides the options file's
                    (default: the AWS environment and profile, as the logger)
  --timeout-ms <ms> replay: how long to keep trying (default 60000)
  --all             purge: every record
Credentials come from --options-file, or else from the AWS default chain (the
environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; the profile:
AWS_PROFILE and the shared files; the instance or task role). Never as flags: shell
history and ps would show them.
Exit status: 0 done; 1 replay left records in the store, or an error; 2 usage.`

// What a terminal may act on instead of showing: the C0 controls, DEL and the C1
// controls (U+0080-U+009F, which some terminals take as escape sequences too).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * `value` as text that is safe to print: each control character as a \xNN escape
 * and a backslash doubled, so that an escape in the output always means one. Every
 * value that comes from the store, or from an error that may quote it, goes through
 * here: the store is a file anyone who can write the folder can craft. So does every
 * error, and the secrets of an options file are taken out first (`redacted`).
 */
function printable(value) {
  return redacted(String(value))
    .replace(/\\/g, '\\\\')
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

// The secrets read from an options file (its credentials but the access key id), as
// they are and as a JSON or Rust string quotes them: what is printed never holds them.
// The addon keeps credentials out of its errors; this also covers what it echoes of a
// value of the wrong shape (`"credentials": "<the secret>"`), and everything else.
const secrets = []
const REDACTED = '[redacted]'

function keepSecret(value) {
  if (typeof value === 'number') value = String(value)
  if (typeof value !== 'string' || value === '') return
  for (const form of [value, JSON.stringify(value).slice(1, -1)]) {
    if (!secrets.includes(form)) secrets.push(form)
  }
  // Longest first, so that no secret is left half shown by a shorter one inside it.
  secrets.sort((a, b) => b.length - a.length)
}

/** Every string (and number) under an options file's `credentials`, but accessKeyId. */
function keepSecretsOf(credentials) {
  if (credentials !== null && typeof credentials === 'object') {
    for (const [key, value] of Object.entries(credentials)) {
      if (key !== 'accessKeyId') keepSecretsOf(value)
    }
  } else {
    keepSecret(credentials)
  }
}

function redacted(text) {
  for (const secret of secrets) text = text.split(secret).join(REDACTED)
  return text
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

// What an options file may hold: the part of the logger's options that says how to
// reach SNS. The addon checks their values; the names are checked here, so that a
// replay option (topicArn, timeoutMs...) cannot hide in a file.
const OPTIONS_FILE_KEYS = ['region', 'endpoint', 'credentials', 'requestTimeoutMs']
const OPTIONS_FILE_MAX_BYTES = 64 * 1024

// Flags that would put a secret on the command line, where shell history and `ps`
// keep it: refused, by their name only (the value after them is never printed).
const SECRET_FLAG = /^--(?:aws[-_])?(?:access[-_]key(?:[-_]id)?|secret(?:[-_]access)?(?:[-_]key)?|session[-_]token|credentials?)(?:=|$)/i

/**
 * Who besides the owner may do what with a file of `mode`: 'readable by group and
 * others' (0644), 'readable and writable by group' (0660), ...
 */
function openTo(mode) {
  const verbs = (shift) =>
    [['readable', 4], ['writable', 2], ['executable', 1]]
      .filter(([, bit]) => mode & (bit << shift))
      .map(([verb]) => verb)
      .join(', ')
      .replace(/, ([a-z]+)$/, ' and $1')
  const group = verbs(3)
  const others = verbs(0)
  if (group === others) return `${group} by group and others`
  return [group && `${group} by group`, others && `${others} by others`].filter(Boolean).join(', ')
}

/**
 * The options an options file holds, read only once it is known to be the caller's
 * own secret: a regular file, not a link, owned by this process's user and closed to
 * group and others, 64 KiB at most. Throws an error naming the path and the check.
 */
function readOptionsFile(file) {
  const refuse = (why) => new Error(`the options file ${file} ${why}`)
  let stat
  try {
    stat = fs.lstatSync(file)
  } catch (e) {
    throw refuse(e.code === 'ENOENT' ? 'does not exist' : `cannot be read (${e.code || e.message})`)
  }
  if (stat.isSymbolicLink()) throw refuse('is a symbolic link; give the file itself, a regular file only you can read')
  if (!stat.isFile()) throw refuse('is not a regular file')
  const ownerChecks = typeof process.getuid === 'function' // not on Windows, where modes mean little
  if (ownerChecks) {
    const uid = process.getuid()
    if (stat.uid !== uid) {
      throw refuse(`is owned by uid ${stat.uid}, not by uid ${uid} (this process's user); it holds credentials: use a file of your own`)
    }
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0')
      throw refuse(`is ${openTo(stat.mode)} (mode ${mode}); chmod 600 it: it holds credentials`)
    }
  }
  if (stat.size > OPTIONS_FILE_MAX_BYTES) throw refuse(`is larger than ${OPTIONS_FILE_MAX_BYTES} bytes (64 KiB)`)

  // Opened without following a link and without waiting on a FIFO, then checked to be
  // the very file checked above, in case it was swapped in between.
  let text
  const fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0))
  try {
    const opened = fs.fstatSync(fd)
    if (!opened.isFile() || opened.dev !== stat.dev || opened.ino !== stat.ino) throw refuse('changed while it was being read')
    const buffer = Buffer.alloc(OPTIONS_FILE_MAX_BYTES + 1)
    let length = 0
    for (let n; length < buffer.length && (n = fs.readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n
    if (length > OPTIONS_FILE_MAX_BYTES) throw refuse(`is larger than ${OPTIONS_FILE_MAX_BYTES} bytes (64 KiB)`)
    text = buffer.subarray(0, length).toString('utf8').replace(/^\uFEFF/, '')
  } finally {
    fs.closeSync(fd)
  }

  let options
  try {
    options = JSON.parse(text)
  } catch (e) {
    // Never JSON.parse's message: it quotes the text, secret and all.
    const at = /at position (\d+)/.exec(e.message)
    let where = ''
    if (at) {
      const before = text.slice(0, Number(at[1])).split('\n')
      where = ` (line ${before.length}, column ${before[before.length - 1].length + 1})`
    }
    throw refuse(`is not valid JSON${where}`)
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw refuse('must hold a JSON object: { "region", "endpoint", "credentials", "requestTimeoutMs" }')
  }
  if ('credentials' in options) keepSecretsOf(options.credentials)
  for (const key of Object.keys(options)) {
    if (!OPTIONS_FILE_KEYS.includes(key)) {
      throw refuse(`holds unknown option "${key}": it holds ${OPTIONS_FILE_KEYS.join(', ')} only, as the logger's options name them`)
    }
  }
  return options
}

async function deadLetter(args) {
  const end = args.indexOf('--')
  const secretFlag = (end === -1 ? args : args.slice(0, end)).find((a) => SECRET_FLAG.test(a))
  if (secretFlag) {
    return fail(
      `${secretFlag.split('=')[0]}: credentials are never taken as flags (shell history and ps would keep them); put them in a file given with --options-file <path> (chmod 600), or leave them to the AWS default chain (environment, profile, instance role)`,
      2,
    )
  }
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
        'options-file': { type: 'string' },
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
  const replayOnly = ['topic', 'to-recorded-topics', 'message-group-id', 'options-file', 'region', 'endpoint', 'request-timeout-ms', 'timeout-ms']
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
      const file = values['options-file'] === undefined ? {} : readOptionsFile(values['options-file'])
      const flags = {
        region: values.region,
        endpoint: values.endpoint,
        requestTimeoutMs: number('--request-timeout-ms', values['request-timeout-ms']),
      }
      const options = {
        topicArn: values.topic,
        toRecordedTopics: values['to-recorded-topics'],
        messageGroupId: values['message-group-id'],
        // The file's connection options as the logger takes them; a flag overrides.
        ...file,
        ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
        timeoutMs: number('--timeout-ms', values['timeout-ms']),
      }
      let report
      try {
        report = await addon.replayDeadLetters(spoolDir, options, selection)
      } catch (e) {
        // An option the file gave, refused by the addon: say where it came from.
        const name = typeof e.option === 'string' ? e.option.split(/[.[]/)[0] : undefined
        if (e.code === 'ERR_INVALID_OPTION' && name !== undefined && Object.hasOwn(file, name) && flags[name] === undefined) {
          e.message += ` (in the options file ${values['options-file']})`
        }
        throw e
      }
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
