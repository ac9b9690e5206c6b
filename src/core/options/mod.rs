//! The validated configuration of one logger, and the checks every option goes
//! through. Errors name the option as JavaScript spells it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

mod input;
mod replay;

pub use crate::core::arn::{parse_topic_arn, TopicArn};
use crate::core::encode::{EncoderConfig, MessageGroup, Validation};
use crate::core::error::InvalidOption;
use crate::core::event::MAX_MESSAGE_BYTES;
use crate::core::telemetry::{Cap, LaneCaps, Limits};
pub use input::{Credentials, Options, ReadOptions};
pub use replay::{
    ReplayDestination, ReplayOptions, SelectionOptions, DEFAULT_REPLAY_GROUP,
    DEFAULT_REPLAY_TIMEOUT_MS,
};

/// What `log()` does when the memory queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// `log()` throws `ERR_QUEUE_FULL`; nothing already queued is touched.
    Reject,
    /// The new event is dropped and reported through `onError`.
    DropNewest,
    /// The oldest event not yet sent is dropped to make room, and reported.
    DropOldest,
}

impl Overflow {
    pub fn parse(value: &str) -> Result<Self, InvalidOption> {
        match value {
            "reject" => Ok(Overflow::Reject),
            "dropNewest" => Ok(Overflow::DropNewest),
            "dropOldest" => Ok(Overflow::DropOldest),
            other => Err(InvalidOption::new(
                "overflow",
                format!("must be 'reject', 'dropNewest' or 'dropOldest', got {other:?}"),
            )),
        }
    }
}

impl Validation {
    pub fn parse(value: &str) -> Result<Self, InvalidOption> {
        match value {
            "strict" => Ok(Validation::Strict),
            "warn" => Ok(Validation::Warn),
            "off" => Ok(Validation::Off),
            other => Err(InvalidOption::new(
                "validation",
                format!("must be 'strict', 'warn' or 'off', got {other:?}"),
            )),
        }
    }
}

impl MessageGroup {
    pub fn parse(value: &str) -> Result<Self, InvalidOption> {
        match value {
            "site" => Ok(MessageGroup::Site),
            "room" => Ok(MessageGroup::Room),
            other => Err(InvalidOption::new(
                "messageGroup",
                format!("must be 'site' or 'room', got {other:?}"),
            )),
        }
    }
}

/// AWS credentials given explicitly. `Debug` never shows the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &redact_key_id(&self.access_key_id))
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// `AKIA…WXYZ`: enough to tell keys apart in a support ticket, not enough to use.
fn redact_key_id(id: &str) -> String {
    if id.len() > 8 && id.is_ascii() {
        format!("{}…{}", &id[..4], &id[id.len() - 4..])
    } else {
        "<redacted>".to_owned()
    }
}

/// How to reach SNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsConfig {
    /// Explicit region; otherwise AWS_REGION, the profile, then the topic ARN's region.
    pub region: Option<String>,
    pub arn_region: String,
    /// Explicit endpoint URL; otherwise AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL, the
    /// profile's, then SNS's regional endpoint.
    pub endpoint: Option<String>,
    /// Explicit credentials; otherwise the AWS default provider chain.
    pub credentials: Option<StaticCredentials>,
    /// Time allowed for one HTTP attempt.
    pub request_timeout: Duration,
}

/// The disk spool (`spoolDir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Bytes of unsettled events (as `maxQueueBytes` counts them) the spool may hold;
    /// past it `overflow` applies.
    pub max_bytes: u64,
    /// Longest an accepted event waits before it is written to the spool file.
    pub sync_interval: Duration,
    /// Bytes of the dead-letter file (`<dir>/dead-letter/`); past it the oldest
    /// records are dropped, reported and counted.
    pub max_dead_letter_bytes: u64,
}

/// When and how long to retry transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Cap of the first backoff; each retry doubles it.
    pub initial_backoff: Duration,
    /// No backoff is longer than this.
    pub max_backoff: Duration,
    /// Time from an event's first attempt after which it is given up as failed.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(defaults::RETRY_INITIAL_BACKOFF_MS),
            max_backoff: Duration::from_millis(defaults::RETRY_MAX_BACKOFF_MS),
            budget: Duration::from_millis(defaults::RETRY_BUDGET_MS),
        }
    }
}

