//! The fast path of [`parse_event`](super::parse_event): one pass over the text
//! `JSON.stringify` writes for a typical event, with no intermediate values.
//!
//! Why: serde_json's generic deserializer into [`Value`]s was the largest share of
//! `log()`'s own time on the JavaScript thread (about a fifth of it, 2026-12 perf
//! profile in docs/performance.md), and its code and data, cold after the event loop
//! slept, cost a first call of a turn more still.
//!
//! It takes only what it reads exactly: compact text (what `JSON.stringify` writes),
//! strings without escapes, `properties` values that are such strings, booleans,
//! `null` or integers of at most 15 digits, and the checks of the slow path passed.
//! Anything else (an escape, a float, an array, an unknown or repeated key, a value
//! the checks refuse) answers `None`, and the slow path reads the text and gives the
//! error. So whenever this answers, the slow path would answer the same event: a
//! property test holds the two to that.

use std::borrow::Cow;

use super::{
    event_type, special_byte, timestamp_value_ms, EventType, ParsedEvent, Value, MAX_TIMESTAMP_MS,
};

/// Integers longer than this take the slow path: below 2^53, so that every reading of
/// them agrees.
const MAX_INTEGER_DIGITS: usize = 15;

/// The event in `json`, if it is in the plain form this reads and valid; `None`
/// otherwise (the slow path then decides).
pub(super) fn canonical(json: &str, now_ms: i64) -> Option<ParsedEvent<'_>> {
    let mut r = Reader { text: json, at: 0 };
    r.byte(b'{')?;
    let mut category = None;
    let mut action = None;
    let mut room_id = None;
    let mut tab_id = None;
    let mut agent_id = None;
    let mut event_type_text = None;
    let mut timestamp = None;
    let mut properties = None;
    if r.peek() == Some(b'}') {
        // No category: the slow path says so.
        return None;
    }
    loop {
        let key = r.string()?;
        r.byte(b':')?;
        match key {
            "category" => set(&mut category, r.string()?)?,
            "action" => set(&mut action, r.string()?)?,
            "roomId" => set(&mut room_id, r.optional_string()?)?,
            "tabId" => set(&mut tab_id, r.optional_string()?)?,
            "dialogflowAgentId" => set(&mut agent_id, r.optional_string()?)?,
            "eventType" => set(&mut event_type_text, r.optional_string()?)?,
            "timestamp" => set(&mut timestamp, r.timestamp()?)?,
            "properties" => set(&mut properties, r.properties()?)?,
            _ => return None,
        }
        match r.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    if r.at != json.len() {
        return None;
    }
    let category = category.filter(|c: &&str| !c.trim().is_empty())?;
    let action = action.filter(|a: &&str| !a.trim().is_empty())?;
    let event_type: EventType = event_type(
        event_type_text
            .flatten()
            .map(|t| Value::Str(Cow::Borrowed(t))),
    )
    .ok()?;
    let event = ParsedEvent {
        category: Cow::Borrowed(category),
        action: Cow::Borrowed(action),
        room_id: Cow::Borrowed(room_id.flatten().unwrap_or_default()),
        tab_id: Cow::Borrowed(tab_id.flatten().unwrap_or_default()),
        agent_id: agent_id
            .flatten()
            .filter(|a| !a.is_empty())
            .map(Cow::Borrowed),
        event_type,
        timestamp_ms: timestamp.unwrap_or(now_ms),
        properties: properties.unwrap_or_default(),
    };
    Some(event)
}

