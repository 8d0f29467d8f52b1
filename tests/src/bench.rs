//! What the benchmarks (`tests/benches/`) share: the release binary they measure,
//! and the statistics they print.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::apps::repo_root;
use crate::process::{cargo, target_dir};

/// Builds the release `palaver` (cargo's output shown: it takes minutes) and points
/// `PALAVER_BIN` at it, so [`crate::server::Palaver`] starts it instead of the debug
/// build the tests use: figures of an unoptimised server would mislead. Returns its
/// path.
pub fn use_release_bin() -> PathBuf {
    let status = Command::new(cargo())
        .args([
            "build",
            "--release",
            "-p",
            "palaver-server",
            "--bin",
            "palaver",
        ])
        .current_dir(repo_root())
        .status()
        .expect("run cargo build --release");
    assert!(status.success(), "building the release binary failed");
    let bin = target_dir().join("release").join("palaver");
    std::env::set_var("PALAVER_BIN", &bin);
    bin
}

/// The `p` quantile (0.0..=1.0) of `sorted`, nearest rank; zero when it is empty (a
/// run that measured nothing still prints).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let Some(last) = sorted.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let idx = (last as f64 * p).round() as usize;
    sorted[idx.min(last)]
}

/// `d` in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `d` in microseconds.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_takes_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&sorted, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn units() {
        assert_eq!(ms(Duration::from_micros(1500)), 1.5);
        assert_eq!(us(Duration::from_nanos(2500)), 2.5);
    }
}
