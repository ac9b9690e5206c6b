//! Rocket.Chat admin settings for the logger: their definitions (for the server's
//! `settingsRegistry`) and the conversion of their values into logger options, with
//! errors that name the setting an admin has to fix.

use serde_json::{json, Map, Value};

use crate::core::options::defaults;

/// The settings group.
pub const GROUP: &str = "SNS_Analytics";

/// The switch: every other setting is enabled in the admin only while it is on.
pub const ENABLED: &str = "SNS_Analytics_Enabled";

/// Where the credentials come from. Rocket.Chat's admin shows a secret setting masked,
/// so an admin cannot be relied on to clear the stored keys by emptying their fields;
/// this switch makes the AWS default credential chain a choice that needs no clearing.
pub const CREDENTIALS: &str = "SNS_Analytics_Credentials";

/// [`CREDENTIALS`]' values: the key settings (the chain while they are empty), or the
/// chain alone, whatever keys are stored.
pub const CREDENTIALS_FROM_KEYS: &str = "access_key";
pub const CREDENTIALS_FROM_CHAIN: &str = "default_chain";

/// How a setting is edited in the admin UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Boolean,
    Text,
    /// A secret string, shown masked.
    Password,
    Integer,
    /// JSON text, edited as code.
    Json,
    /// One of the listed values.
    Select(&'static [&'static str]),
}

