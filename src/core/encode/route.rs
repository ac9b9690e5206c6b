//! Which topic an event goes to: its Dialogflow agent's topic (`agentTopics`, the
//! seed's df_config.json), else its plan destination (`Category/action`, then
//! `Category`), else `topicArn`. Topics are numbered once, so a queued event carries a
//! two-byte index instead of an ARN.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::core::arn::parse_topic_arn;
use crate::core::error::InvalidOption;

/// One topic a logger publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub arn: String,
    /// A FIFO topic: ordered per message group, deduplicated by event id.
    pub fifo: bool,
}

/// Every topic a logger has published to or may publish to, numbered once and never
/// renumbered: shared by the caller's side (routing), the delivery loop, replay from
/// the spool and reconfiguration, so that an index means the same topic to all of
/// them. Locked only when a topic is added or the loop meets an index it has not
/// cached, never in `log()`.
#[derive(Debug, Default)]
pub struct TopicTable {
    topics: Mutex<Vec<Topic>>,
}

impl TopicTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Topic>> {
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index of `arn`, added if new; `None` when the table is full.
    /// The index of `arn`, if this logger has ever routed to it.
    pub fn position(&self, arn: &str) -> Option<u16> {
        self.lock()
            .iter()
            .position(|t| t.arn == arn)
            .map(|i| i as u16)
    }

    pub fn intern(&self, arn: &str, fifo: bool) -> Option<u16> {
        let mut topics = self.lock();
        if let Some(i) = topics.iter().position(|t| t.arn == arn) {
            return Some(i as u16);
        }
        if topics.len() >= MAX_TOPICS {
            return None;
        }
        topics.push(Topic {
            arn: arn.to_owned(),
            fifo,
        });
        Some((topics.len() - 1) as u16)
    }

    /// Every topic, in index order.
    pub fn snapshot(&self) -> Vec<Topic> {
        self.lock().clone()
    }
}

/// Routes for one category of the plan's `destinations`.
#[derive(Debug, Clone, Default)]
struct CategoryRoutes {
    all: Option<u16>,
    actions: HashMap<Box<str>, u16>,
}

/// The rules that pick an event's topic, as indices into the shared [`TopicTable`].
#[derive(Debug, Clone)]
pub struct Router {
    table: Arc<TopicTable>,
    default: u16,
    /// `fifo` of every index this router can return, for `log()` to read lock-free.
    fifo: Vec<bool>,
    by_agent: HashMap<Box<str>, u16>,
    by_category: HashMap<Box<str>, CategoryRoutes>,
}

/// Most distinct topics one logger may publish to.
const MAX_TOPICS: usize = u16::MAX as usize;

impl Router {
    /// `agent_topics` and `destinations` are `(key, ARN)` pairs; their errors name
    /// `agentTopics.<agent id>` and `trackingPlan` (`destinations.<key>`). All topics
    /// must be in `topicArn`'s region, because one client publishes to them all.
    pub fn new(
        table: Arc<TopicTable>,
        topic_arn: &str,
        agent_topics: &[(String, String)],
        destinations: &[(String, String)],
    ) -> Result<Router, InvalidOption> {
        let parsed = parse_topic_arn(topic_arn)?;
        let default = table
            .intern(topic_arn, parsed.fifo)
            .ok_or_else(|| InvalidOption::new("topicArn", "is one topic too many"))?;
        let region = parsed.region;
        let add = |option: String, arn: &str| -> Result<u16, InvalidOption> {
            let parsed = parse_topic_arn(arn).map_err(|e| InvalidOption::new(&option, e.reason))?;
            if parsed.region != region {
                return Err(InvalidOption::new(
                    option,
                    format!(
                        "is in region {}, but topicArn is in {region}; one logger publishes to one region",
                        parsed.region
                    ),
                ));
            }
            table
                .intern(arn, parsed.fifo)
                .ok_or_else(|| InvalidOption::new(option, "is one topic too many"))
        };
        let mut by_agent = HashMap::new();
        for (agent, arn) in agent_topics {
            if agent.is_empty() {
                return Err(InvalidOption::new(
                    "agentTopics",
                    "has an empty Dialogflow agent id",
                ));
            }
            let i = add(format!("agentTopics.{agent}"), arn)?;
            by_agent.insert(agent.as_str().into(), i);
        }
        let mut by_category: HashMap<Box<str>, CategoryRoutes> = HashMap::new();
        for (key, arn) in destinations {
            let i = add("trackingPlan".to_owned(), arn).map_err(|e| {
                InvalidOption::new("trackingPlan", format!("destinations.{key} {}", e.reason))
            })?;
            match key.split_once('/') {
                Some((c, a)) => {
                    by_category
                        .entry(c.into())
                        .or_default()
                        .actions
                        .insert(a.into(), i);
                }
                None => by_category.entry(key.as_str().into()).or_default().all = Some(i),
            }
        }
        let fifo = table.snapshot().iter().map(|t| t.fifo).collect();
        Ok(Router {
            table,
            default,
            fifo,
            by_agent,
            by_category,
        })
    }

