//! The Livechat widget's events, which reach the server as an untrusted HTTP body:
//! checked strictly (no unknown keys, bounded sizes, only the events a plan marks
//! `widget`, their properties exactly as planned), stamped `customerAction`, and
//! stripped of the visitor token before anything is logged.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::core::error::InvalidEvent;
use crate::core::event::{parse_event, LossyValue, ValueProblem};
use crate::core::plan::{PlanSource, TrackingPlan};

/// Largest body accepted, as JSON text: a widget event is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
const MAX_TOKEN: usize = 256;
const MAX_ROOM_ID: usize = 128;
const MAX_TAB_ID: usize = 128;
const KEYS: [&str; 6] = ["token", "rid", "tabId", "category", "action", "properties"];

/// Why a widget body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetError {
    pub field: String,
    pub reason: String,
    pub kind: WidgetErrorKind,
}

/// What kind of refusal a [`WidgetError`] is: what the route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetErrorKind {
    /// Not an event the widget may send, as it is (400).
    Invalid,
    /// Over [`MAX_BODY_BYTES`].
    TooLarge,
    /// Over a cap per visitor or per room (`widget_caps.rs`): 429.
    OverCap,
}

impl WidgetError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: reason.into(),
            kind: WidgetErrorKind::Invalid,
        }
    }

    /// A well-formed event over the widget's caps: `field` names the key at fault
    /// (`token` or `rid`).
    pub fn over_cap(field: &str, reason: impl Into<String>) -> Self {
        Self {
            kind: WidgetErrorKind::OverCap,
            ..Self::new(field, reason)
        }
    }
}

/// A widget body, checked: the event to log, and the visitor token and room it came
/// with (for the caps; the token is never logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetEvent {
    pub json: String,
    pub token: String,
    pub room_id: String,
}

impl WidgetError {
    /// A body value the binding refused before `JSON.stringify` could drop or change
    /// it (see [`LossyValue`]).
    pub fn refused(value: LossyValue) -> Self {
        let reason = match value.problem {
            ValueProblem::Unrepresentable(got) => format!("must be a JSON value, got {got}"),
            ValueProblem::Unreadable(reason) => reason,
        };
        Self::new(&value.path, reason)
    }
}

impl std::fmt::Display for WidgetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            WidgetErrorKind::OverCap => write!(f, "widget event refused: {}", self.reason),
            _ => write!(f, "invalid widget event: {} {}", self.field, self.reason),
        }
    }
}

/// The built-in Livechat plan, whose `widget` events the widget may send when the
/// logger has no plan of its own that marks any.
pub fn default_widget_plan() -> &'static TrackingPlan {
    static PLAN: OnceLock<TrackingPlan> = OnceLock::new();
    PLAN.get_or_init(|| {
        PlanSource::Builtin("rocketchat-livechat".into())
            .load()
            .expect("the built-in plan loads")
    })
}

fn bounded_str<'a>(
    body: &'a Map<String, Value>,
    key: &str,
    max: usize,
    required: bool,
) -> Result<Option<&'a str>, WidgetError> {
    match body.get(key) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(WidgetError::new(key, "is required")),
        Some(Value::String(s)) if s.is_empty() => Err(WidgetError::new(key, "must not be empty")),
        Some(Value::String(s)) if s.len() > max => Err(WidgetError::new(
            key,
            format!("must be at most {max} characters"),
        )),
        Some(Value::String(s)) if s.chars().any(char::is_control) => {
            Err(WidgetError::new(key, "must not contain control characters"))
        }
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(WidgetError::new(key, "must be a string")),
    }
}

