//! Validation of one event and its encoding into the exact SNS message of the wire
//! contract. Runs on the caller's thread inside `log()`, so it is written to allocate
//! little: the event arrives as the JSON text of the caller's object and leaves as the
//! final message body, checked against the SNS size limit.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use uuid::Uuid;

use super::error::InvalidEvent;

/// SNS's limit for one message, body and message attributes together.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// Latest timestamp accepted: 9999-12-31T23:59:59.999Z, the last ISO-8601 four-digit year.
const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Names of the message attributes that mirror the event, in the order they are sent.
pub const ATTRIBUTE_NAMES: [&str; 4] = ["eventId", "category", "action", "eventType"];
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

/// Values the logger fills in for events that carry none.
#[derive(Debug, Clone, Default)]
pub struct EventDefaults {
    pub dialogflow_agent_id: String,
}

/// An event that passed validation, held as the SNS message it becomes.
/// This is what waits in the queue, so it keeps only what the request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub id: Uuid,
    /// The JSON message body, exactly as published.
    pub body: Box<str>,
    pub category: Box<str>,
    pub action: Box<str>,
    pub event_type: EventType,
}

impl EncodedEvent {
    /// Size SNS counts against [`MAX_MESSAGE_BYTES`]: the body plus each message
    /// attribute's name, data type and value.
    pub fn message_bytes(&self) -> usize {
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
            + self.body.len()
            + self.category.len()
            + self.action.len()
            + self.event_type.as_str().len()
    }

    /// Heap bytes this event holds while queued, for `maxQueueBytes`.
    pub fn queued_bytes(&self) -> usize {
        self.body.len() + self.category.len() + self.action.len()
    }

    pub fn id_string(&self) -> String {
        self.id.hyphenated().to_string()
    }
}

/// The top-level keys `log()` accepts; anything else is a mistake worth naming.
const EVENT_KEYS: [&str; 8] = [
    "category",
    "action",
    "properties",
    "roomId",
    "tabId",
    "dialogflowAgentId",
    "eventType",
    "timestamp",
];

/// The event's fields, read in one pass over the JSON text. `None` means absent; an
/// explicit `null` is kept as [`Scalar::Null`], because an invalid `Date` (which
/// JSON.stringify writes as null) must not pass as "now".
#[derive(Default)]
struct EventFields<'a> {
    category: Option<Scalar<'a>>,
    action: Option<Scalar<'a>>,
    properties: Option<Scalar<'a>>,
    room_id: Option<Scalar<'a>>,
    tab_id: Option<Scalar<'a>>,
    dialogflow_agent_id: Option<Scalar<'a>>,
    event_type: Option<Scalar<'a>>,
    timestamp: Option<Scalar<'a>>,
    /// The first key that is not an event field.
    unknown: Option<String>,
}

/// A map key, borrowed from the JSON text unless it has escapes. (serde's own
/// `Cow<str>` always allocates.)
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Str(s) => Ok(Key(s)),
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
                "roomId" => &mut fields.room_id,
                "tabId" => &mut fields.tab_id,
                "dialogflowAgentId" => &mut fields.dialogflow_agent_id,
                "eventType" => &mut fields.event_type,
                "timestamp" => &mut fields.timestamp,
                "properties" => {
                    fields.properties = Some(map.next_value()?);
                    continue;
                }
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

/// One JSON value, kept only as far as validation needs it: an object keeps its
/// entries in the caller's order (that is how `properties` is read), an array
/// only that it was one.
#[derive(Debug)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(serde_json::Number),
    Bool(bool),
    Null,
    Object(Vec<(Cow<'a, str>, Scalar<'a>)>),
    Array,
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Num(_) => "a number",
            Scalar::Bool(_) => "a boolean",
            Scalar::Null => "null",
            Scalar::Object(_) => "an object",
            Scalar::Array => "an array",
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(Scalar::Num)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
        while let Some((Key(k), v)) = map.next_entry::<Key<'de>, Scalar<'de>>()? {
            entries.push((k, v));
        }
        Ok(Scalar::Object(entries))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// A required, non-empty string field.
fn required_str<'a>(value: Option<Scalar<'a>>, field: &str) -> Result<Cow<'a, str>, InvalidEvent> {
    match value {
        None => Err(InvalidEvent::new(field, "is required (a non-empty string)")),
        Some(Scalar::Str(s)) if s.trim().is_empty() => Err(InvalidEvent::new(
            field,
            "must be a non-empty string, got an empty one",
        )),
        Some(Scalar::Str(s)) => Ok(s),
        Some(other) => Err(InvalidEvent::new(
            field,
            format!("must be a non-empty string, got {}", other.kind()),
        )),
    }
}

/// An optional string field: absent, `null` and `undefined` mean "unknown".
fn optional_str<'a>(
    value: Option<Scalar<'a>>,
    field: &str,
) -> Result<Option<Cow<'a, str>>, InvalidEvent> {
    match value {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
        Some(other) => Err(InvalidEvent::new(
            field,
            format!("must be a string, got {}", other.kind()),
        )),
    }
}

