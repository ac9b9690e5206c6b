//! What Rocket.Chat Apps may log: the app id as the Apps-Engine gives it, and what the
//! admin allows each App (`appAccess`), checked for every App event as it is encoded.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::core::error::{AppAccessDenied, InvalidOption};

/// What the App runtime sends where a bridge takes the caller's id
/// (`bridgeCall(..., 'APP_ID')`); the host's `handleBridgeMessage` replaces it with the
/// App's real id, so the App's own process never names who it is.
const APP_ID_SENTINEL: &str = "APP_ID";

/// An app id as the Apps-Engine gives it: a UUID in practice; here any 1-128
/// printable ASCII characters, because it becomes a message attribute and a label.
/// The runtime's placeholder is refused: reaching here unsubstituted, it would become
/// one shared "app" whose events nobody could attribute.
pub fn check_app_id(app_id: &str) -> Result<(), String> {
    if app_id == APP_ID_SENTINEL {
        return Err(format!(
            "appId is the App runtime's placeholder {APP_ID_SENTINEL:?}, not an app id: the host's handleBridgeMessage substitutes the App's real id for it, so this call did not come through the host"
        ));
    }
    if app_id.is_empty() || app_id.len() > 128 || !app_id.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(format!(
            "appId must be 1-128 printable ASCII characters, got {app_id:?}"
        ));
    }
    Ok(())
}

/// `"*"` in an App's `categories`: every category.
pub const ALL_CATEGORIES: &str = "*";

/// What each Rocket.Chat App may log (`appAccess`; the setting `SNS_Analytics_App_Access`):
/// the categories, and the Dialogflow agents whose topics it may route to with
/// `dialogflowAgentId`. An App that is not listed logs nothing: Apps are third-party
/// code, and what reaches SNS past the tracking plan is the admin's to allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppAccess {
    apps: BTreeMap<String, AppGrant>,
    /// Tests only ([`AppAccess::any`]).
    #[cfg(test)]
    any: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct AppGrant {
    /// `None`: every category (`"*"`).
    categories: Option<BTreeSet<String>>,
    agents: BTreeSet<String>,
}

const OPTION: &str = "appAccess";

impl AppAccess {
    /// Reads `{ "<app id>": { "categories": [...], "dialogflowAgentIds": [...] } }`.
    pub fn from_json(value: &Value) -> Result<AppAccess, InvalidOption> {
        let Value::Object(apps) = value else {
            return Err(InvalidOption::new(
                OPTION,
                "must be an object: { \"<app id>\": { \"categories\": [...], \"dialogflowAgentIds\": [...] } }",
            ));
        };
        let mut access = AppAccess::default();
        for (app, grant) in apps {
            check_app_id(app).map_err(|why| InvalidOption::new(format!("{OPTION}.{app}"), why))?;
            let Value::Object(grant) = grant else {
                return Err(InvalidOption::new(
                    format!("{OPTION}.{app}"),
                    "must be an object with categories (and dialogflowAgentIds)",
                ));
            };
            if let Some(key) = grant
                .keys()
                .find(|k| *k != "categories" && *k != "dialogflowAgentIds")
            {
                return Err(InvalidOption::new(
                    format!("{OPTION}.{app}.{key}"),
                    "is not known: an App's access has categories and dialogflowAgentIds",
                ));
            }
            let categories = strings(grant.get("categories"), app, "categories")?;
            let agents = strings(grant.get("dialogflowAgentIds"), app, "dialogflowAgentIds")?;
            let grant = AppGrant {
                categories: (!categories.contains(ALL_CATEGORIES)).then_some(categories),
                agents,
            };
            access.apps.insert(app.clone(), grant);
        }
        Ok(access)
    }

    /// Every App may log anything: for tests of what comes after this check.
    #[cfg(test)]
    pub fn any() -> AppAccess {
        AppAccess {
            apps: BTreeMap::new(),
            any: true,
        }
    }

