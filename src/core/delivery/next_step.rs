//! What a batch does after one attempt: a pure decision over what the attempt came to,
//! the batch's retry state and the time, which `deliver.rs` carries out (Vector's
//! `RetryLogic` is the model: the policy apart from the I/O, tested without it).
//! Which entries are resent is `sort_answer`'s; this decides whether, when, and what
//! becomes of them otherwise.

use std::time::{Duration, Instant};

use super::pause::DestinationFault;
use crate::core::options::RetryPolicy;

/// One attempt's outcome, as far as the decision needs it.
pub(super) struct Attempt {
    /// SNS refused the destination as a whole this time.
    pub refusal: Option<DestinationFault>,
    /// Entries still to send.
    pub left: usize,
    /// SNS asked to slow down.
    pub throttled: bool,
    /// Retries made before this attempt.
    pub retries: u32,
    pub now: Instant,
    /// The backoff drawn for the next retry (jittered by the caller).
    pub backoff: Duration,
}

/// The batch, as the decision sees it.
pub(super) struct BatchState<'a> {
    pub policy: &'a RetryPolicy,
    pub give_up_at: Instant,
    /// A paused destination's probe: one attempt.
    pub probe: bool,
    /// With a spool, events are kept and retried past the budget, never failed.
    pub spooled: bool,
    /// The last attempt's refusal of the destination, if the one before this refused
    /// too: a destination is held only when SNS refuses it twice in a row (the retry
    /// is signed with refreshed credentials and meets IAM changes still propagating).
    pub refused_once: Option<DestinationFault>,
}

/// What to do next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Nothing left to send, or a probe's one attempt is over.
    Done,
    /// The destination cannot take anything: hold what is left for it.
    Hold(DestinationFault),
    /// Out of the retry budget without a spool: fail what is left.
    GiveUp,
    /// Wait `backoff`, then send what is left again. `past_budget`: with a spool, the
    /// budget is spent and the events stay on disk, to be reported as delayed.
    Retry {
        backoff: Duration,
        past_budget: bool,
    },
}

/// The step after `attempt`, and how long to slow every request of the logger (SNS
/// throttled: the whole logger waits, not just this batch).
pub(super) fn next_step(state: &mut BatchState<'_>, attempt: Attempt) -> (Step, Option<Duration>) {
    if let Some(refusal) = attempt.refusal {
        if state.probe || state.refused_once.is_some() {
            return (Step::Hold(refusal), None);
        }
        state.refused_once = Some(refusal);
    } else {
        state.refused_once = None;
    }
    if attempt.left == 0 || state.probe {
        return (Step::Done, None);
    }
    let pause = attempt
        .throttled
        .then(|| state.policy.backoff_cap(attempt.retries));
    if attempt.now + attempt.backoff <= state.give_up_at {
        let retry = Step::Retry {
            backoff: attempt.backoff,
            past_budget: false,
        };
        return (retry, pause);
    }
    if let Some(refusal) = state.refused_once.take() {
        // Out of budget on a refusal of the destination: held, not failed.
        return (Step::Hold(refusal), pause);
    }
    if !state.spooled {
        return (Step::GiveUp, pause);
    }
    let retry = Step::Retry {
        backoff: attempt.backoff,
        past_budget: true,
    };
    (retry, pause)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_backoff: 100 * MS,
            max_backoff: 1000 * MS,
            budget: 5000 * MS,
        }
    }

    fn refusal() -> DestinationFault {
        DestinationFault {
            code: "AuthorizationError".into(),
            message: "not authorized".into(),
        }
    }

    /// A batch started at `t0`, not yet refused.
    fn state(p: &RetryPolicy, t0: Instant, probe: bool, spooled: bool) -> BatchState<'_> {
        BatchState {
            policy: p,
            give_up_at: t0 + p.budget,
            probe,
            spooled,
            refused_once: None,
        }
    }

    fn attempt(t0: Instant, at_ms: u32) -> Attempt {
        Attempt {
            refusal: None,
            left: 3,
            throttled: false,
            retries: 0,
            now: t0 + at_ms * MS,
            backoff: 100 * MS,
        }
    }

    #[test]
    fn a_transient_failure_is_retried_within_the_budget_then_given_up() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = state(&p, t0, false, false);
        let (step, pause) = next_step(&mut s, attempt(t0, 0));
        assert_eq!(
            step,
            Step::Retry {
                backoff: 100 * MS,
                past_budget: false
            }
        );
        assert_eq!(pause, None);
        assert_eq!(next_step(&mut s, attempt(t0, 4950)).0, Step::GiveUp);
        let done = Attempt {
            left: 0,
            ..attempt(t0, 10)
        };
        assert_eq!(next_step(&mut s, done).0, Step::Done);
    }

    #[test]
    fn with_a_spool_the_budget_only_marks_the_events_delayed() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = state(&p, t0, false, true);
        assert_eq!(
            next_step(&mut s, attempt(t0, 4950)).0,
            Step::Retry {
                backoff: 100 * MS,
                past_budget: true
            }
        );
    }

    #[test]
    fn a_destination_is_held_when_refused_twice_in_a_row() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = state(&p, t0, false, false);
        let refused = || Attempt {
            refusal: Some(refusal()),
            ..attempt(t0, 0)
        };
        assert!(matches!(next_step(&mut s, refused()).0, Step::Retry { .. }));
        // A success in between forgets the first refusal.
        assert!(matches!(
            next_step(&mut s, attempt(t0, 1)).0,
            Step::Retry { .. }
        ));
        assert!(matches!(next_step(&mut s, refused()).0, Step::Retry { .. }));
        assert_eq!(next_step(&mut s, refused()).0, Step::Hold(refusal()));
    }

    #[test]
    fn out_of_budget_after_one_refusal_holds_rather_than_fails() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = state(&p, t0, false, false);
        let late = Attempt {
            refusal: Some(refusal()),
            ..attempt(t0, 4950)
        };
        assert_eq!(next_step(&mut s, late).0, Step::Hold(refusal()));
    }

    #[test]
    fn a_probe_makes_one_attempt() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = state(&p, t0, true, false);
        assert_eq!(next_step(&mut s, attempt(t0, 0)).0, Step::Done);
        let refused = Attempt {
            refusal: Some(refusal()),
            ..attempt(t0, 0)
        };
        assert_eq!(next_step(&mut s, refused).0, Step::Hold(refusal()));
    }

    #[test]
    fn throttling_slows_the_whole_logger_by_the_backoff_cap() {
        let p = policy();
        let t0 = Instant::now();
        let mut s = state(&p, t0, false, false);
        let throttled = Attempt {
            throttled: true,
            retries: 2,
            ..attempt(t0, 0)
        };
        assert_eq!(next_step(&mut s, throttled).1, Some(400 * MS));
    }
}
