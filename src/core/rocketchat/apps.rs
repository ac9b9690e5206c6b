//! The per-app token bucket: an app must not be able to flood the server's analytics.
//! (What each App may log, and the app id check, are the encoder's:
//! `encode/access.rs`.)

use std::collections::HashMap;
use std::time::Instant;

/// Per-app limits: `eventsPerSecond` refill, `burst` bucket size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub events_per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        // A busy Livechat app logs a few events per conversation: 100/s sustained with
        // bursts of 200 is far above that and far below what could hurt the server.
        RateLimit {
            events_per_second: 100.0,
            burst: 200.0,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Most apps tracked at once; past it the least recently seen bucket is forgotten
/// (it starts full again), so made-up app ids cannot grow memory without bound.
const MAX_APPS: usize = 10_000;

/// One token bucket per app id.
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

    /// Takes a token for `app_id` at `now`; false when the app is over its limit.
    pub fn try_acquire(&mut self, app_id: &str, now: Instant) -> bool {
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
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.events_per_second).min(limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_refill_per_app() {
        let mut limiter = AppRateLimiter::new(RateLimit {
            events_per_second: 10.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.try_acquire("a", t0)));
        assert!(!limiter.try_acquire("a", t0), "burst spent");
        assert!(
            limiter.try_acquire("b", t0),
            "another app has its own bucket"
        );
        assert!(
            limiter.try_acquire("a", t0 + Duration::from_millis(100)),
            "refilled one"
        );
        assert!(!limiter.try_acquire("a", t0 + Duration::from_millis(100)));
    }

    #[test]
    fn made_up_app_ids_cannot_grow_memory() {
        let mut limiter = AppRateLimiter::new(RateLimit::default());
        let t0 = Instant::now();
        for i in 0..(MAX_APPS + 50) {
            limiter.try_acquire(&format!("app-{i}"), t0);
        }
        assert_eq!(limiter.buckets.len(), MAX_APPS);
    }
}
