//! Rocket.Chat's side: the App id check, the per-app rate limit and what each App may
//! log (`apps.rs`), the widget endpoint's untrusted body (`widget.rs`), and the admin
//! settings that become options (`settings.rs`).

mod apps;
mod settings;
mod widget;

pub use apps::{check_app_id, AppAccess, AppRateLimiter, AppRefusal, RateLimit, ALL_CATEGORIES};
pub use settings::{definitions, options_from_settings, setting_for_option};
pub use widget::{default_widget_plan, widget_event, WidgetError};
