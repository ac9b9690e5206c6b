//! The JavaScript types of the options, for `index.d.ts` only: every option is one
//! field here, and its doc comment is its JSDoc. The binding reads the options into
//! the core's serde type, `core::options::Options`, whose conversion applies the
//! defaults and checks.
//!
//! Why two declarations, where LanceDB has one `#[napi(object)]` struct: napi-rs's
//! object conversion ignores unknown names and names no option path in its errors,
//! and the core refuses a misspelt option and names the one at fault; and a napi
//! `string_enum` declares a `const enum`, which a string literal such as
//! `'dropOldest'` does not satisfy, hence the `ts_type` unions. The two lists are kept
//! equal by `__test__/logger.test.js` ("declares exactly the options the core takes").

use std::collections::HashMap;

use napi_derive::napi;

/// AWS credentials given explicitly instead of the AWS default provider chain. An AWS
/// SDK credential object is accepted as it is: its `expiration`, `credentialScope`,
/// `accountId` and `$source` are not used.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read into core::options::Credentials.
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Options of `new AnalyticsLogger(options)`.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read into core::options::Options.
pub struct LoggerOptions {
    /// ARN of the SNS topic to publish to. A name ending in `.fifo` makes it a FIFO
    /// topic: ordered, deduplicated by event id.
    pub topic_arn: String,
    /// The Rocket.Chat site URL. It is the `MessageGroupId` on FIFO topics, so it must
    /// be 1-128 printable ASCII characters.
    pub site_url: String,
    /// AWS region. Default: `AWS_REGION`/`AWS_DEFAULT_REGION`, the AWS profile, then
    /// the region in `topicArn`.
    pub region: Option<String>,
    /// SNS endpoint URL: `https://`, or `http://` on loopback only (`127.0.0.0/8`,
    /// `::1`, `localhost`: a local emulator), since over `http://` the signed requests,
    /// and the session token with them, cross the network in cleartext. Default:
    /// `AWS_ENDPOINT_URL_SNS`, `AWS_ENDPOINT_URL` (or the profile's `endpoint_url`),
    /// then the regional endpoint (`AWS_USE_FIPS_ENDPOINT` and
    /// `AWS_USE_DUALSTACK_ENDPOINT` are honoured).
    pub endpoint: Option<String>,
    /// Default: the AWS default provider chain (environment, profile, web identity,
    /// ECS, instance metadata).
    pub credentials: Option<AwsCredentials>,
    /// SNS `Subject` of every message. Default `'RC'`.
    pub subject: Option<String>,
    /// Added to events that carry no `dialogflowAgentId`.
    pub dialogflow_agent_id: Option<String>,
    /// Events per PublishBatch request, 1-10. Default 10.
    pub max_batch_size: Option<f64>,
    /// Longest an event waits for its batch to fill, in ms (1-3600000). Default 1000.
    pub flush_interval_ms: Option<f64>,
    /// Most events held in memory (queued or in flight). Default 100000.
    pub max_queue_events: Option<f64>,
    /// Most bytes of event bodies held in memory. Default 67108864 (64 MiB).
    pub max_queue_bytes: Option<f64>,
    /// When the queue is full: `'reject'` makes `log()` throw `ERR_QUEUE_FULL`;
    /// `'dropNewest'` (default) drops the new event, `'dropOldest'` the oldest one not
    /// yet sent; both report the dropped ids through `onError`.
    #[napi(ts_type = "'reject' | 'dropNewest' | 'dropOldest'")]
    pub overflow: Option<String>,
    /// Time from an event's first send after which transient failures stop being
    /// retried and it is reported failed, in ms. Default 120000 (inside SNS FIFO's
    /// five-minute deduplication window).
    pub retry_budget_ms: Option<f64>,
    /// Backoff cap of the first retry, in ms; it doubles per retry. Default 100.
    pub retry_initial_backoff_ms: Option<f64>,
    /// Largest backoff between retries, in ms. Default 10000.
    pub retry_max_backoff_ms: Option<f64>,
    /// Time allowed for one HTTP request to SNS, in ms. Default 10000.
    pub request_timeout_ms: Option<f64>,
    /// PublishBatch requests in flight at once on a standard topic, 1-64. Default 8.
    /// FIFO topics always send one at a time, to keep order.
    pub max_concurrent_batches: Option<f64>,
    /// How long `close()` and the process's exit keep delivering what is held before
    /// giving up on it, in ms. Default 5000.
    pub shutdown_timeout_ms: Option<f64>,
    /// The tracking plan events are checked against: a built-in plan
    /// (`'rocketchat-livechat'`, `'chat-messaging'`), the path of a `.yaml`, `.yml` or
    /// `.json` plan file, or a plan object. Default: none. A plan file is read once,
    /// here, and must be a regular file of at most 1 MiB (checked before it is read: a
    /// named pipe or a device is refused); with `RC_SNS_ANALYTICS_PATH_ROOT` set, it
    /// must be inside that folder.
    #[napi(ts_type = "string | TrackingPlanDocument")]
    pub tracking_plan: Option<serde_json::Value>,
    /// What a plan violation does: `'strict'` (default) makes `log()` throw a
    /// `TypeError` with `code: 'ERR_TRACKING_PLAN'` and `violations`; `'warn'`
    /// publishes the event, counts it in `stats().violations` and reports each kind,
    /// event and path once through `onError`; `'off'` does not check.
    #[napi(ts_type = "'strict' | 'warn' | 'off'")]
    pub validation: Option<String>,
    /// One topic per Dialogflow agent: `{ [dialogflowAgentId]: topicArn }`, or the path
    /// of a df_config.json mapping each agent id to its ARN or to an object with
    /// `sns_arn_topic`. An event goes to its agent's topic, else its plan
    /// destination, else `topicArn`. All topics must be in `topicArn`'s region.
    #[napi(ts_type = "string | Record<string, string>")]
    pub agent_topics: Option<serde_json::Value>,
    /// What each Rocket.Chat App may log through `AppsEngineBridge`: `{ [appId]: {
    /// categories: string[], dialogflowAgentIds?: string[] } }`. An App that is not
    /// listed logs nothing (`PERMISSION_DENIED`, `field: 'appId'`); a category not in
    /// its list (`'*'`: every category) is refused with `field: 'category'`, and a
    /// `dialogflowAgentId` not in its list (routing to that agent's topic) with `field:
    /// 'dialogflowAgentId'`. Default: `{}`, no App.
    #[napi(ts_type = "Record<string, { categories: string[]; dialogflowAgentIds?: string[] }>")]
    pub app_access: Option<serde_json::Value>,
    /// The FIFO `MessageGroupId`: `'site'` (default) is `siteUrl`, one ordered stream
    /// per site; `'room'` is `${siteUrl}/${roomId}`, so each conversation stays ordered
    /// while rooms publish in parallel. Events without a `roomId` use the site's group.
    #[napi(ts_type = "'site' | 'room'")]
    pub message_group: Option<String>,
    /// The message body: `'rc'` (default) is the SNS Logger body (`dialogflowAgentId`,
    /// `roomId`, `tabId`, `category`, `action`, `properties`, `eventType`,
    /// `timestamp`); `'ciao'` is the older flat Ciao analytics body (`application`,
    /// `business`, `ciao_deployment`, `event`, `event_detail_1..4`, ...), which needs
    /// `application`, `business` and `deployment`.
    #[napi(ts_type = "'rc' | 'ciao'")]
    pub format: Option<String>,
    /// `format: 'ciao'`: the `application` field, e.g. `'WhatsApp'`.
    pub application: Option<String>,
    /// `format: 'ciao'`: the `business` field, e.g. `'BR'`.
    pub business: Option<String>,
    /// `format: 'ciao'`: the `ciao_deployment` field, e.g. `'brazil-prod'`.
    pub deployment: Option<String>,
    /// `format: 'ciao'`: the `source_component` field. Default `'Rocket.Chat'`.
    pub source_component: Option<String>,
    /// A folder for the disk spool: every accepted event is written there until SNS
    /// has it, so that an outage, a full memory queue, a restart or a crash loses
    /// nothing. Created if missing. Any number of loggers (server instances) may share
    /// it: each writes a locked folder of its own inside it (`instance-<id>/`), a new
    /// one takes over the folder of one that is gone, and a running one adopts such
    /// folders and delivers what they hold. If no folder can be had, the logger runs
    /// from memory and says so once through `onError` (`ERR_SPOOL`). With
    /// `RC_SNS_ANALYTICS_PATH_ROOT` set, it must be inside that folder. Default: none
    /// (memory only).
    pub spool_dir: Option<String>,
    /// Bytes of events the spool may hold, counted as `maxQueueBytes` counts them;
    /// past it `overflow` applies. Default 1073741824 (1 GiB).
    pub max_spool_bytes: Option<f64>,
    /// Longest an accepted event waits before it is written to the spool file, in ms
    /// (1-60000): a crash of the process loses at most this much. Default 50.
    pub spool_sync_ms: Option<f64>,
    /// With `spoolDir`: bytes the dead-letter store (`<spoolDir>/dead-letter/`) may
    /// take. An entry SNS refuses for good for its own sake (a sender fault such as
    /// `InvalidParameter`) is kept there with its message byte for byte, to list and
    /// replay with `npx rocketchat-sns-analytics dead-letter <spoolDir> ...`. Past this
    /// size the oldest records are dropped, reported (`ERR_DEAD_LETTER_FULL`, with
    /// their ids) and counted (`stats().deadLetterDropped`). Default 67108864 (64 MiB).
    pub max_dead_letter_bytes: Option<f64>,
    /// Percent of the limits (`maxQueueEvents`/`maxQueueBytes`, or with `spoolDir`
    /// `maxSpoolBytes`) the Livechat widget's events may hold unsettled; past it the
    /// widget's newest events are dropped, reported by id (`ERR_QUEUE_FULL`, naming
    /// the lane) and counted in `stats().sources.widget`, and no other source's are
    /// (1-90). Default 25.
    pub widget_share_percent: Option<f64>,
    /// Percent of the limits one Rocket.Chat App's events may hold (1-90, at most
    /// `appsSharePercent`). Default 10.
    pub app_share_percent: Option<f64>,
    /// Percent of the limits every App's events together may hold (1-90). With
    /// `widgetSharePercent` it must leave the server's own events at least 10%.
    /// Default 25.
    pub apps_share_percent: Option<f64>,
    /// Widget events one visitor token may send per minute (`logWidgetEvent`); more
    /// throw `RATE_LIMITED` (the route answers 429). Default 60.
    pub widget_events_per_visitor: Option<f64>,
    /// Widget events one room may receive from the widget per minute, whatever the
    /// token. Default 120.
    pub widget_events_per_room: Option<f64>,
    /// Write one line per batch outcome to standard error: topic, message group, the
    /// events' ids, how many were delivered, failed (by code), refused or kept, the
    /// attempts and the time taken; never a message body, an attribute value or a
    /// credential. `RC_SNS_ANALYTICS_DEBUG=1` in the environment switches it on for
    /// every logger. Default `false`.
    pub debug: Option<bool>,
}