/// Checks a widget body (the JSON text of the parsed request body) and returns the
/// event to log, as JSON: `{ category, action, roomId, tabId, eventType:
/// 'customerAction', properties }`, without the token.
pub fn widget_event(json: &str, plan: &TrackingPlan) -> Result<WidgetEvent, WidgetError> {
    if json.len() > MAX_BODY_BYTES {
        return Err(WidgetError {
            field: "body".into(),
            reason: format!(
                "is {} bytes, over the {MAX_BODY_BYTES}-byte limit",
                json.len()
            ),
            kind: WidgetErrorKind::TooLarge,
        });
    }
    let body: Value = serde_json::from_str(json)
        .map_err(|e| WidgetError::new("body", format!("is not JSON ({e})")))?;
    let Value::Object(body) = body else {
        return Err(WidgetError::new("body", "must be a JSON object"));
    };
    if let Some(k) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(WidgetError::new(
            "body",
            format!("has an unknown key {k:?}; the keys are {}", KEYS.join(", ")),
        ));
    }
    let token = bounded_str(&body, "token", MAX_TOKEN, true)?.unwrap_or_default();
    let rid = bounded_str(&body, "rid", MAX_ROOM_ID, true)?.unwrap_or_default();
    if !rid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_' | b'.'))
    {
        return Err(WidgetError::new(
            "rid",
            "must be a room id: letters, digits, ':', '-', '_' and '.'",
        ));
    }
    let tab_id = bounded_str(&body, "tabId", MAX_TAB_ID, false)?;
    let category = bounded_str(&body, "category", 64, true)?.unwrap_or_default();
    let action = bounded_str(&body, "action", 64, true)?.unwrap_or_default();
    let allowed: Vec<String> = plan
        .events
        .iter()
        .filter(|e| e.widget)
        .map(|e| format!("{}/{}", e.category, e.action))
        .collect();
    match plan.event(category, action) {
        Some(spec) if spec.widget => {}
        _ => {
            return Err(WidgetError::new(
                "action",
                format!(
                    "{category}/{action} is not an event the widget sends; it sends {}",
                    allowed.join(", ")
                ),
            ))
        }
    }
    let mut event = Map::new();
    event.insert("category".into(), category.into());
    event.insert("action".into(), action.into());
    event.insert("roomId".into(), rid.into());
    if let Some(t) = tab_id {
        event.insert("tabId".into(), t.into());
    }
    event.insert("eventType".into(), "customerAction".into());
    if let Some(p) = body.get("properties").filter(|p| !p.is_null()) {
        event.insert("properties".into(), p.clone());
    }
    let text = Value::Object(event).to_string();
    // The properties must be exactly as planned, whatever the logger's validation.
    let parsed = parse_event(&text, 0).map_err(|InvalidEvent { field, reason }| WidgetError {
        field,
        reason,
        kind: WidgetErrorKind::Invalid,
    })?;
    if let Some(v) = plan.check(&parsed).into_iter().next() {
        return Err(WidgetError::new(&v.path, v.message));
    }
    Ok(WidgetEvent {
        json: text,
        token: token.to_owned(),
        room_id: rid.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<String, WidgetError> {
        widget_event(json, default_widget_plan()).map(|e| e.json)
    }

    #[test]
    fn a_widget_event_is_stamped_and_loses_the_token() {
        let out = check(r#"{"token":"visitor-secret","rid":"be61:wqbF","tabId":"t1","category":"Survey","action":"link_clicked"}"#).unwrap();
        assert!(!out.contains("visitor-secret"), "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["eventType"], "customerAction");
        assert_eq!(v["roomId"], "be61:wqbF");
        assert_eq!(v["tabId"], "t1");
        let out = check(r#"{"token":"t","rid":"r","category":"Window","action":"opened","properties":{"session_id":"s"}}"#).unwrap();
        assert!(out.contains(r#""properties":{"session_id":"s"}"#), "{out}");
    }

    #[test]
    fn hostile_bodies_are_refused_with_the_field() {
        let long = "x".repeat(MAX_BODY_BYTES);
        let cases = [
            (r#"[1]"#.to_owned(), "body", "JSON object"),
            (r#"{"token":"t","rid":"r","category":"Survey","action":"link_clicked","admin":true}"#.to_owned(), "body", "unknown key \"admin\""),
            (r#"{"rid":"r","category":"Survey","action":"link_clicked"}"#.to_owned(), "token", "required"),
            (r#"{"token":"t","rid":"r/../x","category":"Survey","action":"link_clicked"}"#.to_owned(), "rid", "room id"),
            (r#"{"token":"t","rid":"r","category":"Escalation","action":"failed"}"#.to_owned(), "action", "not an event the widget sends"),
            (r#"{"token":"t","rid":"r","category":"Survey","action":"link_clicked","properties":{"x":1}}"#.to_owned(), "properties.x", "not planned"),
            (r#"{"token":"t","rid":"r","category":"Window","action":"opened"}"#.to_owned(), "properties.session_id", "requires"),
            (r#"{"token":5,"rid":"r","category":"Survey","action":"link_clicked"}"#.to_owned(), "token", "string"),
            (format!(r#"{{"token":"t","rid":"r","category":"Survey","action":"link_clicked","tabId":"{long}"}}"#), "body", "8192-byte limit"),
        ];
        for (json, field, words) in cases {
            let err = check(&json).expect_err(&json[..json.len().min(80)]);
            assert_eq!(err.field, field, "{err}");
            assert!(err.to_string().contains(words), "{err}");
        }
        assert!(
            check(&format!(r#"{{"pad":"{long}"}}"#)).unwrap_err().kind == WidgetErrorKind::TooLarge
        );
    }
}