/// The lanes' caps as shares of the limits (`telemetry/sources.rs`), in percent: the
/// widget's, each App's, and every App's together. The server's events have the rest,
/// at least [`MIN_SERVER_PERCENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    pub widget_percent: u64,
    pub app_percent: u64,
    pub apps_percent: u64,
}

/// What the widget's and the Apps' shares must leave to the server's own events.
pub const MIN_SERVER_PERCENT: u64 = 10;

impl Default for Shares {
    fn default() -> Self {
        Shares {
            widget_percent: defaults::WIDGET_SHARE_PERCENT,
            app_percent: defaults::APP_SHARE_PERCENT,
            apps_percent: defaults::APPS_SHARE_PERCENT,
        }
    }
}

impl Shares {
    /// The lanes' caps within `limits`. A cap is never below one event or one message
    /// of the largest size, so that a lane can always hold something.
    pub fn caps(&self, limits: Limits) -> LaneCaps {
        let share = |percent: u64| {
            let of = |whole: u64| match whole {
                u64::MAX => u64::MAX,
                whole => (whole as u128 * percent as u128 / 100) as u64,
            };
            Cap {
                events: of(limits.events).max(1),
                bytes: of(limits.bytes).max(MAX_MESSAGE_BYTES as u64),
            }
        };
        LaneCaps {
            widget: share(self.widget_percent),
            app: share(self.app_percent),
            apps: share(self.apps_percent),
        }
    }
}

/// Everything a logger needs, validated and defaulted.
#[derive(Debug, Clone)]
pub struct LoggerConfig {
    /// Plan, routing, message groups and body format: how `log()` turns an event into
    /// a queued message.
    pub encoder: EncoderConfig,
    pub subject: String,
    pub max_batch_size: usize,
    pub flush_interval: Duration,
    pub max_queue_events: usize,
    pub max_queue_bytes: usize,
    pub overflow: Overflow,
    pub retry: RetryPolicy,
    /// Batches in flight at once (a FIFO message group always has at most one).
    pub max_concurrent_batches: usize,
    pub shutdown_timeout: Duration,
    pub sns: SnsConfig,
    /// With a spool, the memory queue (`maxQueueEvents`, `maxQueueBytes`) is a window
    /// over it, and events past the window wait on disk instead of being dropped.
    pub spool: Option<SpoolConfig>,
    pub shares: Shares,
    /// Events the widget may send per visitor token, and per room, in a window of
    /// [`defaults::WIDGET_CAP_WINDOW_MS`] (`logWidgetEvent`).
    pub widget_events_per_visitor: u32,
    pub widget_events_per_room: u32,
    /// One line per batch outcome on standard error (`debug`, or the environment's
    /// [`DEBUG_ENV`]).
    pub debug: bool,
}

/// Set to `1` or `true`, it switches `debug` on for every logger of the process.
pub const DEBUG_ENV: &str = "RC_SNS_ANALYTICS_DEBUG";

impl LoggerConfig {
    /// The memory queue's limits: `maxQueueEvents` and `maxQueueBytes`.
    pub fn memory_limits(&self) -> Limits {
        Limits {
            events: self.max_queue_events as u64,
            bytes: self.max_queue_bytes as u64,
        }
    }

    /// What may be unsettled before `overflow` applies: with a working spool,
    /// `maxSpoolBytes` of events on disk (the memory queue is then only a window onto
    /// it); otherwise the memory queue's limits.
    pub fn limits(&self, spool_working: bool) -> Limits {
        match (&self.spool, spool_working) {
            (Some(spool), true) => Limits {
                events: u64::MAX,
                bytes: spool.max_bytes,
            },
            _ => self.memory_limits(),
        }
    }
}

