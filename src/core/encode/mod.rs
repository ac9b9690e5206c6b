//! From the caller's JSON to the queued message, on the caller's thread: parse, check
//! against the tracking plan, pick the topic and message group, write the body in the
//! chosen format, and check the SNS size limit. What `log()` hands to the delivery
//! loop is the finished [`EncodedEvent`].

mod access;
mod format;
mod reroute;
mod route;

pub use access::{check_app_id, AppAccess, ALL_CATEGORIES};
pub use format::{BodyFormat, CiaoFields, CIAO_DETAILS, CIAO_PARTY_PROPERTY};
pub use route::{agent_topics_from_json, Router, Topic, TopicTable};

use std::sync::Arc;

use uuid::Uuid;

use crate::core::error::{AppAccessDenied, InvalidEvent, PlanRejection};
use crate::core::event::{parse_event, EncodedEvent, MAX_MESSAGE_BYTES};
use crate::core::plan::{TrackingPlan, Violation};

/// What a plan violation does (`validation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// `log()` throws `ERR_TRACKING_PLAN`; the event is not published.
    Strict,
    /// The event is published; violations are counted and reported through `onError`.
    Warn,
    /// The plan is used for routing and the `ciao` detail order only.
    Off,
}

/// The FIFO MessageGroupId of events (`messageGroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageGroup {
    /// One group per site (`siteUrl`): every event in `log()` order.
    Site,
    /// One group per room (`${siteUrl}/${roomId}`): each conversation in order, rooms
    /// in parallel. Events without a room use the site's group.
    Room,
}

/// Everything that decides how one event is checked and encoded.
#[derive(Debug, Clone)]
pub struct EncoderConfig {
    /// `dialogflowAgentId` for events that carry none.
    pub default_agent_id: String,
    pub plan: Option<Arc<TrackingPlan>>,
    pub validation: Validation,
    pub format: BodyFormat,
    pub message_group: MessageGroup,
    /// `siteUrl`, the site's message group.
    pub site_url: String,
    pub router: Router,
    /// What each App may log (`appAccess`); an App not in it logs nothing.
    pub app_access: Arc<AppAccess>,
}

/// An event ready to queue, and the plan violations `validation: 'warn'` lets through.
#[derive(Debug)]
pub struct Encoded {
    pub event: EncodedEvent,
    pub violations: Vec<Violation>,
}

/// Why an event was not encoded.
#[derive(Debug)]
pub enum EncodeError {
    Invalid(InvalidEvent),
    Plan(PlanRejection),
    /// An App's event that `appAccess` does not allow.
    NotAllowed(AppAccessDenied),
}

impl From<InvalidEvent> for EncodeError {
    fn from(e: InvalidEvent) -> Self {
        EncodeError::Invalid(e)
    }
}

/// SNS MessageGroupId: 1-128 characters, printable ASCII without spaces.
fn is_group_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (33..=126).contains(&b))
}

impl EncoderConfig {
    pub fn encode(&self, json: &str, id: Uuid, now_ms: i64) -> Result<Encoded, EncodeError> {
        self.encode_for(json, id, now_ms, None)
    }

