//! Rocket.Chat's side: Apps-Engine omnichannel events and the per-app rate limit
//! (`apps.rs`), the widget endpoint's untrusted body (`widget.rs`), and the admin
//! settings that become options (`settings.rs`).

mod apps;
mod settings;
mod widget;

pub use apps::{
    agent_event, check_app_id, room_closed, room_started, room_transferred, AppRateLimiter,
    LivechatRoomRef, RateLimit, UserRef,
};
pub use settings::{definitions, options_from_settings, setting_for_option};
pub use widget::{default_widget_plan, widget_event, WidgetError};