/// Defaults, in one place so the README and `index.d.ts` can quote them.
pub mod defaults {
    pub const SUBJECT: &str = "RC";
    pub const MAX_BATCH_SIZE: u64 = 10;
    pub const FLUSH_INTERVAL_MS: u64 = 1_000;
    pub const MAX_QUEUE_EVENTS: u64 = 100_000;
    pub const MAX_QUEUE_BYTES: u64 = 64 * 1024 * 1024;
    pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
    pub const MAX_CONCURRENT_BATCHES: u64 = 8;
    pub const SHUTDOWN_TIMEOUT_MS: u64 = 5_000;
    pub const MAX_SPOOL_BYTES: u64 = 1 << 30;
    pub const SPOOL_SYNC_MS: u64 = 50;
    /// 64 MiB: entries refused for their own sake are rare, and this keeps at least
    /// 256 of the largest messages SNS takes, or some 100,000 typical events.
    pub const MAX_DEAD_LETTER_BYTES: u64 = 64 << 20;
    pub const RETRY_INITIAL_BACKOFF_MS: u64 = 100;
    pub const RETRY_MAX_BACKOFF_MS: u64 = 10_000;
    /// Well inside SNS FIFO's five-minute deduplication window, so that a retry of a
    /// request whose answer was lost can never be delivered twice.
    pub const RETRY_BUDGET_MS: u64 = 120_000;
    /// The `ciao` body's `source_component`.
    pub const SOURCE_COMPONENT: &str = "Rocket.Chat";
    /// A quarter of the limits for anonymous visitors, a quarter for every App
    /// together (a tenth each): the server's own events keep at least half.
    pub const WIDGET_SHARE_PERCENT: u64 = 25;
    pub const APP_SHARE_PERCENT: u64 = 10;
    pub const APPS_SHARE_PERCENT: u64 = 25;
    /// A person in the widget makes a few events a minute (opening it, a survey, a
    /// link, closing it): one a second for a minute is far above that. A room has its
    /// visitor, maybe in several tabs or after a reconnect with a new token: twice a
    /// visitor's cap, so a second token in the room does not starve the first, while
    /// many tokens cannot pour into one room.
    pub const WIDGET_CAP_WINDOW_MS: u64 = 60_000;
    pub const WIDGET_EVENTS_PER_VISITOR: u64 = 60;
    pub const WIDGET_EVENTS_PER_ROOM: u64 = 120;
}

/// `siteUrl` becomes the MessageGroupId: 1–128 printable ASCII characters.
pub fn check_site_url(site_url: &str) -> Result<(), InvalidOption> {
    if site_url.is_empty()
        || site_url.len() > 128
        || !site_url.bytes().all(|b| (33..=126).contains(&b))
    {
        return Err(InvalidOption::new(
            "siteUrl",
            format!(
                "must be 1-128 printable ASCII characters without spaces (it is the SNS MessageGroupId), got {site_url:?}"
            ),
        ));
    }
    Ok(())
}

/// SNS subjects: 1–99 ASCII characters without line breaks.
pub fn check_subject(subject: &str) -> Result<(), InvalidOption> {
    if subject.is_empty() || subject.len() > 99 || !subject.bytes().all(|b| (32..=126).contains(&b))
    {
        return Err(InvalidOption::new(
            "subject",
            format!("must be 1-99 printable ASCII characters (SNS's limit), got {subject:?}"),
        ));
    }
    Ok(())
}

/// `endpoint`: an https:// URL, or an http:// one on loopback only (a local
/// emulator). Over http:// to any other host, every signed request, and the session
/// token of temporary credentials with it, would cross the network in cleartext.
pub fn check_endpoint(endpoint: &str) -> Result<(), InvalidOption> {
    let (cleartext, rest) = match (
        endpoint.strip_prefix("http://"),
        endpoint.strip_prefix("https://"),
    ) {
        (Some(rest), _) => (true, rest),
        (_, Some(rest)) => (false, rest),
        _ => (false, ""),
    };
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(InvalidOption::new(
            "endpoint",
            format!("must be an http:// or https:// URL, got {endpoint:?}"),
        ));
    }
    if cleartext {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !is_loopback_authority(authority) {
            return Err(InvalidOption::new(
                "endpoint",
                format!(
                    "may use http:// only on loopback (127.0.0.0/8, ::1, localhost: a local \
                     emulator), since over http:// the signed requests, and the session token \
                     with them, cross the network in cleartext; use https://, got {endpoint:?}"
                ),
            ));
        }
    }
    Ok(())
}