    /// [`EncoderConfig::encode`] for an event a Rocket.Chat App logged: it carries the
    /// app's id as the `appId` attribute.
    pub fn encode_for(
        &self,
        json: &str,
        id: Uuid,
        now_ms: i64,
        app_id: Option<&str>,
    ) -> Result<Encoded, EncodeError> {
        let event = parse_event(json, now_ms)?;
        if let Some(app) = app_id {
            self.app_access
                .check(app, &event.category, event.agent_id.as_deref())
                .map_err(EncodeError::NotAllowed)?;
        }
        let spec = self
            .plan
            .as_deref()
            .and_then(|p| p.event(&event.category, &event.action));
        let violations = match (&self.plan, self.validation) {
            (Some(plan), Validation::Strict | Validation::Warn) => plan.check_planned(spec, &event),
            _ => Vec::new(),
        };
        if !violations.is_empty() && self.validation == Validation::Strict {
            return Err(EncodeError::Plan(PlanRejection {
                plan: self
                    .plan
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                event: format!("{}/{}", event.category, event.action),
                violations,
            }));
        }
        let agent_id = event.agent_id.as_deref().unwrap_or(&self.default_agent_id);
        let topic = self.router.route(agent_id, &event.category, &event.action);
        let group = match self.message_group {
            MessageGroup::Room if self.router.is_fifo(topic) && !event.room_id.is_empty() => {
                let group = format!("{}/{}", self.site_url, event.room_id);
                if !is_group_id(&group) {
                    return Err(InvalidEvent::new(
                        "roomId",
                        format!(
                            "becomes the FIFO MessageGroupId {group:?} (messageGroup 'room'), which must be \
                             1-128 printable ASCII characters without spaces"
                        ),
                    )
                    .into());
                }
                Some(group.into_boxed_str())
            }
            _ => None,
        };
        let body = self
            .format
            .encode(&event, agent_id, app_id, spec, json.len(), String::new())?;
        let encoded = EncodedEvent::new(
            id,
            body,
            &event.category,
            &event.action,
            event.event_type,
            topic,
            group,
            app_id.map(Into::into),
        );
        let size = encoded.message_bytes();
        if size > MAX_MESSAGE_BYTES {
            return Err(InvalidEvent::new(
                "event",
                format!(
                    "is {size} bytes as an SNS message, over the {MAX_MESSAGE_BYTES}-byte SNS limit; \
                     shrink its properties"
                ),
            )
            .into());
        }
        Ok(Encoded {
            event: encoded,
            violations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::{PlanSource, ViolationKind};
    use crate::core::testing::encoder;

    const NOW: i64 = 1_664_214_647_225;

    fn encode(cfg: &EncoderConfig, json: &str) -> Result<Encoded, EncodeError> {
        cfg.encode(json, Uuid::nil(), NOW)
    }

    #[test]
    fn body_has_the_contract_keys_in_order_with_defaults() {
        let e = encode(
            &encoder(),
            r#"{"category":"Chat Session","action":"started"}"#,
        )
        .unwrap()
        .event;
        assert_eq!(
            e.body(),
            r#"{"dialogflowAgentId":"agent-default","roomId":"","tabId":"","category":"Chat Session","action":"started","properties":{},"eventType":"session","timestamp":"2022-09-26T17:50:47.225Z"}"#
        );
        assert_eq!((e.topic, e.group.as_deref()), (0, None));
    }

    #[test]
    fn an_apps_event_names_its_app_in_the_body_too() {
        let json = r#"{"category":"Escalation","action":"attempted","roomId":"r1"}"#;
        let app = "4b5c1e0a-31c2-4f3e-9b8e-5f0d3c2a1b00";
        let e = encoder()
            .encode_for(json, Uuid::nil(), NOW, Some(app))
            .unwrap()
            .event;
        assert_eq!(
            e.body(),
            r#"{"dialogflowAgentId":"agent-default","roomId":"r1","tabId":"","appId":"4b5c1e0a-31c2-4f3e-9b8e-5f0d3c2a1b00","category":"Escalation","action":"attempted","properties":{},"eventType":"session","timestamp":"2022-09-26T17:50:47.225Z"}"#
        );
        assert_eq!(e.app_id.as_deref(), Some(app), "and as the attribute");
    }

    #[test]
    fn oversized_events_are_refused_with_the_limit() {
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        let Err(EncodeError::Invalid(err)) = encode(
            &encoder(),
            &format!(r#"{{"category":"c","action":"a","properties":{{"f":"{big}"}}}}"#),
        ) else {
            panic!("refused")
        };
        assert_eq!(err.field, "event");
        assert!(err.reason.contains("262144-byte SNS limit"), "{err}");
        let fits = "x".repeat(MAX_MESSAGE_BYTES - 400);
        let e = encode(
            &encoder(),
            &format!(r#"{{"category":"c","action":"a","properties":{{"f":"{fits}"}}}}"#),
        )
        .unwrap();
        assert!(e.event.message_bytes() <= MAX_MESSAGE_BYTES);
    }

    #[test]
    fn message_bytes_counts_attributes() {
        let e = encode(
            &encoder(),
            r#"{"category":"Survey","action":"link_clicked"}"#,
        )
        .unwrap()
        .event;
        let attrs = "eventId".len()
            + 36
            + "category".len()
            + 6
            + "action".len()
            + 12
            + "eventType".len()
            + 7
            + 4 * 6;
        assert_eq!(e.message_bytes(), e.body().len() + attrs);
    }

    fn with_plan(validation: Validation) -> EncoderConfig {
        let mut cfg = encoder();
        cfg.plan = Some(Arc::new(
            PlanSource::Builtin("rocketchat-livechat".into())
                .load()
                .unwrap(),
        ));
        cfg.validation = validation;
        cfg
    }

    const BAD: &str = r#"{"category":"Chat Session","action":"closed","properties":{"close_method":"chat-window"}}"#;

    #[test]
    fn strict_refuses_warn_passes_off_ignores() {
        let Err(EncodeError::Plan(r)) = encode(&with_plan(Validation::Strict), BAD) else {
            panic!("strict refuses")
        };
        assert_eq!(r.plan, "rocketchat-livechat");
        assert_eq!(r.event, "Chat Session/closed");
        assert_eq!(r.violations[0].kind, ViolationKind::NotAllowedValue);
        assert!(r.to_string().starts_with("analytics event Chat Session/closed violates tracking plan 'rocketchat-livechat': properties.close_method"), "{r}");

        let warned = encode(&with_plan(Validation::Warn), BAD).unwrap();
        assert_eq!(warned.violations.len(), 1);
        assert!(warned.event.body().contains("chat-window"));

        let off = encode(&with_plan(Validation::Off), BAD).unwrap();
        assert!(off.violations.is_empty());
    }

    #[test]
    fn room_groups_on_fifo_topics() {
        let mut cfg = encoder();
        cfg.message_group = MessageGroup::Room;
        let e = encode(
            &cfg,
            r#"{"category":"c","action":"a","roomId":"be61:wqbF"}"#,
        )
        .unwrap()
        .event;
        assert_eq!(
            e.group.as_deref(),
            Some("https://chat.example.com/be61:wqbF")
        );
        assert_eq!(
            e.queued_bytes(),
            e.body().len() + 1 + 1 + "https://chat.example.com/be61:wqbF".len()
        );
        let e = encode(&cfg, r#"{"category":"c","action":"a"}"#)
            .unwrap()
            .event;
        assert_eq!(e.group, None, "no room: the site's group");
        let Err(EncodeError::Invalid(err)) = encode(
            &cfg,
            r#"{"category":"c","action":"a","roomId":"has space"}"#,
        ) else {
            panic!("refused")
        };
        assert_eq!(err.field, "roomId");
        assert!(err.reason.contains("MessageGroupId"), "{err}");
    }

    #[test]
    fn routing_uses_the_event_or_default_agent() {
        let mut cfg = encoder();
        cfg.router = Router::new(
            Arc::default(),
            "arn:aws:sns:us-east-1:123456789012:default.fifo",
            &[(
                "agent-default".into(),
                "arn:aws:sns:us-east-1:123456789012:a.fifo".into(),
            )],
            &[(
                "Escalation".into(),
                "arn:aws:sns:us-east-1:123456789012:esc.fifo".into(),
            )],
        )
        .unwrap();
        let topic = |json: &str| encode(&cfg, json).unwrap().event.topic;
        assert_eq!(topic(r#"{"category":"Escalation","action":"failed"}"#), 1);
        assert_eq!(
            topic(r#"{"category":"Escalation","action":"failed","dialogflowAgentId":"x"}"#),
            2
        );
        assert_eq!(
            topic(r#"{"category":"Survey","action":"x","dialogflowAgentId":"x"}"#),
            0
        );
    }
}
