//! Caps on the Livechat widget's events per visitor token and per room, within a fixed
//! window. The widget endpoint is open to anyone holding a visitor token, so one
//! visitor (or one room) must not be able to fill the widget's share of the logger:
//! the caps stop one noisy token or room, and the widget lane's share of the queue
//! is the backstop for a flood spread over many tokens.
//!
//! Pure bookkeeping: the caller passes the time, and decides what a refusal answers.

use crate::core::options::defaults;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

/// Most keys (visitor tokens and rooms together) counted in one window. At 16 bytes
/// an entry the table stays within a few MiB however many tokens an attacker makes
/// up; past it an event from a key not yet counted is refused
/// ([`WidgetOverCap::TooManyVisitors`]) until the window ends.
pub const MAX_KEYS: usize = 65_536;

/// The caps: at most `per_visitor` events per visitor token and `per_room` per room
/// in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WidgetCapLimits {
    pub window: Duration,
    pub per_visitor: u32,
    pub per_room: u32,
}

impl Default for WidgetCapLimits {
    fn default() -> Self {
        WidgetCapLimits {
            window: Duration::from_millis(defaults::WIDGET_CAP_WINDOW_MS),
            per_visitor: defaults::WIDGET_EVENTS_PER_VISITOR as u32,
            per_room: defaults::WIDGET_EVENTS_PER_ROOM as u32,
        }
    }
}

/// Why [`WidgetCaps::admit`] refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetOverCap {
    /// The visitor token has had `limit` events in this window.
    Visitor { limit: u32, window: Duration },
    /// The room has had `limit` events in this window.
    Room { limit: u32, window: Duration },
    /// The window's table of keys is full ([`MAX_KEYS`]) and the event brings a
    /// token or room not in it: a flood from many tokens.
    TooManyVisitors { max_keys: usize, window: Duration },
}

impl fmt::Display for WidgetOverCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WidgetOverCap::Visitor { limit, window } => write!(
                f,
                "visitor token is over its cap of {limit} widget events per {}",
                Window(window)
            ),
            WidgetOverCap::Room { limit, window } => write!(
                f,
                "room is over its cap of {limit} widget events per {}",
                Window(window)
            ),
            WidgetOverCap::TooManyVisitors { max_keys, window } => write!(
                f,
                "the widget's table of visitors for this window is full ({max_keys} visitor \
                 tokens and rooms per {}): a flood from many tokens",
                Window(window)
            ),
        }
    }
}

impl std::error::Error for WidgetOverCap {}

/// A window's length as the messages say it: `60 s`, or `500 ms`.
struct Window(Duration);

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} ms", self.0.as_millis())
        }
    }
}

/// Which table a key counts in: the same text as a token and as a room id are two
/// keys.
#[derive(Hash)]
enum Kind {
    Visitor,
    Room,
}

/// Counts the widget's events per visitor token and per room in fixed windows.
///
/// Keys are kept as 64-bit hashes, not as the strings: a key costs the same whatever
/// the token's length. The hasher is seeded at random per `WidgetCaps`, so whoever
/// makes up tokens cannot aim two at one counter; by chance, two of [`MAX_KEYS`] keys
/// share one with a probability near 1e-10, and would only share a cap.
#[derive(Debug)]
pub struct WidgetCaps {
    limits: WidgetCapLimits,
    hasher: RandomState,
    /// When the current window began; `None` before the first event.
    window_start: Option<Instant>,
    /// Events in the current window by key (visitor tokens and rooms together).
    counts: HashMap<u64, u32>,
}

impl WidgetCaps {
    pub fn new(limits: WidgetCapLimits) -> Self {
        Self {
            limits,
            hasher: RandomState::new(),
            window_start: None,
            counts: HashMap::new(),
        }
    }

    /// The caps this applies.
    pub fn limits(&self) -> WidgetCapLimits {
        self.limits
    }

