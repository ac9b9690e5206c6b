//! Reading one event: the JSON text of the caller's object, checked field by field in
//! a single pass into a [`ParsedEvent`] that borrows from that text, and the queued
//! form it becomes ([`EncodedEvent`]). Runs on the caller's thread inside `log()`, so
//! it allocates little. What happens in between (plan check, routing, body format) is
//! `encode/`'s business.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use chrono::DateTime;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use uuid::Uuid;

use crate::core::error::InvalidEvent;

mod scan;
mod timestamp;

pub(crate) use timestamp::parse_iso_millis;
pub use timestamp::{format_timestamp, write_timestamp, ISO_LEN as TIMESTAMP_LEN};

/// SNS's limit for one message, body and message attributes together.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// Latest timestamp accepted: 9999-12-31T23:59:59.999Z, the last ISO-8601 four-digit year.
pub(crate) const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Names of the message attributes that mirror the event, in the order they are sent.
pub const ATTRIBUTE_NAMES: [&str; 4] = ["eventId", "category", "action", "eventType"];
/// The attribute naming the Rocket.Chat App that logged an event (bridge only).
pub const APP_ATTRIBUTE: &str = "appId";
/// SNS message attribute data type used for every attribute.
pub const ATTRIBUTE_TYPE: &str = "String";

/// Who caused the event: the visitor (`customerAction`) or anything else (`session`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    CustomerAction,
    Session,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CustomerAction => "customerAction",
            EventType::Session => "session",
        }
    }
}

/// Who logged an event: the lane of the limits it is counted in (`delivery/sources.rs`).
/// An App's event names its App; the widget's are marked when the widget route logs
/// them; every other event is the server's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source<'a> {
    Server,
    Widget,
    App(&'a str),
}

impl Source<'_> {
    /// The source as a key that outlives the event.
    pub fn to_key(self) -> SourceKey {
        match self {
            Source::Server => SourceKey::Server,
            Source::Widget => SourceKey::Widget,
            Source::App(app) => SourceKey::App(app.into()),
        }
    }
}

/// A [`Source`] that owns its App id: for events whose lane must be known after the
/// event itself is gone (on disk only, or in a request).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceKey {
    Server,
    Widget,
    App(Box<str>),
}

impl SourceKey {
    pub fn as_source(&self) -> Source<'_> {
        match self {
            SourceKey::Server => Source::Server,
            SourceKey::Widget => Source::Widget,
            SourceKey::App(app) => Source::App(app),
        }
    }
}

/// An event that passed validation, held as the SNS message it becomes: the one form
/// an event takes from `log()` to the request. `log()` writes it on the caller's
/// thread; the channel carries it to the delivery loop, which queues it as it is. It
/// keeps only what the request needs, and its three texts (body, category, action) in
/// one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub id: Uuid,
    /// The JSON message body, exactly as published, then the category, then the
    /// action.
    text: String,
    /// u32, not usize: a queued event is in every lane's queue, and 8 bytes less per
    /// event keeps a million of them within the memory they took before the lanes
    /// became `VecDeque`s (`docs/performance.md`). A JavaScript string's UTF-8 is far
    /// below 4 GiB.
    body_len: u32,
    category_len: u32,
    pub event_type: EventType,
    /// Index of its topic in the logger's topic table (see `route.rs`).
    pub topic: u16,
    /// Its own FIFO MessageGroupId (`messageGroup: 'room'`); `None` is the site's group.
    pub group: Option<Box<str>>,
    /// The Rocket.Chat App that logged it through the Apps-Engine bridge: the `appId`
    /// message attribute.
    pub app_id: Option<Box<str>>,
    /// Logged by the Livechat widget's route: counted in the widget's lane.
    pub widget: bool,
}

