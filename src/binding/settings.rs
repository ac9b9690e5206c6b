//! Rocket.Chat admin settings: their definitions for the server's `settingsRegistry`
//! and their values as logger options.

use napi::bindgen_prelude::{Function, Unknown};
use napi::{Env, Result};
use napi_derive::napi;

use super::error as js_error;
use super::napi_raw;
use crate::core::options::{Options, ReadOptions};
use crate::core::rocketchat::{definitions, options_from_settings, setting_for_option};

/// One setting, as `settingsRegistry.add(id, packageValue, options)` takes it.
#[napi(object, object_from_js = false, object_to_js = false)]
#[allow(dead_code)] // Type only: built as JSON by the core.
pub struct SettingDefinition {
    pub id: String,
    #[napi(ts_type = "boolean | string | number")]
    pub package_value: String,
    /// `{ type, section, i18nLabel, i18nDescription, public: false, secret, values?, code?, multiline? }`
    #[napi(
        ts_type = "{ type: 'boolean' | 'string' | 'password' | 'int' | 'code' | 'select'; section: string; i18nLabel: string; i18nDescription: string; public: false; secret: boolean; values?: Array<{ key: string; i18nLabel: string }>; code?: string; multiline?: boolean }"
    )]
    pub options: String,
    /// What the setting does, in English (the i18n text to start from).
    pub description: String,
}

/// The settings group for Rocket.Chat's `settingsRegistry`: the enabled switch, topic
/// ARN, per-agent topics, region, endpoint, credentials (`secret`), site URL, plan,
/// format fields, batching and spool. None of them is public.
#[napi(ts_return_type = "{ group: string; settings: SettingDefinition[] }")]
pub fn settings_definitions() -> serde_json::Value {
    definitions()
}

/// Logger options from the settings' current values, read with `get(id)` (the
/// server's `settings.get`); `null` when SNS analytics is switched off. `siteUrl` is
/// the server's `Site_Url`, used when the analytics site URL is empty. Throws a
/// `TypeError` with `code: 'ERR_INVALID_SETTING'` and `setting` naming the setting to
/// fix. Pass the result to `new AnalyticsLogger()` or, when a setting changes,
/// `logger.reconfigure()`.
#[napi(
    js_name = "optionsFromSettings",
    catch_unwind,
    ts_args_type = "get: (id: string) => unknown, siteUrl?: string",
    ts_return_type = "LoggerOptions | null"
)]
#[allow(clippy::needless_lifetimes)]
pub fn options_from_settings_js<'env>(
    env: &'env Env,
    get: Function<'env, String, Unknown<'env>>,
    site_url: Option<String>,
) -> Result<Option<serde_json::Value>> {
    let mut failure: Option<napi::Error> = None;
    let options = options_from_settings(
        |id| {
            if failure.is_some() {
                return serde_json::Value::Null;
            }
            match get.call(id.to_owned()).and_then(|v| {
                if v.get_type()? == napi::ValueType::Undefined {
                    return Ok(serde_json::Value::Null);
                }
                napi_raw::from_js::<serde_json::Value>(env, v)
            }) {
                Ok(v) => v,
                Err(e) => {
                    failure = Some(e);
                    serde_json::Value::Null
                }
            }
        },
        site_url.as_deref(),
    );
    if let Some(e) = failure {
        return Err(e);
    }
    let options =
        options.map_err(|e| js_error::invalid_setting(env, &e.setting, &e.to_string()))?;
    let Some(options) = options else {
        return Ok(None);
    };
    // Check them as the logger will, and name the setting behind any error.
    let checked = Options::from_json(options.clone()).and_then(|o| o.into_config().map(|_| ()));
    if let Err(e) = checked {
        let setting = setting_for_option(&e.option).unwrap_or("SNS_Analytics_Topic_ARN");
        return Err(js_error::invalid_setting(
            env,
            setting,
            &format!("invalid SNS analytics setting {setting}: {e}"),
        ));
    }
    Ok(Some(options))
}