/// One admin setting and the logger option it fills.
#[derive(Debug, Clone, Copy)]
pub struct SettingDef {
    pub id: &'static str,
    pub kind: SettingKind,
    /// The value of a fresh install.
    pub default: DefaultValue,
    pub section: &'static str,
    /// The option it sets (`credentials.accessKeyId` for a nested one); `None` for
    /// the two switches, [`ENABLED`] and [`CREDENTIALS`], which steer the others.
    pub option: Option<&'static str>,
    /// Credentials: never sent to clients, masked, left out of exports.
    pub secret: bool,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    Bool(bool),
    Str(&'static str),
    Int(i64),
}

impl DefaultValue {
    fn to_json(self) -> Value {
        match self {
            DefaultValue::Bool(b) => json!(b),
            DefaultValue::Str(s) => json!(s),
            DefaultValue::Int(n) => json!(n),
        }
    }
}

const fn def(
    id: &'static str,
    kind: SettingKind,
    default: DefaultValue,
    section: &'static str,
    option: Option<&'static str>,
    description: &'static str,
) -> SettingDef {
    SettingDef {
        id,
        kind,
        default,
        section,
        option,
        secret: matches!(kind, SettingKind::Password),
        description,
    }
}

impl SettingDef {
    /// Marks a setting that is not masked but still must not leave the server.
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

use DefaultValue as D;
use SettingKind::*;

/// Every setting, in the order the admin page shows them.
pub const SETTINGS: &[SettingDef] = &[
    def(ENABLED, Boolean, D::Bool(false), "General", None, "Publish analytics events to Amazon SNS."),
    def("SNS_Analytics_Topic_ARN", Text, D::Str(""), "General", Some("topicArn"), "The SNS topic ARN; a name ending in .fifo is a FIFO topic."),
    def("SNS_Analytics_Site_Url", Text, D::Str(""), "General", Some("siteUrl"), "The MessageGroupId on FIFO topics. Empty: the server's Site_Url."),
    def("SNS_Analytics_Dialogflow_Agent_Id", Text, D::Str(""), "General", Some("dialogflowAgentId"), "Added to events that carry no Dialogflow agent id."),
    def("SNS_Analytics_Region", Text, D::Str(""), "Connection", Some("region"), "AWS region. Empty: AWS_REGION, the profile, then the topic ARN's region."),
    def("SNS_Analytics_Endpoint", Text, D::Str(""), "Connection", Some("endpoint"), "SNS endpoint URL. Empty: AWS's. http:// only on loopback (a local emulator)."),
    def(CREDENTIALS, Select(&[CREDENTIALS_FROM_KEYS, CREDENTIALS_FROM_CHAIN]), D::Str(CREDENTIALS_FROM_KEYS), "Connection", None, "access key: the keys below, or the AWS default credential chain while they are empty. default chain: the chain alone (environment, profile, instance role); stored keys are ignored."),
    def("SNS_Analytics_Access_Key_Id", Text, D::Str(""), "Connection", Some("credentials.accessKeyId"), "Empty: the AWS default credential chain (environment, instance role).").secret(),
    def("SNS_Analytics_Secret_Access_Key", Password, D::Str(""), "Connection", Some("credentials.secretAccessKey"), "The secret of the access key."),
    def("SNS_Analytics_Session_Token", Password, D::Str(""), "Connection", Some("credentials.sessionToken"), "For temporary credentials only."),
    def("SNS_Analytics_Agent_Topics", Json, D::Str("{}"), "Routing", Some("agentTopics"), "One topic per Dialogflow agent: {\"<agent id>\": \"<topic ARN>\"}."),
    def("SNS_Analytics_App_Access", Json, D::Str("{}"), "Apps", Some("appAccess"), "What each Rocket.Chat App may log: {\"<app id>\": {\"categories\": [\"Escalation\"], \"dialogflowAgentIds\": [\"<agent id>\"]}}. An App that is not listed logs nothing; \"*\" allows every category."),
    def("SNS_Analytics_Message_Group", Select(&["site", "room"]), D::Str("site"), "Routing", Some("messageGroup"), "FIFO ordering per site, or per room so that rooms publish in parallel."),
    def("SNS_Analytics_Tracking_Plan", Text, D::Str("rocketchat-livechat"), "Events", Some("trackingPlan"), "A built-in plan or the path of a plan file (.yaml, .yml or .json; a regular file of at most 1 MiB). Empty: no plan."),
    def("SNS_Analytics_Validation", Select(&["strict", "warn", "off"]), D::Str("strict"), "Events", Some("validation"), "What an event that breaks the plan does."),
    def("SNS_Analytics_Format", Select(&["rc", "ciao"]), D::Str("rc"), "Events", Some("format"), "The message body: the SNS Logger body, or the Ciao body."),
    def("SNS_Analytics_Application", Text, D::Str(""), "Events", Some("application"), "Ciao body: application."),
    def("SNS_Analytics_Business", Text, D::Str(""), "Events", Some("business"), "Ciao body: business."),
    def("SNS_Analytics_Deployment", Text, D::Str(""), "Events", Some("deployment"), "Ciao body: ciao_deployment."),
    def("SNS_Analytics_Source_Component", Text, D::Str(""), "Events", Some("sourceComponent"), "Ciao body: source_component. Empty: Rocket.Chat."),
    def("SNS_Analytics_Max_Batch_Size", Integer, D::Int(defaults::MAX_BATCH_SIZE as i64), "Batching", Some("maxBatchSize"), "Events per PublishBatch request, 1-10."),
    def("SNS_Analytics_Flush_Interval_Ms", Integer, D::Int(defaults::FLUSH_INTERVAL_MS as i64), "Batching", Some("flushIntervalMs"), "Longest an event waits for its batch to fill, in ms."),
    def("SNS_Analytics_Max_Queue_Events", Integer, D::Int(defaults::MAX_QUEUE_EVENTS as i64), "Batching", Some("maxQueueEvents"), "Events held in memory."),
    def("SNS_Analytics_Overflow", Select(&["dropNewest", "dropOldest", "reject"]), D::Str("dropNewest"), "Batching", Some("overflow"), "What a full queue (or spool) does with a new event: drop it, drop the oldest waiting one, or refuse it (log() throws). Every drop is reported by id."),
    def("SNS_Analytics_Spool_Dir", Text, D::Str(""), "Reliability", Some("spoolDir"), "A folder where events wait until SNS has them, across outages and restarts. Empty: memory only."),
    def("SNS_Analytics_Max_Spool_Bytes", Integer, D::Int(defaults::MAX_SPOOL_BYTES as i64), "Reliability", Some("maxSpoolBytes"), "Bytes of events the spool may hold."),
    def("SNS_Analytics_Spool_Sync_Ms", Integer, D::Int(defaults::SPOOL_SYNC_MS as i64), "Reliability", Some("spoolSyncMs"), "Longest an accepted event waits before it is written to the spool file, in ms: what a crash can lose."),
    def("SNS_Analytics_Max_Dead_Letter_Bytes", Integer, D::Int(defaults::MAX_DEAD_LETTER_BYTES as i64), "Reliability", Some("maxDeadLetterBytes"), "Bytes of the dead-letter store in the spool folder, where events SNS refuses for their own sake are kept; past it the oldest are dropped and reported."),
    def("SNS_Analytics_Debug", Boolean, D::Bool(false), "Reliability", Some("debug"), "Log each batch's outcome on the server's standard error (topic, group, ids, result, time; never event bodies or credentials). RC_SNS_ANALYTICS_DEBUG=1 in the environment switches it on too."),
    def("SNS_Analytics_Widget_Share_Percent", Integer, D::Int(defaults::WIDGET_SHARE_PERCENT as i64), "Sources", Some("widgetSharePercent"), "Percent of the queue (or spool) the Livechat widget's events may fill; past it the widget's newest events are dropped and reported by id, never the server's."),
    def("SNS_Analytics_App_Share_Percent", Integer, D::Int(defaults::APP_SHARE_PERCENT as i64), "Sources", Some("appSharePercent"), "Percent of the queue (or spool) one Rocket.Chat App's events may fill."),
    def("SNS_Analytics_Apps_Share_Percent", Integer, D::Int(defaults::APPS_SHARE_PERCENT as i64), "Sources", Some("appsSharePercent"), "Percent of the queue (or spool) every App's events together may fill. With the widget's share it must leave the server's own events at least 10%."),
    def("SNS_Analytics_Widget_Events_Per_Visitor", Integer, D::Int(defaults::WIDGET_EVENTS_PER_VISITOR as i64), "Sources", Some("widgetEventsPerVisitor"), "Widget events one visitor token may send per minute; more are refused (HTTP 429)."),
    def("SNS_Analytics_Widget_Events_Per_Room", Integer, D::Int(defaults::WIDGET_EVENTS_PER_ROOM as i64), "Sources", Some("widgetEventsPerRoom"), "Widget events one room may receive from the widget per minute; more are refused (HTTP 429)."),
];

/// The i18n label key of a setting, Rocket.Chat style: the id itself.
pub fn i18n_label(s: &SettingDef) -> String {
    s.id.to_owned()
}

/// The definitions as the server's `settingsRegistry.add(id, packageValue, options)`
/// takes them.
pub fn definitions() -> Value {
    let settings: Vec<Value> = SETTINGS
        .iter()
        .map(|s| {
            let (kind, extra) = match s.kind {
                Boolean => ("boolean", json!({})),
                Text => ("string", json!({})),
                Password => ("password", json!({})),
                Integer => ("int", json!({})),
                Json => ("code", json!({ "code": "application/json", "multiline": true })),
                Select(values) => (
                    "select",
                    json!({ "values": values.iter().map(|v| json!({ "key": v, "i18nLabel": format!("{}_{}", s.id, v) })).collect::<Vec<_>>() }),
                ),
            };
            let mut options = json!({
                "type": kind,
                "section": s.section,
                "i18nLabel": i18n_label(s),
                "i18nDescription": format!("{}_Description", s.id),
                "public": false,
                "secret": s.secret,
            });
            if let (Value::Object(o), Value::Object(e)) = (&mut options, extra) {
                o.extend(e);
                if s.id != ENABLED {
                    // Rocket.Chat's settings greys a setting out until the query holds.
                    o.insert("enableQuery".into(), json!({ "_id": ENABLED, "value": true }));
                }
            }
            json!({
                "id": s.id,
                "packageValue": s.default.to_json(),
                "options": options,
                "description": s.description,
            })
        })
        .collect();
    json!({ "group": GROUP, "settings": settings })
}

/// A setting value an admin entered that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub setting: String,
    pub reason: String,
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid SNS analytics setting {}: {}",
            self.setting, self.reason
        )
    }
}

