//! Destinations the delivery loop holds events for. A topic pauses when SNS says it
//! cannot take anything ([`FaultKind::DestinationUnavailable`]: no permission, no
//! topic, a key identity or secret that is not valid, a disabled KMS key) and resumes
//! when a probe, one batch of its held events, is taken. This file is the state and
//! its arithmetic (which topic is paused, what it holds, when the next probe is due);
//! what the loop does with it is `worker/pausing.rs`.
//!
//! [`FaultKind::DestinationUnavailable`]: super::publisher::FaultKind

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;

use super::retry::doubling_cap;

/// The longest wait between two probes of a paused destination: an administrator's
/// fix is picked up within about a minute, and a topic refused for a day costs 1,440
/// small requests.
pub(crate) const PROBE_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What SNS said when it refused a destination: the AWS error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DestinationFault {
    pub code: String,
    pub message: String,
}

/// One paused destination.
#[derive(Debug)]
pub(crate) struct Pause {
    pub refusal: DestinationFault,
    /// When it paused, for `stats()`.
    pub since: SystemTime,
    /// Events held for it: in its lanes, in its probe, and with a spool on disk only.
    pub held: u64,
    /// Of `held`, with a spool: events let go from memory, left on disk only, until a
    /// rewind of the spool reads them back.
    pub parked: u64,
    /// The oldest parked event's id (UUIDv7: its time), for the age of the oldest
    /// undelivered event while it is on disk only.
    pub oldest_parked: Option<uuid::Uuid>,
    /// Events of the probe in flight, 0 when none is.
    pub probing: u64,
    /// Probes refused in a row: the exponent of the backoff.
    refused_probes: u32,
    /// When the next probe may start.
    next_probe: Instant,
    /// The configuration generation the probe in flight was sent with: a refusal by an
    /// older configuration says nothing about the current one.
    probe_generation: u64,
    /// `close()`: a probe was refused while closing, so what it holds is given up (to
    /// the spool, or reported by id) instead of waiting out the deadline.
    pub given_up: bool,
}

impl Pause {
    /// Held events in the loop's lanes: neither on disk only nor in the probe.
    pub fn in_lanes(&self) -> u64 {
        self.held.saturating_sub(self.parked + self.probing)
    }
}

/// Every paused destination, by topic index, and when to probe them.
#[derive(Debug)]
pub(crate) struct Pauses {
    by_topic: BTreeMap<u16, Pause>,
    /// The first probe's backoff ceiling (`retryInitialBackoffMs`); it doubles per
    /// refused probe up to [`PROBE_MAX_BACKOFF`].
    initial_backoff: Duration,
    /// Bumped by `reconfigure()`.
    generation: u64,
    /// The lowest sequence number of a parked event since the last rewind, so that
    /// `flush()` waits for parked events once they are read back.
    pub min_parked_seq: Option<u64>,
    /// Something changed that `stats()` shows.
    pub changed: bool,
}

