//! Counters of an app's calls for `/metrics`: one set of atomics per call kind,
//! created with the app's instance pool, so recording a call takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::limits::CallKind;

#[derive(Debug, Default)]
struct KindStats {
    ok: AtomicU64,
    faults: AtomicU64,
    micros: AtomicU64,
}

/// An app's calls so far, by kind and outcome (since the app was last enabled).
#[derive(Debug, Default)]
pub struct CallStats {
    kinds: [KindStats; CallKind::ALL.len()],
}

/// One kind's figures at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct CallKindSnapshot {
    pub kind: CallKind,
    pub ok: u64,
    pub faults: u64,
    /// Time spent in calls of this kind (waiting for a slot included).
    pub seconds: f64,
}

impl CallStats {
    pub fn record(&self, kind: CallKind, ok: bool, took: Duration) {
        let k = &self.kinds[kind as usize];
        if ok {
            k.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            k.faults.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        k.micros.fetch_add(micros, Ordering::Relaxed);
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
                }
            })
            .filter(|s| s.ok + s.faults > 0)
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
        s.record(CallKind::Command, true, Duration::from_millis(2));
        s.record(CallKind::Command, false, Duration::from_millis(3));
        s.record(CallKind::Lifecycle, true, Duration::from_millis(1));
        let snap = s.snapshot();
        assert_eq!(snap.len(), 2, "{snap:?}");
        let cmd = snap
            .iter()
            .find(|k| k.kind == CallKind::Command)
            .expect("command");
        assert_eq!((cmd.ok, cmd.faults), (1, 1));
        assert!((cmd.seconds - 0.005).abs() < 1e-9, "{cmd:?}");
    }
}
