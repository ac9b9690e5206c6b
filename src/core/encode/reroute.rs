//! Routing an event again, after `log()`: when `reconfigure()` no longer names the
//! paused destination it was held for (an administrator fixed a mistyped topic), it
//! goes where the new options send it. Its body stays exactly as it was logged; the
//! topic follows from the Dialogflow agent the body names (it is the one the event was
//! routed by), its category and action.

use serde::Deserialize;

use super::{is_group_id, EncoderConfig, MessageGroup};
use crate::core::event::EncodedEvent;

/// What routing needs from a body, in either format.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RoutingKeys {
    /// `rc`.
    #[serde(rename = "dialogflowAgentId")]
    agent_id: Option<String>,
    #[serde(rename = "roomId")]
    room_id: Option<String>,
    /// `ciao`: null when the event had no agent.
    #[serde(rename = "dialogflow_agent_id")]
    ciao_agent_id: Option<String>,
}

impl EncoderConfig {
    /// The topic and message group `event` gets from these options. The agent is
    /// read from the body (`dialogflowAgentId`, or the `ciao` body's
    /// `dialogflow_agent_id`); a body that names none routes as the agent `''`, which
    /// is what it was routed as. An event keeps the message group it has; one without
    /// gets its room's group when it moves to a FIFO topic with `messageGroup:
    /// 'room'` and its body (`rc`) names the room.
    pub fn reroute(&self, event: &EncodedEvent) -> (u16, Option<Box<str>>) {
        let keys: RoutingKeys = serde_json::from_str(event.body()).unwrap_or_default();
        let agent = keys.agent_id.or(keys.ciao_agent_id).unwrap_or_default();
        let topic = self.router.route(&agent, event.category(), event.action());
        if !self.router.is_fifo(topic) {
            return (topic, None);
        }
        let group = event.group.clone().or_else(|| {
            let room = keys.room_id.filter(|r| !r.is_empty())?;
            let group = format!("{}/{room}", self.site_url);
            (self.message_group == MessageGroup::Room && is_group_id(&group))
                .then(|| group.into_boxed_str())
        });
        (topic, group)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uuid::Uuid;

    use super::*;
    use crate::core::encode::{BodyFormat, CiaoFields, Router, TopicTable};
    use crate::core::testing::encoder_for;

    const TYPO: &str = "arn:aws:sns:us-east-1:123456789012:agent-typo.fifo";
    const AGENT: &str = "arn:aws:sns:us-east-1:123456789012:agent.fifo";
    const DEFAULT: &str = "arn:aws:sns:us-east-1:123456789012:default.fifo";
    const STANDARD: &str = "arn:aws:sns:us-east-1:123456789012:standard";

    fn config(table: &Arc<TopicTable>, agent_topic: &str) -> EncoderConfig {
        let mut c = encoder_for(DEFAULT);
        c.router = Router::new(
            table.clone(),
            DEFAULT,
            &[("b598".into(), agent_topic.into())],
            &[],
        )
        .unwrap();
        c
    }

    fn log(c: &EncoderConfig, json: &str) -> EncodedEvent {
        c.encode(json, Uuid::now_v7(), 0).unwrap().event
    }

    #[test]
    fn a_fixed_agent_topic_takes_the_agents_held_events() {
        let table = Arc::new(TopicTable::default());
        let old = config(&table, TYPO);
        let agents = log(
            &old,
            r#"{"category":"c","action":"a","dialogflowAgentId":"b598"}"#,
        );
        let others = log(
            &old,
            r#"{"category":"c","action":"a","dialogflowAgentId":"x"}"#,
        );
        let typo = old.router.route("b598", "c", "a");
        assert_eq!(agents.topic, typo);
        let new = config(&table, AGENT);
        assert!(!new.router.names(typo));
        let (topic, group) = new.reroute(&agents);
        assert_eq!(table.snapshot()[topic as usize].arn, AGENT);
        assert_eq!(group, None, "the site's group, as before");
        assert_eq!(new.reroute(&others).0, others.topic, "the default stays");
    }

    #[test]
    fn the_default_agent_and_the_ciao_body_route_as_logged() {
        let table = Arc::new(TopicTable::default());
        let mut old = config(&table, TYPO);
        old.default_agent_id = "b598".into();
        old.format = BodyFormat::Ciao(CiaoFields {
            application: "a".into(),
            business: "b".into(),
            deployment: "d".into(),
            source_component: "s".into(),
        });
        let event = log(&old, r#"{"category":"c","action":"a"}"#);
        assert!(
            event.body().contains(r#""dialogflow_agent_id":"b598""#),
            "{}",
            event.body()
        );
        let new = config(&table, AGENT);
        assert_eq!(table.snapshot()[new.reroute(&event).0 as usize].arn, AGENT);
    }

    #[test]
    fn moving_to_a_fifo_topic_with_room_groups_gives_the_rooms_group() {
        let table = Arc::new(TopicTable::default());
        let old = config(&table, STANDARD);
        let event = log(
            &old,
            r#"{"category":"c","action":"a","dialogflowAgentId":"b598","roomId":"r1"}"#,
        );
        assert_eq!(event.group, None, "a standard topic has no groups");
        let mut new = config(&table, AGENT);
        new.message_group = MessageGroup::Room;
        let (_, group) = new.reroute(&event);
        assert_eq!(group.as_deref(), Some("https://chat.example.com/r1"));
        let to_standard = config(&table, STANDARD);
        assert_eq!(to_standard.reroute(&event).1, None);
    }
}
