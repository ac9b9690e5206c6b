//! An event `log()` has checked but whose message body the delivery loop writes, and
//! the two forms an event takes from `log()` to the loop.
//!
//! Why: writing the `rc` body was a quarter of `log()`'s own time on the JavaScript
//! thread (perf of that thread in a burst, docs/performance.md), and nothing in it
//! can fail once the event is checked. For the text `JSON.stringify` writes for a plain
//! event (`event/scan.rs`'s canonical form), every value the body holds already stands
//! in that text as the JSON the body needs, so `log()` keeps the text and notes where
//! each value is; the loop copies the body together when it takes the event in, into
//! an allocation of its own, which it made anyway to hand `log()`'s buffer back to the
//! text pool. `log()` still computes the body's exact length: the SNS size limit is
//! checked where the caller can be told, and the queue's byte counters hold what the
//! queued event will hold.

use std::ops::Range;

use uuid::Uuid;

use super::format::{rc_body_from_literals, rc_body_len};
use crate::core::event::{
    message_bytes_of, queued_bytes_of, write_json_str, EncodedEvent, EventType, ParsedEvent, Source,
};

/// An event on its way from `log()` to the delivery loop.
#[derive(Debug)]
pub enum LoggedEvent {
    /// Encoded in full on the caller's thread: the `ciao` format, a text in another
    /// form than the canonical one, a dead letter sent again.
    Written(EncodedEvent),
    /// Checked, with its `rc` body still to write.
    Unwritten(UnwrittenEvent),
}

impl LoggedEvent {
    pub fn id(&self) -> Uuid {
        match self {
            LoggedEvent::Written(e) => e.id,
            LoggedEvent::Unwritten(e) => e.id,
        }
    }

    /// Its category and action, as the attributes carry them.
    pub fn category_action(&self) -> (&str, &str) {
        match self {
            LoggedEvent::Written(e) => (e.category(), e.action()),
            LoggedEvent::Unwritten(e) => (e.unquoted(CATEGORY), e.unquoted(ACTION)),
        }
    }

    /// What [`EncodedEvent::queued_bytes`] of the queued event will be.
    pub fn queued_bytes(&self) -> usize {
        match self {
            LoggedEvent::Written(e) => e.queued_bytes(),
            LoggedEvent::Unwritten(e) => {
                queued_bytes_of(e.texts_len(), e.group.as_deref(), e.app_id.as_deref())
            }
        }
    }

    /// What [`EncodedEvent::message_bytes`] of the queued event will be.
    pub fn message_bytes(&self) -> usize {
        match self {
            LoggedEvent::Written(e) => e.message_bytes(),
            LoggedEvent::Unwritten(e) => {
                message_bytes_of(e.texts_len(), e.event_type, e.app_id.as_deref())
            }
        }
    }

    /// The event as it waits in the queue, in an allocation of exactly its size made
    /// by the calling thread, and the buffer `log()` wrote into (for the text pool).
    pub fn into_queued(self) -> (EncodedEvent, String) {
        match self {
            LoggedEvent::Written(mut event) => {
                let buffer = event.rehome();
                (event, buffer)
            }
            LoggedEvent::Unwritten(event) => event.write(),
        }
    }

    /// Marks the event as the Livechat widget's (see [`crate::core::event::Source`]).
    pub fn mark_widget(&mut self) {
        match self {
            LoggedEvent::Written(e) => e.widget = true,
            LoggedEvent::Unwritten(e) => e.widget = true,
        }
    }

    /// The lane the event is counted in.
    pub fn source(&self) -> Source<'_> {
        match self {
            LoggedEvent::Written(e) => e.source(),
            LoggedEvent::Unwritten(e) => match (&e.app_id, e.widget) {
                (Some(app), _) => Source::App(app),
                (None, true) => Source::Widget,
                (None, false) => Source::Server,
            },
        }
    }

    /// The event as it waits in the queue, where no buffer goes back: a written one
    /// as it is, without [`LoggedEvent::into_queued`]'s copy.
    pub fn into_encoded(self) -> EncodedEvent {
        match self {
            LoggedEvent::Written(event) => event,
            LoggedEvent::Unwritten(event) => event.write().0,
        }
    }
}