/// A tracking plan given in code; the same shape as a plan file.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: read as JSON by the core's plan loader.
pub struct TrackingPlanDocument {
    /// Default: the file's name, else `'inline'`.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Plans this one builds on (built-in names or paths); its own events and
    /// destinations override theirs.
    #[napi(ts_type = "string | string[]")]
    pub extend: Option<String>,
    /// `'Category'` or `'Category/action'` → topic ARN.
    pub destinations: Option<HashMap<String, String>>,
    /// Category → action → definition (`null` for an event without properties).
    #[napi(ts_type = "Record<string, Record<string, PlannedEventDefinition | null>>")]
    pub events: Option<HashMap<String, String>>,
}

/// One event of a tracking plan.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only.
pub struct PlannedEventDefinition {
    pub description: Option<String>,
    /// `'Category/action'` whose properties, eventType and widget flag this event
    /// inherits (its own override them). Naming itself means the base plan's version.
    pub extend: Option<String>,
    /// Allowed `eventType`s. Default `'any'`.
    #[napi(ts_type = "'session' | 'customerAction' | 'any' | Array<'session' | 'customerAction'>")]
    pub event_type: Option<String>,
    /// The Livechat widget may send it.
    pub widget: Option<bool>,
    /// Property name → `'string' | 'integer' | 'number' | 'boolean' | 'timestamp'`,
    /// with `[]` for an array and `?` for optional (`'string[]?'`); a list of enum
    /// values; or `{ type, values, required, nullable, description }`.
    #[napi(ts_type = "Record<string, string | string[] | PlannedPropertyDefinition>")]
    pub properties: Option<HashMap<String, String>>,
}

/// The long form of a planned property.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only.
pub struct PlannedPropertyDefinition {
    /// A type name as in the short form, or `'enum'` with `values`.
    #[napi(js_name = "type")]
    pub kind: Option<String>,
    pub values: Option<Vec<String>>,
    /// Default `true`.
    pub required: Option<bool>,
    /// A required property may be `null`. Default `false`.
    pub nullable: Option<bool>,
    pub description: Option<String>,
}
