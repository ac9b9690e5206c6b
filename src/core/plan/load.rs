//! Loading a plan: a built-in name, a YAML or JSON file, or an object given in code,
//! with every `extend` resolved. Plan documents are read by hand from a JSON value
//! (YAML is parsed into one first) so that every error can name the file and the
//! exact place in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::{EventSpec, EventTypes, PropertySpec, PropertyType, TrackingPlan};
use crate::core::arn::parse_topic_arn;
use crate::core::paths::check_path_root;

/// The plans that ship with the addon, by name, as YAML.
const BUILTINS: [(&str, &str); 2] = [
    (
        "rocketchat-livechat",
        include_str!("../../../plans/rocketchat-livechat.yaml"),
    ),
    (
        "chat-messaging",
        include_str!("../../../plans/chat-messaging.yaml"),
    ),
];

/// A chain of `extend`s deeper than this is surely a mistake.
const MAX_EXTEND_DEPTH: usize = 16;

/// The largest plan file that is read: 1 MiB, some 200 times either built-in plan.
/// A plan file is read whole on the caller's thread, the JavaScript thread when a
/// logger is made, from a path that may be an admin setting; the cap keeps that read
/// short, and is checked before it.
pub const MAX_PLAN_FILE_BYTES: u64 = 1 << 20;

pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}

/// Where a plan comes from.
#[derive(Debug, Clone)]
pub enum PlanSource {
    /// One of [`builtin_names`].
    Builtin(String),
    /// A `.yaml`, `.yml` or `.json` file.
    File(PathBuf),
    /// A plan object given in code (from JavaScript, as JSON).
    Object(Json),
    /// YAML text (tests and tools).
    Yaml(String),
}

impl PlanSource {
    /// A built-in plan's name, else a file path.
    pub fn from_name_or_path(s: &str) -> PlanSource {
        if builtin_names().contains(&s) {
            PlanSource::Builtin(s.to_owned())
        } else {
            PlanSource::File(PathBuf::from(s))
        }
    }

    /// Reads and resolves the plan. The error names the file (or built-in) and the
    /// place in it.
    pub fn load(&self) -> Result<TrackingPlan, String> {
        let mut loading = Vec::new();
        let raw = load_raw(self, Path::new("."), &mut loading)?;
        let destinations = raw.destinations;
        Ok(TrackingPlan::new(
            raw.name,
            raw.description,
            raw.events,
            destinations,
        ))
    }
}

/// A plan whose `extend`s are applied, not yet indexed.
struct ResolvedPlan {
    name: String,
    description: Option<String>,
    events: Vec<EventSpec>,
    destinations: Vec<(String, String)>,
}

/// How errors name the document.
fn origin_name(source: &PlanSource) -> String {
    match source {
        PlanSource::Builtin(n) => format!("built-in plan '{n}'"),
        PlanSource::File(p) => format!("file {}", p.display()),
        PlanSource::Object(_) => "the plan object".to_owned(),
        PlanSource::Yaml(_) => "the YAML plan".to_owned(),
    }
}

fn read_document(source: &PlanSource) -> Result<Json, String> {
    let yaml = |text: &str| {
        serde_yaml_ng::from_str::<Json>(text).map_err(|e| format!("is not valid YAML: {e}"))
    };
    match source {
        PlanSource::Builtin(name) => {
            let Some((_, text)) = BUILTINS.iter().find(|(n, _)| n == name) else {
                return Err(format!(
                    "is not a built-in plan; they are {}",
                    builtin_names().join(", ")
                ));
            };
            yaml(text)
        }
        PlanSource::File(path) => {
            // The extension first: nothing is opened that could not be a plan.
            let json = match path.extension().and_then(|e| e.to_str()) {
                Some("json") => true,
                Some("yaml" | "yml") => false,
                _ => {
                    return Err(format!(
                        "is neither a built-in plan nor a path ending in .yaml, .yml or \
                         .json; give a built-in plan ({}) or the path of a .yaml, .yml or \
                         .json file",
                        builtin_names().join(", ")
                    ))
                }
            };
            let text = read_plan_file(path)?;
            if json {
                serde_json::from_str(&text).map_err(|e| format!("is not valid JSON: {e}"))
            } else {
                yaml(&text)
            }
        }
        PlanSource::Object(json) => Ok(json.clone()),
        PlanSource::Yaml(text) => yaml(text),
    }
}

