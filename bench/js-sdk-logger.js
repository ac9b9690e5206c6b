'use strict'
// The baseline: an analytics logger written by hand on @aws-sdk/client-sns, the way a
// Rocket.Chat developer would write it. Same payload, same batching (PublishBatch of
// 10, flush interval), same concurrency (8 requests in flight) and a comparable
// retry policy (the SDK's own retries, plus resending entries SNS failed).
const crypto = require('node:crypto')
const { SNSClient, PublishBatchCommand, PublishCommand } = require('@aws-sdk/client-sns')

function body(event, agentId) {
  return JSON.stringify({
    dialogflowAgentId: event.dialogflowAgentId || agentId || '',
    roomId: event.roomId || '',
    tabId: event.tabId || '',
    category: event.category,
    action: event.action,
    properties: event.properties || {},
    eventType: event.eventType || 'session',
    timestamp: new Date(event.timestamp ?? Date.now()).toISOString(),
  })
}

function attributes(id, event) {
  const s = (v) => ({ DataType: 'String', StringValue: v })
  return { eventId: s(id), category: s(event.category), action: s(event.action), eventType: s(event.eventType || 'session') }
}

function client({ endpoint, region, credentials }) {
  return new SNSClient({ endpoint, region, credentials, maxAttempts: 3 })
}

class JsSdkBatchLogger {
  constructor(options) {
    this.options = { maxBatchSize: 10, flushIntervalMs: 1000, maxConcurrentBatches: 8, ...options }
    this.sns = client(options)
    this.fifo = options.topicArn.endsWith('.fifo')
    this.queue = []
    this.inFlight = 0
    this.timer = null
    this.waiters = []
    this.delivered = 0
    this.failed = 0
  }

  log(event) {
    if (typeof event?.category !== 'string' || typeof event?.action !== 'string') throw new TypeError('category and action are required')
    const id = crypto.randomUUID()
    this.queue.push({ id, event, body: body(event, this.options.dialogflowAgentId) })
    this.pump()
    if (this.queue.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null
        this.pump(true)
      }, this.options.flushIntervalMs)
    }
    return id
  }

  pump(force = false) {
    while (this.inFlight < this.options.maxConcurrentBatches && (this.queue.length >= this.options.maxBatchSize || (force && this.queue.length > 0))) {
      this.send(this.queue.splice(0, this.options.maxBatchSize), 0)
    }
    this.settle()
  }

  async send(batch, attempt) {
    this.inFlight++
    try {
      const out = await this.sns.send(
        new PublishBatchCommand({
          TopicArn: this.options.topicArn,
          PublishBatchRequestEntries: batch.map((e) => ({
            Id: e.id,
            Message: e.body,
            Subject: 'RC',
            MessageAttributes: attributes(e.id, e.event),
            ...(this.fifo ? { MessageGroupId: this.options.siteUrl, MessageDeduplicationId: e.id } : {}),
          })),
        }),
      )
      this.delivered += (out.Successful || []).length
      const retry = (out.Failed || []).filter((f) => !f.SenderFault).map((f) => batch.find((e) => e.id === f.Id))
      this.failed += (out.Failed || []).filter((f) => f.SenderFault).length
      if (retry.length > 0 && attempt < 5) {
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt))
        this.inFlight--
        return this.send(retry, attempt + 1)
      }
      this.failed += retry.length
    } catch {
      this.failed += batch.length
    }
    this.inFlight--
    this.pump(this.waiters.length > 0)
  }

  settle() {
    if (this.queue.length === 0 && this.inFlight === 0) {
      for (const w of this.waiters.splice(0)) w()
    }
  }

  flush() {
    return new Promise((resolve) => {
      this.waiters.push(resolve)
      this.pump(true)
    })
  }

  close() {
    clearTimeout(this.timer)
    return this.flush()
  }
}

/** The simplest thing: one Publish per event, as the SNS examples show. */
class JsSdkPublishLogger {
  constructor(options) {
    this.options = options
    this.sns = client(options)
    this.fifo = options.topicArn.endsWith('.fifo')
    this.pending = new Set()
    this.delivered = 0
    this.failed = 0
  }

  log(event) {
    if (typeof event?.category !== 'string' || typeof event?.action !== 'string') throw new TypeError('category and action are required')
    const id = crypto.randomUUID()
    const p = this.sns
      .send(
        new PublishCommand({
          TopicArn: this.options.topicArn,
          Message: body(event, this.options.dialogflowAgentId),
          Subject: 'RC',
          MessageAttributes: attributes(id, event),
          ...(this.fifo ? { MessageGroupId: this.options.siteUrl, MessageDeduplicationId: id } : {}),
        }),
      )
      .then(
        () => this.delivered++,
        () => this.failed++,
      )
      .finally(() => this.pending.delete(p))
    this.pending.add(p)
    return id
  }

  async flush() {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }

  close() {
    return this.flush()
  }
}

module.exports = { JsSdkBatchLogger, JsSdkPublishLogger }
