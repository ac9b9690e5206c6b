import type { AnalyticsLogger, DeliveryError } from '../index'

/** `{ logger }`, where `logger` is null while analytics are switched off. */
export interface AnalyticsController {
  readonly logger: AnalyticsLogger | null
}

/**
 * The part of Rocket.Chat's `callbacks` (apps/meteor/lib/callbacks.ts) used here:
 * `add(hook, callback, priority, id)` and `priority.LOW`.
 */
export interface RocketChatCallbacks {
  add(hook: string, callback: (item: any, constant?: any) => unknown, priority?: number, id?: string): void
  readonly priority: { readonly LOW: number }
}

/**
 * Registers on Rocket.Chat's omnichannel hooks (`livechat.newRoom`,
 * `livechat.closeRoom`, `livechat.afterTakeInquiry`, `livechat.afterForwardChatToAgent`,
 * `livechat.afterForwardChatToDepartment`) and logs the catalog's Chat Session and
 * Agent Transfer events. Payloads are handed on unchanged; nothing is thrown into
 * Rocket.Chat: a refused event goes to `onError` (default: the console).
 */
export declare function registerOmnichannelCallbacks(
  callbacks: RocketChatCallbacks,
  controller: AnalyticsController | AnalyticsLogger,
  options?: { onError?: (error: Error | DeliveryError) => void },
): void

/** The part of prom-client's `Registry` used here (prom-client's own type fits). */
export interface PromRegistry {
  registerMetric(metric: unknown): void
}

/**
 * Puts the logger's counters and gauges (`rocketchat_sns_analytics_*`) on a
 * prom-client registry (Rocket.Chat's is prom-client's default `register`), read from
 * `stats()` at scrape time, with per-app counts labelled `app` and `result`. `client`
 * is the prom-client module (default: `require('prom-client')`).
 */
export declare function registerPrometheusMetrics(
  source: AnalyticsController | AnalyticsLogger,
  registry: PromRegistry,
  client?: unknown,
): void
