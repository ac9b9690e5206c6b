'use strict'
// What the benchmarks share: the event they log and how they summarise.

/**
 * A typical Livechat event, about 280 bytes as JSON, as a server builds it: a fresh
 * object literal per call (the tail measurement builds one per call, as a server
 * does; the other measurements reuse EVENT).
 */
function buildEvent() {
  return {
    category: 'Chat Session',
    action: 'closed',
    roomId: 'be61e543dfe6:wqbFXoeX2kdSZhSyi',
    tabId: 'tab-5f1a2c',
    dialogflowAgentId: 'b5983b72-cac6-4f85-b9d0-be61e543dfe6',
    eventType: 'customerAction',
    properties: { close_method: 'chat window' },
    timestamp: '2022-09-26T17:50:47.225Z',
  }
}

const EVENT = buildEvent()

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The `p`th percentile of numbers sorted ascending (the value at that rank, not interpolated). */
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]

/** Options every benchmark logger shares: a fixed topic, test credentials. */
const BASE_OPTIONS = {
  siteUrl: 'https://chat.example.com',
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
}

module.exports = { EVENT, buildEvent, median, pct, BASE_OPTIONS }