impl EncodedEvent {
    /// The event with the body `body` (any spare capacity it has takes the category
    /// and the action, so that the three usually cost one allocation).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: Uuid,
        mut body: String,
        category: &str,
        action: &str,
        event_type: EventType,
        topic: u16,
        group: Option<Box<str>>,
        app_id: Option<Box<str>>,
    ) -> Self {
        let body_len = body.len() as u32;
        body.reserve(category.len() + action.len());
        body.push_str(category);
        body.push_str(action);
        EncodedEvent {
            id,
            text: body,
            body_len,
            category_len: category.len() as u32,
            event_type,
            topic,
            group,
            app_id,
            widget: false,
        }
    }

    /// The event, marked as the Livechat widget's when `widget` says so.
    pub fn from_widget(mut self, widget: bool) -> Self {
        self.widget = widget;
        self
    }

    /// The lane this event is counted in.
    pub fn source(&self) -> Source<'_> {
        match (&self.app_id, self.widget) {
            (Some(app), _) => Source::App(app),
            (None, true) => Source::Widget,
            (None, false) => Source::Server,
        }
    }

    /// The JSON message body, exactly as published.
    pub fn body(&self) -> &str {
        &self.text[..self.body_len as usize]
    }

    pub fn category(&self) -> &str {
        let start = self.body_len as usize;
        &self.text[start..start + self.category_len as usize]
    }

    pub fn action(&self) -> &str {
        &self.text[(self.body_len + self.category_len) as usize..]
    }

    /// Size SNS counts against [`MAX_MESSAGE_BYTES`]: the body plus each message
    /// attribute's name, data type and value.
    pub fn message_bytes(&self) -> usize {
        message_bytes_of(self.text.len(), self.event_type, self.app_id.as_deref())
    }

    /// Heap bytes this event holds while queued, for `maxQueueBytes`.
    pub fn queued_bytes(&self) -> usize {
        queued_bytes_of(
            self.text.len(),
            self.group.as_deref(),
            self.app_id.as_deref(),
        )
    }

    pub fn id_string(&self) -> String {
        self.id.hyphenated().to_string()
    }
}

/// [`EncodedEvent::message_bytes`] of an event whose texts (body, category, action)
/// are `texts_len` bytes long: the body plus each message attribute's name, data type
/// and value (the category and the action are attribute values).
pub fn message_bytes_of(texts_len: usize, event_type: EventType, app_id: Option<&str>) -> usize {
    const FIXED: usize = {
        let mut n = 0;
        let mut i = 0;
        while i < ATTRIBUTE_NAMES.len() {
            n += ATTRIBUTE_NAMES[i].len() + ATTRIBUTE_TYPE.len();
            i += 1;
        }
        n + 36 // the hyphenated event id
    };
    FIXED
        + texts_len
        + event_type.as_str().len()
        + app_id.map_or(0, |a| APP_ATTRIBUTE.len() + ATTRIBUTE_TYPE.len() + a.len())
}

/// [`EncodedEvent::queued_bytes`] of an event whose texts are `texts_len` bytes long.
pub fn queued_bytes_of(texts_len: usize, group: Option<&str>, app_id: Option<&str>) -> usize {
    texts_len + group.map_or(0, str::len) + app_id.map_or(0, str::len)
}

/// The top-level keys `log()` accepts; anything else is a mistake worth naming.
pub const EVENT_KEYS: [&str; 8] = [
    "category",
    "action",
    "properties",
    "roomId",
    "tabId",
    "dialogflowAgentId",
    "eventType",
    "timestamp",
];

/// What a property value may be, in the words of the error that refuses one.
const PROPERTY_VALUE_EXPECTED: &str =
    "must be a string, number, boolean, null or an array of those";
/// What `properties` may be, likewise.
const PROPERTIES_EXPECTED: &str =
    "must be an object of string, number, boolean or null values (or arrays of them)";
/// What `timestamp` may be, likewise.
const TIMESTAMP_EXPECTED: &str = "must be a Date, an ISO-8601 string or epoch milliseconds";

/// The error for a top-level key that is not an event field.
fn unknown_field(key: &str) -> InvalidEvent {
    InvalidEvent::new(
        "event",
        format!(
            "has an unknown field `{key}`; the fields are {}",
            EVENT_KEYS.join(", ")
        ),
    )
}

/// A value the binding refused before `JSON.stringify` could drop or change it
/// (`src/binding/event_json.js` finds them): where it sits and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossyValue {
    /// `properties.f`, `properties.tags[2]`, or the root's own name (`event`).
    pub path: String,
    /// The top-level key it sits under; `None` for the root.
    pub field: Option<String>,
    /// 0 for the root, 1 for a top-level value, 2 for a property's value, and so on.
    pub level: u32,
    /// Whether it is an array element.
    pub in_array: bool,
    pub problem: ValueProblem,
}