/// A plan file's text, every check made before a byte is read: the operator's root
/// folder ([`crate::core::paths::PATH_ROOT_ENV`]), then a regular file of at most
/// [`MAX_PLAN_FILE_BYTES`]. Anything else could hang or exhaust the thread that reads
/// it: a named pipe blocks the open until a writer comes, a device such as
/// `/dev/zero` never ends. The file is opened without blocking (on Linux), checked
/// again through its handle, and read no further than the cap, in case it was
/// swapped or grew in between.
fn read_plan_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| {
        format!(
            "cannot be read ({e}); give a built-in plan ({}) or the path of a .yaml, .yml or .json file",
            builtin_names().join(", ")
        )
    };
    check_path_root(path)?;
    check_plan_file(&std::fs::metadata(path).map_err(unreadable)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A named pipe swapped in after the check then opens at once, instead of
        // waiting for a writer, and the check through the handle refuses it.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(unreadable)?;
    check_plan_file(&file.metadata().map_err(unreadable)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_PLAN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PLAN_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| format!("is not UTF-8 text ({e})"))
}

/// A plan file must be a regular file within [`MAX_PLAN_FILE_BYTES`].
fn check_plan_file(meta: &std::fs::Metadata) -> Result<(), String> {
    if !meta.is_file() {
        return Err(format!(
            "is not a regular file but {}; a plan file must be a regular .yaml, .yml or .json file",
            file_kind(meta)
        ));
    }
    if meta.len() > MAX_PLAN_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    Ok(())
}

fn too_large(bytes: u64) -> String {
    format!(
        "is {bytes} bytes, over the limit of a plan file, {MAX_PLAN_FILE_BYTES} bytes ({} MiB)",
        MAX_PLAN_FILE_BYTES >> 20
    )
}

/// What a path that is not a regular file is, for the error.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a folder";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "something else"
}

fn load_raw(
    source: &PlanSource,
    base_dir: &Path,
    loading: &mut Vec<String>,
) -> Result<ResolvedPlan, String> {
    let source = match source {
        PlanSource::File(p) if p.is_relative() && base_dir != Path::new(".") => {
            PlanSource::File(base_dir.join(p))
        }
        other => other.clone(),
    };
    let origin = origin_name(&source);
    if loading.contains(&origin) {
        return Err(format!(
            "tracking plan {origin} extends itself: {} -> {origin}",
            loading.join(" -> ")
        ));
    }
    if loading.len() >= MAX_EXTEND_DEPTH {
        return Err(format!(
            "tracking plan {origin}: more than {MAX_EXTEND_DEPTH} plans extend one another"
        ));
    }
    let at = |path: &str, why: String| {
        if path.is_empty() {
            format!("tracking plan {origin} {why}")
        } else {
            format!("tracking plan {origin}: {path} {why}")
        }
    };
    let doc = read_document(&source).map_err(|why| at("", why))?;
    let Json::Object(doc) = doc else {
        return Err(at("", "must be an object with `events`".to_owned()));
    };
    check_keys(
        &doc,
        &["name", "description", "extend", "destinations", "events"],
    )
    .map_err(|why| at("", why))?;

    let dir = match &source {
        PlanSource::File(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
        _ => base_dir.to_path_buf(),
    };
    // Base plans first: this plan's events and destinations override theirs.
    let mut base_events: Vec<EventSpec> = Vec::new();
    let mut destinations: Vec<(String, String)> = Vec::new();
    let extends = match doc.get("extend") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| at("extend", "must list plan names or paths".to_owned()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(at(
                "extend",
                "must be a built-in plan's name, a path, or a list of them".to_owned(),
            ))
        }
    };
    loading.push(origin.clone());
    for name in extends {
        let base = load_raw(&PlanSource::from_name_or_path(&name), &dir, loading)?;
        for e in base.events {
            upsert(&mut base_events, e);
        }
        for (k, v) in base.destinations {
            upsert_pair(&mut destinations, k, v);
        }
    }
    loading.pop();

    let name = match doc.get("name") {
        None => match &source {
            PlanSource::File(p) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            PlanSource::Builtin(n) => n.clone(),
            _ => "inline".to_owned(),
        },
        Some(v) => non_empty_str(v).map_err(|why| at("name", why))?.to_owned(),
    };
    let description = optional_str(doc.get("description")).map_err(|why| at("description", why))?;

    let own = match doc.get("events") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Object(categories)) => {
            parse_events(categories).map_err(|(p, why)| at(&p, why))?
        }
        Some(_) => {
            return Err(at(
                "events",
                "must map each category to its actions".to_owned(),
            ))
        }
    };
    let events = resolve_extends(base_events, own).map_err(|(p, why)| at(&p, why))?;

    match doc.get("destinations") {
        None | Some(Json::Null) => {}
        Some(Json::Object(routes)) => {
            for (key, arn) in routes {
                let path = format!("destinations.{}", quote_key(key));
                let arn = non_empty_str(arn).map_err(|why| at(&path, why))?;
                parse_topic_arn(arn).map_err(|e| at(&path, e.reason))?;
                check_destination(key, &events).map_err(|why| at(&path, why))?;
                upsert_pair(&mut destinations, key.clone(), arn.to_owned());
            }
        }
        Some(_) => {
            return Err(at(
                "destinations",
                "must map 'Category' or 'Category/action' to a topic ARN".to_owned(),
            ))
        }
    }
    Ok(ResolvedPlan {
        name,
        description,
        events,
        destinations,
    })
}

