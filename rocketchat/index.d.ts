import type { AnalyticsLogger, DeliveryError } from '../index'

/** `{ logger }`, where `logger` is null while analytics are switched off. */
export interface AnalyticsController {
  readonly logger: AnalyticsLogger | null
}

/** What `bindSettings` returns. */
export interface SettingsController extends AnalyticsController {
  /** Stops following the settings and closes the logger, delivering what it holds. */
  close(): Promise<import('../index').DeliveryReport | null>
}

/** The part of Rocket.Chat's settings registry used here (SettingsRegistry.ts). */
export interface RocketChatSettingsRegistry {
  addGroup(
    id: string,
    cb: (this: {
      section(name: string, cb: (this: { add(id: string, value: unknown, options: object): Promise<void> }) => Promise<void>): Promise<void>
    }) => Promise<void>,
  ): Promise<void>
}

/**
 * Adds the SNS_Analytics group to Rocket.Chat's settings registry, a section at a
 * time, every setting but the switch with `enableQuery` on `SNS_Analytics_Enabled`.
 */
export declare function registerSettings(settingsRegistry: RocketChatSettingsRegistry): Promise<void>

/**
 * The part of Rocket.Chat's cached settings used here
 * (apps/meteor/app/settings/server/CachedSettings.ts).
 */
export interface RocketChatSettings {
  watchMultiple(ids: string[], callback: (values: unknown[]) => void): () => void
}

/**
 * Keeps a logger in step with the `SNS_Analytics_*` settings: none while
 * `SNS_Analytics_Enabled` is off, created when it is turned on, reconfigured on a
 * change (nothing queued lost), closed when it is turned off. A bad value goes to
 * `onError` with `setting`; the logger keeps its last good configuration. The
 * logger's background failures (`DeliveryError`s) go to `onError` too. `siteUrl`
 * defaults to the server's `Site_Url` setting.
 */
export declare function bindSettings(
  settings: RocketChatSettings,
  options?: { siteUrl?: string; onError?: (error: Error & { setting?: string; option?: string; code?: string }) => void },
): SettingsController

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
 * `livechat.closeRoom`, `livechat.afterTakeInquiry`, `livechat:afterReturnRoomAsInquiry`,
 * `livechat.afterForwardChatToAgent`,
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

/** `'livechat/widget-events'`: widget telemetry, apart from livechat/analytics/dashboards/*. */
export declare const WIDGET_ROUTE: string

/** The widget route's body as a JSON Schema for ajv. */
export declare const widgetEventSchema: object

/**
 * The arguments of `API.v1.post(path, options, action)` for the widget's route: the
 * body checked by `validate` (ajv), the visitor authenticated with `findGuest(token)`
 * and `findRoom(token, rid)`, the event logged with `logWidgetEvent`. Failures answer
 * `API.v1.failure('error-...')` (400); an unknown token throws `invalid-token`.
 */
export declare function widgetEventRoute(params: {
  API: { v1: { success(result?: object): unknown; failure(result?: string, errorType?: string): unknown } }
  controller: AnalyticsController | AnalyticsLogger
  validate: (body: unknown) => boolean
  findGuest(token: string): Promise<unknown | null>
  findRoom(token: string, rid?: string): Promise<unknown | null>
  rateLimit?: { numRequestsAllowed: number; intervalTimeInMS: number }
}): [string, { authRequired: false; body: (body: unknown) => boolean; rateLimiterOptions: { numRequestsAllowed: number; intervalTimeInMS: number } }, (this: { bodyParams: any }) => Promise<unknown>]

