//! The per-app token buckets: an app must not be able to flood the server's analytics,
//! neither with many events nor with few large ones.
//! (What each App may log, and the app id check, are the encoder's:
//! `encode/access.rs`.)

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

/// Per-app limits: `eventsPerSecond` refill and `burst` bucket size for events, and
/// `bytesPerSecond` refill and `burstBytes` bucket size for the events' bytes.
///
/// Why bytes too: an event may be up to 256 KiB, so an event rate alone would let
/// one App push 100 × 256 KiB ≈ 25 MiB/s into the queue and SNS. The byte budget is
/// modelled on Kafka's per-client byte-rate quotas: the bytes are measured after the
/// request (here: after the event is encoded, the only time its size is known), the
/// client may overdraw once, and it then waits off its debt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub events_per_second: f64,
    pub burst: f64,
    /// Sustained bytes per second per app (the byte bucket's refill).
    pub bytes_per_second: f64,
    /// The byte bucket's size: bytes an app may log at once after being idle.
    pub burst_bytes: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        // A busy Livechat app logs a few events per conversation: 100/s sustained with
        // bursts of 200 is far above that and far below what could hurt the server.
        // Its events are a few hundred bytes: 256 KiB/s is room for about 100/s of
        // 2.5 KiB events, and a 1 MiB burst for four events of the largest size, while
        // an App cannot fill the queue with large events at the event rate (~25 MiB/s).
        RateLimit {
            events_per_second: 100.0,
            burst: 200.0,
            bytes_per_second: 262_144.0,
            burst_bytes: 1_048_576.0,
        }
    }
}

/// Which budget refused an app's call (like Segment's `tryAdd`, which says why it
/// refused rather than only that it did), so the caller can name the option at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOverBudget {
    /// Out of event tokens (`eventsPerSecond`, `burst`).
    Events,
    /// The byte bucket is spent or in debt (`bytesPerSecond`, `burstBytes`).
    Bytes,
}

impl fmt::Display for AppOverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AppOverBudget::Events => "over its event rate limit",
            AppOverBudget::Bytes => "over its byte budget",
        })
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// May be negative: the debt of the last event's bytes, charged after it was
    /// admitted. At most one event's size below zero, since none is admitted in debt.
    bytes: f64,
    at: Instant,
}

/// Most apps tracked at once; past it the least recently seen bucket is forgotten
/// (it starts full again), so made-up app ids cannot grow memory without bound.
const MAX_APPS: usize = 10_000;

/// Two token buckets (events, bytes) per app id.
#[derive(Debug)]
pub struct AppRateLimiter {
    limit: RateLimit,
    buckets: HashMap<String, Bucket>,
}

