//! Reading SNS's XML answers. A `PublishBatchResponse` has two flat lists of
//! `<member>`s and an `ErrorResponse` one `<Error>`; neither nests an element in
//! one of its own name, so a scanner that finds elements by name reads them
//! exactly, without an XML parser's allocations per node.

use super::super::publisher::{BatchResponse, EntryFailure};

/// What an error answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub code: Option<String>,
    pub message: String,
}

/// Longest piece of an unreadable answer quoted in an error.
const QUOTED_BYTES: usize = 300;

/// The entries of a `PublishBatchResponse`, or `None` if `xml` is not one.
pub fn parse_publish_batch(xml: &str) -> Option<BatchResponse> {
    let result = element(xml, "PublishBatchResult")?;
    let successful = element(result, "Successful")
        .map(|s| {
            elements(s, "member")
                .filter_map(|m| text(m, "Id"))
                .collect()
        })
        .unwrap_or_default();
    let failed = element(result, "Failed")
        .map(|f| {
            elements(f, "member")
                .filter_map(|m| {
                    Some(EntryFailure {
                        id: text(m, "Id")?,
                        sender_fault: text(m, "SenderFault").as_deref() == Some("true"),
                        code: text(m, "Code").unwrap_or_default(),
                        message: text(m, "Message").unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(BatchResponse { successful, failed })
}

/// The code and message of an error answer; an answer that is not SNS's XML
/// (a proxy's page, say) is quoted instead.
pub fn parse_error(body: &str) -> ServiceError {
    match element(body, "Error") {
        Some(error) => ServiceError {
            code: text(error, "Code"),
            message: text(error, "Message").unwrap_or_default(),
        },
        None => ServiceError {
            code: None,
            message: quote(body),
        },
    }
}

/// The start of `body`, cut at a character boundary.
pub fn quote(body: &str) -> String {
    let mut end = body.len().min(QUOTED_BYTES);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = body[..end].trim().to_owned();
    if end < body.len() {
        out.push('…');
    }
    out
}

/// The content of the first `<name>` element, `""` for `<name/>`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    elements(xml, name).next()
}

/// The contents of each `<name>` element in turn (attributes allowed).
fn elements<'a, 'n>(xml: &'a str, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
    let mut rest = xml;
    std::iter::from_fn(move || loop {
        let at = tag_at(rest, "<", name)?;
        let after = &rest[at + 1..];
        let tail = &after[name.len()..];
        let close_at = tail.find('>')?;
        let open = &tail[..close_at];
        if !(open.is_empty() || open.starts_with([' ', '\t', '\r', '\n', '/'])) {
            // A longer name with this one as its prefix.
            rest = after;
            continue;
        }
        let content_start = &tail[close_at + 1..];
        if open.ends_with('/') {
            rest = content_start;
            return Some("");
        }
        let end = closing_tag(content_start, name)?;
        rest = &content_start[end + name.len() + 3..];
        return Some(&content_start[..end]);
    })
}

/// Where `</name>` starts in `xml`.
fn closing_tag(xml: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + tag_at(&xml[from..], "</", name)?;
        if xml[at + 2 + name.len()..].starts_with('>') {
            return Some(at);
        }
        from = at + 1;
    }
}

/// Where the first `name` right after `prefix` (`<` or `</`) starts, prefix included.
/// A substring search for the name (SIMD) rather than a stop at every `<`: an answer
/// has a few dozen tags and this scan runs once a level.
fn tag_at(xml: &str, prefix: &str, name: &str) -> Option<usize> {
    let bytes = xml.as_bytes();
    memchr::memmem::find_iter(bytes, name.as_bytes())
        .find(|&at| at >= prefix.len() && bytes[..at].ends_with(prefix.as_bytes()))
        .map(|at| at - prefix.len())
}

/// The unescaped text of the first `<name>` element.
fn text(xml: &str, name: &str) -> Option<String> {
    element(xml, name).map(unescape)
}

fn unescape(text: &str) -> String {
    let text = text.trim();
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = rest.find(';').and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let n = match entity.strip_prefix("#x").or(entity.strip_prefix("#X")) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => entity.strip_prefix('#')?.parse().ok()?,
                    };
                    char::from_u32(n)?
                }
            };
            Some((c, semi + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_successful_and_failed_members() {
        let xml = r#"<?xml version="1.0"?>
<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishBatchResult>
    <Successful>
      <member><Id>a</Id><MessageId>m1</MessageId><SequenceNumber>1</SequenceNumber></member>
      <member>
        <MessageId>m2</MessageId>
        <Id>b</Id>
      </member>
    </Successful>
    <Failed>
      <member><Id>c</Id><Code>InvalidParameter</Code><Message>bad &lt;Subject&gt; &amp; &#x27;x&#39;</Message><SenderFault>true</SenderFault></member>
      <member><Id>d</Id><Code>InternalError</Code><SenderFault>false</SenderFault></member>
    </Failed>
  </PublishBatchResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</PublishBatchResponse>"#;
        let r = parse_publish_batch(xml).unwrap();
        assert_eq!(r.successful, vec!["a", "b"]);
        assert_eq!(
            r.failed,
            vec![
                EntryFailure {
                    id: "c".into(),
                    sender_fault: true,
                    code: "InvalidParameter".into(),
                    message: "bad <Subject> & 'x'".into(),
                },
                EntryFailure {
                    id: "d".into(),
                    sender_fault: false,
                    code: "InternalError".into(),
                    message: String::new(),
                },
            ]
        );
    }

    #[test]
    fn empty_lists() {
        let r = parse_publish_batch(
            "<PublishBatchResponse><PublishBatchResult><Successful/><Failed /></PublishBatchResult></PublishBatchResponse>",
        )
        .unwrap();
        assert_eq!(r, BatchResponse::default());
        assert_eq!(
            parse_publish_batch("<PublishBatchResponse><PublishBatchResult></PublishBatchResult></PublishBatchResponse>"),
            Some(BatchResponse::default())
        );
        assert_eq!(parse_publish_batch("<html>gateway</html>"), None);
    }

    #[test]
    fn error_answers() {
        let e = parse_error(
            r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>x</RequestId></ErrorResponse>"#,
        );
        assert_eq!(e.code.as_deref(), Some("NotFound"));
        assert_eq!(e.message, "Topic does not exist");
        let page = "<html>".to_owned() + &"é".repeat(400);
        let e = parse_error(&page);
        assert_eq!(e.code, None);
        assert!(e.message.starts_with("<html>") && e.message.ends_with('…'));
        assert!(e.message.len() <= QUOTED_BYTES + 3);
    }

    #[test]
    fn names_are_matched_whole() {
        let xml = "<Ids>x</Ids><Id>y</Id><Id attr=\"1\">z</Id>";
        assert_eq!(elements(xml, "Id").collect::<Vec<_>>(), vec!["y", "z"]);
        // A closing tag of a longer name, or a name in the text, does not end it.
        let xml = "<Id>Id a</Ids>b</Id><Id/><Id>c</Id>";
        assert_eq!(
            elements(xml, "Id").collect::<Vec<_>>(),
            vec!["Id a</Ids>b", "", "c"]
        );
    }

    #[test]
    fn bad_entities_stay_as_they_are() {
        assert_eq!(
            unescape("a & b &bogus; &#xZZ; &#1114112; &amp"),
            "a & b &bogus; &#xZZ; &#1114112; &amp"
        );
    }

    proptest! {
        /// Whatever a server (or something in front of it) answers, reading it
        /// neither panics nor loops.
        #[test]
        fn hostile_answers(body in ".{0,400}", cut in 0usize..200) {
            let _ = parse_publish_batch(&body);
            let _ = parse_error(&body);
            let valid = "<PublishBatchResult><Successful><member><Id>a&amp;</Id></member></Successful><Failed><member><Id>b</Id><Code>X</Code></member></Failed></PublishBatchResult>";
            let mut end = cut.min(valid.len());
            while !valid.is_char_boundary(end) { end -= 1; }
            let _ = parse_publish_batch(&valid[..end]);
            let _ = parse_publish_batch(&format!("{}{body}", &valid[..end]));
        }
    }
}