    /// Counts an event of visitor `token` in room `room_id` at `now`, or says which
    /// cap refuses it. Both caps are checked before either is counted, so a refused
    /// event costs neither the visitor nor the room anything.
    pub fn admit(&mut self, token: &str, room_id: &str, now: Instant) -> Result<(), WidgetOverCap> {
        self.roll(now);
        let WidgetCapLimits {
            window,
            per_visitor,
            per_room,
        } = self.limits;
        let visitor = self.hasher.hash_one((Kind::Visitor, token));
        let room = self.hasher.hash_one((Kind::Room, room_id));
        let visitor_count = self.counts.get(&visitor).copied();
        let room_count = self.counts.get(&room).copied();
        if visitor_count.unwrap_or(0) >= per_visitor {
            return Err(WidgetOverCap::Visitor {
                limit: per_visitor,
                window,
            });
        }
        if room_count.unwrap_or(0) >= per_room {
            return Err(WidgetOverCap::Room {
                limit: per_room,
                window,
            });
        }
        // The table is bounded rather than evicting: forgetting a key would hand
        // that visitor or room a fresh cap, so a flood of made-up tokens could wash
        // out the counts of the busy ones. Refusing the new keys until the window
        // ends keeps every count honest; known visitors and rooms go on as before,
        // and the widget lane's share of the queue bounds what the flood costs.
        let new_keys = usize::from(visitor_count.is_none()) + usize::from(room_count.is_none());
        if self.counts.len() + new_keys > MAX_KEYS {
            return Err(WidgetOverCap::TooManyVisitors {
                max_keys: MAX_KEYS,
                window,
            });
        }
        for key in [visitor, room] {
            let count = self.counts.entry(key).or_insert(0);
            *count = count.saturating_add(1);
        }
        Ok(())
    }

    /// Starts a new window, with an empty table, when the current one has passed.
    /// The table keeps its allocation (at most [`MAX_KEYS`] entries' worth).
    fn roll(&mut self, now: Instant) {
        let passed = match self.window_start {
            None => true,
            Some(start) => now.saturating_duration_since(start) >= self.limits.window,
        };
        if passed {
            self.counts.clear();
            self.window_start = Some(now);
        }
    }
}

impl Default for WidgetCaps {
    fn default() -> Self {
        Self::new(WidgetCapLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn caps(per_visitor: u32, per_room: u32) -> WidgetCaps {
        WidgetCaps::new(WidgetCapLimits {
            window: MINUTE,
            per_visitor,
            per_room,
        })
    }

    #[test]
    fn caps_each_visitor_token() {
        let mut caps = WidgetCaps::default();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert_eq!(caps.admit("token-a", "room", t0), Ok(()));
        }
        let refused = caps.admit("token-a", "room", t0).unwrap_err();
        assert_eq!(
            refused,
            WidgetOverCap::Visitor {
                limit: 60,
                window: MINUTE
            }
        );
        assert_eq!(
            refused.to_string(),
            "visitor token is over its cap of 60 widget events per 60 s"
        );
        // Its other rooms do not help it; another visitor is not held back.
        assert!(matches!(
            caps.admit("token-a", "other-room", t0),
            Err(WidgetOverCap::Visitor { .. })
        ));
        assert_eq!(caps.admit("token-b", "room", t0), Ok(()));
    }

    #[test]
    fn caps_each_room_across_visitors() {
        let mut caps = caps(3, 5);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(caps.admit("a", "room", t0), Ok(()));
        }
        for _ in 0..2 {
            assert_eq!(caps.admit("b", "room", t0), Ok(()));
        }
        let refused = caps.admit("b", "room", t0).unwrap_err();
        assert_eq!(
            refused,
            WidgetOverCap::Room {
                limit: 5,
                window: MINUTE
            }
        );
        assert_eq!(
            refused.to_string(),
            "room is over its cap of 5 widget events per 60 s"
        );
        assert_eq!(caps.admit("b", "other-room", t0), Ok(()), "b has one left");
        // A token that is also a room id is another key.
        assert_eq!(caps.admit("room", "a", t0), Ok(()));
    }