impl AppRateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// The limits this limiter applies (for messages that name them).
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Admits a call of `app_id` at `now`: it takes an event token when the app has
    /// one and its byte bucket is not spent (> 0). A refused call takes nothing, and
    /// says which budget refused it (the events one when both are spent). The event's
    /// bytes are charged afterwards with [`AppRateLimiter::charge_bytes`].
    pub fn try_acquire(&mut self, app_id: &str, now: Instant) -> Result<(), AppOverBudget> {
        let bucket = self.bucket(app_id, now);
        if bucket.tokens < 1.0 {
            return Err(AppOverBudget::Events);
        }
        if bucket.bytes <= 0.0 {
            return Err(AppOverBudget::Bytes);
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// Debits `bytes` (an admitted event's encoded size) from `app_id`'s byte bucket
    /// at `now`. It may go below zero: the app's calls are then refused
    /// ([`AppOverBudget::Bytes`]) until the refill has repaid the debt.
    pub fn charge_bytes(&mut self, app_id: &str, bytes: usize, now: Instant) {
        let bucket = self.bucket(app_id, now);
        bucket.bytes -= bytes as f64;
    }

    /// `app_id`'s bucket refilled to `now`; a new one starts full, forgetting the
    /// least recently seen app when [`MAX_APPS`] are tracked.
    fn bucket(&mut self, app_id: &str, now: Instant) -> &mut Bucket {
        if !self.buckets.contains_key(app_id) && self.buckets.len() >= MAX_APPS {
            if let Some(oldest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(k, _)| k.clone())
            {
                self.buckets.remove(&oldest);
            }
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(app_id.to_owned()).or_insert(Bucket {
            tokens: limit.burst,
            bytes: limit.burst_bytes,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.events_per_second).min(limit.burst);
        bucket.bytes = (bucket.bytes + elapsed * limit.bytes_per_second).min(limit.burst_bytes);
        // Never backwards: a `now` older than the last one refills nothing.
        bucket.at = bucket.at.max(now);
        bucket
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Events: 10/s, burst 3; bytes: 1000/s, burst 2000.
    fn small() -> AppRateLimiter {
        AppRateLimiter::new(RateLimit {
            events_per_second: 10.0,
            burst: 3.0,
            bytes_per_second: 1000.0,
            burst_bytes: 2000.0,
        })
    }

    #[test]
    fn event_tokens_refill() {
        let mut limiter = small();
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.try_acquire("a", t0).is_ok()));
        assert_eq!(
            limiter.try_acquire("a", t0),
            Err(AppOverBudget::Events),
            "burst spent"
        );
        assert_eq!(
            limiter.try_acquire("a", t0 + ms(100)),
            Ok(()),
            "refilled one"
        );
        assert_eq!(
            limiter.try_acquire("a", t0 + ms(100)),
            Err(AppOverBudget::Events)
        );
        // Refill stops at the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| limiter.try_acquire("a", later).is_ok()));
        assert_eq!(limiter.try_acquire("a", later), Err(AppOverBudget::Events));
    }

    #[test]
    fn byte_bucket_refills_up_to_its_burst() {
        let mut limiter = small();
        let t0 = Instant::now();
        assert_eq!(limiter.try_acquire("a", t0), Ok(()));
        limiter.charge_bytes("a", 2000, t0);
        assert_eq!(
            limiter.try_acquire("a", t0),
            Err(AppOverBudget::Bytes),
            "spent: 0 is not > 0"
        );
        assert_eq!(
            limiter.try_acquire("a", t0 + ms(1)),
            Ok(()),
            "1 byte back admits one"
        );
        limiter.charge_bytes("a", 1, t0 + ms(1));
        // Idle for a minute: back to 2000, not 60 000.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(limiter.try_acquire("a", later), Ok(()));
        limiter.charge_bytes("a", 2000, later);
        assert_eq!(limiter.try_acquire("a", later), Err(AppOverBudget::Bytes));
    }

    #[test]
    fn byte_debt_blocks_until_repaid() {
        let mut limiter = small();
        let t0 = Instant::now();
        assert_eq!(limiter.try_acquire("a", t0), Ok(()));
        // One large event overdraws the bucket by 3000 bytes: 3 s of refill.
        limiter.charge_bytes("a", 5000, t0);
        for at in [0, 1000, 2500, 2999] {
            assert_eq!(
                limiter.try_acquire("a", t0 + ms(at)),
                Err(AppOverBudget::Bytes),
                "still in debt (or at 0) after {at} ms"
            );
        }
        assert_eq!(limiter.try_acquire("a", t0 + ms(3001)), Ok(()), "repaid");
    }

    #[test]
    fn a_refused_call_takes_nothing() {
        let mut limiter = small();
        let t0 = Instant::now();
        assert_eq!(limiter.try_acquire("a", t0), Ok(()));
        limiter.charge_bytes("a", 4000, t0);
        // Refused for bytes many times: no event token is taken.
        for _ in 0..10 {
            assert_eq!(limiter.try_acquire("a", t0), Err(AppOverBudget::Bytes));
        }
        assert_eq!(limiter.buckets["a"].tokens, 2.0);
        assert_eq!(limiter.buckets["a"].bytes, -2000.0);
        // Refused for events: the byte bucket is untouched.
        let mut limiter = small();
        assert!((0..3).all(|_| limiter.try_acquire("a", t0).is_ok()));
        for _ in 0..10 {
            assert_eq!(limiter.try_acquire("a", t0), Err(AppOverBudget::Events));
        }
        assert_eq!(limiter.buckets["a"].bytes, 2000.0);
    }

    #[test]
    fn each_app_has_its_own_buckets() {
        let mut limiter = small();
        let t0 = Instant::now();
        assert_eq!(limiter.try_acquire("a", t0), Ok(()));
        limiter.charge_bytes("a", 10_000, t0);
        assert_eq!(limiter.try_acquire("a", t0), Err(AppOverBudget::Bytes));
        assert_eq!(limiter.try_acquire("b", t0), Ok(()), "a's debt is not b's");
        assert!((0..2).all(|_| limiter.try_acquire("b", t0).is_ok()));
        assert_eq!(limiter.try_acquire("b", t0), Err(AppOverBudget::Events));
        assert_eq!(limiter.try_acquire("c", t0), Ok(()), "b's burst is not c's");
        limiter.charge_bytes("c", 100, t0);
        assert_eq!(limiter.buckets["c"].bytes, 1900.0);
        assert_eq!(limiter.buckets["a"].bytes, -8000.0);
    }

    #[test]
    fn made_up_app_ids_cannot_grow_memory() {
        let mut limiter = AppRateLimiter::new(RateLimit::default());
        let t0 = Instant::now();
        for i in 0..(MAX_APPS + 50) {
            let app = format!("app-{i}");
            let now = t0 + ms(i as u64);
            assert_eq!(limiter.try_acquire(&app, now), Ok(()));
            limiter.charge_bytes(&app, 1000, now);
        }
        // Charging an app that is not tracked (forgotten meanwhile) tracks it again,
        // within the bound.
        limiter.charge_bytes("app-0", 1000, t0 + Duration::from_secs(60));
        assert_eq!(limiter.buckets.len(), MAX_APPS);
        assert!(limiter.buckets.contains_key("app-0"));
        assert!(
            !limiter.buckets.contains_key("app-50"),
            "the least recently seen went"
        );
        assert!(limiter.buckets.contains_key("app-51"));
    }
}
