import type { AnalyticsLogger, DeliveryError } from '../index'

/** `{ logger }`, where `logger` is null while analytics are switched off. */
export interface AnalyticsController {
  readonly logger: AnalyticsLogger | null
}

/** What `bindSettings` returns. */
export interface SettingsController extends AnalyticsController {
  /**
   * Stops following the settings, detaches the hooks registered on this controller
   * (registerOmnichannelCallbacks) and closes the logger, delivering what it holds.
   */
  close(): Promise<import('../index').DeliveryReport | null>
}

/** The part of Rocket.Chat's settings registry used here (apps/meteor/server/settings/SettingsRegistry.ts). */
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
 * (apps/meteor/server/settings/CachedSettings.ts).
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
 * The part of Rocket.Chat's `callbacks` used here
 * (apps/meteor/server/lib/callbacks/callbacksBase.ts@4e43840098dd6bb55f16397d277619dd276035df):
 * `add(hook, callback, priority, id)`, which returns a remover (before that file, it
 * returned nothing and `remove(hook, id)` took a callback off), and `priority.LOW`.
 */
export interface RocketChatCallbacks {
  add(hook: string, callback: (item: any, constant?: any) => unknown, priority?: number, id?: string): (() => void) | void
  remove(hook: string, id: string): void
  readonly priority: { readonly LOW: number }
}

/**
 * A makeFunction hook of @rocket.chat/patch-injection
 * (packages/patch-injection/src/makeFunction.ts@a8e140c46fc8c600200ac9c1ca77b6f249513baf):
 * `patch(fn, condition?)` wraps it and returns a remover.
 */
export interface RocketChatPatchableHook {
  patch(patch: (next: (...args: any[]) => any, ...args: any[]) => any, condition?: () => boolean): () => void
}

/**
 * Logs the catalog's Chat Session and Agent Transfer events from Rocket.Chat's
 * omnichannel hooks: the callbacks `livechat.closeRoom`,
 * `livechat:afterReturnRoomAsInquiry`, `livechat.afterForwardChatToAgent` and
 * `livechat.afterForwardChatToDepartment`; and the makeFunction hooks `onNewRoom`
 * and `afterTakeInquiry` (apps/meteor/server/lib/omnichannel/hooks.ts), patched when
 * passed, or on a server from before them (not passed) the callbacks
 * `livechat.newRoom` and `livechat.afterTakeInquiry`. Payloads are handed on
 * unchanged; a patch calls `next` once with the same arguments and returns its
 * result, so what the hook throws reaches Rocket.Chat as without the patch; nothing
 * of ours is thrown into Rocket.Chat: a refused event goes to `onError` (default: the
 * console). A visitor's close is logged once, whether the hook or the widget's route
 * sees it first: pass the same controller to both.
 *
 * Returns a function that detaches every callback and patch added; `close()` of the
 * controller `bindSettings` returned calls it.
 */
export declare function registerOmnichannelCallbacks(
  callbacks: RocketChatCallbacks,
  controller: AnalyticsController | AnalyticsLogger,
  options?: {
    /** Rocket.Chat's `onNewRoom(room)` hook. */
    onNewRoom?: RocketChatPatchableHook | null
    /** Rocket.Chat's `afterTakeInquiry({ inquiry, room, agent })` hook. */
    afterTakeInquiry?: RocketChatPatchableHook | null
    onError?: (error: Error | DeliveryError) => void
  },
): () => void

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

/** The widget's route path: widget telemetry, apart from livechat/analytics/dashboards/*. */
export declare const WIDGET_ROUTE: 'livechat/widget-events'

/** The widget route's body as a JSON Schema. */
export declare const widgetEventSchema: object

/** The widget route's 200 answer as a JSON Schema. */
export declare const widgetEventResponseSchema: object

/** The widget route's body. */
export interface WidgetEventBody {
  token: string
  rid: string
  tabId?: string
  category: string
  action: string
  properties?: Record<string, unknown>
}

/**
 * The widget route's 200 answer: the event's id, or `skipped` when it was a Chat
 * Session/closed for a room whose close is already logged.
 */
export type WidgetEventResponse = { success: true; id: string } | { success: true; skipped: 'room-close-already-logged' }

/** Rocket.Chat's 400 answer (`validateBadRequestErrorResponse` of @rocket.chat/rest-typings). */
export interface BadRequestErrorResponse {
  success: false
  error?: string
  errorType?: string
  stack?: string
  details?: string | object | unknown[]
}

/**
 * The route as `ExtractRoutesFromAPI` (apps/meteor/server/api/ApiClass.ts) gives it,
 * for `declare module '@rocket.chat/rest-typings' { interface Endpoints extends
 * WidgetEventsEndpoints {} }`.
 */
export type WidgetEventsEndpoints = {
  '/v1/livechat/widget-events': { POST: (params: WidgetEventBody) => WidgetEventResponse }
}

/**
 * The arguments of `API.v1.post(path, options, action)` for the widget's route: the
 * body and the 200 answer checked with Rocket.Chat's `ajv`, the 400 answer with its
 * `validateBadRequestErrorResponse` (both from @rocket.chat/rest-typings), so the route
 * passes the router's TEST_MODE response check; the visitor authenticated with
 * `findGuest(token)` and `findRoom(token, rid)` (the room must carry `open`, as
 * Rocket.Chat's findRoom projects it); the event logged with `logWidgetEvent`.
 * Failures answer 400 in Rocket.Chat's shape: `error` `invalid-token` or
 * `invalid-room`; `errorType` `error-invalid-event`, `error-event-too-large`,
 * `error-analytics-unavailable` or `error-analytics-disabled`, with `details.field`
 * for a refused event.
 */
export declare function widgetEventRoute(params: {
  API: { v1: { success(result?: object): unknown; failure(result?: string, errorType?: string, stack?: string, error?: { details: unknown }): unknown } }
  controller: AnalyticsController | AnalyticsLogger
  /** Rocket.Chat's ajv instance: `import { ajv } from '@rocket.chat/rest-typings'`. */
  ajv: { compile<T = unknown>(schema: object): import('ajv').ValidateFunction<T> }
  /** `import { validateBadRequestErrorResponse } from '@rocket.chat/rest-typings'`. */
  validateBadRequestErrorResponse: import('ajv').ValidateFunction<any>
  findGuest(token: string): Promise<unknown | null>
  findRoom(token: string, rid?: string): Promise<{ _id: string; open?: boolean } | null>
  rateLimit?: { numRequestsAllowed: number; intervalTimeInMS: number }
}): [
  typeof WIDGET_ROUTE,
  {
    authRequired: false
    body: import('ajv').ValidateFunction<WidgetEventBody>
    response: { 200: import('ajv').ValidateFunction<WidgetEventResponse>; 400: import('ajv').ValidateFunction<BadRequestErrorResponse> }
    rateLimiterOptions: { numRequestsAllowed: number; intervalTimeInMS: number }
  },
  (this: { bodyParams: WidgetEventBody }) => Promise<unknown>,
]