/// What is wrong with a [`LossyValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueProblem {
    /// A value JSON cannot carry, named as the error ends: `a function`, `NaN`,
    /// `a circular reference to properties`.
    Unrepresentable(String),
    /// A whole reason, e.g. `cannot be read: its getter threw Error: boom`.
    Unreadable(String),
}

impl LossyValue {
    /// The error `log()` throws for it, phrased as the field's own check would.
    pub fn into_invalid_event(self) -> InvalidEvent {
        let field = self.field.as_deref();
        if let Some(key) = field.filter(|key| !EVENT_KEYS.contains(key)) {
            return unknown_field(key);
        }
        let reason = match self.problem {
            ValueProblem::Unreadable(reason) => reason,
            ValueProblem::Unrepresentable(got) => {
                let expected = match (field, self.level, self.in_array) {
                    (None, _, _) => "must be a plain object",
                    (Some("properties"), 1, _) => PROPERTIES_EXPECTED,
                    (Some("properties"), 2, _) => PROPERTY_VALUE_EXPECTED,
                    (Some("properties"), 3, true) => "must be a string, number, boolean or null",
                    (Some("timestamp"), 1, _) => TIMESTAMP_EXPECTED,
                    (Some(_), 1, _) => "must be a string",
                    _ => "must be a string, number, boolean, null, array or object",
                };
                format!("{expected}, got {got}")
            }
        };
        InvalidEvent::new(self.path, reason)
    }
}

/// One event, checked field by field, borrowing from the caller's JSON text.
#[derive(Debug)]
pub struct ParsedEvent<'a> {
    pub category: Cow<'a, str>,
    pub action: Cow<'a, str>,
    /// `''` when absent or null.
    pub room_id: Cow<'a, str>,
    pub tab_id: Cow<'a, str>,
    /// The event's own agent id; `None` when absent, null or empty.
    pub agent_id: Option<Cow<'a, str>>,
    pub event_type: EventType,
    pub timestamp_ms: i64,
    /// In the caller's order; names are non-empty and unique, values are scalars or
    /// arrays of scalars.
    pub properties: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// The event's fields, read in one pass over the JSON text. `None` means absent; an
/// explicit `null` is kept as [`Value::Null`], because an invalid `Date` (which
/// JSON.stringify writes as null) must not pass as "now".
#[derive(Default)]
struct EventFields<'a> {
    category: Option<Value<'a>>,
    action: Option<Value<'a>>,
    properties: Option<Value<'a>>,
    room_id: Option<Value<'a>>,
    tab_id: Option<Value<'a>>,
    dialogflow_agent_id: Option<Value<'a>>,
    event_type: Option<Value<'a>>,
    timestamp: Option<Value<'a>>,
    /// The first key that is not an event field.
    unknown: Option<String>,
}

/// A map key, borrowed from the JSON text unless it has escapes. (serde's own
/// `Cow<str>` always allocates.)
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(Key(s)),
            other => Err(de::Error::custom(format!(
                "expected a string key, got {}",
                other.kind()
            ))),
        }
    }
}

struct EventFieldsVisitor;

impl<'de> Visitor<'de> for EventFieldsVisitor {
    type Value = EventFields<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = EventFields::default();
        while let Some(Key(key)) = map.next_key()? {
            let slot = match key.as_ref() {
                "category" => &mut fields.category,
                "action" => &mut fields.action,
                "properties" => &mut fields.properties,
                "roomId" => &mut fields.room_id,
                "tabId" => &mut fields.tab_id,
                "dialogflowAgentId" => &mut fields.dialogflow_agent_id,
                "eventType" => &mut fields.event_type,
                "timestamp" => &mut fields.timestamp,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    fields.unknown.get_or_insert_with(|| key.into_owned());
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(fields)
    }
}

impl<'de> Deserialize<'de> for EventFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventFieldsVisitor)
    }
}

/// One JSON value, borrowing its strings from the JSON text where it can. Objects keep
/// their entries in the caller's order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Num(serde_json::Number),
    Bool(bool),
    Null,
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
    Array(Vec<Value<'a>>),
}