/// Sets a field once; a second time is a repeated key (the slow path's business).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Consumes `word` if the text continues with it.
    fn word(&mut self, word: &str) -> bool {
        if self.text.as_bytes()[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            true
        } else {
            false
        }
    }

    /// A string without escapes (and, as JSON requires, without control characters).
    fn string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let rest = &self.text.as_bytes()[self.at..];
        let len = special_byte(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        // Both ends are ASCII quotes, so both are character boundaries.
        let s = &self.text[self.at..self.at + len];
        self.at += len + 1;
        Some(s)
    }

    /// A string, or `null` (which the optional fields read as absent).
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.word("null") {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// Digits of a whole number, `-` first if negative: at most [`MAX_INTEGER_DIGITS`],
    /// no leading zero, and not followed by a fraction or an exponent.
    fn integer(&mut self) -> Option<Value<'a>> {
        let bytes = self.text.as_bytes();
        let negative = self.peek() == Some(b'-');
        let start = self.at + usize::from(negative);
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0
            || digits > MAX_INTEGER_DIGITS
            || (bytes[start] == b'0' && (digits > 1 || negative))
            || matches!(bytes.get(start + digits), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let magnitude: u64 = self.text[start..start + digits].parse().ok()?;
        self.at = start + digits;
        // As serde_json reads them: non-negative as u64, negative as i64.
        Some(Value::Num(if negative {
            (-(magnitude as i64)).into()
        } else {
            magnitude.into()
        }))
    }

    /// An ISO-8601 string or whole epoch milliseconds, as the slow path reads them;
    /// `null` and anything it refuses answer `None`.
    fn timestamp(&mut self) -> Option<i64> {
        let value = match self.peek()? {
            b'"' => Value::Str(Cow::Borrowed(self.string()?)),
            b'0'..=b'9' => self.integer()?,
            _ => return None,
        };
        let ms = timestamp_value_ms(&value).ok()?;
        debug_assert!((0..=MAX_TIMESTAMP_MS).contains(&ms));
        Some(ms)
    }

    /// `properties`: `null`, or an object of scalar values with non-empty, distinct
    /// names, in the caller's order.
    fn properties(&mut self) -> Option<Vec<(Cow<'a, str>, Value<'a>)>> {
        if self.word("null") {
            return Some(Vec::new());
        }
        self.byte(b'{')?;
        let mut entries: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(4);
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(entries);
        }
        loop {
            let name = self.string()?;
            if name.is_empty() || entries.iter().any(|(k, _)| k == name) {
                return None;
            }
            self.byte(b':')?;
            let value = match self.peek()? {
                b'"' => Value::Str(Cow::Borrowed(self.string()?)),
                b't' if self.word("true") => Value::Bool(true),
                b'f' if self.word("false") => Value::Bool(false),
                b'n' if self.word("null") => Value::Null,
                b'-' | b'0'..=b'9' => self.integer()?,
                _ => return None,
            };
            entries.push((Cow::Borrowed(name), value));
            match self.next()? {
                b',' => continue,
                b'}' => return Some(entries),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{parse_event, slow_parse};
    use super::*;
    use crate::core::testing::event_json_value;

    const NOW: i64 = 1_664_214_647_225;

    /// The bench's event, as JSON.stringify writes it.
    const TYPICAL: &str = r#"{"category":"Chat Session","action":"closed","roomId":"be61e543dfe6:wqbFXoeX2kdSZhSyi","tabId":"tab-5f1a2c","dialogflowAgentId":"b5983b72-cac6-4f85-b9d0-be61e543dfe6","eventType":"customerAction","properties":{"close_method":"chat window"},"timestamp":"2022-09-26T17:50:47.225Z"}"#;

    fn same(a: &ParsedEvent<'_>, b: &ParsedEvent<'_>) -> bool {
        a.category == b.category
            && a.action == b.action
            && a.room_id == b.room_id
            && a.tab_id == b.tab_id
            && a.agent_id == b.agent_id
            && a.event_type == b.event_type
            && a.timestamp_ms == b.timestamp_ms
            && a.properties == b.properties
    }

    #[test]
    fn typical_events_take_the_fast_path() {
        for json in [
            TYPICAL,
            r#"{"category":"Chat Session","action":"started"}"#,
            r#"{"category":"c","action":"a","properties":{"n":42,"m":-7,"z":0,"b":true,"f":false,"x":null,"s":""},"timestamp":1651688848191}"#,
            r#"{"category":"c","action":"a","roomId":null,"tabId":null,"dialogflowAgentId":"","eventType":null,"properties":null}"#,
            r#"{"category":"c","action":"a","properties":{}}"#,
        ] {
            let fast = canonical(json, NOW).unwrap_or_else(|| panic!("fast path for {json}"));
            let slow = slow_parse(json, NOW).unwrap();
            assert!(same(&fast, &slow), "{json}: {fast:?} != {slow:?}");
        }
    }

    #[test]
    fn anything_unusual_goes_to_the_slow_path() {
        for json in [
            r#"{}"#,
            r#"{"category":"c","action":"a"} "#,
            r#" {"category":"c","action":"a"}"#,
            r#"{"category": "c","action":"a"}"#,
            r#"{"category":"c\"","action":"a"}"#,
            r#"{"category":"c","action":"a","category":"d"}"#,
            r#"{"category":"c","action":"a","other":1}"#,
            r#"{"category":"   ","action":"a"}"#,
            r#"{"category":"c"}"#,
            r#"{"category":null,"action":"a"}"#,
            r#"{"category":"c","action":"a","eventType":"visitor"}"#,
            r#"{"category":"c","action":"a","properties":{"f":1.5}}"#,
            r#"{"category":"c","action":"a","properties":{"f":1e3}}"#,
            r#"{"category":"c","action":"a","properties":{"f":-0}}"#,
            r#"{"category":"c","action":"a","properties":{"f":01}}"#,
            r#"{"category":"c","action":"a","properties":{"f":1234567890123456}}"#,
            r#"{"category":"c","action":"a","properties":{"l":["x"]}}"#,
            r#"{"category":"c","action":"a","properties":{"o":{}}}"#,
            r#"{"category":"c","action":"a","properties":{"":1}}"#,
            r#"{"category":"c","action":"a","properties":{"k":1,"k":2}}"#,
            r#"{"category":"c","action":"a","properties":[]}"#,
            r#"{"category":"c","action":"a","timestamp":null}"#,
            r#"{"category":"c","action":"a","timestamp":"yesterday"}"#,
            r#"{"category":"c","action":"a","timestamp":-1}"#,
            r#"{"category":"c","action":"a","timestamp":1.5}"#,
            r#"{"category":"c","action":"a","roomId":7}"#,
            r#"{"category":"c","action":"a""#,
            r#"{"category":"c","action":"a\u0041"}"#,
            "{\"category\":\"c\n\",\"action\":\"a\"}",
        ] {
            assert!(canonical(json, NOW).is_none(), "{json} took the fast path");
        }
    }

    #[test]
    fn special_bytes_are_found_first_wherever_they_are() {
        let plain = |b: &u8| *b != b'"' && *b != b'\\' && *b >= 0x20;
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    // Bytes that lie next to the specials, and above 0x7f.
                    let mut bytes: Vec<u8> = (0..len)
                        .map(|i| [b'!', b'#', b'[', b']', 0x20, 0xc3, 0xff][i % 7])
                        .collect();
                    bytes[at] = special;
                    assert_eq!(special_byte(&bytes), Some(at), "{bytes:?}");
                    bytes[at] = b'a';
                    assert_eq!(special_byte(&bytes), bytes.iter().position(|b| !plain(b)));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn special_byte_is_a_plain_search(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let want = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(special_byte(&bytes), want);
        }
    }

    #[test]
    fn parse_event_gives_the_slow_paths_errors() {
        let json = r#"{"category":"c","action":"a","properties":{"k":1,"k":2}}"#;
        let err = parse_event(json, NOW).unwrap_err();
        assert_eq!(err, slow_parse(json, NOW).unwrap_err());
        assert_eq!(err.field, "properties.k");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::core::fuzz_cases(2048)))]

        /// Whatever the fast path reads, the slow path reads the same.
        #[test]
        fn the_fast_path_agrees_with_the_slow_path(v in event_json_value()) {
            let json = v.to_string();
            if let Some(fast) = canonical(&json, NOW) {
                let slow = slow_parse(&json, NOW);
                prop_assert!(slow.is_ok(), "{json}: fast {fast:?}, slow {slow:?}");
                let slow = slow.unwrap();
                prop_assert!(same(&fast, &slow), "{json}: {fast:?} != {slow:?}");
            }
        }

        /// And on raw text, anything at all.
        #[test]
        fn and_on_any_text(s in r#"\{("[a-zA-Z]{0,10}"|[:,{}\[\]"0-9.e-]|null|true|false| ){0,24}\}?"#) {
            if let Some(fast) = canonical(&s, NOW) {
                let slow = slow_parse(&s, NOW);
                prop_assert!(slow.is_ok(), "{s}: fast {fast:?}, slow {slow:?}");
                prop_assert!(same(&fast, &slow.unwrap()), "{s}");
            }
        }
    }
}
