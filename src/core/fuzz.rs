//! Hostile input: property tests that throw arbitrary JSON at the event conversion
//! (with and without a plan, in both formats). No input may panic; whatever is
//! accepted must publish as valid JSON within the SNS limit; whatever is refused must
//! name a field. The spool reader's own hostile-input tests are in
//! `spool/record.rs` and `spool/tests.rs`; the options conversion's in
//! `binding/options.rs`. CI bounds them with `PROPTEST_CASES`.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::plan::PlanSource;
use super::testing::encoder;
use crate::core::encode::{BodyFormat, CiaoFields};
use crate::core::encode::{EncodeError, EncoderConfig, MessageGroup, Validation};
use crate::core::event::{EVENT_KEYS, MAX_MESSAGE_BYTES};

pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Any JSON value, nested a few levels, with awkward strings and numbers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("2022-09-26T17:50:47.225Z")),
        Just(json!("\u{0}\u{1f}\"\\\u{2028}🙂")),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((".{0,12}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Event-shaped objects: the real keys (and some wrong ones) with any values, so that
/// most inputs get past the first check.
fn event_like() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        proptest::sample::select(EVENT_KEYS.to_vec()).prop_map(str::to_owned),
        ".{1,10}",
    ];
    let value = prop_oneof![
        any_json(),
        proptest::sample::select(vec![
            "Chat Session",
            "closed",
            "Survey",
            "link_clicked",
            "customerAction",
            "session"
        ])
        .prop_map(|s| json!(s)),
        proptest::collection::vec((".{1,8}", any_json()), 0..5)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
    ];
    proptest::collection::vec((key, value), 0..9)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

fn encoders() -> Vec<EncoderConfig> {
    let plan = Arc::new(
        PlanSource::Builtin("rocketchat-livechat".into())
            .load()
            .unwrap(),
    );
    let mut strict = encoder();
    strict.plan = Some(plan.clone());
    strict.message_group = MessageGroup::Room;
    let mut warn = strict.clone();
    warn.validation = Validation::Warn;
    warn.format = BodyFormat::Ciao(CiaoFields {
        application: "a".into(),
        business: "b".into(),
        deployment: "d".into(),
        source_component: "s".into(),
    });
    vec![encoder(), strict, warn]
}

fn check(cfg: &EncoderConfig, json: &str) -> Result<(), TestCaseError> {
    match cfg.encode(json, Uuid::nil(), 0) {
        Ok(encoded) => {
            let body: Value = serde_json::from_str(encoded.event.body())
                .map_err(|e| TestCaseError::fail(format!("body is not JSON: {e}")))?;
            prop_assert!(body.is_object());
            prop_assert!(encoded.event.message_bytes() <= MAX_MESSAGE_BYTES);
        }
        Err(EncodeError::Invalid(e)) => {
            prop_assert!(!e.field.is_empty() && !e.reason.is_empty(), "{e:?}");
        }
        Err(EncodeError::NotAllowed(r)) => {
            prop_assert!(!r.message.is_empty(), "{r:?}");
        }
        Err(EncodeError::Plan(r)) => {
            prop_assert!(!r.violations.is_empty());
            for v in &r.violations {
                prop_assert!(!v.path.is_empty() && !v.message.is_empty());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn any_json_text_is_refused_or_published_never_a_panic(v in any_json()) {
        let json = v.to_string();
        for cfg in encoders() {
            check(&cfg, &json)?;
        }
    }

    #[test]
    fn event_shaped_objects_too(v in event_like()) {
        let json = v.to_string();
        for cfg in encoders() {
            check(&cfg, &json)?;
        }
    }

    #[test]
    fn raw_bytes_too(s in ".{0,200}") {
        for cfg in encoders() {
            check(&cfg, &s)?;
        }
    }
}