impl Value<'_> {
    /// How an error message names the value's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Num(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "null",
            Value::Object(_) => "an object",
            Value::Array(_) => "an array",
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Value::Object(_) | Value::Array(_))
    }

    /// Appends the value as JSON.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Value::Str(s) => write_json_str(out, s),
            Value::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Null => out.push_str("null"),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Value::Object(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_str(out, k);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Value::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Num)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some((Key(k), v)) = map.next_entry::<Key<'de>, Value<'de>>()? {
            entries.push((k, v));
        }
        Ok(Value::Object(entries))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element::<Value<'de>>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A required, non-empty string field.
fn required_str<'a>(value: Option<Value<'a>>, field: &str) -> Result<Cow<'a, str>, InvalidEvent> {
    match value {
        None => Err(InvalidEvent::new(field, "is required (a non-empty string)")),
        Some(Value::Str(s)) if s.trim().is_empty() => Err(InvalidEvent::new(
            field,
            "must be a non-empty string, got an empty one",
        )),
        Some(Value::Str(s)) => Ok(s),
        Some(other) => Err(InvalidEvent::new(
            field,
            format!("must be a non-empty string, got {}", other.kind()),
        )),
    }
}

/// An optional string field: absent, `null` and `undefined` mean "unknown".
fn optional_str<'a>(
    value: Option<Value<'a>>,
    field: &str,
) -> Result<Option<Cow<'a, str>>, InvalidEvent> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(other) => Err(InvalidEvent::new(
            field,
            format!("must be a string, got {}", other.kind()),
        )),
    }
}

fn event_type(value: Option<Value<'_>>) -> Result<EventType, InvalidEvent> {
    match optional_str(value, "eventType")?.as_deref() {
        None | Some("session") => Ok(EventType::Session),
        Some("customerAction") => Ok(EventType::CustomerAction),
        Some(other) => Err(InvalidEvent::new(
            "eventType",
            format!("must be 'customerAction' or 'session', got {other:?}"),
        )),
    }
}

/// Epoch milliseconds of a timestamp given as an ISO-8601 string or whole epoch
/// milliseconds; `Err` says what is wrong with it.
pub(crate) fn timestamp_value_ms(value: &Value<'_>) -> Result<i64, String> {
    let ms = match value {
        // The form Date.toJSON writes, by hand; anything else, chrono.
        Value::Str(s) => match parse_iso_millis(s) {
            Some(ms) => ms,
            None => DateTime::parse_from_rfc3339(s)
                .map_err(|e| {
                    format!("must be an ISO-8601 date-time such as 2022-09-26T17:50:47.225Z, got {s:?} ({e})")
                })?
                .timestamp_millis(),
        },
        Value::Num(n) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if !v.is_finite() || v.fract() != 0.0 {
                return Err(format!("as a number must be whole epoch milliseconds, got {n}"));
            }
            v as i64
        }
        other => return Err(format!("{TIMESTAMP_EXPECTED}, got {}", other.kind())),
    };
    if !(0..=MAX_TIMESTAMP_MS).contains(&ms) {
        return Err(format!(
            "must fall between 1970-01-01 and 9999-12-31, got {ms} ms since the epoch"
        ));
    }
    Ok(ms)
}

/// Epoch milliseconds of the event. A `Date` arrives as its ISO string (JSON.stringify
/// calls `toJSON`), an invalid `Date` as `null`.
fn timestamp_ms(value: Option<Value<'_>>, now_ms: i64) -> Result<i64, InvalidEvent> {
    match value {
        None => Ok(now_ms),
        Some(Value::Null) => Err(InvalidEvent::new(
            "timestamp",
            "is null or an invalid Date; omit it to use the current time",
        )),
        Some(v) => timestamp_value_ms(&v).map_err(|why| InvalidEvent::new("timestamp", why)),
    }
}

fn properties(value: Option<Value<'_>>) -> Result<Vec<(Cow<'_, str>, Value<'_>)>, InvalidEvent> {
    const FIELD: &str = "properties";
    let entries = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(entries)) => entries,
        Some(other) => {
            return Err(InvalidEvent::new(
                FIELD,
                format!("{PROPERTIES_EXPECTED}, got {}", other.kind()),
            ))
        }
    };
    for (i, (key, value)) in entries.iter().enumerate() {
        if key.is_empty() {
            return Err(InvalidEvent::new(
                FIELD,
                "has a property with an empty name",
            ));
        }
        if entries[..i].iter().any(|(k, _)| k == key) {
            return Err(InvalidEvent::new(format!("{FIELD}.{key}"), "appears twice"));
        }
        let flat = match value {
            Value::Array(items) => items.iter().all(Value::is_scalar),
            Value::Object(_) => false,
            _ => true,
        };
        if !flat {
            return Err(InvalidEvent::new(
                format!("{FIELD}.{key}"),
                format!(
                    "{PROPERTY_VALUE_EXPECTED}, got {}",
                    match value {
                        Value::Array(_) => "an array with an object or array in it",
                        other => other.kind(),
                    }
                ),
            ));
        }
    }
    Ok(entries)
}

