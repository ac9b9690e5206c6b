'use strict'
// Starts the moto SNS/SQS emulator (installed by scripts/setup-moto.sh) on
// 127.0.0.1 on a free port, and gives AWS SDK clients pointed at it. Nothing here
// talks to AWS.
const { spawn } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')
const fs = require('node:fs')
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'
const { SNSClient, CreateTopicCommand, SubscribeCommand } = require('@aws-sdk/client-sns')
const {
  SQSClient,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  DeleteMessageBatchCommand,
} = require('@aws-sdk/client-sqs')

const ROOT = path.resolve(__dirname, '..', '..')
const MOTO = path.join(ROOT, '.venv-moto', 'bin', 'moto_server')
const REGION = 'us-east-1'
const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' }

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function waitForHttp(url, child, ms = 30000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}`)
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      return
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error(`moto_server did not answer at ${url} within ${ms} ms`)
}

/** Starts moto; resolves to { endpoint, port, sns, sqs, stop() }. */
async function startMoto() {
  if (!fs.existsSync(MOTO)) {
    throw new Error(`${MOTO} is missing: run scripts/setup-moto.sh (npm test does)`)
  }
  const port = await freePort()
  // moto logs every request; a file keeps that off this process's event loop.
  const logPath = path.join(require('node:os').tmpdir(), `moto-${process.pid}-${port}.log`)
  const logFd = fs.openSync(logPath, 'w')
  const child = spawn(MOTO, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', logFd],
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
  })
  fs.closeSync(logFd)
  const endpoint = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${endpoint}/moto-api/`, child)
  } catch (e) {
    child.kill('SIGKILL')
    throw new Error(`${e.message}\n${fs.readFileSync(logPath, 'utf8').slice(-4000)}`)
  }
  const clientOpts = { endpoint, region: REGION, credentials: CREDENTIALS }
  const sns = new SNSClient(clientOpts)
  const sqs = new SQSClient(clientOpts)
  return {
    endpoint,
    port,
    sns,
    sqs,
    async stop() {
      sns.destroy()
      sqs.destroy()
      child.kill('SIGTERM')
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))
      fs.rmSync(logPath, { force: true })
    },
  }
}

let counter = 0
/**
 * Creates a topic (FIFO when fifo is true) and an SQS queue subscribed to it with raw
 * message delivery, so each SQS message is exactly the published SNS message.
 */
async function topicWithQueue(moto, { fifo = false, name, raw = true } = {}) {
  const base = name || `rc-analytics-${process.pid}-${++counter}`
  const suffix = fifo ? '.fifo' : ''
  const topicAttrs = fifo ? { FifoTopic: 'true', ContentBasedDeduplication: 'false' } : {}
  const { TopicArn } = await moto.sns.send(new CreateTopicCommand({ Name: base + suffix, Attributes: topicAttrs }))
  const queueAttrs = fifo ? { FifoQueue: 'true' } : {}
  const { QueueUrl } = await moto.sqs.send(new CreateQueueCommand({ QueueName: base + suffix, Attributes: queueAttrs }))
  const { Attributes } = await moto.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  )
  await moto.sns.send(
    new SubscribeCommand({
      TopicArn,
      Protocol: 'sqs',
      Endpoint: Attributes.QueueArn,
      Attributes: { RawMessageDelivery: raw ? 'true' : 'false' },
    }),
  )
  return { topicArn: TopicArn, queueUrl: QueueUrl }
}

/**
 * Reads every message from the queue until `expected` have arrived (or `timeoutMs`
 * passes), or, without `expected`, until nothing more arrives for `quietMs`, deleting
 * them. Returns [{ body, json, attributes, groupId, dedupId }].
 */
async function drainQueue(moto, queueUrl, { expected = Infinity, quietMs = 1500, timeoutMs = 60000 } = {}) {
  const out = []
  const until = Date.now() + timeoutMs
  let lastNew = Date.now()
  // Short of a finite `expected`, wait until `timeoutMs`: on a loaded machine the first
  // message can take longer than `quietMs`. `quietMs` ends a drain that expects nothing
  // in particular (`expected` left out), once the queue has been quiet that long.
  const quietEnds = expected === Infinity
  while (out.length < expected && Date.now() < until && (!quietEnds || Date.now() - lastNew < quietMs)) {
    const { Messages = [] } = await moto.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    )
    if (Messages.length === 0) {
      await new Promise((r) => setTimeout(r, 50))
      continue
    }
    lastNew = Date.now()
    for (const m of Messages) {
      const attributes = {}
      for (const [k, v] of Object.entries(m.MessageAttributes || {})) attributes[k] = v.StringValue
      out.push({
        body: m.Body,
        json: JSON.parse(m.Body),
        attributes,
        groupId: m.Attributes && m.Attributes.MessageGroupId,
        dedupId: m.Attributes && m.Attributes.MessageDeduplicationId,
      })
    }
    await moto.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    )
  }
  return out
}

module.exports = { startMoto, topicWithQueue, drainQueue, freePort, REGION, CREDENTIALS, ROOT }
