//! The SNS message body of an event, in one of two formats:
//! `rc`, the SNS Logger body of the seed (sns-logger-payload-and-events.txt), and
//! `ciao`, the older flat body of the Ciao analytics design (sns-analytics-design.txt).

use crate::core::error::InvalidEvent;
use crate::core::event::{write_json_str, write_timestamp, EventType, ParsedEvent, Value};
use crate::core::plan::EventSpec;

/// At most this many properties fit a `ciao` body: `event_detail_1..4`.
pub const CIAO_DETAILS: usize = 4;
/// The property the `ciao` format lifts into `party_id` instead of a detail.
pub const CIAO_PARTY_PROPERTY: &str = "party_id";

/// The `ciao` body's fixed fields, from the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiaoFields {
    pub application: String,
    pub business: String,
    pub deployment: String,
    pub source_component: String,
}

/// How an event's body is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFormat {
    Rc,
    Ciao(CiaoFields),
}

impl BodyFormat {
    /// The body of `event`, written into `buf` (emptied first: a buffer to reuse);
    /// `spec` is its plan entry, which fixes the order of the `ciao` details. An App's
    /// event carries its `app_id` in the `rc` body too, for consumers that read the body
    /// only; the `ciao` body's fixed fields have no place for it (the `appId` attribute
    /// carries it there).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        event: &ParsedEvent<'_>,
        agent_id: &str,
        app_id: Option<&str>,
        spec: Option<&EventSpec>,
        size_hint: usize,
        mut buf: String,
    ) -> Result<String, InvalidEvent> {
        buf.clear();
        match self {
            BodyFormat::Rc => {
                buf.reserve(size_hint + 96);
                rc_body(&mut buf, event, agent_id, app_id);
                Ok(buf)
            }
            BodyFormat::Ciao(fields) => {
                buf.reserve(512);
                ciao_body(&mut buf, event, agent_id, spec, fields)?;
                Ok(buf)
            }
        }
    }
}

/// The `rc` body's text around its values, in order: before the agent id, the room
/// id, the tab id, the category, the action, the properties object, the event type and
/// the timestamp, and after the timestamp.
const RC_KEYS: [&str; 9] = [
    "{\"dialogflowAgentId\":",
    ",\"roomId\":",
    ",\"tabId\":",
    ",\"category\":",
    ",\"action\":",
    ",\"properties\":",
    ",\"eventType\":\"",
    "\",\"timestamp\":\"",
    "\"}",
];

/// The key an App's id takes in the `rc` body, after `tabId`.
const RC_APP_ID_KEY: &str = ",\"appId\":";

/// `{"dialogflowAgentId","roomId","tabId","category","action","properties","eventType","timestamp"}`,
/// in that order, with `"appId"` after `"tabId"` for an App's event.
fn rc_body(body: &mut String, e: &ParsedEvent<'_>, agent_id: &str, app_id: Option<&str>) {
    body.push_str(RC_KEYS[0]);
    write_json_str(body, agent_id);
    body.push_str(RC_KEYS[1]);
    write_json_str(body, &e.room_id);
    body.push_str(RC_KEYS[2]);
    write_json_str(body, &e.tab_id);
    if let Some(app_id) = app_id {
        body.push_str(RC_APP_ID_KEY);
        write_json_str(body, app_id);
    }
    body.push_str(RC_KEYS[3]);
    write_json_str(body, &e.category);
    body.push_str(RC_KEYS[4]);
    write_json_str(body, &e.action);
    body.push_str(RC_KEYS[5]);
    body.push('{');
    for (i, (k, v)) in e.properties.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        write_json_str(body, k);
        body.push(':');
        v.write_json(body);
    }
    body.push('}');
    rc_tail(body, e.event_type, e.timestamp_ms);
}

fn rc_tail(body: &mut String, event_type: EventType, timestamp_ms: i64) {
    body.push_str(RC_KEYS[6]);
    body.push_str(event_type.as_str());
    body.push_str(RC_KEYS[7]);
    write_timestamp(body, timestamp_ms);
    body.push_str(RC_KEYS[8]);
}