/// Checks the JSON text of one event field by field: the plain form `JSON.stringify`
/// writes in one pass (`scan.rs`), anything else, and every refusal, through serde.
pub fn parse_event(json: &str, now_ms: i64) -> Result<ParsedEvent<'_>, InvalidEvent> {
    match scan::canonical(json, now_ms) {
        Some(event) => Ok(event),
        None => slow_parse(json, now_ms),
    }
}

/// [`parse_event`] through serde_json, for any text.
fn slow_parse(json: &str, now_ms: i64) -> Result<ParsedEvent<'_>, InvalidEvent> {
    if !json.trim_start().starts_with('{') {
        // serde would read an array positionally, as if it were the fields in order.
        return Err(InvalidEvent::new("event", "must be a plain object"));
    }
    let fields: EventFields<'_> = serde_json::from_str(json).map_err(|e| {
        InvalidEvent::new(
            "event",
            format!("must be a plain object of event fields ({e})"),
        )
    })?;
    if let Some(key) = fields.unknown {
        return Err(unknown_field(&key));
    }
    Ok(ParsedEvent {
        category: required_str(fields.category, "category")?,
        action: required_str(fields.action, "action")?,
        room_id: optional_str(fields.room_id, "roomId")?.unwrap_or_default(),
        tab_id: optional_str(fields.tab_id, "tabId")?.unwrap_or_default(),
        agent_id: optional_str(fields.dialogflow_agent_id, "dialogflowAgentId")?
            .filter(|a| !a.is_empty()),
        event_type: event_type(fields.event_type)?,
        timestamp_ms: timestamp_ms(fields.timestamp, now_ms)?,
        properties: properties(fields.properties)?,
    })
}

