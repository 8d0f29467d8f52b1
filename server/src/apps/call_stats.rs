//! Counters of an app's calls for `/metrics`: one set of atomics per call kind
//! (and per fault kind), created with the app's instance pool, so recording a call
//! takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::limits::CallKind;
use super::pool::Fault;

#[derive(Debug, Default)]
struct KindStats {
    ok: AtomicU64,
    faults: AtomicU64,
    micros: AtomicU64,
    in_flight: AtomicU64,
}

/// An app's calls so far, by kind and outcome (since the app was last enabled).
#[derive(Debug, Default)]
pub struct CallStats {
    kinds: [KindStats; CallKind::ALL.len()],
    /// Faults by [`Fault::index`].
    faults: [AtomicU64; Fault::TAGS.len()],
}

/// A call in flight; recorded (once) by [`InFlight::finish`], or as a `stopped`
/// fault if dropped unfinished (a shutdown or a cancelled request).
pub struct InFlight<'a> {
    stats: &'a CallStats,
    kind: CallKind,
    started: std::time::Instant,
    done: bool,
}

impl InFlight<'_> {
    pub fn finish(mut self, fault: Option<&Fault>, took: Duration) {
        self.done = true;
        self.stats.end(self.kind, fault, took);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.stats
                .end(self.kind, Some(&Fault::Stopped), self.started.elapsed());
        }
    }
}

/// One kind's figures at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct CallKindSnapshot {
    pub kind: CallKind,
    pub ok: u64,
    pub faults: u64,
    /// Time spent in calls of this kind (waiting for a slot included).
    pub seconds: f64,
    /// Calls of this kind running (or waiting for an instance) right now.
    pub in_flight: u64,
}

impl CallStats {
    /// Counts a call of `kind` as in flight until the guard is finished or dropped.
    pub fn started(&self, kind: CallKind) -> InFlight<'_> {
        self.kinds[kind as usize]
            .in_flight
            .fetch_add(1, Ordering::Relaxed);
        InFlight {
            stats: self,
            kind,
            started: std::time::Instant::now(),
            done: false,
        }
    }

    /// A finished call of `kind`: ok without a fault.
    pub fn record(&self, kind: CallKind, fault: Option<&Fault>, took: Duration) {
        let k = &self.kinds[kind as usize];
        match fault {
            None => k.ok.fetch_add(1, Ordering::Relaxed),
            Some(f) => {
                self.faults[f.index()].fetch_add(1, Ordering::Relaxed);
                k.faults.fetch_add(1, Ordering::Relaxed)
            }
        };
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        k.micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn end(&self, kind: CallKind, fault: Option<&Fault>, took: Duration) {
        self.kinds[kind as usize]
            .in_flight
            .fetch_sub(1, Ordering::Relaxed);
        self.record(kind, fault, took);
    }

    /// Faults so far by tag ([`Fault::tag`]), only those that happened.
    pub fn faults(&self) -> Vec<(&'static str, u64)> {
        Fault::TAGS
            .iter()
            .zip(&self.faults)
            .map(|(tag, n)| (*tag, n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The kinds that have had calls.
    pub fn snapshot(&self) -> Vec<CallKindSnapshot> {
        CallKind::ALL
            .iter()
            .map(|&kind| {
                let k = &self.kinds[kind as usize];
                CallKindSnapshot {
                    kind,
                    ok: k.ok.load(Ordering::Relaxed),
                    faults: k.faults.load(Ordering::Relaxed),
                    seconds: k.micros.load(Ordering::Relaxed) as f64 / 1e6,
                    in_flight: k.in_flight.load(Ordering::Relaxed),
                }
            })
            .filter(|s| s.ok + s.faults + s.in_flight > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_kind_and_outcome() {
        let s = CallStats::default();
        assert!(s.snapshot().is_empty());
        s.record(CallKind::Command, None, Duration::from_millis(2));
        s.record(
            CallKind::Command,
            Some(&Fault::Deadline(Duration::from_secs(1))),
            Duration::from_millis(3),
        );
        s.record(CallKind::Lifecycle, None, Duration::from_millis(1));
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2, "{snap:?}");
        assert_eq!(s.faults(), [("deadline", 1)]);
        let cmd = snap
            .iter()
            .find(|k| k.kind == CallKind::Command)
            .expect("command");
        assert_eq!((cmd.ok, cmd.faults), (1, 1));
        assert!((cmd.seconds - 0.005).abs() < 1e-9, "{cmd:?}");
    }

    #[test]
    fn calls_are_in_flight_until_finished_or_dropped() {
        let s = CallStats::default();
        let job = s.started(CallKind::Job);
        let cmd = s.started(CallKind::Command);
        let in_flight = |s: &CallStats, kind| {
            s.snapshot()
                .iter()
                .find(|k| k.kind == kind)
                .map_or(0, |k| k.in_flight)
        };
        assert_eq!(in_flight(&s, CallKind::Job), 1);
        job.finish(Some(&Fault::Memory), Duration::from_millis(1));
        assert_eq!(in_flight(&s, CallKind::Job), 0);
        drop(cmd);
        assert_eq!(in_flight(&s, CallKind::Command), 0);
        assert_eq!(s.faults(), [("memory", 1), ("stopped", 1)]);
        // Every fault kind has its own slot.
        let all = [
            Fault::Deadline(Duration::ZERO),
            Fault::Memory,
            Fault::StackOverflow,
            Fault::Panic(String::new()),
            Fault::Trap(String::new()),
            Fault::Busy(Duration::ZERO),
            Fault::Instantiate(String::new()),
            Fault::Stopped,
            Fault::HostCallTooLarge(0),
            Fault::RunawayScheduling(0),
        ];
        for f in &all {
            assert_eq!(Fault::TAGS[f.index()], f.tag());
        }
    }
}
