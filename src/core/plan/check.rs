//! Checking one parsed event against a plan. This runs inside `log()` for every event,
//! so the valid path allocates nothing: two map lookups and a scan of a few
//! properties. Messages are built only for violations, and each says what to change.

use std::fmt;

use super::{did_you_mean, quoted_list, EventSpec, PropertySpec, PropertyType, TrackingPlan};
use crate::core::event::{timestamp_value_ms, EventType, ParsedEvent, Value};

/// What kind of rule an event broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// Its category, or its action within the category, is not in the plan.
    UnplannedEvent,
    /// It has a property the plan does not list for it.
    UnplannedProperty,
    /// It lacks a property the plan requires.
    MissingProperty,
    /// A property (or an element of an array property) has the wrong type.
    TypeMismatch,
    /// A value outside an enum, or an `eventType` the plan does not allow.
    NotAllowedValue,
}

/// Every kind, in the order `stats()` lists them.
pub const VIOLATION_KINDS: [ViolationKind; 5] = [
    ViolationKind::UnplannedEvent,
    ViolationKind::UnplannedProperty,
    ViolationKind::MissingProperty,
    ViolationKind::TypeMismatch,
    ViolationKind::NotAllowedValue,
];

impl ViolationKind {
    /// The name JavaScript sees.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::UnplannedEvent => "unplannedEvent",
            ViolationKind::UnplannedProperty => "unplannedProperty",
            ViolationKind::MissingProperty => "missingProperty",
            ViolationKind::TypeMismatch => "typeMismatch",
            ViolationKind::NotAllowedValue => "notAllowedValue",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One way an event departs from the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    /// The field at fault as the caller spells it: `category`, `action`, `eventType`,
    /// `properties.close_method`.
    pub path: String,
    /// What is wrong and what the plan allows.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl TrackingPlan {
    /// Every violation of the plan by `event`; empty when it conforms.
    pub fn check(&self, event: &ParsedEvent<'_>) -> Vec<Violation> {
        self.check_planned(self.event(&event.category, &event.action), event)
    }

    /// [`TrackingPlan::check`] for a caller that has looked the event up already.
    pub fn check_planned(
        &self,
        spec: Option<&EventSpec>,
        event: &ParsedEvent<'_>,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        match spec {
            Some(spec) => check_event(spec, event, &mut out),
            None => out.push(self.unplanned(event)),
        }
        out
    }

    fn unplanned(&self, event: &ParsedEvent<'_>) -> Violation {
        let category = &*event.category;
        let actions = self.actions(category);
        if actions.is_empty() {
            let categories = self.categories();
            let hint = did_you_mean(category, &categories)
                .map(|c| format!(" Did you mean '{c}'?"))
                .unwrap_or_default();
            return Violation {
                kind: ViolationKind::UnplannedEvent,
                path: "category".into(),
                message: format!(
                    "category '{category}' is not in tracking plan '{}'.{hint} Its categories are {}.",
                    self.name,
                    quoted_list(&categories)
                ),
            };
        }
        let action = &*event.action;
        let hint = did_you_mean(action, &actions)
            .map(|a| format!(" Did you mean '{a}'?"))
            .unwrap_or_default();
        Violation {
            kind: ViolationKind::UnplannedEvent,
            path: "action".into(),
            message: format!(
                "action '{action}' is not planned for category '{category}' in tracking plan '{}'.{hint} Its actions are {}.",
                self.name,
                quoted_list(&actions)
            ),
        }
    }
}

fn event_name(spec: &EventSpec) -> String {
    format!("{}/{}", spec.category, spec.action)
}

fn check_event(spec: &EventSpec, event: &ParsedEvent<'_>, out: &mut Vec<Violation>) {
    let allowed = match event.event_type {
        EventType::Session => spec.event_types.session,
        EventType::CustomerAction => spec.event_types.customer_action,
    };
    if !allowed {
        let (want, why) = if spec.event_types.customer_action {
            ("customerAction", "it is something the visitor does")
        } else {
            ("session", "the visitor does not cause it")
        };
        out.push(Violation {
            kind: ViolationKind::NotAllowedValue,
            path: "eventType".into(),
            message: format!(
                "{} must have eventType '{want}' ({why}), got '{}'",
                event_name(spec),
                event.event_type.as_str()
            ),
        });
    }
    for (name, value) in &event.properties {
        match spec.properties.iter().find(|p| *p.name == **name) {
            Some(p) => check_value(spec, p, value, out),
            None => out.push(unplanned_property(spec, name)),
        }
    }
    for p in spec.properties.iter().filter(|p| p.required) {
        if !event.properties.iter().any(|(name, _)| **name == *p.name) {
            out.push(Violation {
                kind: ViolationKind::MissingProperty,
                path: format!("properties.{}", p.name),
                message: format!(
                    "{} requires property '{}' ({})",
                    event_name(spec),
                    p.name,
                    describe(p)
                ),
            });
        }
    }
}

