//! The body of one `PublishBatch` request in SNS's awsQuery protocol: a form-encoded
//! list of `Name=Value` pairs, written straight into one buffer. This is what
//! aws-sdk-sns sends (see `testdata/sdk-publish-batch.json`); building it by hand
//! costs one allocation per request instead of a few per field.

use super::super::event::{EncodedEvent, APP_ATTRIBUTE, ATTRIBUTE_NAMES, ATTRIBUTE_TYPE};
use super::super::publisher::BatchRequest;

/// The awsQuery API version of SNS.
pub const API_VERSION: &str = "2010-03-31";
pub const CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Per-entry bytes besides the message and attribute values (the parameter names),
/// so that the buffer is allocated once, never grown.
const ENTRY_OVERHEAD: usize = 900;

/// Writes the form body of `request` into `out` (which is cleared first).
pub fn encode_publish_batch(request: &BatchRequest<'_>, out: &mut Vec<u8>) {
    out.clear();
    let estimate: usize = request
        .entries
        .iter()
        // JSON is dense in quotes and colons, which become three bytes each; twice
        // the text is a bound that real events stay under.
        .map(|e| 2 * e.message_bytes() + ENTRY_OVERHEAD)
        .sum();
    out.reserve(estimate + 200 + request.topic_arn.len() * 2);
    out.extend_from_slice(b"Action=PublishBatch&Version=");
    out.extend_from_slice(API_VERSION.as_bytes());
    out.extend_from_slice(b"&TopicArn=");
    percent_encode(request.topic_arn, out);
    for (i, event) in request.entries.iter().enumerate() {
        encode_entry(request, i + 1, event, out);
    }
}

fn encode_entry(request: &BatchRequest<'_>, n: usize, event: &EncodedEvent, out: &mut Vec<u8>) {
    let mut id_buf = [0u8; 36];
    let id: &str = event.id.hyphenated().encode_lower(&mut id_buf);
    let prefix = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"&PublishBatchRequestEntries.member.");
        push_number(n, out);
        out.push(b'.');
    };
    let member = |field: &str, out: &mut Vec<u8>| {
        prefix(out);
        out.extend_from_slice(field.as_bytes());
        out.push(b'=');
    };
    member("Id", out);
    out.extend_from_slice(id.as_bytes());
    member("Message", out);
    percent_encode(&event.body, out);
    member("Subject", out);
    percent_encode(request.subject, out);

    let values = [
        id,
        &*event.category,
        &*event.action,
        event.event_type.as_str(),
    ];
    let app = event.app_id.as_deref().map(|a| (APP_ATTRIBUTE, a));
    let attributes = ATTRIBUTE_NAMES.iter().copied().zip(values).chain(app);
    for (k, (name, value)) in attributes.enumerate() {
        let attribute = |field: &str, out: &mut Vec<u8>| {
            prefix(out);
            out.extend_from_slice(b"MessageAttributes.entry.");
            push_number(k + 1, out);
            out.push(b'.');
            out.extend_from_slice(field.as_bytes());
            out.push(b'=');
        };
        attribute("Name", out);
        out.extend_from_slice(name.as_bytes());
        attribute("Value.DataType", out);
        out.extend_from_slice(ATTRIBUTE_TYPE.as_bytes());
        attribute("Value.StringValue", out);
        percent_encode(value, out);
    }
    if let Some(group) = request.message_group_id {
        // Stable across every retry: SNS drops a copy it already took.
        member("MessageDeduplicationId", out);
        out.extend_from_slice(id.as_bytes());
        member("MessageGroupId", out);
        percent_encode(group, out);
    }
}