    /// Whether `app` may log an event of `category` that names `agent_id` (`None`: the
    /// event names no agent, and goes where the server's own events go).
    pub fn check(
        &self,
        app: &str,
        category: &str,
        agent_id: Option<&str>,
    ) -> Result<(), AppAccessDenied> {
        #[cfg(test)]
        if self.any {
            return Ok(());
        }
        let Some(grant) = self.apps.get(app) else {
            return Err(AppAccessDenied {
                field: "appId",
                message: format!(
                    "app {app} may not log analytics events: it is not in appAccess (the setting \
                     SNS_Analytics_App_Access), which lists what each App may log"
                ),
            });
        };
        if let Some(allowed) = &grant.categories {
            if !allowed.contains(category) {
                return Err(AppAccessDenied {
                    field: "category",
                    message: format!(
                        "app {app} may not log category {category:?}: appAccess allows it {} only",
                        list(allowed)
                    ),
                });
            }
        }
        if let Some(agent) = agent_id.filter(|a| !a.is_empty()) {
            if !grant.agents.contains(agent) {
                return Err(AppAccessDenied {
                    field: "dialogflowAgentId",
                    message: format!(
                        "app {app} may not route to Dialogflow agent {agent:?}: appAccess allows it {}",
                        if grant.agents.is_empty() {
                            "no agent".to_owned()
                        } else {
                            list(&grant.agents)
                        }
                    ),
                });
            }
        }
        Ok(())
    }
}

fn list(items: &BTreeSet<String>) -> String {
    items
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn strings(value: Option<&Value>, app: &str, key: &str) -> Result<BTreeSet<String>, InvalidOption> {
    let bad = || {
        InvalidOption::new(
            format!("{OPTION}.{app}.{key}"),
            "must be an array of non-empty strings",
        )
    };
    match value {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_log_only_what_the_admin_allowed() {
        let access = AppAccess::from_json(&serde_json::json!({
            "sf-app": { "categories": ["Escalation", "Chat Session"], "dialogflowAgentIds": ["agent-1"] },
            "any-app": { "categories": ["*"] },
        }))
        .unwrap();
        assert!(access.check("sf-app", "Escalation", None).is_ok());
        assert!(access
            .check("sf-app", "Escalation", Some("agent-1"))
            .is_ok());
        assert_eq!(
            access.check("sf-app", "Survey", None).unwrap_err().field,
            "category"
        );
        let agent = access
            .check("sf-app", "Escalation", Some("agent-2"))
            .unwrap_err();
        assert_eq!(agent.field, "dialogflowAgentId");
        assert!(agent.message.contains("\"agent-1\""), "{}", agent.message);
        assert!(access.check("any-app", "Anything", None).is_ok());
        assert_eq!(
            access
                .check("any-app", "Anything", Some("a"))
                .unwrap_err()
                .field,
            "dialogflowAgentId"
        );
        let unknown = access.check("other-app", "Escalation", None).unwrap_err();
        assert_eq!(unknown.field, "appId");
        assert!(unknown.message.contains("SNS_Analytics_App_Access"));
        assert!(
            AppAccess::default()
                .check("sf-app", "Escalation", None)
                .is_err(),
            "deny by default"
        );
    }

    #[test]
    fn bad_access_lists_name_where() {
        for (value, option) in [
            (serde_json::json!([]), "appAccess"),
            (
                serde_json::json!({ "has space": { "categories": [] } }),
                "appAccess.has space",
            ),
            (
                serde_json::json!({ "a": { "categories": "Escalation" } }),
                "appAccess.a.categories",
            ),
            (
                serde_json::json!({ "a": { "categories": [""] } }),
                "appAccess.a.categories",
            ),
            (
                serde_json::json!({ "a": { "topics": [] } }),
                "appAccess.a.topics",
            ),
        ] {
            assert_eq!(
                AppAccess::from_json(&value).unwrap_err().option,
                option,
                "{value}"
            );
        }
    }

    #[test]
    fn app_ids_are_printable_ascii() {
        assert!(check_app_id("4b5c1e0a-31c2-4f3e-9b8e-000000000000").is_ok());
        assert!(check_app_id("has space").is_err());
    }

    #[test]
    fn the_runtime_placeholder_is_not_an_app_id() {
        let why = check_app_id("APP_ID").unwrap_err();
        assert!(why.contains("placeholder \"APP_ID\""), "{why}");
        assert!(why.contains("handleBridgeMessage"), "{why}");
        // Only the exact literal: ids that merely contain it are ids.
        assert!(check_app_id("APP_ID2").is_ok());
        assert!(check_app_id("app_id").is_ok());
    }
}