fn unplanned_property(spec: &EventSpec, name: &str) -> Violation {
    let names: Vec<&str> = spec.properties.iter().map(|p| &*p.name).collect();
    let message = if names.is_empty() {
        format!(
            "property '{name}' is not planned: {} takes no properties",
            event_name(spec)
        )
    } else {
        let hint = did_you_mean(name, &names)
            .map(|n| format!(" Did you mean '{n}'?"))
            .unwrap_or_default();
        format!(
            "property '{name}' is not planned for {}.{hint} Its properties are {}.",
            event_name(spec),
            quoted_list(&names)
        )
    };
    Violation {
        kind: ViolationKind::UnplannedProperty,
        path: format!("properties.{name}"),
        message,
    }
}

/// `one of 'agent', 'timeout'`, `a whole number`, `an array of strings`.
fn describe(p: &PropertySpec) -> String {
    let one = match &p.ty {
        PropertyType::String => "a string".to_owned(),
        PropertyType::Integer => "a whole number".to_owned(),
        PropertyType::Number => "a number".to_owned(),
        PropertyType::Boolean => "a boolean".to_owned(),
        PropertyType::Timestamp => "an ISO-8601 date-time or epoch milliseconds".to_owned(),
        PropertyType::Enum(values) => format!("one of {}", quoted_list(values)),
    };
    if p.list {
        format!("an array whose elements are each {one}")
    } else {
        one
    }
}

fn check_value(spec: &EventSpec, p: &PropertySpec, value: &Value<'_>, out: &mut Vec<Violation>) {
    if let Value::Null = value {
        if p.required && !p.nullable {
            out.push(Violation {
                kind: ViolationKind::MissingProperty,
                path: format!("properties.{}", p.name),
                message: format!(
                    "{} requires property '{}' ({}), got null",
                    event_name(spec),
                    p.name,
                    describe(p)
                ),
            });
        }
        return;
    }
    match (p.list, value) {
        (true, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_one(spec, p, item, &format!("properties.{}[{i}]", p.name), out);
            }
        }
        (true, other) => out.push(Violation {
            kind: ViolationKind::TypeMismatch,
            path: format!("properties.{}", p.name),
            message: format!(
                "properties.{} of {} must be {}, got {}",
                p.name,
                event_name(spec),
                describe(p),
                other.kind()
            ),
        }),
        (false, v) => check_one(spec, p, v, &format!("properties.{}", p.name), out),
    }
}