/// `localhost`, `127.x.y.z`, `[::1]` (or `[::ffff:127.x.y.z]`), with an optional port.
/// Anything unusual (user info, a backslash, a short or hex IPv4 form) is not loopback
/// here, whatever some URL parser would make of it.
fn is_loopback_authority(authority: &str) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || (authority.starts_with('[')
            && host.parse::<Ipv6Addr>().is_ok_and(|ip| {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }));
    port_ok && host_ok
}

pub fn check_non_empty(option: &str, value: &str) -> Result<(), InvalidOption> {
    if value.is_empty() {
        return Err(InvalidOption::new(option, "must be a non-empty string"));
    }
    Ok(())
}

/// A whole number option within `min..=max`, or `default` when absent.
pub fn whole_number(
    option: &str,
    value: Option<f64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, InvalidOption> {
    let Some(v) = value else { return Ok(default) };
    if !v.is_finite() || v.fract() != 0.0 || v < min as f64 || v > max as f64 {
        return Err(InvalidOption::new(
            option,
            format!("must be a whole number from {min} to {max}, got {v}"),
        ));
    }
    Ok(v as u64)
}

pub fn millis(
    option: &str,
    value: Option<f64>,
    default_ms: u64,
    min_ms: u64,
    max_ms: u64,
) -> Result<Duration, InvalidOption> {
    whole_number(option, value, default_ms, min_ms, max_ms).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_whole_and_in_range() {
        assert_eq!(whole_number("maxBatchSize", None, 10, 1, 10).unwrap(), 10);
        assert_eq!(
            whole_number("maxBatchSize", Some(3.0), 10, 1, 10).unwrap(),
            3
        );
        for bad in [0.0, 11.0, 2.5, f64::NAN, -1.0, f64::INFINITY] {
            let err = whole_number("maxBatchSize", Some(bad), 10, 1, 10).unwrap_err();
            assert_eq!(err.option, "maxBatchSize");
            assert!(err.reason.contains("from 1 to 10"), "{err}");
        }
    }

    #[test]
    fn strings() {
        assert!(check_site_url("https://chat.example.com").is_ok());
        assert_eq!(check_site_url("has space").unwrap_err().option, "siteUrl");
        assert_eq!(
            check_site_url(&"x".repeat(129)).unwrap_err().option,
            "siteUrl"
        );
        assert!(check_subject("RC").is_ok());
        assert_eq!(check_subject("a\nb").unwrap_err().option, "subject");
        assert!(check_endpoint("http://127.0.0.1:5000").is_ok());
        assert_eq!(
            check_endpoint("127.0.0.1:5000").unwrap_err().option,
            "endpoint"
        );
        assert_eq!(Overflow::parse("dropOldest").unwrap(), Overflow::DropOldest);
        assert_eq!(Overflow::parse("block").unwrap_err().option, "overflow");
    }

    #[test]
    fn an_http_endpoint_must_be_loopback() {
        for ok in [
            "https://sns.eu-west-1.amazonaws.com",
            "https://sns.example.com:8443/path",
            "http://127.0.0.1:5000",
            "http://127.8.9.10",
            "http://localhost:4566/",
            "http://LOCALHOST",
            "http://[::1]:4566",
            "http://[::ffff:127.0.0.1]:4566",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://sns.eu-west-1.amazonaws.com",
            "http://10.0.0.5:4566",
            "http://128.0.0.1",
            "http://[::2]",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
            "http://127.1",
            "http://0x7f000001",
            "http://user@127.0.0.1",
            "http://127.0.0.1@example.com",
            "http://example.com\\@localhost",
            "http://localhost:port",
            "http://[::1",
        ] {
            let e = check_endpoint(bad).unwrap_err();
            assert_eq!(e.option, "endpoint", "{bad}");
            assert!(e.reason.contains("only on loopback"), "{bad}: {e}");
            assert!(e.reason.contains("cleartext"), "{bad}: {e}");
        }
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = StaticCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("FwoGZXIvYXdzEXAMPLETOKEN".into()),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(!shown.contains("FwoGZXIv"), "{shown}");
        assert!(!shown.contains("IOSFODNN7"), "{shown}");
        assert!(shown.contains("AKIA…MPLE"), "{shown}");
    }
}