/// A destination must name a planned category or event, so that a typo does not
/// silently send events to the default topic. A plan without events only routes.
fn check_destination(key: &str, events: &[EventSpec]) -> Result<(), String> {
    if events.is_empty() {
        return Ok(());
    }
    let known = match key.split_once('/') {
        Some((c, a)) => events.iter().any(|e| &*e.category == c && &*e.action == a),
        None => events.iter().any(|e| &*e.category == key),
    };
    if known {
        Ok(())
    } else {
        Err(format!(
            "routes '{key}', which is not a category or Category/action of the plan"
        ))
    }
}

fn quote_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

fn check_keys(map: &Map<String, Json>, allowed: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "has an unknown key '{k}'; the keys are {}",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn non_empty_str(v: &Json) -> Result<&str, String> {
    match v {
        Json::String(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("must be a non-empty string, got {v}")),
    }
}

fn optional_str(v: Option<&Json>) -> Result<Option<String>, String> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("must be a string, got {other}")),
    }
}

fn optional_bool(v: Option<&Json>) -> Result<Option<bool>, String> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("must be true or false, got {other}")),
    }
}

/// An event as its document describes it, before `extend`.
struct EventDraft {
    spec: EventSpec,
    extend: Option<(String, String)>,
    /// Which fields the document set, so that `extend` fills in only the others.
    has_event_types: bool,
    has_widget: bool,
    has_description: bool,
    path: String,
}

fn parse_events(categories: &Map<String, Json>) -> Result<Vec<EventDraft>, (String, String)> {
    let mut out = Vec::new();
    for (category, actions) in categories {
        let cpath = format!("events.{}", quote_key(category));
        if category.trim().is_empty() {
            return Err(("events".into(), "has a category with an empty name".into()));
        }
        let Json::Object(actions) = actions else {
            return Err((
                cpath,
                "must map each action to its definition (or null)".into(),
            ));
        };
        for (action, def) in actions {
            let path = format!("{cpath}.{}", quote_key(action));
            if action.trim().is_empty() {
                return Err((cpath, "has an action with an empty name".into()));
            }
            out.push(parse_event(category, action, def, path)?);
        }
    }
    Ok(out)
}