fn event_type(value: Option<Scalar<'_>>) -> Result<EventType, InvalidEvent> {
    match optional_str(value, "eventType")?.as_deref() {
        None | Some("session") => Ok(EventType::Session),
        Some("customerAction") => Ok(EventType::CustomerAction),
        Some(other) => Err(InvalidEvent::new(
            "eventType",
            format!("must be 'customerAction' or 'session', got {other:?}"),
        )),
    }
}

/// Epoch milliseconds of the event. A `Date` arrives as its ISO string (JSON.stringify
/// calls `toJSON`), an invalid `Date` as `null`.
fn timestamp_ms(value: Option<Scalar<'_>>, now_ms: i64) -> Result<i64, InvalidEvent> {
    const FIELD: &str = "timestamp";
    let Some(value) = value else {
        return Ok(now_ms);
    };
    let ms = match value {
        Scalar::Str(s) => DateTime::parse_from_rfc3339(&s)
            .map_err(|e| {
                InvalidEvent::new(
                    FIELD,
                    format!("must be an ISO-8601 date-time such as 2022-09-26T17:50:47.225Z, got {s:?} ({e})"),
                )
            })?
            .timestamp_millis(),
        Scalar::Num(n) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if !v.is_finite() || v.fract() != 0.0 {
                return Err(InvalidEvent::new(
                    FIELD,
                    format!("as a number must be whole epoch milliseconds, got {n}"),
                ));
            }
            v as i64
        }
        Scalar::Null => {
            return Err(InvalidEvent::new(
                FIELD,
                "is null or an invalid Date; omit it to use the current time",
            ))
        }
        other => {
            return Err(InvalidEvent::new(
                FIELD,
                format!("must be a Date, an ISO-8601 string or epoch milliseconds, got {}", other.kind()),
            ))
        }
    };
    if !(0..=MAX_TIMESTAMP_MS).contains(&ms) {
        return Err(InvalidEvent::new(
            FIELD,
            format!("must fall between 1970-01-01 and 9999-12-31, got {ms} ms since the epoch"),
        ));
    }
    Ok(ms)
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping, as serde_json writes it).
fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    let needs_escape = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
    // The common case, nothing to escape, is one copy.
    let Some(first) = s.as_bytes().iter().position(needs_escape) else {
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

fn write_properties(out: &mut String, props: Option<Scalar<'_>>) -> Result<(), InvalidEvent> {
    const FIELD: &str = "properties";
    let Some(props) = props else {
        out.push_str("{}");
        return Ok(());
    };
    let entries = match props {
        Scalar::Object(entries) => entries,
        Scalar::Null => Vec::new(),
        other => {
            return Err(InvalidEvent::new(
                FIELD,
                format!(
                    "must be an object of string, number, boolean or null values, got {}",
                    other.kind()
                ),
            ))
        }
    };
    out.push('{');
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
        if i > 0 {
            out.push(',');
        }
        write_json_str(out, key);
        out.push(':');
        match value {
            Scalar::Str(s) => write_json_str(out, s),
            Scalar::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Scalar::Null => out.push_str("null"),
            other => {
                return Err(InvalidEvent::new(
                    format!("{FIELD}.{key}"),
                    format!(
                        "must be a string, number, boolean or null, got {}",
                        other.kind()
                    ),
                ))
            }
        }
    }
    out.push('}');
    Ok(())
}

/// Validates the JSON text of one event and encodes its SNS message body, keys in the
/// order of the wire contract.
pub fn encode_event(
    json: &str,
    defaults: &EventDefaults,
    id: Uuid,
    now_ms: i64,
) -> Result<EncodedEvent, InvalidEvent> {
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
        return Err(InvalidEvent::new(
            "event",
            format!(
                "has an unknown field `{key}`; the fields are {}",
                EVENT_KEYS.join(", ")
            ),
        ));
    }
    let category = required_str(fields.category, "category")?;
    let action = required_str(fields.action, "action")?;
    let room_id = optional_str(fields.room_id, "roomId")?;
    let tab_id = optional_str(fields.tab_id, "tabId")?;
    let agent_id = optional_str(fields.dialogflow_agent_id, "dialogflowAgentId")?;
    let event_type = event_type(fields.event_type)?;
    let ts = timestamp_ms(fields.timestamp, now_ms)?;
    let agent_id = match agent_id.as_deref() {
        Some(a) if !a.is_empty() => a,
        _ => defaults.dialogflow_agent_id.as_str(),
    };

    let mut body = String::with_capacity(json.len() + 96);
    body.push_str("{\"dialogflowAgentId\":");
    write_json_str(&mut body, agent_id);
    body.push_str(",\"roomId\":");
    write_json_str(&mut body, room_id.as_deref().unwrap_or(""));
    body.push_str(",\"tabId\":");
    write_json_str(&mut body, tab_id.as_deref().unwrap_or(""));
    body.push_str(",\"category\":");
    write_json_str(&mut body, &category);
    body.push_str(",\"action\":");
    write_json_str(&mut body, &action);
    body.push_str(",\"properties\":");
    write_properties(&mut body, fields.properties)?;
    body.push_str(",\"eventType\":\"");
    body.push_str(event_type.as_str());
    body.push_str("\",\"timestamp\":\"");
    body.push_str(&format_timestamp(ts));
    body.push_str("\"}");

    let event = EncodedEvent {
        id,
        body: body.into_boxed_str(),
        category: category.into_owned().into_boxed_str(),
        action: action.into_owned().into_boxed_str(),
        event_type,
    };
    let size = event.message_bytes();
    if size > MAX_MESSAGE_BYTES {
        return Err(InvalidEvent::new(
            "event",
            format!(
                "is {size} bytes as an SNS message, over the {MAX_MESSAGE_BYTES}-byte SNS limit; \
                 shrink its properties"
            ),
        ));
    }
    Ok(event)
}

