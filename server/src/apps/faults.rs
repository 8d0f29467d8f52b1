//! When an app faults too often: a fault rate over the app's latest calls, not
//! faults in a row, so an app failing most calls with a success now and then is
//! disabled too, while a busy app's rare fault is not.
//!
//! The rule: among the last `fault_window_calls` calls, at least
//! `faults_before_disable` faulted AND they are at least `fault_ratio_percent` of
//! the calls seen (or the latest `faults_before_disable` calls all faulted).
//! Back-pressure (busy) and calls into a stopped app are not counted at all.

use std::sync::atomic::{AtomicU64, Ordering};

use super::limits::AppLimits;

/// The most calls the window can hold: the outcomes are bits of one word, beside a
/// count of the calls seen.
pub const MAX_WINDOW: u32 = 56;
const BITS: u64 = (1 << MAX_WINDOW) - 1;

/// When to disable, from the limits.
#[derive(Clone, Copy, Debug)]
pub struct FaultPolicy {
    window: u32,
    threshold: u32,
    ratio_percent: u32,
}

impl FaultPolicy {
    pub fn new(limits: &AppLimits) -> FaultPolicy {
        let window = limits.fault_window_calls.clamp(1, MAX_WINDOW);
        FaultPolicy {
            window,
            threshold: limits.faults_before_disable.clamp(1, window),
            ratio_percent: limits.fault_ratio_percent.clamp(1, 100),
        }
    }
}

/// Why an app is to be disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultRate {
    pub faults: u32,
    pub calls: u32,
}

/// The outcomes of an app's latest calls, shared by every thread calling it.
pub struct FaultWindow {
    policy: FaultPolicy,
    /// Low bits: one per call, latest in bit 0, set for a fault. Top byte: calls
    /// seen, up to the window.
    state: AtomicU64,
}

fn mask(n: u32) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

impl FaultWindow {
    pub fn new(policy: FaultPolicy) -> FaultWindow {
        FaultWindow {
            policy,
            state: AtomicU64::new(0),
        }
    }

    /// Records one call's outcome.
    pub fn record(&self, fault: bool) {
        let window = self.policy.window;
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let (bits, calls) = (current & BITS, (current >> MAX_WINDOW) as u32);
            // A healthy app's calls change nothing: no write on the hot path.
            if !fault && bits == 0 && calls == window {
                return;
            }
            let bits = ((bits << 1) | u64::from(fault)) & mask(window);
            let calls = (calls + 1).min(window);
            let next = bits | (u64::from(calls) << MAX_WINDOW);
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// `Some` when the faults in the window call for disabling the app.
    pub fn verdict(&self) -> Option<FaultRate> {
        let state = self.state.load(Ordering::Relaxed);
        let (bits, calls) = (state & BITS, (state >> MAX_WINDOW) as u32);
        let faults = bits.count_ones();
        let p = self.policy;
        if faults < p.threshold {
            return None;
        }
        let in_a_row = bits & mask(p.threshold) == mask(p.threshold);
        let often = u64::from(faults) * 100 >= u64::from(p.ratio_percent) * u64::from(calls);
        (in_a_row || often).then_some(FaultRate { faults, calls })
    }

    /// Faults among the window's calls.
    pub fn faults(&self) -> u32 {
        (self.state.load(Ordering::Relaxed) & BITS).count_ones()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(threshold: u32, calls: u32, ratio: u32) -> FaultWindow {
        FaultWindow::new(FaultPolicy::new(&AppLimits {
            faults_before_disable: threshold,
            fault_window_calls: calls,
            fault_ratio_percent: ratio,
            ..AppLimits::default()
        }))
    }

    /// Plays `pattern` (`F` fault, `.` success); returns after how many calls the
    /// verdict said disable, if it did.
    fn play(w: &FaultWindow, pattern: &str) -> Option<usize> {
        for (i, c) in pattern.chars().enumerate() {
            w.record(c == 'F');
            if w.verdict().is_some() {
                return Some(i + 1);
            }
        }
        None
    }

    #[test]
    fn faults_in_a_row_disable() {
        assert_eq!(play(&window(5, 20, 50), &".".repeat(100)), None);
        let w = window(5, 20, 50);
        assert_eq!(play(&w, &format!("{}FFFFF", ".".repeat(40))), Some(45));
        assert_eq!(
            w.verdict(),
            Some(FaultRate {
                faults: 5,
                calls: 20
            })
        );
    }

    #[test]
    fn a_steady_eighty_percent_failure_disables() {
        // Four faults, one success, again: never five in a row.
        let w = window(5, 20, 50);
        assert_eq!(play(&w, &"FFFF.".repeat(20)), Some(6));
        assert_eq!(
            w.verdict(),
            Some(FaultRate {
                faults: 5,
                calls: 6
            })
        );
        // Every other call fails, after a healthy start.
        let w = window(3, 20, 50);
        assert!(play(&w, &format!("{}{}", ".".repeat(100), "F.".repeat(20))).is_some());
    }

    #[test]
    fn rare_faults_in_a_busy_app_do_not_disable() {
        // One call in five faults, forever: 20% is under the ratio.
        assert_eq!(play(&window(5, 20, 50), &"....F".repeat(200)), None);
        // Bursts shorter than the threshold, far apart.
        let burst = format!("FFFF{}", ".".repeat(30));
        assert_eq!(play(&window(5, 20, 50), &burst.repeat(20)), None);
    }

    #[test]
    fn successes_age_faults_out_of_the_window() {
        let w = window(5, 10, 50);
        assert_eq!(play(&w, "FFFF"), None);
        assert_eq!(w.faults(), 4);
        assert_eq!(play(&w, &".".repeat(10)), None);
        assert_eq!(w.faults(), 0);
        assert_eq!(play(&w, "F"), None);
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let w = std::sync::Arc::new(window(56, 56, 100));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for _ in 0..14 {
                        w.record(true);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.faults(), 56);
        assert!(w.verdict().is_some());
    }
}