fn parse_event(
    category: &str,
    action: &str,
    def: &Json,
    path: String,
) -> Result<EventDraft, (String, String)> {
    let empty = Map::new();
    let def = match def {
        Json::Null => &empty,
        Json::Object(m) => m,
        other => {
            return Err((
                path,
                format!("must be an object (or null for an event without properties), got {other}"),
            ))
        }
    };
    let field = |name: &str| format!("{path}.{name}");
    check_keys(
        def,
        &["description", "extend", "eventType", "widget", "properties"],
    )
    .map_err(|why| (path.clone(), why))?;
    let extend = match def.get("extend") {
        None | Some(Json::Null) => None,
        Some(v) => {
            let s = non_empty_str(v).map_err(|why| (field("extend"), why))?;
            let Some((c, a)) = s.split_once('/') else {
                return Err((
                    field("extend"),
                    format!("must name an event as 'Category/action', got {s:?}"),
                ));
            };
            Some((c.to_owned(), a.to_owned()))
        }
    };
    let event_types = match def.get("eventType") {
        None | Some(Json::Null) => None,
        Some(v) => Some(parse_event_types(v).map_err(|why| (field("eventType"), why))?),
    };
    let widget = optional_bool(def.get("widget")).map_err(|why| (field("widget"), why))?;
    let description =
        optional_str(def.get("description")).map_err(|why| (field("description"), why))?;
    let mut properties = Vec::new();
    match def.get("properties") {
        None | Some(Json::Null) => {}
        Some(Json::Object(props)) => {
            for (name, spec) in props {
                let ppath = format!("{}.{}", field("properties"), quote_key(name));
                if name.is_empty() {
                    return Err((
                        field("properties"),
                        "has a property with an empty name".into(),
                    ));
                }
                properties.push(parse_property(name, spec).map_err(|why| (ppath, why))?);
            }
        }
        Some(_) => {
            return Err((
                field("properties"),
                "must map each property name to its type".into(),
            ))
        }
    }
    Ok(EventDraft {
        has_event_types: event_types.is_some(),
        has_widget: widget.is_some(),
        has_description: description.is_some(),
        spec: EventSpec {
            category: category.into(),
            action: action.into(),
            description,
            event_types: event_types.unwrap_or(EventTypes::ANY),
            widget: widget.unwrap_or(false),
            properties,
        },
        extend,
        path,
    })
}

fn parse_event_types(v: &Json) -> Result<EventTypes, String> {
    let bad = || format!("must be 'session', 'customerAction', 'any' or a list of them, got {v}");
    let names: Vec<&Json> = match v {
        Json::Array(items) if !items.is_empty() => items.iter().collect(),
        Json::String(_) => vec![v],
        _ => return Err(bad()),
    };
    let mut types = EventTypes {
        session: false,
        customer_action: false,
    };
    for n in names {
        match n.as_str() {
            Some("session") => types.session = true,
            Some("customerAction") => types.customer_action = true,
            Some("any") => types = EventTypes::ANY,
            _ => return Err(bad()),
        }
    }
    Ok(types)
}

const TYPE_NAMES: &str = "string, integer, number, boolean, timestamp or enum (with values), \
                          with [] for an array and ? for optional, e.g. 'string[]?'";

fn parse_type(text: &str) -> Result<(PropertyType, bool, bool), String> {
    let (text, optional) = match text.strip_suffix('?') {
        Some(t) => (t, true),
        None => (text, false),
    };
    let (base, list) = match text.strip_suffix("[]") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let ty = match base {
        "string" => PropertyType::String,
        "integer" => PropertyType::Integer,
        "number" => PropertyType::Number,
        "boolean" => PropertyType::Boolean,
        "timestamp" => PropertyType::Timestamp,
        "enum" => PropertyType::Enum(Vec::new()),
        _ => {
            let hint = super::did_you_mean(
                base,
                &[
                    "string",
                    "integer",
                    "number",
                    "boolean",
                    "timestamp",
                    "enum",
                ],
            )
            .map(|t| format!(" (did you mean '{t}'?)"))
            .unwrap_or_default();
            return Err(format!(
                "has an unknown type '{text}'{hint}; the types are {TYPE_NAMES}"
            ));
        }
    };
    Ok((ty, list, optional))
}

fn enum_values(v: &Json) -> Result<Vec<Box<str>>, String> {
    let Json::Array(items) = v else {
        return Err(format!("must list the allowed strings, got {v}"));
    };
    let mut out: Vec<Box<str>> = Vec::new();
    for item in items {
        let Json::String(s) = item else {
            return Err(format!("must list strings only, got {item}"));
        };
        if !out.iter().any(|o| **o == **s) {
            out.push(s.as_str().into());
        }
    }
    if out.is_empty() {
        return Err("must list at least one allowed value".into());
    }
    Ok(out)
}