    /// The topic of an event: no allocation, at most three lookups.
    pub fn route(&self, agent_id: &str, category: &str, action: &str) -> u16 {
        if !self.by_agent.is_empty() {
            if let Some(&i) = self.by_agent.get(agent_id) {
                return i;
            }
        }
        if let Some(routes) = self.by_category.get(category) {
            if let Some(&i) = routes.actions.get(action) {
                return i;
            }
            if let Some(i) = routes.all {
                return i;
            }
        }
        self.default
    }

    /// Whether topic `i` (an index this router returned) is a FIFO topic.
    pub fn is_fifo(&self, i: u16) -> bool {
        self.fifo.get(i as usize).copied().unwrap_or(false)
    }

    /// Whether this router can send an event to topic `i`: it is `topicArn`, an agent's
    /// topic or a plan destination. A topic only an earlier configuration named is not.
    pub fn names(&self, i: u16) -> bool {
        i == self.default
            || self.by_agent.values().any(|&t| t == i)
            || self
                .by_category
                .values()
                .any(|r| r.all == Some(i) || r.actions.values().any(|&t| t == i))
    }

    pub fn table(&self) -> &Arc<TopicTable> {
        &self.table
    }
}

/// Reads the seed's df_config.json form of `agentTopics`: an object mapping each
/// Dialogflow agent id to its topic ARN, either directly or as the `sns_arn_topic`
/// (or `topicArn`) attribute of an object.
pub fn agent_topics_from_json(
    text: &str,
    origin: &str,
) -> Result<Vec<(String, String)>, InvalidOption> {
    let bad = |why: String| InvalidOption::new("agentTopics", format!("{origin}: {why}"));
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("is not valid JSON ({e})")))?;
    let serde_json::Value::Object(map) = doc else {
        return Err(bad(
            "must be an object mapping Dialogflow agent ids to topic ARNs".into(),
        ));
    };
    map.into_iter()
        .map(|(agent, v)| {
            let arn = match &v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Object(o) => o
                    .get("sns_arn_topic")
                    .or_else(|| o.get("topicArn"))
                    .and_then(|a| a.as_str())
                    .map(str::to_owned),
                _ => None,
            };
            arn.map(|a| (agent.clone(), a)).ok_or_else(|| {
                bad(format!(
                    "agent {agent:?} must map to a topic ARN or an object with `sns_arn_topic`, got {v}"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "arn:aws:sns:us-east-1:123456789012:default.fifo";
    const AGENT: &str = "arn:aws:sns:us-east-1:123456789012:agent-b598.fifo";
    const ESC: &str = "arn:aws:sns:us-east-1:123456789012:escalations";

    #[test]
    fn agent_then_destination_then_default() {
        let table = Arc::new(TopicTable::default());
        let r = Router::new(
            table.clone(),
            DEFAULT,
            &[("b598".into(), AGENT.into())],
            &[
                ("Escalation".into(), ESC.into()),
                ("Chat Session/closed".into(), AGENT.into()),
            ],
        )
        .unwrap();
        assert_eq!(
            table.snapshot().len(),
            3,
            "the agent's topic is numbered once"
        );
        assert_eq!(r.route("b598", "Escalation", "failed"), 1);
        assert_eq!(r.route("other", "Escalation", "failed"), 2);
        assert!(!r.is_fifo(2) && r.is_fifo(1));
        assert_eq!(r.route("", "Chat Session", "closed"), 1);
        assert_eq!(r.route("", "Chat Session", "started"), 0);
        assert!((0..3).all(|i| r.names(i)));
        // A second router on the same table (a reconfiguration) keeps the numbers.
        let r2 = Router::new(table.clone(), ESC, &[], &[]).unwrap();
        assert_eq!(r2.route("b598", "x", "y"), 2);
        assert_eq!(table.snapshot().len(), 3);
        assert!(
            r2.names(2) && !r2.names(0) && !r2.names(1),
            "only what it routes to"
        );
    }

    #[test]
    fn errors_name_the_option() {
        let err =
            Router::new(Arc::default(), DEFAULT, &[("a".into(), "nope".into())], &[]).unwrap_err();
        assert_eq!(err.option, "agentTopics.a");
        let err = Router::new(
            Arc::default(),
            DEFAULT,
            &[("a".into(), "arn:aws:sns:eu-west-1:123456789012:t".into())],
            &[],
        )
        .unwrap_err();
        assert!(err.reason.contains("region eu-west-1"), "{err}");
        let err =
            Router::new(Arc::default(), DEFAULT, &[], &[("C".into(), "bad".into())]).unwrap_err();
        assert_eq!(err.option, "trackingPlan");
        assert!(
            err.reason
                .starts_with("destinations.C must be an SNS topic ARN"),
            "{err}"
        );
    }

    #[test]
    fn df_config_json() {
        let pairs = agent_topics_from_json(
            &format!(r#"{{"b598":{{"sns_arn_topic":"{AGENT}","other":1}},"c1":"{ESC}"}}"#),
            "df_config.json",
        )
        .unwrap();
        assert_eq!(
            pairs,
            [("b598".into(), AGENT.into()), ("c1".into(), ESC.into())]
        );
        let err = agent_topics_from_json(r#"{"b598":{"arn":"x"}}"#, "df_config.json").unwrap_err();
        assert!(
            err.reason.contains("df_config.json: agent \"b598\""),
            "{err}"
        );
    }
}
