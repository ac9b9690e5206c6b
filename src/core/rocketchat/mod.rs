//! Rocket.Chat's side: the per-app rate limit (`apps.rs`), the widget endpoint's untrusted body (`widget.rs`) and its
//! per-visitor and per-room caps (`widget_caps.rs`), and the admin
//! settings that become options (`settings.rs`).

mod apps;
mod settings;
mod widget;
mod widget_caps;

pub use apps::{AppOverBudget, AppRateLimiter, RateLimit};
pub use settings::{definitions, options_from_settings, setting_for_option};
pub use widget::{default_widget_plan, widget_event, WidgetError, WidgetErrorKind, WidgetEvent};
pub use widget_caps::{WidgetCapLimits, WidgetCaps, WidgetOverCap, MAX_KEYS as MAX_WIDGET_KEYS};