/// `string`, `integer?`, `string[]`, `[a, b]` (an enum), or the long form
/// `{ type, values, required, nullable, description }`.
fn parse_property(name: &str, spec: &Json) -> Result<PropertySpec, String> {
    let mut p = PropertySpec {
        name: name.into(),
        ty: PropertyType::String,
        list: false,
        required: true,
        nullable: false,
        description: None,
    };
    match spec {
        Json::String(t) => {
            let (ty, list, optional) = parse_type(t)?;
            if matches!(ty, PropertyType::Enum(_)) {
                return Err("is an enum: list its values, e.g. [agent, timeout], or use { type: enum, values: [...] }".into());
            }
            p.ty = ty;
            p.list = list;
            p.required = !optional;
        }
        Json::Array(_) => p.ty = PropertyType::Enum(enum_values(spec)?),
        Json::Object(m) => {
            check_keys(
                m,
                &["type", "values", "required", "nullable", "description"],
            )?;
            let (ty, list, optional) = match m.get("type") {
                Some(Json::String(t)) => parse_type(t)?,
                None if m.contains_key("values") => (PropertyType::Enum(Vec::new()), false, false),
                None => return Err("needs a `type` (or `values` for an enum)".into()),
                Some(other) => return Err(format!("has a `type` that is not a string: {other}")),
            };
            p.list = list;
            p.ty = match (ty, m.get("values")) {
                (PropertyType::Enum(_), Some(v)) => {
                    PropertyType::Enum(enum_values(v).map_err(|why| format!("values {why}"))?)
                }
                (PropertyType::Enum(_), None) => return Err("is an enum without `values`".into()),
                (_, Some(_)) => return Err("has `values`, which only an enum takes".into()),
                (ty, None) => ty,
            };
            p.required =
                match optional_bool(m.get("required")).map_err(|why| format!("required {why}"))? {
                    Some(r) => r && !optional,
                    None => !optional,
                };
            p.nullable = optional_bool(m.get("nullable"))
                .map_err(|why| format!("nullable {why}"))?
                .unwrap_or(false);
            p.description =
                optional_str(m.get("description")).map_err(|why| format!("description {why}"))?;
        }
        other => {
            return Err(format!(
            "must be a type name ({TYPE_NAMES}), a list of enum values, or an object, got {other}"
        ))
        }
    }
    Ok(p)
}

fn upsert(events: &mut Vec<EventSpec>, e: EventSpec) {
    match events
        .iter_mut()
        .find(|x| x.category == e.category && x.action == e.action)
    {
        Some(slot) => *slot = e,
        None => events.push(e),
    }
}

fn upsert_pair(pairs: &mut Vec<(String, String)>, k: String, v: String) {
    match pairs.iter_mut().find(|(x, _)| *x == k) {
        Some(slot) => slot.1 = v,
        None => pairs.push((k, v)),
    }
}

/// Applies event-level `extend`s. A target is looked up among this document's events
/// first, then the base plans'; an event that extends its own name extends the base
/// plan's definition of it (how a plan adds a property to a built-in event).
fn resolve_extends(
    base: Vec<EventSpec>,
    own: Vec<EventDraft>,
) -> Result<Vec<EventSpec>, (String, String)> {
    let own_index: HashMap<(Box<str>, Box<str>), usize> = own
        .iter()
        .enumerate()
        .map(|(i, d)| ((d.spec.category.clone(), d.spec.action.clone()), i))
        .collect();
    let mut resolved: Vec<Option<EventSpec>> = vec![None; own.len()];
    for i in 0..own.len() {
        let mut chain = Vec::new();
        resolve_one(i, &own, &own_index, &base, &mut resolved, &mut chain)?;
    }
    let mut events = base;
    for e in resolved.into_iter().flatten() {
        upsert(&mut events, e);
    }
    Ok(events)
}