/// `Chat Session` + `closed` → `chat_session_closed`, the style of the seed's
/// `outage_info_requested`.
pub fn ciao_event_name(category: &str, action: &str) -> String {
    let mut out = String::with_capacity(category.len() + action.len() + 1);
    for c in category
        .chars()
        .chain(std::iter::once(' '))
        .chain(action.chars())
    {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// The room part of a Rocket.Chat Dialogflow room id (`be61e543dfe6:wqbFXoeX2kdSZhSyi`
/// → `wqbFXoeX2kdSZhSyi`), as it appears in the seed's `session_id`.
fn room_part(room_id: &str) -> &str {
    room_id.rsplit(':').next().unwrap_or(room_id)
}

fn write_opt_str(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("null");
    } else {
        write_json_str(out, s);
    }
}

/// A detail is a string: strings as they are, other values as their JSON text.
fn write_detail(out: &mut String, v: Option<&Value<'_>>) {
    match v {
        None | Some(Value::Null) => out.push_str("null"),
        Some(Value::Str(s)) => write_json_str(out, s),
        Some(other) => {
            let mut text = String::new();
            other.write_json(&mut text);
            write_json_str(out, &text);
        }
    }
}

fn ciao_body(
    body: &mut String,
    e: &ParsedEvent<'_>,
    agent_id: &str,
    spec: Option<&EventSpec>,
    f: &CiaoFields,
) -> Result<(), InvalidEvent> {
    let party = e
        .properties
        .iter()
        .find(|(k, _)| k == CIAO_PARTY_PROPERTY)
        .map(|(_, v)| v);
    let party = match party {
        None | Some(Value::Null) => "",
        Some(Value::Str(s)) => s.as_ref(),
        Some(other) => {
            return Err(InvalidEvent::new(
                "properties.party_id",
                format!(
                    "must be a string (the ciao format's party_id), got {}",
                    other.kind()
                ),
            ))
        }
    };
    // With a plan, detail N is the plan's Nth property, whatever order the caller used.
    let details: Vec<Option<&Value<'_>>> = match spec {
        Some(spec) => spec
            .properties
            .iter()
            .filter(|p| &*p.name != CIAO_PARTY_PROPERTY)
            .map(|p| {
                e.properties
                    .iter()
                    .find(|(k, _)| *k == *p.name)
                    .map(|(_, v)| v)
            })
            .collect(),
        None => e
            .properties
            .iter()
            .filter(|(k, _)| k != CIAO_PARTY_PROPERTY)
            .map(|(_, v)| Some(v))
            .collect(),
    };
    if details.len() > CIAO_DETAILS {
        let names: Vec<&str> = e
            .properties
            .iter()
            .map(|(k, _)| k.as_ref())
            .filter(|k| *k != CIAO_PARTY_PROPERTY)
            .collect();
        return Err(InvalidEvent::new(
            "properties",
            format!(
                "has {} properties ({}), but format 'ciao' has room for {CIAO_DETAILS} (event_detail_1..4) besides party_id",
                details.len(),
                names.join(", ")
            ),
        ));
    }
    body.push_str("{\"application\":");
    write_json_str(body, &f.application);
    body.push_str(",\"business\":");
    write_json_str(body, &f.business);
    body.push_str(",\"ciao_deployment\":");
    write_json_str(body, &f.deployment);
    body.push_str(",\"dialogflow_agent_id\":");
    write_opt_str(body, agent_id);
    body.push_str(",\"event\":");
    write_json_str(body, &ciao_event_name(&e.category, &e.action));
    for n in 0..CIAO_DETAILS {
        body.push_str(",\"event_detail_");
        body.push(char::from(b'1' + n as u8));
        body.push_str("\":");
        write_detail(body, details.get(n).copied().flatten());
    }
    body.push_str(",\"event_type\":");
    body.push_str(match e.event_type {
        EventType::CustomerAction => "\"customer_action\"",
        EventType::Session => "\"session\"",
    });
    body.push_str(",\"party_id\":");
    write_opt_str(body, party);
    body.push_str(",\"session_id\":");
    if e.room_id.is_empty() {
        body.push_str("null");
    } else {
        write_json_str(body, &format!("dfcx:{agent_id}:{}", room_part(&e.room_id)));
    }
    body.push_str(",\"source_component\":");
    write_json_str(body, &f.source_component);
    body.push_str(",\"timestamp\":");
    body.push_str(&e.timestamp_ms.to_string());
    body.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::parse_event;

    fn fields() -> CiaoFields {
        CiaoFields {
            application: "WhatsApp".into(),
            business: "BR".into(),
            deployment: "brazil-prod".into(),
            source_component: "Ciao".into(),
        }
    }

    #[test]
    fn ciao_reproduces_the_seed_example() {
        let e = parse_event(
            r#"{"category":"Outage Info","action":"requested","eventType":"customerAction","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","timestamp":1651688848191,"properties":{"party_id":"3a5bf619-6353-4412-a21b-bf2b1eab94db","d1":"none","d2":"none"}}"#,
            0,
        )
        .unwrap();
        let body = BodyFormat::Ciao(fields())
            .encode(
                &e,
                "b5983b72-cac6-4f85-b9d0-be61e543dfe6",
                None,
                None,
                0,
                String::new(),
            )
            .unwrap();
        let got: serde_json::Value = serde_json::from_str(&body).unwrap();
        let want: serde_json::Value = serde_json::from_str(
            r#"{
"application": "WhatsApp",
"business": "BR",
"ciao_deployment": "brazil-prod",
"dialogflow_agent_id": "b5983b72-cac6-4f85-b9d0-be61e543dfe6",
"event": "outage_info_requested",
"event_detail_1": "none",
"event_detail_2": "none",
"event_detail_3": null,
"event_detail_4": null,
"event_type": "customer_action",
"party_id": "3a5bf619-6353-4412-a21b-bf2b1eab94db",
"session_id": "dfcx:b5983b72-cac6-4f85-b9d0-be61e543dfe6:wqbFXoeX2kdSZhSyi",
"source_component": "Ciao",
"timestamp": 1651688848191
}"#,
        )
        .unwrap();
        assert_eq!(got, want);
        // Keys in the seed's (alphabetical) order.
        assert!(body.starts_with(r#"{"application":"WhatsApp","business":"BR","ciao_deployment""#));
    }

    #[test]
    fn ciao_details_are_strings_and_at_most_four() {
        let e = parse_event(
            r#"{"category":"C","action":"a","properties":{"n":42,"b":true,"l":["x"],"z":null}}"#,
            0,
        )
        .unwrap();
        let body = BodyFormat::Ciao(fields())
            .encode(&e, "", None, None, 0, String::new())
            .unwrap();
        assert!(
            body.contains(r#""event_detail_1":"42","event_detail_2":"true","event_detail_3":"[\"x\"]","event_detail_4":null"#),
            "{body}"
        );
        assert!(body.contains(r#""dialogflow_agent_id":null"#), "{body}");
        assert!(body.contains(r#""session_id":null"#), "{body}");
        let e = parse_event(
            r#"{"category":"C","action":"a","properties":{"a":1,"b":2,"c":3,"d":4,"e":5}}"#,
            0,
        )
        .unwrap();
        let err = BodyFormat::Ciao(fields())
            .encode(&e, "", None, None, 0, String::new())
            .unwrap_err();
        assert_eq!(err.field, "properties");
        assert!(err.reason.contains("room for 4"), "{err}");
    }

    #[test]
    fn event_names() {
        assert_eq!(
            ciao_event_name("Chat Session", "closed"),
            "chat_session_closed"
        );
        assert_eq!(
            ciao_event_name("Survey", "link_clicked"),
            "survey_link_clicked"
        );
        assert_eq!(
            ciao_event_name("Live Broadcast", "viewer-subscribed"),
            "live_broadcast_viewer_subscribed"
        );
    }
}