/// A checked event and where in its JSON text each value of its `rc` body stands.
#[derive(Debug)]
pub struct UnwrittenEvent {
    pub id: Uuid,
    /// The caller's JSON text, then the default agent id as JSON when the event has
    /// none of its own.
    text: String,
    /// Where in `text` the JSON of the agent id, room id, tab id, category, action and
    /// properties object stands, as (start, length); a length of 0 for an absent room
    /// or tab id (`""`) or absent properties (`{}`).
    literals: [(u32, u32); 6],
    body_len: u32,
    /// The body's length and the category's and the action's.
    texts_len: u32,
    event_type: EventType,
    timestamp_ms: i64,
    topic: u16,
    group: Option<Box<str>>,
    app_id: Option<Box<str>>,
    widget: bool,
}

/// The places in [`UnwrittenEvent::literals`], in the order the body holds them.
const AGENT: usize = 0;
const ROOM: usize = 1;
const TAB: usize = 2;
const CATEGORY: usize = 3;
const ACTION: usize = 4;
const PROPERTIES: usize = 5;

/// What an absent value is written as, by its place in [`UnwrittenEvent::literals`]
/// (an agent id is never absent: the default stands in).
const ABSENT: [&str; 6] = ["\"\"", "\"\"", "\"\"", "\"\"", "\"\"", "{}"];

/// Where the routing and grouping `log()` decided put the event.
#[derive(Debug)]
pub struct Destination {
    pub topic: u16,
    pub group: Option<Box<str>>,
    pub app_id: Option<Box<str>>,
}

impl UnwrittenEvent {
    /// `event`, read from `json` in the canonical form with its `properties` object at
    /// `properties` (see `event::read_event`), with its text kept in `buf` (emptied
    /// first); `default_agent_id` stands in for an agent id it has none of. `to` comes
    /// back, and `buf` is untouched, if a value does not stand in `json` as its
    /// literal, which the canonical form rules out: the caller then writes the body
    /// itself.
    pub fn new(
        buf: &mut String,
        json: &str,
        event: &ParsedEvent<'_>,
        properties: &Range<usize>,
        default_agent_id: &str,
        id: Uuid,
        to: Destination,
    ) -> Result<Self, Destination> {
        match Self::literals(json, event, properties, default_agent_id) {
            Some(literals) => Ok(Self::with(
                buf,
                json,
                event,
                literals,
                default_agent_id,
                id,
                to,
            )),
            None => Err(to),
        }
    }

    /// Where each value stands in `json`, the agent id left for [`Self::with`].
    fn literals(
        json: &str,
        event: &ParsedEvent<'_>,
        properties: &Range<usize>,
        default_agent_id: &str,
    ) -> Option<[(u32, u32); 6]> {
        // Offsets and lengths fit in u32 with room for the default agent id and the
        // body's keys: N-API strings are far shorter.
        if json.len() > (u32::MAX / 4) as usize || default_agent_id.len() > 1 << 20 {
            return None;
        }
        let literal = |value: &str| -> Option<(u32, u32)> {
            let start = (value.as_ptr() as usize).checked_sub(json.as_ptr() as usize)?;
            let quoted = start.checked_sub(1)?..start + value.len() + 1;
            let bytes = json.as_bytes();
            (quoted.end <= json.len()
                && bytes[quoted.start] == b'"'
                && bytes[quoted.end - 1] == b'"')
                .then(|| span(&quoted))
        };
        let optional = |value: &str| -> Option<(u32, u32)> {
            if value.is_empty() {
                Some((0, 0))
            } else {
                literal(value)
            }
        };
        let mut literals = [(0, 0); 6];
        if let Some(agent) = &event.agent_id {
            literals[AGENT] = literal(agent)?;
        }
        literals[ROOM] = optional(&event.room_id)?;
        literals[TAB] = optional(&event.tab_id)?;
        literals[CATEGORY] = literal(&event.category)?;
        literals[ACTION] = literal(&event.action)?;
        if !properties.is_empty() {
            literals[PROPERTIES] = (properties.end <= json.len()).then(|| span(properties))?;
        }
        Some(literals)
    }

    fn with(
        buf: &mut String,
        json: &str,
        event: &ParsedEvent<'_>,
        mut literals: [(u32, u32); 6],
        default_agent_id: &str,
        id: Uuid,
        to: Destination,
    ) -> Self {
        buf.clear();
        buf.push_str(json);
        if event.agent_id.is_none() {
            write_json_str(buf, default_agent_id);
            literals[AGENT] = span(&(json.len()..buf.len()));
        }
        let literals_len = literals.iter().enumerate().map(|(i, &(_, len))| {
            if len == 0 {
                ABSENT[i].len()
            } else {
                len as usize
            }
        });
        let body_len = rc_body_len(literals_len.sum(), event.event_type);
        let texts_len = body_len + event.category.len() + event.action.len();
        UnwrittenEvent {
            id,
            text: std::mem::take(buf),
            literals,
            // Within u32: the text's length was checked, and the body holds little more.
            body_len: body_len as u32,
            texts_len: texts_len as u32,
            event_type: event.event_type,
            timestamp_ms: event.timestamp_ms,
            topic: to.topic,
            group: to.group,
            app_id: to.app_id,
            widget: false,
        }
    }

