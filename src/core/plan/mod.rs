//! Tracking plans: which categories and actions exist and, per action, which
//! properties it takes and of what type. A plan is loaded once (`load.rs`), then
//! every event is checked against it on the caller's thread (`check.rs`); `typegen.rs`
//! turns a plan into TypeScript types.

mod check;
mod load;
mod typegen;

use std::collections::HashMap;

pub use check::{Violation, ViolationKind, VIOLATION_KINDS};
pub use load::{builtin_names, PlanSource};
pub use typegen::typescript;

/// What a property holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyType {
    String,
    /// A whole number.
    Integer,
    Number,
    Boolean,
    /// An ISO-8601 date-time string or whole epoch milliseconds.
    Timestamp,
    /// One of these strings.
    Enum(Vec<Box<str>>),
}

impl PropertyType {
    /// The name a plan file uses.
    pub fn name(&self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Integer => "integer",
            PropertyType::Number => "number",
            PropertyType::Boolean => "boolean",
            PropertyType::Timestamp => "timestamp",
            PropertyType::Enum(_) => "enum",
        }
    }
}

/// One planned property of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertySpec {
    pub name: Box<str>,
    pub ty: PropertyType,
    /// An array of `ty` values rather than one.
    pub list: bool,
    /// Must be present. An optional property may also be `null`.
    pub required: bool,
    /// A required property may be `null`.
    pub nullable: bool,
    pub description: Option<String>,
}

/// Which `eventType` values an event may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTypes {
    pub session: bool,
    pub customer_action: bool,
}

impl EventTypes {
    pub const ANY: EventTypes = EventTypes {
        session: true,
        customer_action: true,
    };
}

/// One planned event: a category and action with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub category: Box<str>,
    pub action: Box<str>,
    pub description: Option<String>,
    pub event_types: EventTypes,
    /// The Livechat widget may send it (through the server's widget endpoint).
    pub widget: bool,
    /// In the plan's order: the `ciao` format's `event_detail_1..4` follow it.
    pub properties: Vec<PropertySpec>,
}

/// A loaded, fully resolved plan (every `extend` applied).
#[derive(Debug, Clone)]
pub struct TrackingPlan {
    pub name: String,
    pub description: Option<String>,
    /// In the plan's order, for documentation and generated types.
    pub events: Vec<EventSpec>,
    /// `Category` or `Category/action` → topic ARN, in the plan's order.
    pub destinations: Vec<(String, String)>,
    /// category → action → index into `events`.
    index: HashMap<Box<str>, HashMap<Box<str>, usize>>,
}

impl TrackingPlan {
    fn new(
        name: String,
        description: Option<String>,
        events: Vec<EventSpec>,
        destinations: Vec<(String, String)>,
    ) -> Self {
        let mut index: HashMap<Box<str>, HashMap<Box<str>, usize>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            index
                .entry(e.category.clone())
                .or_default()
                .insert(e.action.clone(), i);
        }
        TrackingPlan {
            name,
            description,
            events,
            destinations,
            index,
        }
    }

    /// The planned event, if any.
    pub fn event(&self, category: &str, action: &str) -> Option<&EventSpec> {
        let i = *self.index.get(category)?.get(action)?;
        Some(&self.events[i])
    }

    /// The categories, in the plan's order.
    pub fn categories(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for e in &self.events {
            if !out.contains(&&*e.category) {
                out.push(&e.category);
            }
        }
        out
    }

    /// The actions of one category, in the plan's order.
    pub fn actions(&self, category: &str) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| &*e.category == category)
            .map(|e| &*e.action)
            .collect()
    }
}

/// The closest of `candidates` to `given`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    candidates
        .iter()
        .map(|c| (edit_distance(&given_lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        // `prev` is the diagonal: the previous row's value at `j`.
        for j in 0..b.len() {
            let cost = usize::from(ca != b[j]);
            let next = (prev + cost).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// `'a', 'b' and 'c'`: how messages list what is allowed.
pub(crate) fn quoted_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    match quoted.len() {
        0 => "none".to_owned(),
        1 => quoted[0].clone(),
        n => format!("{} and {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let actions = ["closed", "started"];
        assert_eq!(did_you_mean("close", &actions), Some("closed"));
        assert_eq!(did_you_mean("Started", &actions), Some("started"));
        assert_eq!(did_you_mean("transferred", &actions), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("Chat Sesion", &["Chat Session", "Survey"]),
            Some("Chat Session")
        );
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(quoted_list(&["a"]), "'a'");
        assert_eq!(quoted_list(&["a", "b", "c"]), "'a', 'b' and 'c'");
        assert_eq!(quoted_list::<&str>(&[]), "none");
    }
}
