//! Connection caps: in all and per client address. A connection over a cap is closed
//! on accept; refusals are logged at most once a minute per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::HttpLimits;

const LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Addresses remembered for log throttling before old ones are forgotten.
const LOGGED_MAX: usize = 4096;

pub(super) struct Admission {
    max_total: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
    /// When a refusal was last logged, per address (`None`: the total cap).
    logged: HashMap<Option<IpAddr>, Instant>,
}

impl Counts {
    /// Whether to log a refusal for `key` now (at most once per interval).
    fn should_log(&mut self, key: Option<IpAddr>, now: Instant) -> bool {
        if self.logged.len() >= LOGGED_MAX {
            self.logged
                .retain(|_, at| now.duration_since(*at) < LOG_INTERVAL);
        }
        match self.logged.get(&key) {
            Some(at) if now.duration_since(*at) < LOG_INTERVAL => false,
            _ => {
                self.logged.insert(key, now);
                true
            }
        }
    }
}

/// A connection's place under the caps, given back when dropped: it travels with
/// the connection's socket, so an upgraded (websocket) connection keeps it.
pub(super) struct Slot {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Admission {
    pub fn new(limits: &HttpLimits) -> Admission {
        Admission {
            max_total: limits.max_connections,
            max_per_address: limits.max_connections_per_address,
            counts: Mutex::new(Counts::default()),
        }
    }

    /// A slot for a connection from `address`, or `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let address = address.to_canonical();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if counts.total >= self.max_total {
            if counts.should_log(None, now) {
                tracing::warn!(
                    max = self.max_total,
                    "connection refused: the server has its most connections open \
                     (http.max_connections)"
                );
            }
            return None;
        }
        let open = counts.per_address.get(&address).copied().unwrap_or(0);
        if open >= self.max_per_address {
            if counts.should_log(Some(address), now) {
                tracing::warn!(
                    %address,
                    max = self.max_per_address,
                    "connection refused: the address has its most connections open \
                     (http.max_connections_per_address)"
                );
            }
            return None;
        }
        counts.per_address.insert(address, open + 1);
        counts.total += 1;
        Some(Slot {
            admission: self.clone(),
            address,
        })
    }

    #[cfg(test)]
    fn open(&self) -> (usize, usize) {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        (counts.total, counts.per_address.len())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .admission
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(open) = counts.per_address.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                counts.per_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_address: usize) -> Arc<Admission> {
        Arc::new(Admission::new(&HttpLimits {
            max_connections: total,
            max_connections_per_address: per_address,
            ..HttpLimits::default()
        }))
    }

    #[test]
    fn caps_per_address_and_in_all_and_gives_slots_back() {
        let a = admission(3, 2);
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = a.admit(one).expect("first");
        let s2 = a.admit(one).expect("second");
        assert!(a.admit(one).is_none(), "third from one address");
        // The same address as IPv4-mapped IPv6 counts as the same address.
        assert!(a.admit("::ffff:10.0.0.1".parse().unwrap()).is_none());
        let s3 = a.admit(two).expect("another address");
        assert!(a.admit("10.0.0.3".parse().unwrap()).is_none(), "total cap");
        drop(s1);
        let s4 = a.admit(one).expect("a slot was given back");
        drop((s2, s3, s4));
        assert_eq!(a.open(), (0, 0), "nothing left behind");
    }
}