    /// The category or the action (`CATEGORY` or `ACTION`) without its quotes, as the
    /// attributes carry it: a canonical string has no escapes.
    fn unquoted(&self, i: usize) -> &str {
        unquote(literal(&self.text, &self.literals, i))
    }

    /// The length of the queued event's texts: body, category and action.
    fn texts_len(&self) -> usize {
        self.texts_len as usize
    }

    /// The event as it waits in the queue, and the buffer its text was in.
    fn write(self) -> (EncodedEvent, String) {
        let mut body = String::with_capacity(self.texts_len());
        let UnwrittenEvent {
            id,
            text,
            literals,
            body_len,
            texts_len: _,
            event_type,
            timestamp_ms,
            topic,
            group,
            app_id,
            widget,
        } = self;
        let literal = |i| literal(&text, &literals, i);
        rc_body_from_literals(
            &mut body,
            std::array::from_fn(literal),
            event_type,
            timestamp_ms,
        );
        debug_assert_eq!(body.len(), body_len as usize);
        let mut event = EncodedEvent::new(
            id,
            body,
            unquote(literal(CATEGORY)),
            unquote(literal(ACTION)),
            event_type,
            topic,
            group,
            app_id,
        );
        event.widget = widget;
        (event, text)
    }
}

/// Value `i`'s JSON in `text`, by its place in [`UnwrittenEvent::literals`].
fn literal<'t>(text: &'t str, literals: &[(u32, u32); 6], i: usize) -> &'t str {
    match literals[i] {
        (_, 0) => ABSENT[i],
        (start, len) => &text[start as usize..(start + len) as usize],
    }
}

fn unquote(literal: &str) -> &str {
    &literal[1..literal.len() - 1]
}

