//! Tracking-plan tools for JavaScript: the `typegen` command's engine.

use napi::{Env, Result};
use napi_derive::napi;

use super::error as js_error;
use crate::core::plan::{builtin_names, typescript, PlanSource};

/// TypeScript declarations for a tracking plan's events: one interface per event,
/// their union `PlannedEvent`, `WidgetEvent`, and `PlannedLogger`. `plan` is a
/// built-in plan's name or a plan file's path. Throws a `TypeError` with
/// `code: 'ERR_INVALID_PLAN'` saying where the plan is wrong.
#[napi(catch_unwind)]
pub fn generate_types(env: Env, plan: String) -> Result<String> {
    PlanSource::from_name_or_path(&plan)
        .load()
        .map(|p| typescript(&p))
        .map_err(|why| js_error::invalid_plan(&env, &why))
}

/// The names of the tracking plans built into the addon.
#[napi]
pub fn builtin_plans() -> Vec<String> {
    builtin_names().into_iter().map(str::to_owned).collect()
}