fn check_one(
    spec: &EventSpec,
    p: &PropertySpec,
    value: &Value<'_>,
    path: &str,
    out: &mut Vec<Violation>,
) {
    let fits = match (&p.ty, value) {
        (PropertyType::String, Value::Str(_)) => true,
        (PropertyType::Integer, Value::Num(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        (PropertyType::Number, Value::Num(_)) => true,
        (PropertyType::Boolean, Value::Bool(_)) => true,
        (PropertyType::Timestamp, v @ (Value::Str(_) | Value::Num(_))) => {
            if let Err(why) = timestamp_value_ms(v) {
                out.push(Violation {
                    kind: ViolationKind::TypeMismatch,
                    path: path.to_owned(),
                    message: format!("{path} of {} {why}", event_name(spec)),
                });
            }
            return;
        }
        (PropertyType::Enum(values), Value::Str(s)) => {
            if !values.iter().any(|v| **v == **s) {
                let names: Vec<&str> = values.iter().map(|v| &**v).collect();
                let hint = did_you_mean(s, &names)
                    .map(|v| format!(" Did you mean '{v}'?"))
                    .unwrap_or_default();
                out.push(Violation {
                    kind: ViolationKind::NotAllowedValue,
                    path: path.to_owned(),
                    message: format!(
                        "{path} of {} is '{s}', which the plan does not allow.{hint} Allowed values: {}.",
                        event_name(spec),
                        quoted_list(values)
                    ),
                });
            }
            return;
        }
        _ => false,
    };
    if !fits {
        let mut want = describe(p);
        if p.list {
            // An element: say what each element must be.
            want = want.replace("an array whose elements are each ", "");
        }
        out.push(Violation {
            kind: ViolationKind::TypeMismatch,
            path: path.to_owned(),
            message: format!(
                "{path} of {} must be {want}, got {}",
                event_name(spec),
                match value {
                    Value::Num(n) => format!("the number {n}"),
                    Value::Str(s) => format!("the string {s:?}"),
                    other => other.kind().to_owned(),
                }
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::parse_event;
    use crate::core::plan::PlanSource;

    fn livechat() -> TrackingPlan {
        PlanSource::Builtin("rocketchat-livechat".into())
            .load()
            .unwrap()
    }

    fn check(plan: &TrackingPlan, json: &str) -> Vec<Violation> {
        plan.check(&parse_event(json, 0).unwrap())
    }

    fn kinds_and_paths(v: &[Violation]) -> Vec<(ViolationKind, &str)> {
        v.iter().map(|v| (v.kind, v.path.as_str())).collect()
    }

    #[test]
    fn seed_events_conform() {
        let plan = livechat();
        for json in [
            r#"{"category":"Chat Session","action":"started"}"#,
            r#"{"category":"Chat Session","action":"closed","properties":{"close_method":"agent"}}"#,
            r#"{"category":"Chat Session","action":"closed","eventType":"customerAction","properties":{"close_method":"chat window"}}"#,
            r#"{"category":"Escalation","action":"failed","properties":{"failure_reason":"no agents available"}}"#,
            r#"{"category":"Escalation","action":"successful","properties":{"queue_time":42,"sf_chat_key":"5f1a"}}"#,
            r#"{"category":"Survey","action":"link_clicked","eventType":"customerAction"}"#,
            r#"{"category":"Window","action":"opened","eventType":"customerAction","properties":{"session_id":"s1"}}"#,
        ] {
            assert_eq!(check(&plan, json), vec![], "{json}");
        }
    }

    #[test]
    fn each_kind_is_found_with_its_path_and_a_fix() {
        let plan = livechat();
        let v = check(&plan, r#"{"category":"Chat Sesion","action":"closed"}"#);
        assert_eq!(
            kinds_and_paths(&v),
            [(ViolationKind::UnplannedEvent, "category")]
        );
        assert!(
            v[0].message.contains("Did you mean 'Chat Session'?"),
            "{}",
            v[0]
        );

        let v = check(&plan, r#"{"category":"Chat Session","action":"close"}"#);
        assert_eq!(
            kinds_and_paths(&v),
            [(ViolationKind::UnplannedEvent, "action")]
        );
        assert!(v[0].message.contains("'closed' and 'started'"), "{}", v[0]);

        let v = check(
            &plan,
            r#"{"category":"Chat Session","action":"closed","properties":{"close_method":"chat-window","closed_by":"x"}}"#,
        );
        assert_eq!(
            kinds_and_paths(&v),
            [
                (ViolationKind::NotAllowedValue, "properties.close_method"),
                (ViolationKind::UnplannedProperty, "properties.closed_by"),
            ]
        );
        assert!(
            v[0].message.contains("Did you mean 'chat window'?"),
            "{}",
            v[0]
        );
        assert!(v[0].message.contains("'agent'"), "{}", v[0]);

        let v = check(
            &plan,
            r#"{"category":"Escalation","action":"successful","properties":{"queue_time":"42s"}}"#,
        );
        assert_eq!(
            kinds_and_paths(&v),
            [
                (ViolationKind::TypeMismatch, "properties.queue_time"),
                (ViolationKind::MissingProperty, "properties.sf_chat_key"),
            ]
        );
        assert!(
            v[0].message
                .contains("must be a number, got the string \"42s\""),
            "{}",
            v[0]
        );

        let v = check(&plan, r#"{"category":"Survey","action":"link_clicked"}"#);
        assert_eq!(
            kinds_and_paths(&v),
            [(ViolationKind::NotAllowedValue, "eventType")]
        );
        assert!(
            v[0].message
                .contains("must have eventType 'customerAction'"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn nulls_lists_integers_and_timestamps() {
        let plan = PlanSource::Yaml(
            r#"
name: t
events:
  Poll:
    created:
      properties:
        choices: string[]
        votes: integer?
        at: timestamp
        reply_to: { type: string, nullable: true }
"#
            .into(),
        )
        .load()
        .unwrap();
        let ok = r#"{"category":"Poll","action":"created","properties":{"choices":["a","b"],"votes":null,"at":"2022-09-26T17:50:47.225Z","reply_to":null}}"#;
        assert_eq!(check(&plan, ok), vec![]);
        let v = check(
            &plan,
            r#"{"category":"Poll","action":"created","properties":{"choices":["a",2],"votes":1.5,"at":"soon","reply_to":"m1"}}"#,
        );
        assert_eq!(
            kinds_and_paths(&v),
            [
                (ViolationKind::TypeMismatch, "properties.choices[1]"),
                (ViolationKind::TypeMismatch, "properties.votes"),
                (ViolationKind::TypeMismatch, "properties.at"),
            ]
        );
        let v = check(
            &plan,
            r#"{"category":"Poll","action":"created","properties":{"choices":"a","at":null}}"#,
        );
        assert_eq!(
            kinds_and_paths(&v),
            [
                (ViolationKind::TypeMismatch, "properties.choices"),
                (ViolationKind::MissingProperty, "properties.at"),
                (ViolationKind::MissingProperty, "properties.reply_to"),
            ]
        );
    }
}
