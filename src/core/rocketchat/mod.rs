//! Rocket.Chat's side: the per-app rate limit (`apps.rs`), the widget endpoint's untrusted body (`widget.rs`), and the admin
//! settings that become options (`settings.rs`).

mod apps;
mod settings;
mod widget;

pub use apps::{AppRateLimiter, RateLimit};
pub use settings::{definitions, options_from_settings, setting_for_option};
pub use widget::{default_widget_plan, widget_event, WidgetError};