/// Where the first byte a JSON string cannot hold as it is (`"`, `\` or a control
/// character) is in `bytes`. Eight bytes at a time, as serde_json's own scan does: byte
/// by byte, this search was a third of `scan.rs`'s time and most of
/// [`write_json_str`]'s.
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit set in each byte below `n`, exact up to the first such byte.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let hits = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping, as serde_json writes it).
pub fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    // The common case, nothing to escape, is one copy.
    let Some(first) = special_byte(s.as_bytes()) else {
        out.push_str(s);
        out.push('"');
        return;
    };
    out.push_str(&s[..first]);
    let mut start = first;
    for (i, b) in s.bytes().enumerate().skip(first) {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => {
                out.push_str(&s[start..i]);
                let _ = write!(out, "\\u{b:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        // Escaped bytes are ASCII, so `i` is always a char boundary.
        out.push_str(&s[start..i]);
        out.push_str(escape);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_664_214_647_225;

    fn parse(json: &str) -> Result<ParsedEvent<'_>, InvalidEvent> {
        parse_event(json, NOW)
    }

    #[test]
    fn an_encoded_event_keeps_its_three_texts_apart() {
        let mut roomy = String::with_capacity(64);
        roomy.push_str(r#"{"é":1}"#);
        for body in [roomy, String::from(r#"{"é":1}"#), String::new()] {
            let want = body.clone();
            let e = EncodedEvent::new(
                Uuid::nil(),
                body,
                "Chat Session",
                "clos\u{e9}d",
                EventType::Session,
                0,
                Some("g".into()),
                None,
            );
            assert_eq!(
                (e.body(), e.category(), e.action()),
                (want.as_str(), "Chat Session", "clos\u{e9}d")
            );
            assert_eq!(
                e.queued_bytes(),
                want.len() + "Chat Session".len() + "clos\u{e9}d".len() + 1
            );
        }
    }

    #[test]
    fn defaults_for_absent_fields() {
        let e = parse(r#"{"category":"Chat Session","action":"started"}"#).unwrap();
        assert_eq!(e.category, "Chat Session");
        assert_eq!(e.room_id, "");
        assert_eq!(e.tab_id, "");
        assert_eq!(e.agent_id, None);
        assert_eq!(e.event_type, EventType::Session);
        assert_eq!(e.timestamp_ms, NOW);
        assert!(e.properties.is_empty());
    }

    #[test]
    fn seed_example_parses_without_copies() {
        let json = r#"{"dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"xxxxx","category":"Agent Transfer","action":"failed","properties":{"failure_reason":"no agent available"},"eventType":"customerAction","timestamp":"2022-09-26T17:50:47.225Z"}"#;
        let e = parse(json).unwrap();
        assert!(matches!(e.category, Cow::Borrowed(_)));
        assert_eq!(
            e.agent_id.as_deref(),
            Some("b5983b72-cac6-4f85-b9d0-be61e543dfe6")
        );
        assert_eq!(e.event_type, EventType::CustomerAction);
        assert_eq!(format_timestamp(e.timestamp_ms), "2022-09-26T17:50:47.225Z");
        assert_eq!(
            e.properties,
            vec![(
                Cow::Borrowed("failure_reason"),
                Value::Str("no agent available".into())
            )]
        );
    }

    #[test]
    fn property_values_keep_order_and_write_back_as_json() {
        let e = parse(r#"{"category":"c","action":"a","properties":{"z":1,"a":"q\"x\n","n":null,"b":true,"f":1.5,"l":["u1","u2",3]}}"#).unwrap();
        let mut out = String::new();
        Value::Object(e.properties).write_json(&mut out);
        assert_eq!(
            out,
            r#"{"z":1,"a":"q\"x\n","n":null,"b":true,"f":1.5,"l":["u1","u2",3]}"#
        );
    }

    #[test]
    fn doubles_write_back_as_the_same_double() {
        // JavaScript's shortest text for each; serde_json without float_roundtrip read
        // the first one bit off.
        for text in [
            "-3.0978249747722345e-214",
            "5e-324",
            "1.7976931348623157e+308",
            "0.1",
            "1e+21",
            "123456789.12345679",
        ] {
            let json = format!(r#"{{"category":"c","action":"a","properties":{{"x":{text}}}}}"#);
            let e = parse(&json).unwrap();
            let mut out = String::new();
            e.properties[0].1.write_json(&mut out);
            let back: f64 = out.parse().unwrap();
            assert_eq!(
                back.to_bits(),
                text.parse::<f64>().unwrap().to_bits(),
                "{text} -> {out}"
            );
        }
    }

    #[test]
    fn timestamps_from_numbers_and_offsets_are_normalised_to_utc_millis() {
        let e = parse(r#"{"category":"c","action":"a","timestamp":1651688848191}"#).unwrap();
        assert_eq!(format_timestamp(e.timestamp_ms), "2022-05-04T18:27:28.191Z");
        let e = parse(r#"{"category":"c","action":"a","timestamp":"2022-09-26T19:50:47+02:00"}"#)
            .unwrap();
        assert_eq!(format_timestamp(e.timestamp_ms), "2022-09-26T17:50:47.000Z");
    }

    #[test]
    fn timestamps_format_like_chrono_across_the_range() {
        use chrono::{SecondsFormat, Utc};
        let mut ms = 0i64;
        while ms <= MAX_TIMESTAMP_MS {
            let want = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(format_timestamp(ms), want, "{ms}");
            // Irregular steps cover leap years, month ends and every field.
            ms = ms * 3 / 2 + 86_399_999 + 7_919;
        }
        for ms in [0, 951_782_400_000, 1_709_208_000_000, MAX_TIMESTAMP_MS] {
            let want = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(format_timestamp(ms), want);
        }
    }

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "ctl\u{1}\u{1f}\u{8}\u{c}",
            "tab\tnl\nr\r",
            "ünï©ødé ✓",
        ] {
            let mut out = String::new();
            write_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn nulls_mean_unknown_for_optional_fields() {
        let e = parse(r#"{"category":"c","action":"a","roomId":null,"properties":null,"dialogflowAgentId":""}"#).unwrap();
        assert_eq!(e.room_id, "");
        assert_eq!(e.agent_id, None);
        assert!(e.properties.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"action":"a"}"#, "category", "is required"),
            (r#"{"category":"","action":"a"}"#, "category", "empty"),
            (r#"{"category":"c","action":5}"#, "action", "got a number"),
            (
                r#"{"category":"c","action":"a","roomId":42}"#,
                "roomId",
                "must be a string",
            ),
            (
                r#"{"category":"c","action":"a","properties":{"f":{"x":1}}}"#,
                "properties.f",
                "got an object",
            ),
            (
                r#"{"category":"c","action":"a","properties":{"f":[[1]]}}"#,
                "properties.f",
                "an array with an object or array in it",
            ),
            (
                r#"{"category":"c","action":"a","properties":{"f":1,"f":2}}"#,
                "properties.f",
                "appears twice",
            ),
            (
                r#"{"category":"c","action":"a","properties":[1]}"#,
                "properties",
                "must be an object",
            ),
            (
                r#"{"category":"c","action":"a","timestamp":"yesterday"}"#,
                "timestamp",
                "ISO-8601",
            ),
            (
                r#"{"category":"c","action":"a","timestamp":null}"#,
                "timestamp",
                "invalid Date",
            ),
            (
                r#"{"category":"c","action":"a","timestamp":1.5}"#,
                "timestamp",
                "whole epoch",
            ),
            (
                r#"{"category":"c","action":"a","timestamp":-1}"#,
                "timestamp",
                "1970",
            ),
            (
                r#"{"category":"c","action":"a","eventType":"visitor"}"#,
                "eventType",
                "customerAction",
            ),
            (
                r#"{"category":"c","action":"a","propertes":{}}"#,
                "event",
                "unknown field `propertes`",
            ),
            (r#"[1,2]"#, "event", "plain object"),
        ];
        for (json, field, words) in cases {
            let err = parse(json).expect_err(json);
            assert_eq!(err.field, field, "{json}: {err}");
            assert!(err.to_string().contains(words), "{json}: {err}");
        }
    }

    #[test]
    fn refused_values_are_named_as_their_field_would_name_them() {
        let refused = |path: &str, field: Option<&str>, level, in_array, got: &str| {
            LossyValue {
                path: path.into(),
                field: field.map(Into::into),
                level,
                in_array,
                problem: ValueProblem::Unrepresentable(got.into()),
            }
            .into_invalid_event()
        };
        let cases = [
            (
                refused("properties.f", Some("properties"), 2, false, "a function"),
                "properties.f",
                "properties.f must be a string, number, boolean, null or an array of those, got a function",
            ),
            (
                refused("properties.l[1]", Some("properties"), 3, true, "NaN"),
                "properties.l[1]",
                "properties.l[1] must be a string, number, boolean or null, got NaN",
            ),
            (
                refused("properties", Some("properties"), 1, false, "a symbol"),
                "properties",
                "properties must be an object of string, number, boolean or null values (or arrays of them), got a symbol",
            ),
            (
                refused("timestamp", Some("timestamp"), 1, false, "a BigInt"),
                "timestamp",
                "timestamp must be a Date, an ISO-8601 string or epoch milliseconds, got a BigInt",
            ),
            (
                refused("roomId", Some("roomId"), 1, false, "a function"),
                "roomId",
                "roomId must be a string, got a function",
            ),
            (
                refused("properties.o.x", Some("properties"), 3, false, "Infinity"),
                "properties.o.x",
                "properties.o.x must be a string, number, boolean, null, array or object, got Infinity",
            ),
            (
                refused("event", None, 0, false, "undefined"),
                "event",
                "event must be a plain object, got undefined",
            ),
            (
                // JSON.stringify would drop it, and the unknown field would go unseen.
                refused("propertes", Some("propertes"), 1, false, "a function"),
                "event",
                "event has an unknown field `propertes`",
            ),
        ];
        for (error, field, message) in cases {
            assert_eq!(error.field, field);
            assert!(error.to_string().contains(message), "{error}");
        }
        let threw = LossyValue {
            path: "properties.d".into(),
            field: Some("properties".into()),
            level: 2,
            in_array: false,
            problem: ValueProblem::Unreadable(
                "cannot be serialized: its toJSON() threw Error: boom".into(),
            ),
        }
        .into_invalid_event();
        assert_eq!(
            threw.to_string(),
            "invalid analytics event: properties.d cannot be serialized: its toJSON() threw Error: boom"
        );
    }
}