/// The setting that fills a logger option, to name it in an option's error.
pub fn setting_for_option(option: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .filter(|s| {
            s.option
                .is_some_and(|o| option == o || option.starts_with(&format!("{o}.")))
        })
        .max_by_key(|s| s.option.map_or(0, str::len))
        .map(|s| s.id)
}

fn set_option(options: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        Some((outer, inner)) => {
            let entry = options
                .entry(outer.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(inner.to_owned(), value);
            }
        }
        None => {
            options.insert(path.to_owned(), value);
        }
    }
}

/// Logger options from setting values read by id (`get` returns JSON: `null` for an
/// unset setting, which then has its default); `None` when the logger is switched off. `site_url` fills `siteUrl`
/// when its own setting is empty.
pub fn options_from_settings(
    mut get: impl FnMut(&str) -> Value,
    site_url: Option<&str>,
) -> Result<Option<Value>, SettingError> {
    let err = |s: &SettingDef, reason: String| SettingError {
        setting: s.id.to_owned(),
        reason,
    };
    let mut options = Map::new();
    let mut from_chain = false;
    for s in SETTINGS {
        // An unset setting has its package value, as Rocket.Chat's settings.get gives.
        let raw = match get(s.id) {
            Value::Null => s.default.to_json(),
            v => v,
        };
        let value = match (s.kind, raw) {
            (_, Value::Null) => None,
            (Boolean, Value::Bool(b)) => Some(json!(b)),
            (Boolean, other) => return Err(err(s, format!("must be true or false, got {other}"))),
            (Integer, Value::Number(n)) => Some(json!(n.as_f64().unwrap_or(f64::NAN))),
            (Integer, Value::String(t)) if t.trim().is_empty() => None,
            (Integer, Value::String(t)) => Some(json!(t
                .trim()
                .parse::<f64>()
                .map_err(|_| err(s, format!("must be a number, got {t:?}")))?)),
            (Integer, other) => return Err(err(s, format!("must be a number, got {other}"))),
            (Json, Value::String(t)) if t.trim().is_empty() => None,
            (Json, Value::String(t)) => {
                let v: Value = serde_json::from_str(&t)
                    .map_err(|e| err(s, format!("is not valid JSON ({e})")))?;
                match &v {
                    Value::Object(m) if m.is_empty() => None,
                    Value::Object(_) => Some(v),
                    _ => return Err(err(s, "must be a JSON object".into())),
                }
            }
            (Select(values), Value::String(t)) => {
                if !values.contains(&t.as_str()) {
                    return Err(err(
                        s,
                        format!("must be one of {}, got {t:?}", values.join(", ")),
                    ));
                }
                Some(json!(t))
            }
            (Text | Password, Value::String(t)) if t.trim().is_empty() => None,
            (Text | Password, Value::String(t)) => Some(json!(t.trim())),
            (_, other) => return Err(err(s, format!("must be a string, got {other}"))),
        };
        if s.id == ENABLED && value != Some(json!(true)) {
            return Ok(None);
        }
        if s.id == CREDENTIALS {
            from_chain = value.as_ref().and_then(Value::as_str) == Some(CREDENTIALS_FROM_CHAIN);
        }
        if let (Some(option), Some(v)) = (s.option, value) {
            set_option(&mut options, option, v);
        }
    }
    if from_chain {
        // Stored keys, even half of a pair, are not used and so not an error.
        options.remove("credentials");
    }
    if !options.contains_key("spoolDir") {
        // Their defaults must not turn into "maxSpoolBytes needs spoolDir".
        for option in ["maxSpoolBytes", "spoolSyncMs", "maxDeadLetterBytes"] {
            options.remove(option);
        }
    }
    if !options.contains_key("siteUrl") {
        if let Some(url) = site_url.filter(|u| !u.is_empty()) {
            options.insert("siteUrl".into(), json!(url));
        }
    }
    if let Some(Value::Object(c)) = options.get("credentials") {
        if !c.contains_key("accessKeyId") || !c.contains_key("secretAccessKey") {
            let missing = if c.contains_key("accessKeyId") {
                "SNS_Analytics_Secret_Access_Key"
            } else {
                "SNS_Analytics_Access_Key_Id"
            };
            return Err(SettingError {
                setting: missing.into(),
                reason: "is required with the other credential settings (or leave all three empty for the AWS credential chain)".into(),
            });
        }
    }
    for (setting, option) in [
        ("SNS_Analytics_Topic_ARN", "topicArn"),
        ("SNS_Analytics_Site_Url", "siteUrl"),
    ] {
        if !options.contains_key(option) {
            return Err(SettingError {
                setting: setting.into(),
                reason: "is required when SNS analytics is enabled".into(),
            });
        }
    }
    Ok(Some(Value::Object(options)))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(values: &[(&str, Value)]) -> Result<Option<Value>, SettingError> {
        let map: HashMap<&str, Value> = values.iter().cloned().collect();
        options_from_settings(
            |id| map.get(id).cloned().unwrap_or(Value::Null),
            Some("https://chat.example.com"),
        )
    }

    #[test]
    fn every_setting_but_the_switch_waits_for_it() {
        let defs = definitions();
        for s in defs["settings"].as_array().unwrap() {
            let query = &s["options"]["enableQuery"];
            if s["id"] == ENABLED {
                assert!(query.is_null());
            } else {
                assert_eq!(
                    query,
                    &json!({ "_id": ENABLED, "value": true }),
                    "{}",
                    s["id"]
                );
            }
        }
    }

    #[test]
    fn definitions_cover_every_setting_and_hide_secrets() {
        let defs = definitions();
        let settings = defs["settings"].as_array().unwrap();
        assert_eq!(settings.len(), SETTINGS.len());
        assert!(settings.iter().all(|s| s["options"]["public"] == false));
        let secret: Vec<&str> = settings
            .iter()
            .filter(|s| s["options"]["secret"] == true)
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            secret,
            [
                "SNS_Analytics_Access_Key_Id",
                "SNS_Analytics_Secret_Access_Key",
                "SNS_Analytics_Session_Token"
            ]
        );
    }

    #[test]
    fn values_become_options() {
        assert_eq!(from(&[]).unwrap(), None, "off by default");
        let o = from(&[
            ("SNS_Analytics_Enabled", json!(true)),
            (
                "SNS_Analytics_Topic_ARN",
                json!("arn:aws:sns:us-east-1:123456789012:rc.fifo"),
            ),
            (
                "SNS_Analytics_Agent_Topics",
                json!(r#"{"b598":"arn:aws:sns:us-east-1:123456789012:a.fifo"}"#),
            ),
            ("SNS_Analytics_Access_Key_Id", json!("AKIA")),
            ("SNS_Analytics_Secret_Access_Key", json!("s")),
            ("SNS_Analytics_Max_Batch_Size", json!("5")),
            ("SNS_Analytics_Region", json!("")),
            ("SNS_Analytics_Validation", json!("warn")),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            o["siteUrl"], "https://chat.example.com",
            "the server's Site_Url"
        );
        assert_eq!(o["credentials"]["accessKeyId"], "AKIA");
        assert_eq!(
            o["agentTopics"]["b598"],
            "arn:aws:sns:us-east-1:123456789012:a.fifo"
        );
        assert_eq!(o["maxBatchSize"], 5.0);
        assert!(o.get("region").is_none(), "empty means unset");
        assert_eq!(o["validation"], "warn");
    }

    #[test]
    fn the_default_chain_ignores_stored_keys() {
        let on = [
            ("SNS_Analytics_Enabled", json!(true)),
            (
                "SNS_Analytics_Topic_ARN",
                json!("arn:aws:sns:us-east-1:123456789012:t"),
            ),
        ];
        let with = |extra: &[(&str, Value)]| from(&[&on[..], extra].concat());
        let keys = [
            ("SNS_Analytics_Access_Key_Id", json!("AKIA")),
            ("SNS_Analytics_Secret_Access_Key", json!("s")),
        ];
        // The stored keys are used by default, and while "access key" is chosen.
        for choice in [vec![], vec![(CREDENTIALS, json!(CREDENTIALS_FROM_KEYS))]] {
            let o = with(&[&keys[..], &choice[..]].concat()).unwrap().unwrap();
            assert_eq!(o["credentials"]["accessKeyId"], "AKIA");
        }
        let chain = (CREDENTIALS, json!(CREDENTIALS_FROM_CHAIN));
        let o = with(&[&keys[..], std::slice::from_ref(&chain)].concat())
            .unwrap()
            .unwrap();
        assert!(o.get("credentials").is_none(), "{o}");
        // Half a stored pair is no error when it is not used.
        let o = with(&[keys[0].clone(), chain]).unwrap().unwrap();
        assert!(o.get("credentials").is_none(), "{o}");
        let e = with(&[(CREDENTIALS, json!("role"))]).unwrap_err();
        assert_eq!(e.setting, CREDENTIALS);
        assert!(e.reason.contains("access_key, default_chain"), "{e}");
    }

    #[test]
    fn errors_name_the_setting() {
        let on = ("SNS_Analytics_Enabled", json!(true));
        let topic = (
            "SNS_Analytics_Topic_ARN",
            json!("arn:aws:sns:us-east-1:123456789012:t"),
        );
        let cases = [
            (vec![on.clone()], "SNS_Analytics_Topic_ARN", "required"),
            (
                vec![
                    on.clone(),
                    topic.clone(),
                    ("SNS_Analytics_Agent_Topics", json!("{nope")),
                ],
                "SNS_Analytics_Agent_Topics",
                "not valid JSON",
            ),
            (
                vec![
                    on.clone(),
                    topic.clone(),
                    ("SNS_Analytics_Format", json!("xml")),
                ],
                "SNS_Analytics_Format",
                "one of rc, ciao",
            ),
            (
                vec![
                    on.clone(),
                    topic.clone(),
                    ("SNS_Analytics_Max_Batch_Size", json!("ten")),
                ],
                "SNS_Analytics_Max_Batch_Size",
                "number",
            ),
            (
                vec![
                    on.clone(),
                    topic.clone(),
                    ("SNS_Analytics_Secret_Access_Key", json!("s")),
                ],
                "SNS_Analytics_Access_Key_Id",
                "required",
            ),
            (
                vec![("SNS_Analytics_Enabled", json!("yes"))],
                "SNS_Analytics_Enabled",
                "true or false",
            ),
        ];
        for (values, setting, words) in cases {
            let e = from(&values).unwrap_err();
            assert_eq!(e.setting, setting, "{e}");
            assert!(e.to_string().contains(words), "{e}");
        }
        assert_eq!(
            setting_for_option("credentials.accessKeyId"),
            Some("SNS_Analytics_Access_Key_Id")
        );
        assert_eq!(
            setting_for_option("agentTopics.b598"),
            Some("SNS_Analytics_Agent_Topics")
        );
        assert_eq!(
            setting_for_option("maxBatchSize"),
            Some("SNS_Analytics_Max_Batch_Size")
        );
    }
}