impl Pauses {
    pub fn new(initial_backoff: Duration) -> Self {
        Pauses {
            by_topic: BTreeMap::new(),
            initial_backoff,
            generation: 0,
            min_parked_seq: None,
            changed: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    pub fn get(&self, topic: u16) -> Option<&Pause> {
        self.by_topic.get(&topic)
    }

    pub fn get_mut(&mut self, topic: u16) -> Option<&mut Pause> {
        let pause = self.by_topic.get_mut(&topic);
        self.changed |= pause.is_some();
        pause
    }

    pub fn iter(&self) -> impl Iterator<Item = (u16, &Pause)> {
        self.by_topic.iter().map(|(&t, p)| (t, p))
    }

    pub fn topics(&self) -> Vec<u16> {
        self.by_topic.keys().copied().collect()
    }

    /// The ceiling of the wait before probe number `refused + 1`.
    pub fn probe_backoff_cap(&self, refused: u32) -> Duration {
        doubling_cap(self.initial_backoff, PROBE_MAX_BACKOFF, refused).max(Duration::from_millis(1))
    }

    /// "Equal jitter": between half the ceiling and the ceiling, so that probes spread
    /// out without one ever coming much sooner than the backoff says.
    fn probe_delay(&self, refused: u32, rng: &mut impl Rng) -> Duration {
        let cap = self.probe_backoff_cap(refused).as_micros() as u64;
        Duration::from_micros(cap / 2 + rng.random_range(0..=cap - cap / 2))
    }

    /// Pauses `topic`; false if it already was.
    pub fn pause(&mut self, topic: u16, refusal: DestinationFault, now: Instant) -> bool {
        if self.by_topic.contains_key(&topic) {
            return false;
        }
        let first = self.probe_delay(0, &mut rand::rng());
        self.by_topic.insert(
            topic,
            Pause {
                refusal,
                since: SystemTime::now(),
                held: 0,
                parked: 0,
                oldest_parked: None,
                probing: 0,
                refused_probes: 0,
                next_probe: now + first,
                probe_generation: self.generation,
                given_up: false,
            },
        );
        self.changed = true;
        true
    }

    /// Counts `n` more events held for `topic`, if it is paused.
    pub fn add_held(&mut self, topic: u16, n: u64) {
        if let Some(p) = self.by_topic.get_mut(&topic) {
            p.held += n;
            self.changed = true;
        }
    }

    /// Takes `topic` out of the paused set, with what it held.
    pub fn resume(&mut self, topic: u16) -> Option<Pause> {
        let p = self.by_topic.remove(&topic)?;
        self.changed = true;
        Some(p)
    }

    /// When the next probe is due, if one is waiting.
    pub fn next_probe_at(&self) -> Option<Instant> {
        self.by_topic
            .values()
            .filter(|p| p.probing == 0 && !p.given_up)
            .map(|p| p.next_probe)
            .min()
    }

    /// Topics whose probe is due at `now`, none in flight.
    pub fn due(&self, now: Instant) -> Vec<u16> {
        self.by_topic
            .iter()
            .filter(|(_, p)| p.probing == 0 && !p.given_up && p.next_probe <= now)
            .map(|(&t, _)| t)
            .collect()
    }

    /// A probe of `n` events has started for `topic`.
    pub fn probe_started(&mut self, topic: u16, n: u64) {
        let generation = self.generation;
        if let Some(p) = self.by_topic.get_mut(&topic) {
            p.probing = n;
            p.probe_generation = generation;
        }
    }

    /// The probe of `topic` was refused, or got no answer: the next one waits longer,
    /// unless the configuration changed while it was out.
    pub fn probe_refused(&mut self, topic: u16, now: Instant) {
        let generation = self.generation;
        let Some(refused) = self.by_topic.get(&topic).map(|p| p.refused_probes) else {
            return;
        };
        let delay = self.probe_delay(refused + 1, &mut rand::rng());
        if let Some(p) = self.by_topic.get_mut(&topic) {
            p.probing = 0;
            p.refused_probes = refused.saturating_add(1);
            p.next_probe = if p.probe_generation == generation {
                now + delay
            } else {
                now
            };
        }
    }

    /// A due probe of `topic` found nothing to send (its events are all in flight, or
    /// on disk only): try again after the current backoff, no longer.
    pub fn probe_postponed(&mut self, topic: u16, now: Instant) {
        let Some(refused) = self.by_topic.get(&topic).map(|p| p.refused_probes) else {
            return;
        };
        let delay = self.probe_backoff_cap(refused);
        if let Some(p) = self.by_topic.get_mut(&topic) {
            p.next_probe = now + delay;
        }
    }

    /// Probe `topic` at once (`reconfigure()`, `close()`), with the backoff reset.
    pub fn probe_now(&mut self, topic: u16, now: Instant) {
        if let Some(p) = self.by_topic.get_mut(&topic) {
            p.refused_probes = 0;
            p.next_probe = now;
        }
    }

    /// A new configuration: refusals of the old one no longer delay probes.
    pub fn reconfigured(&mut self, initial_backoff: Duration) {
        self.generation += 1;
        self.initial_backoff = initial_backoff;
    }

    /// Every paused topic's events parked on disk are read back by a rewind: they are
    /// no longer counted as held until the loop finds them again. Returns how many.
    pub fn unpark_all(&mut self) -> u64 {
        let mut n = 0;
        for p in self.by_topic.values_mut() {
            n += p.parked;
            p.held = p.held.saturating_sub(p.parked);
            p.parked = 0;
            p.oldest_parked = None;
        }
        self.min_parked_seq = None;
        self.changed |= n > 0;
        n
    }

    /// Notes that the event `id`, numbered `seq`, was parked.
    pub fn parked(&mut self, topic: u16, seq: u64, id: uuid::Uuid) {
        if let Some(p) = self.by_topic.get_mut(&topic) {
            p.parked += 1;
            // UUIDv7 ids order by time.
            p.oldest_parked = Some(p.oldest_parked.map_or(id, |o| o.min(id)));
            self.min_parked_seq = Some(self.min_parked_seq.map_or(seq, |m| m.min(seq)));
            self.changed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal() -> DestinationFault {
        DestinationFault {
            code: "AuthorizationError".into(),
            message: "not authorized".into(),
        }
    }

    #[test]
    fn probes_back_off_to_about_a_minute() {
        let p = Pauses::new(Duration::from_millis(100));
        let caps: Vec<u64> = (0..12)
            .map(|r| p.probe_backoff_cap(r).as_millis() as u64)
            .collect();
        assert_eq!(
            caps,
            [100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 51_200, 60_000, 60_000]
        );
        assert_eq!(p.probe_backoff_cap(u32::MAX), PROBE_MAX_BACKOFF);
        let mut rng = rand::rng();
        for r in 0..12 {
            let d = p.probe_delay(r, &mut rng);
            let cap = p.probe_backoff_cap(r);
            assert!(d >= cap / 2 && d <= cap, "{d:?} for {r}");
        }
    }

    #[test]
    fn a_topic_pauses_once_and_is_probed_when_due() {
        let t0 = Instant::now();
        let mut p = Pauses::new(Duration::from_millis(100));
        assert!(p.pause(3, refusal(), t0));
        assert!(!p.pause(3, refusal(), t0), "paused once");
        let due = p.next_probe_at().unwrap();
        assert!(due >= t0 + Duration::from_millis(50) && due <= t0 + Duration::from_millis(100));
        assert!(p.due(t0).is_empty());
        assert_eq!(p.due(due), [3]);
        p.probe_started(3, 10);
        assert!(
            p.due(due + PROBE_MAX_BACKOFF).is_empty(),
            "one probe at a time"
        );
        assert_eq!(p.next_probe_at(), None);
        p.probe_refused(3, due);
        let next = p.next_probe_at().unwrap();
        assert!(next >= due + Duration::from_millis(100), "{:?}", next - due);
        // A reconfiguration while a probe is out: its refusal does not delay the next.
        p.probe_started(3, 10);
        p.reconfigured(Duration::from_millis(100));
        p.probe_refused(3, next);
        assert_eq!(p.next_probe_at(), Some(next));
        assert!(p.resume(3).is_some());
        assert!(p.is_empty());
    }

    #[test]
    fn held_events_are_counted_where_they_are() {
        let t0 = Instant::now();
        let mut p = Pauses::new(Duration::from_millis(1));
        p.pause(1, refusal(), t0);
        p.add_held(1, 25);
        p.add_held(2, 5); // not paused: not counted
        p.parked(1, 40, uuid::Uuid::now_v7());
        p.parked(1, 12, uuid::Uuid::now_v7());
        p.probe_started(1, 10);
        let pause = p.get(1).unwrap();
        assert_eq!((pause.held, pause.parked, pause.in_lanes()), (25, 2, 13));
        assert_eq!(p.min_parked_seq, Some(12));
        assert_eq!(p.unpark_all(), 2);
        assert_eq!(p.get(1).unwrap().held, 23);
        assert_eq!(p.min_parked_seq, None);
    }
}