/// ISO-8601 UTC with milliseconds, as in `2022-09-26T17:50:47.225Z`.
pub fn format_timestamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> EventDefaults {
        EventDefaults {
            dialogflow_agent_id: "agent-default".into(),
        }
    }

    fn encode(json: &str) -> Result<EncodedEvent, InvalidEvent> {
        encode_event(json, &defaults(), Uuid::nil(), 1_664_214_647_225)
    }

    #[test]
    fn body_has_the_contract_keys_in_order_with_defaults() {
        let e = encode(r#"{"category":"Chat Session","action":"started"}"#).unwrap();
        assert_eq!(
            &*e.body,
            r#"{"dialogflowAgentId":"agent-default","roomId":"","tabId":"","category":"Chat Session","action":"started","properties":{},"eventType":"session","timestamp":"2022-09-26T17:50:47.225Z"}"#
        );
        assert_eq!(e.event_type, EventType::Session);
    }

    #[test]
    fn seed_example_round_trips() {
        let e = encode(
            r#"{"dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"xxxxx","category":"Agent Transfer","action":"failed","properties":{"failure_reason":"no agent available"},"eventType":"customerAction","timestamp":"2022-09-26T17:50:47.225Z"}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(
            v["dialogflowAgentId"],
            "b5983b72-cac6-4f85-b9d0-be61e543dfe6"
        );
        assert_eq!(v["properties"]["failure_reason"], "no agent available");
        assert_eq!(v["eventType"], "customerAction");
        assert_eq!(v["timestamp"], "2022-09-26T17:50:47.225Z");
        assert_eq!(&*e.category, "Agent Transfer");
    }

    #[test]
    fn properties_keep_order_types_and_escapes() {
        let e = encode(r#"{"category":"c","action":"a","properties":{"z":1,"a":"q\"x\n","n":null,"b":true,"f":1.5}}"#).unwrap();
        assert!(
            e.body
                .contains(r#""properties":{"z":1,"a":"q\"x\n","n":null,"b":true,"f":1.5}"#),
            "{}",
            e.body
        );
    }

    #[test]
    fn timestamps_from_numbers_and_offsets_are_normalised_to_utc_millis() {
        let e = encode(r#"{"category":"c","action":"a","timestamp":1651688848191}"#).unwrap();
        assert!(
            e.body
                .ends_with(r#""timestamp":"2022-05-04T18:27:28.191Z"}"#),
            "{}",
            e.body
        );
        let e = encode(r#"{"category":"c","action":"a","timestamp":"2022-09-26T19:50:47+02:00"}"#)
            .unwrap();
        assert!(
            e.body
                .ends_with(r#""timestamp":"2022-09-26T17:50:47.000Z"}"#),
            "{}",
            e.body
        );
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
    fn nulls_mean_unknown_for_optional_strings() {
        let e = encode(r#"{"category":"c","action":"a","roomId":null,"properties":null}"#).unwrap();
        assert!(e.body.contains(r#""roomId":"","#));
        assert!(e.body.contains(r#""properties":{}"#));
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
                r#"{"category":"c","action":"a","properties":{"f":[1]}}"#,
                "properties.f",
                "got an array",
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
            let err = encode(json).expect_err(json);
            assert_eq!(err.field, field, "{json}: {err}");
            assert!(err.to_string().contains(words), "{json}: {err}");
        }
    }

    #[test]
    fn oversized_events_are_refused_with_the_limit() {
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        let err = encode(&format!(
            r#"{{"category":"c","action":"a","properties":{{"f":"{big}"}}}}"#
        ))
        .unwrap_err();
        assert_eq!(err.field, "event");
        assert!(err.reason.contains("262144-byte SNS limit"), "{err}");
        // Just under the limit is fine.
        let fits = "x".repeat(MAX_MESSAGE_BYTES - 400);
        let e = encode(&format!(
            r#"{{"category":"c","action":"a","properties":{{"f":"{fits}"}}}}"#
        ))
        .unwrap();
        assert!(e.message_bytes() <= MAX_MESSAGE_BYTES);
    }

    #[test]
    fn message_bytes_counts_attributes() {
        let e = encode(r#"{"category":"Survey","action":"link_clicked"}"#).unwrap();
        let attrs = "eventId".len()
            + 36
            + "category".len()
            + 6
            + "action".len()
            + 12
            + "eventType".len()
            + 7
            + 4 * 6;
        assert_eq!(e.message_bytes(), e.body.len() + attrs);
    }
}