fn push_number(n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX` of
/// its UTF-8 bytes, as the SDK's query serializer does.
pub fn percent_encode(value: &str, out: &mut Vec<u8>) {
    let bytes = value.as_bytes();
    // Unreserved runs are copied whole; only escaped bytes are written one by one.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = ESCAPES[b as usize];
        if escaped[0] != 0 {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(&escaped);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// For each byte, `%XX` if it must be escaped, zeros if it is unreserved.
static ESCAPES: [[u8; 3]; 256] = {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut table = [[0u8; 3]; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let unreserved = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        if !unreserved {
            table[b] = [b'%', HEX[b >> 4], HEX[b & 15]];
        }
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::core::event::EventType;

    /// The form body as a map from parameter to decoded value, with each entry's
    /// message attributes keyed by name rather than by their (arbitrary) index.
    pub(crate) fn decode_form(body: &str) -> BTreeMap<String, String> {
        let pairs: Vec<(String, String)> = body
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("name=value");
                (k.to_owned(), percent_decode(v))
            })
            .collect();
        let lookup: BTreeMap<&str, &str> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut out = BTreeMap::new();
        for (k, v) in &pairs {
            if let Some(prefix) = k.strip_suffix(".Name") {
                if prefix.contains("MessageAttributes.entry.") {
                    let member = &prefix[..prefix.find("MessageAttributes").unwrap()];
                    for field in ["Value.DataType", "Value.StringValue"] {
                        out.insert(
                            format!("{member}attribute.{v}.{field}"),
                            lookup[format!("{prefix}.{field}").as_str()].to_owned(),
                        );
                    }
                }
            } else if !k.contains("MessageAttributes.entry.") {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    fn percent_decode(v: &str) -> String {
        let b = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn sdk_fixture() -> serde_json::Value {
        serde_json::from_str(include_str!("testdata/sdk-publish-batch.json")).unwrap()
    }

    /// Rebuilds the captured SDK request's entries from its own body.
    pub(crate) fn fixture_events() -> Vec<EncodedEvent> {
        let form = decode_form(sdk_fixture()["body"].as_str().unwrap());
        (1..=2)
            .map(|n| {
                let m =
                    |f: &str| form[&format!("PublishBatchRequestEntries.member.{n}.{f}")].clone();
                let a = |name: &str| m(&format!("attribute.{name}.Value.StringValue"));
                EncodedEvent {
                    id: Uuid::parse_str(&m("Id")).unwrap(),
                    body: m("Message").into(),
                    category: a("category").into(),
                    action: a("action").into(),
                    event_type: match a("eventType").as_str() {
                        "session" => EventType::Session,
                        _ => EventType::CustomerAction,
                    },
                    topic: 0,
                    group: None,
                    app_id: None,
                }
            })
            .collect()
    }

    pub(crate) fn fixture_body() -> Vec<u8> {
        let events = fixture_events();
        let entries: Vec<&EncodedEvent> = events.iter().collect();
        let mut out = Vec::new();
        encode_publish_batch(
            &BatchRequest {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:analytics.fifo",
                subject: "RC",
                message_group_id: Some("https://chat.example.com"),
                entries: &entries,
            },
            &mut out,
        );
        out
    }

    #[test]
    fn body_says_what_the_sdk_said() {
        let fixture = sdk_fixture();
        let theirs = fixture["body"].as_str().unwrap();
        let ours = String::from_utf8(fixture_body()).unwrap();
        assert_eq!(decode_form(&ours), decode_form(theirs));
        // Same encoding, not only the same values: same length, byte for byte
        // apart from the order of the attributes.
        assert_eq!(ours.len(), theirs.len());
        assert!(ours.starts_with(&theirs[..theirs.find("&PublishBatchRequestEntries").unwrap()]));
    }

    #[test]
    fn percent_encoding_matches_rfc_3986() {
        let mut out = Vec::new();
        percent_encode("a-Z_0.~ *&=+/%é\u{1F600}", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a-Z_0.~%20%2A%26%3D%2B%2F%25%C3%A9%F0%9F%98%80"
        );
    }

    #[test]
    fn app_attribute_and_standard_topics() {
        let mut event = fixture_events().remove(0);
        event.app_id = Some("app-1".into());
        let mut out = Vec::new();
        encode_publish_batch(
            &BatchRequest {
                topic_arn: "arn:aws:sns:us-east-1:1:t",
                subject: "Rocket Chat",
                message_group_id: None,
                entries: &[&event],
            },
            &mut out,
        );
        let form = decode_form(std::str::from_utf8(&out).unwrap());
        let m = "PublishBatchRequestEntries.member.1.";
        assert_eq!(
            form[&format!("{m}attribute.appId.Value.StringValue")],
            "app-1"
        );
        assert_eq!(form[&format!("{m}Subject")], "Rocket Chat");
        assert!(!form.contains_key(&format!("{m}MessageGroupId")));
        assert!(!form.contains_key(&format!("{m}MessageDeduplicationId")));
        assert_eq!(
            form.keys().filter(|k| k.contains(".attribute.")).count(),
            10
        );
    }

    #[test]
    fn numbers() {
        for n in [0, 1, 9, 10, 99, 100, 12345] {
            let mut out = Vec::new();
            push_number(n, &mut out);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
