//! Capped exponential backoff with full jitter, bounded by a total time budget: how
//! the delivery loop spaces its retries under a [`RetryPolicy`] (an option, so it is
//! defined with the options).

use std::time::Duration;

use rand::Rng;

use crate::core::options::RetryPolicy;

/// The ceiling of the wait before attempt `n` (0-based) of a backoff that doubles from
/// `initial` up to `max`: the one backoff of the delivery loop, for a batch's retries
/// and a paused destination's probes alike.
pub fn doubling_cap(initial: Duration, max: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    initial.checked_mul(factor).unwrap_or(max).min(max)
}

impl RetryPolicy {
    /// The ceiling of the backoff before retry number `retry` (0-based).
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        doubling_cap(self.initial_backoff, self.max_backoff, retry)
    }

    /// "Full jitter": uniform in `[0, cap]`, which spreads a herd of retrying
    /// clients best (AWS Architecture Blog, "Exponential Backoff And Jitter").
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.backoff_cap(retry).as_micros() as u64;
        Duration::from_micros(rng.random_range(0..=cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_doubles_then_saturates() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            budget: Duration::from_secs(5),
        };
        let caps: Vec<u64> = (0..6)
            .map(|r| p.backoff_cap(r).as_millis() as u64)
            .collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_cap(200), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_the_cap_and_varies() {
        let p = RetryPolicy::default();
        let mut rng = rand::rng();
        let draws: Vec<Duration> = (0..200).map(|_| p.backoff(3, &mut rng)).collect();
        assert!(draws.iter().all(|d| *d <= p.backoff_cap(3)));
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(
            distinct.len() > 50,
            "full jitter should spread draws, got {}",
            distinct.len()
        );
    }
}
