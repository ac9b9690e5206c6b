import type { AnalyticsEvent, AnalyticsLogger, AppsEngineBridgeOptions, DeliveryError } from '../index'

/** `{ logger }`, where `logger` is null while analytics are switched off. */
export interface AnalyticsController {
  readonly logger: AnalyticsLogger | null
  /**
   * How long, in milliseconds, a room's Chat Session/started or /closed waits for the
   * other paths' reports of the same room before its one event is logged (0 to 60000,
   * default `FACT_DELAY_MS`). Read when the first entry point is wired to the controller.
   */
  readonly factDelayMs?: number
}

/** What `bindSettings` returns. */
export interface SettingsController extends AnalyticsController {
  readonly factDelayMs: number
  /**
   * Stops following the settings, detaches the hooks registered on this controller
   * (registerOmnichannelCallbacks), logs the room facts still waiting for other reports
   * at once, and closes the logger with `options`, delivering what it holds.
   */
  close(options?: import('../index').CloseOptions): Promise<import('../index').DeliveryReport | null>
}

/** The default `factDelayMs`: 2000. */
export declare const FACT_DELAY_MS: number

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
  options?: {
    siteUrl?: string
    onError?: (error: Error & { setting?: string; option?: string; code?: string }) => void
    /** See `AnalyticsController.factDelayMs`; a bad value throws `ERR_INVALID_OPTION`. */
    factDelayMs?: number
  },
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
 * result, so what the hook throws reaches Rocket.Chat as without the patch; Chat
 * Session/started is logged once `onNewRoom` resolves, and not at all when it throws or
 * rejects. Nothing of ours is thrown into Rocket.Chat: a refused event goes to
 * `onError` (default: the console), with `roomId` for a start or a close. A room's start
 * and close are logged once, whichever of the hooks, the Apps (`appsBridge`) and the
 * widget's route report them: pass the same controller to all three.
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
    onError?: (error: (Error & { code?: string; field?: string; roomId?: string }) | DeliveryError) => void
  },
): () => void

/** A path of this package that carries events. */
export type EventPath = 'hook' | 'app' | 'widget'

/** The paths that may carry an event (or one value of its property), each with what carries it there. */
export type EventCarriers = { readonly [path in EventPath]?: string }

/**
 * One owner per event (docs/rocketchat.md): for every catalog event, `'Category/action'`,
 * the paths that may log it; `by` names the property whose value decides, `values` the
 * carriers of each value and `other` those of any other value or none. An event not
 * listed may come from Apps only. Frozen.
 */
export declare const EVENT_OWNERS: {
  readonly [event: string]: EventCarriers | { readonly by: string; readonly values: { readonly [value: string]: EventCarriers }; readonly other: EventCarriers }
}

/** What `appsBridge` returns: the server's `AppAnalyticsBridge.logEvent` delegates to it. */
export interface AppsAnalytics {
  /**
   * Logs `event` for the App `appId`; resolves to the event id (for Chat Session/started
   * and /closed, the id of the room's one event). Rejects with AppsEngineBridge's errors,
   * with `ERR_EVENT_OWNER` for an event the ownership table keeps from Apps,
   * `ERR_INVALID_EVENT` (`field: 'roomId'`) for a start or close without its room, and
   * while switched off with `SNS analytics are switched off (SNS_Analytics_Enabled)`.
   */
  doLogEvent(event: AnalyticsEvent, appId: string): Promise<string>
}

/**
 * The Apps-Engine side of the controller: one `AppsEngineBridge` (with `options`) per
 * logger instance, the ownership table enforced, and Chat Session/started and /closed
 * merged with the hooks' and the widget's reports of the same room.
 */
export declare function appsBridge(controller: AnalyticsController | AnalyticsLogger, options?: AppsEngineBridgeOptions): AppsAnalytics

/** The part of prom-client's `Registry` used here (prom-client's own type fits). */
export interface PromRegistry {
  registerMetric(metric: unknown): void
}

/**
 * Puts the logger's metrics (`rocketchat_sns_analytics_*`) on a prom-client registry
 * (Rocket.Chat's is prom-client's default `register`): every family of
 * `metricDefinitions()`, with the samples of `logger.metricFamilies()` read at scrape
 * time, the same definition `logger.metrics()` renders (docs/operations.md lists
 * them). `client` is the prom-client module (default: `require('prom-client')`).
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
 * The widget route's 200 answer: the event's id (for a close, the id of the room's one
 * Chat Session/closed, whichever path's report it was), or `skipped` for a Chat
 * Session/closed: `'room-close-already-logged'` when it came after the room's close
 * was logged, `'room-close-left-to-the-server'` when, with the server's hooks attached,
 * the server did not report the close here (the room is still open, or closed on
 * another instance, whose hook logs it).
 */
export type WidgetEventResponse = { success: true; id: string } | { success: true; skipped: 'room-close-already-logged' | 'room-close-left-to-the-server' }

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
 * Rocket.Chat's findRoom projects it); the event logged with `logWidgetEvent`, but a
 * Chat Session/closed (close_method `'chat window'` only) merged with the other paths'
 * reports of the room's close, answered once that one event is logged (at most
 * `factDelayMs` later). Failures answer 400 in Rocket.Chat's shape: `error`
 * `invalid-token` or `invalid-room`; `errorType` `error-invalid-event`,
 * `error-event-too-large`, `error-event-owner` (an event the widget does not own),
 * `error-analytics-unavailable` or `error-analytics-disabled`, with `details.field`
 * for a refused event. A visitor token or a room over its cap a minute
 * (`widgetEventsPerVisitor`, `widgetEventsPerRoom`) answers 429 with `API.v1.tooManyRequests`.
 */
export declare function widgetEventRoute(params: {
  API: { v1: { success(result?: object): unknown; failure(result?: string, errorType?: string, stack?: string, error?: { details: unknown }): unknown; tooManyRequests(msg?: string): unknown } }
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

/** The default `graceMs` of handleShutdown: 27000, below Kubernetes' 30 s. */
export declare const DEFAULT_GRACE_MS: number

/**
 * Closes `controller` when the process is asked to stop (SIGTERM and SIGINT by
 * default): what it holds is delivered within `graceMs`; the rest stays in the spool
 * for another instance to adopt, or is reported by id through `onError`. It never ends
 * the process early and never takes the host's own shutdown away: with another
 * listener for the signal (Rocket.Chat's broker, a handler of the host's), ending the
 * process is left to it, and the addon's 'exit' hook keeps delivering until the
 * grace's deadline; without one, the signal is raised again once the logger is closed,
 * so the process ends as Node's default would have. Returns a function that removes
 * its listeners. Throws a TypeError for a controller without `close()` and a
 * RangeError for a `graceMs` that is not a positive whole number.
 */
export declare function handleShutdown(
  controller: SettingsController,
  options?: { graceMs?: number; signals?: NodeJS.Signals[]; onError?: (error: Error) => void },
): () => void