/// A range of the event's text as (start, length): [`UnwrittenEvent::new`] checked that
/// the text's length fits.
fn span(range: &Range<usize>) -> (u32, u32) {
    (range.start as u32, (range.end - range.start) as u32)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::core::encode::{BodyFormat, EncoderConfig, MessageGroup};
    use crate::core::event::{parse_event, MAX_MESSAGE_BYTES};
    use crate::core::testing::{encoder, event_json_value};

    const NOW: i64 = 1_664_214_647_225;

    /// The event as the caller's thread writes it in full: what the loop's copy must
    /// equal.
    fn written_in_full(cfg: &EncoderConfig, json: &str, app_id: Option<&str>) -> EncodedEvent {
        let event = parse_event(json, NOW).unwrap();
        let agent = event.agent_id.as_deref().unwrap_or(&cfg.default_agent_id);
        let topic = cfg.router.route(agent, &event.category, &event.action);
        let group = match cfg.message_group {
            MessageGroup::Room if !event.room_id.is_empty() => {
                Some(format!("{}/{}", cfg.site_url, event.room_id).into_boxed_str())
            }
            _ => None,
        };
        let body = cfg
            .format
            .encode(&event, agent, app_id, None, json.len(), String::new())
            .unwrap();
        EncodedEvent::new(
            Uuid::nil(),
            body,
            &event.category,
            &event.action,
            event.event_type,
            topic,
            group,
            app_id.map(Into::into),
        )
    }

    /// Logs `json` and checks that whatever `log()` left unwritten becomes exactly
    /// the event written in full, with the sizes `log()` counted; answers whether the
    /// body was left to the loop.
    fn check(cfg: &EncoderConfig, json: &str, app_id: Option<&str>) -> Result<bool, TestCaseError> {
        let Ok(logged) = cfg.log_into(String::new(), json, Uuid::nil(), NOW, app_id) else {
            return Ok(false);
        };
        let unwritten = matches!(logged.event, LoggedEvent::Unwritten(_));
        let (queued, message) = (logged.event.queued_bytes(), logged.event.message_bytes());
        let (category, action) = logged.event.category_action();
        let (category, action) = (category.to_owned(), action.to_owned());
        let (event, buffer) = logged.event.into_queued();
        let want = written_in_full(cfg, json, app_id);
        prop_assert_eq!(event.body(), want.body(), "{}", json);
        prop_assert_eq!(&event, &want, "{}", json);
        prop_assert_eq!(
            (category.as_str(), action.as_str()),
            (want.category(), want.action())
        );
        prop_assert_eq!(queued, want.queued_bytes());
        prop_assert_eq!(message, want.message_bytes());
        if unwritten {
            prop_assert!(buffer.starts_with(json), "the text went back to the pool");
        }
        Ok(unwritten)
    }

    const TYPICAL: &str = r#"{"category":"Chat Session","action":"closed","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"tab-5f1a2c","dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","eventType":"customerAction","properties":{"close_method":"chat window"},"timestamp":"2022-09-26T17:50:47.225Z"}"#;

    #[test]
    fn plain_events_are_left_to_the_loop_and_become_the_same_event() {
        let mut room_groups = encoder();
        room_groups.message_group = MessageGroup::Room;
        for cfg in [encoder(), room_groups] {
            for json in [
                TYPICAL,
                r#"{"category":"Chat Session","action":"started"}"#,
                r#"{"category":"c","action":"a","roomId":null,"tabId":"","dialogflowAgentId":"","eventType":null,"properties":null}"#,
                r#"{"category":"c","action":"a","properties":{}}"#,
                r#"{"category":"c","action":"a","properties":{"n":42,"m":-7,"b":true,"x":null,"s":""},"timestamp":1651688848191}"#,
            ] {
                assert!(check(&cfg, json, None).unwrap(), "{json} left to the loop");
                // An App's id goes into its body, which log() writes.
                assert!(
                    !check(&cfg, json, Some("app-1")).unwrap(),
                    "{json} of an App"
                );
            }
        }
    }

    #[test]
    fn other_texts_and_the_ciao_format_are_written_by_log() {
        for json in [
            r#"{"category":"c\"q","action":"a"}"#,
            r#"{"category":"c","action":"a","properties":{"f":1.5,"l":["x"]}}"#,
            r#"{ "category":"c","action":"a"}"#,
        ] {
            assert!(!check(&encoder(), json, None).unwrap(), "{json}");
        }
        let mut ciao = encoder();
        ciao.format = BodyFormat::Ciao(crate::core::encode::CiaoFields {
            application: "a".into(),
            business: "b".into(),
            deployment: "d".into(),
            source_component: "s".into(),
        });
        let logged = ciao
            .log_into(String::new(), TYPICAL, Uuid::nil(), NOW, None)
            .unwrap();
        assert!(matches!(logged.event, LoggedEvent::Written(_)));
    }

    #[test]
    fn a_channel_slot_stays_small() {
        // Each event `log()` hands over takes a slot of this size in the channel's
        // blocks, which the JavaScript thread allocates while a burst outpaces the
        // loop: fresh memory on the thread whose time counts.
        assert!(std::mem::size_of::<LoggedEvent>() <= 144);
    }

    #[test]
    fn a_default_agent_id_that_needs_escapes_is_written_as_json() {
        let mut cfg = encoder();
        cfg.default_agent_id = "agent \"x\"\\\n".into();
        assert!(check(&cfg, r#"{"category":"c","action":"a"}"#, None).unwrap());
    }

    #[test]
    fn the_size_limit_counts_the_body_log_did_not_write() {
        let cfg = encoder();
        let fits = |pad: usize| {
            let json = format!(
                r#"{{"category":"c","action":"a","properties":{{"f":"{}"}}}}"#,
                "x".repeat(pad)
            );
            cfg.log_into(String::new(), &json, Uuid::nil(), NOW, None)
                .map(|l| {
                    (
                        l.event.message_bytes(),
                        matches!(l.event, LoggedEvent::Unwritten(_)),
                    )
                })
        };
        let (small, unwritten) = fits(10).unwrap();
        assert!(unwritten);
        let limit_pad = 10 + MAX_MESSAGE_BYTES - small;
        assert_eq!(fits(limit_pad).unwrap().0, MAX_MESSAGE_BYTES);
        let err = fits(limit_pad + 1).unwrap_err();
        assert!(
            matches!(err, crate::core::encode::EncodeError::Invalid(e) if e.reason.contains("262145 bytes"))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(2048)))]

        /// Whatever `log()` leaves to the loop becomes the event `log()` would have
        /// written, byte for byte, with the sizes it counted.
        #[test]
        fn the_loops_body_is_the_body_log_would_write(
            v in event_json_value(),
            room_groups in any::<bool>(),
            app in proptest::option::of("[a-z0-9-]{1,12}"),
        ) {
            let mut cfg = encoder();
            if room_groups {
                cfg.message_group = MessageGroup::Room;
            }
            check(&cfg, &v.to_string(), app.as_deref())?;
        }
    }
}