    #[test]
    fn a_new_window_starts_from_nothing() {
        let mut caps = caps(2, 10);
        let t0 = Instant::now();
        assert!((0..2).all(|_| caps.admit("a", "room", t0).is_ok()));
        let almost = t0 + MINUTE - Duration::from_millis(1);
        assert!(caps.admit("a", "room", almost).is_err(), "same window");
        let next = t0 + MINUTE;
        assert!(
            (0..2).all(|_| caps.admit("a", "room", next).is_ok()),
            "new window"
        );
        assert!(caps.admit("a", "room", next).is_err());
        // The window starts at its first event, not on a fixed clock.
        assert!(caps.admit("a", "room", next + MINUTE / 2).is_err());
        assert_eq!(caps.admit("a", "room", next + MINUTE), Ok(()));
    }

    #[test]
    fn a_refused_event_costs_the_other_cap_nothing() {
        let mut caps = caps(2, 3);
        let t0 = Instant::now();
        // Refused by the visitor's cap: the room does not count it.
        assert!((0..2).all(|_| caps.admit("a", "room-1", t0).is_ok()));
        for _ in 0..5 {
            assert!(matches!(
                caps.admit("a", "room-2", t0),
                Err(WidgetOverCap::Visitor { .. })
            ));
        }
        for token in ["b", "c", "d"] {
            assert_eq!(caps.admit(token, "room-2", t0), Ok(()), "room-2 has all 3");
        }
        // Refused by the room's cap: the visitor does not count it.
        for _ in 0..5 {
            assert!(matches!(
                caps.admit("e", "room-2", t0),
                Err(WidgetOverCap::Room { .. })
            ));
        }
        assert!(
            (0..2).all(|_| caps.admit("e", "room-3", t0).is_ok()),
            "e has both"
        );
    }

    #[test]
    fn a_full_table_refuses_new_keys_within_its_bound() {
        let mut caps = caps(10, u32::MAX);
        let t0 = Instant::now();
        // One room and MAX_KEYS - 1 tokens fill the table.
        for i in 0..MAX_KEYS - 1 {
            assert_eq!(caps.admit(&format!("token-{i}"), "room", t0), Ok(()));
        }
        assert_eq!(caps.counts.len(), MAX_KEYS);
        let refused = caps.admit("one-more", "room", t0).unwrap_err();
        assert_eq!(
            refused,
            WidgetOverCap::TooManyVisitors {
                max_keys: MAX_KEYS,
                window: MINUTE
            }
        );
        assert!(refused.to_string().starts_with(
            "the widget's table of visitors for this window is full (65536 visitor tokens and \
             rooms per 60 s)"
        ));
        // A known token in a new room is a new key too.
        assert!(caps.admit("token-7", "new-room", t0).is_err());
        // Known visitors in known rooms go on.
        assert_eq!(caps.admit("token-7", "room", t0), Ok(()));
        assert_eq!(caps.counts.len(), MAX_KEYS, "nothing was added");
        let capacity = caps.counts.capacity();
        assert!(capacity < 2 * MAX_KEYS, "{capacity}");
        // The next window starts empty, in the same allocation.
        let next = t0 + MINUTE;
        assert_eq!(caps.admit("one-more", "room", next), Ok(()));
        assert_eq!(caps.counts.len(), 2);
        assert_eq!(caps.counts.capacity(), capacity);
    }

    #[test]
    fn a_table_one_short_refuses_an_event_with_two_new_keys() {
        let mut caps = caps(10, u32::MAX);
        let t0 = Instant::now();
        for i in 0..MAX_KEYS - 2 {
            assert_eq!(caps.admit(&format!("token-{i}"), "room", t0), Ok(()));
        }
        assert_eq!(caps.counts.len(), MAX_KEYS - 1);
        assert!(matches!(
            caps.admit("new-token", "new-room", t0),
            Err(WidgetOverCap::TooManyVisitors { .. })
        ));
        assert_eq!(
            caps.admit("new-token", "room", t0),
            Ok(()),
            "one new key fits"
        );
    }
}
