//! Failed authentications per client address: a bearer token this instance does not know
//! costs a database lookup, so an address that presented too many unknown tokens within a
//! minute is refused (429) without one until its minute ends. Keys held in memory (every live
//! key) are never refused by it. IPv6 addresses count per /64, the block one host is given.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Unknown tokens one address may present within its minute.
pub const MAX_FAILURES_PER_MINUTE: u32 = 30;
/// The window: an address's count starts with its first failure and ends a minute later.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most (the oldest are forgotten first).
const CAPACITY: u64 = 100_000;

pub struct AuthFailures {
    counts: moka::sync::Cache<IpAddr, Arc<AtomicU32>>,
}

impl Default for AuthFailures {
    fn default() -> Self {
        AuthFailures {
            counts: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(WINDOW)
                .build(),
        }
    }
}

impl AuthFailures {
    /// The address has presented too many unknown tokens this minute.
    pub fn exhausted(&self, address: IpAddr) -> bool {
        self.counts
            .get(&block_of(address))
            .is_some_and(|count| count.load(Ordering::Relaxed) >= MAX_FAILURES_PER_MINUTE)
    }

    /// Counts an unknown token presented from the address.
    pub fn failed(&self, address: IpAddr) {
        self.counts
            .get_with(block_of(address), || Arc::new(AtomicU32::new(0)))
            .fetch_add(1, Ordering::Relaxed);
    }
}

/// The address as counted: IPv4 as it is, IPv6 by its /64.
fn block_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::from(octets)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_and_ipv6_counts_per_block() {
        let failures = AuthFailures::default();
        let one: IpAddr = "2001:db8::1".parse().unwrap_or(IpAddr::from([0u8; 16]));
        let neighbour: IpAddr = "2001:db8::ffff:2"
            .parse()
            .unwrap_or(IpAddr::from([0u8; 16]));
        let elsewhere: IpAddr = "2001:db8:0:1::1".parse().unwrap_or(IpAddr::from([0u8; 16]));
        for _ in 0..MAX_FAILURES_PER_MINUTE {
            assert!(!failures.exhausted(one));
            failures.failed(one);
        }
        assert!(failures.exhausted(one));
        assert!(failures.exhausted(neighbour));
        assert!(!failures.exhausted(elsewhere));
    }
}