fn resolve_one(
    i: usize,
    own: &[EventDraft],
    own_index: &HashMap<(Box<str>, Box<str>), usize>,
    base: &[EventSpec],
    resolved: &mut Vec<Option<EventSpec>>,
    chain: &mut Vec<usize>,
) -> Result<EventSpec, (String, String)> {
    if let Some(done) = &resolved[i] {
        return Ok(done.clone());
    }
    let draft = &own[i];
    if chain.contains(&i) {
        return Err((
            draft.path.clone(),
            "extends itself through a cycle of `extend`s".into(),
        ));
    }
    let mut spec = draft.spec.clone();
    if let Some((c, a)) = &draft.extend {
        let self_ref = *c == *spec.category && *a == *spec.action;
        let key = (Box::<str>::from(c.as_str()), Box::<str>::from(a.as_str()));
        let parent = match own_index.get(&key) {
            Some(&j) if !self_ref => {
                chain.push(i);
                let p = resolve_one(j, own, own_index, base, resolved, chain)?;
                chain.pop();
                p
            }
            _ => match base.iter().find(|e| &*e.category == c && &*e.action == a) {
                Some(p) => p.clone(),
                None => {
                    return Err((
                        format!("{}.extend", draft.path),
                        format!("names '{c}/{a}', which is not an event of this plan or the plans it extends"),
                    ))
                }
            },
        };
        let mut properties = parent.properties.clone();
        for p in spec.properties {
            match properties.iter_mut().find(|x| x.name == p.name) {
                Some(slot) => *slot = p,
                None => properties.push(p),
            }
        }
        spec.properties = properties;
        if !draft.has_event_types {
            spec.event_types = parent.event_types;
        }
        if !draft.has_widget {
            spec.widget = parent.widget;
        }
        if !draft.has_description {
            spec.description = parent.description.clone();
        }
    }
    resolved[i] = Some(spec.clone());
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<TrackingPlan, String> {
        PlanSource::Yaml(text.into()).load()
    }

    #[test]
    fn builtins_load() {
        for name in builtin_names() {
            let plan = PlanSource::Builtin(name.into()).load().unwrap();
            assert_eq!(plan.name, name);
            assert!(plan.events.len() >= 8, "{name}: {}", plan.events.len());
        }
        let livechat = PlanSource::Builtin("rocketchat-livechat".into())
            .load()
            .unwrap();
        let closed = livechat.event("Chat Session", "closed").unwrap();
        let PropertyType::Enum(values) = &closed.properties[0].ty else {
            panic!("close_method is an enum")
        };
        assert_eq!(values.len(), 8);
        assert!(closed.widget);
        let widget: Vec<String> = livechat
            .events
            .iter()
            .filter(|e| e.widget)
            .map(|e| format!("{}/{}", e.category, e.action))
            .collect();
        assert_eq!(
            widget,
            [
                "Chat Session/closed",
                "Transcript Download/selected",
                "Survey/link_clicked",
                "Window/opened",
                "Window/closed"
            ]
        );
    }

    #[test]
    fn property_shorthands() {
        let plan = yaml(
            r#"
events:
  C:
    a:
      eventType: customerAction
      properties:
        s: string
        o: integer?
        l: string[]
        e: [x, y, x]
        long: { type: enum, values: [p], required: false, description: why }
"#,
        )
        .unwrap();
        assert_eq!(plan.name, "inline");
        let e = plan.event("C", "a").unwrap();
        assert_eq!(
            e.event_types,
            EventTypes {
                session: false,
                customer_action: true
            }
        );
        let p: Vec<(&str, &str, bool, bool)> = e
            .properties
            .iter()
            .map(|p| (&*p.name, p.ty.name(), p.list, p.required))
            .collect();
        assert_eq!(
            p,
            [
                ("s", "string", false, true),
                ("o", "integer", false, false),
                ("l", "string", true, true),
                ("e", "enum", false, true),
                ("long", "enum", false, false),
            ]
        );
        assert_eq!(
            e.properties[3].ty,
            PropertyType::Enum(vec!["x".into(), "y".into()])
        );
    }

    #[test]
    fn extend_a_builtin_and_one_of_its_events() {
        let plan = yaml(
            r#"
name: ours
extend: rocketchat-livechat
destinations:
  Escalation: arn:aws:sns:us-east-1:123456789012:escalations.fifo
events:
  Chat Session:
    closed:
      extend: Chat Session/closed
      properties:
        closed_by_bot: boolean?
  Bot:
    answered:
      properties: { intent: string }
    fallback:
      extend: Bot/answered
"#,
        )
        .unwrap();
        let closed = plan.event("Chat Session", "closed").unwrap();
        let names: Vec<&str> = closed.properties.iter().map(|p| &*p.name).collect();
        assert_eq!(names, ["close_method", "closed_by_bot"]);
        assert!(closed.widget, "inherited");
        assert!(
            plan.event("Survey", "link_clicked").is_some(),
            "kept from the base"
        );
        assert_eq!(
            plan.event("Bot", "fallback").unwrap().properties[0]
                .name
                .as_ref(),
            "intent"
        );
        assert_eq!(plan.destinations.len(), 1);
    }

    /// Loads `path` as a plan file on a thread of its own and gives its error: a load
    /// that hung (on a FIFO, on /dev/zero) fails the test instead of hanging it.
    fn refusal(path: &Path) -> String {
        let path = path.to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(PlanSource::File(path).load().map(|p| p.name));
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the plan loader returned instead of hanging")
            .unwrap_err()
    }

    #[test]
    fn a_plan_file_is_a_regular_file_within_the_cap_checked_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        // No plan extension: refused before anything is opened.
        let e = refusal(Path::new("/dev/zero"));
        assert!(
            e.contains("file /dev/zero is neither a built-in plan nor a path ending in .yaml"),
            "{e}"
        );
        let folder = dir.path().join("plans.yaml");
        std::fs::create_dir(&folder).unwrap();
        let e = refusal(&folder);
        assert!(e.contains("is not a regular file but a folder"), "{e}");
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, vec![b'#'; MAX_PLAN_FILE_BYTES as usize + 1]).unwrap();
        let e = refusal(&big);
        assert!(
            e.contains(&format!(
                "is {} bytes, over the limit of a plan file, {MAX_PLAN_FILE_BYTES} bytes (1 MiB)",
                MAX_PLAN_FILE_BYTES + 1
            )),
            "{e}"
        );
        // At the cap exactly, it is read.
        let mut text = "name: full\nevents: {}\n#".to_owned();
        text.push_str(&"x".repeat(MAX_PLAN_FILE_BYTES as usize - text.len()));
        let full = dir.path().join("full.yaml");
        std::fs::write(&full, &text).unwrap();
        assert_eq!(PlanSource::File(full).load().unwrap().name, "full");
    }

    #[cfg(unix)]
    #[test]
    fn a_device_or_a_named_pipe_with_a_plans_name_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero.yaml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = refusal(&zero);
        assert!(
            e.contains("is not a regular file but a character device"),
            "{e}"
        );
        let pipe = dir.path().join("pipe.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap();
        assert!(made.success());
        let e = refusal(&pipe);
        assert!(
            e.contains("is not a regular file but a named pipe (FIFO)"),
            "{e}"
        );
        // A plan file extending one is refused alike, naming the one at fault.
        let plan = dir.path().join("plan.yaml");
        std::fs::write(&plan, "extend: pipe.yaml\n").unwrap();
        let e = refusal(&plan);
        assert!(
            e.contains(&format!("file {} is not a regular file", pipe.display())),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_place_and_the_fix() {
        let cases = [
            (
                "events: {C: {a: {properties: {x: strng}}}}",
                "events.C.a.properties.x has an unknown type 'strng' (did you mean 'string'?)",
            ),
            (
                "events: {C: {a: {propertes: {}}}}",
                "events.C.a has an unknown key 'propertes'",
            ),
            (
                "events: {C: {a: {eventType: visitor}}}",
                "events.C.a.eventType must be",
            ),
            (
                "events: {C: {a: {extend: D/b}}}",
                "events.C.a.extend names 'D/b'",
            ),
            ("events: {C: {a: {extend: C/b}, b: {extend: C/a}}}", "cycle"),
            (
                "events: {C: {a: {properties: {x: {type: string, values: [a]}}}}}",
                "only an enum takes",
            ),
            (
                "events: {C: {a: {properties: {x: enum}}}}",
                "list its values",
            ),
            ("extend: nowhere.yaml", "file nowhere.yaml cannot be read"),
            (
                "destinations: {C: not-an-arn}\nevents: {C: {a: null}}",
                "destinations.C must be an SNS topic ARN",
            ),
            (
                "destinations: {D: arn:aws:sns:us-east-1:123456789012:t}\nevents: {C: {a: null}}",
                "routes 'D', which is not a category",
            ),
            ("evnts: {}", "unknown key 'evnts'"),
            ("- a", "must be an object"),
        ];
        for (text, words) in cases {
            let err = yaml(text).expect_err(text);
            assert!(err.contains(words), "{text}\n  {err}");
            assert!(err.starts_with("tracking plan "), "{err}");
        }
    }

    #[test]
    fn files_resolve_extends_relative_to_themselves() {
        let dir = std::env::temp_dir().join(format!("plan-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(
            dir.join("sub/base.json"),
            r#"{"name":"base","events":{"C":{"a":{"properties":{"x":"string"}}}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("main.yml"),
            "extend: sub/base.json\nevents: {D: {b: null}}\n",
        )
        .unwrap();
        std::fs::write(dir.join("loop.yaml"), "extend: loop.yaml\n").unwrap();
        let plan = PlanSource::File(dir.join("main.yml")).load().unwrap();
        assert_eq!(plan.name, "main");
        assert!(plan.event("C", "a").is_some() && plan.event("D", "b").is_some());
        let err = PlanSource::File(dir.join("loop.yaml")).load().unwrap_err();
        assert!(err.contains("extends itself"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
