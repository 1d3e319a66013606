//! Defence against SIP scanners and password guessing, sans-IO: count authentication failures
//! per source and block a source that fails too often, with time injected as [`Instant`].
//!
//! Count only real failures ([`crate::digest::Verdict::Wrong`]), not the credential-less first
//! REGISTER that is answered with a challenge, nor a stale nonce.
//!
//! Sources are keyed by IPv4 address, and by /64 prefix for IPv6 (one customer's network; a
//! scanner on IPv6 has a whole /64 to rotate through). IPv4-mapped IPv6 addresses count as
//! their IPv4 address. Loopback is not exempt.
//!
//! Failures are counted in a fixed window that opens at the first failure: `max_failures`
//! failures within `window` block the source for `block_for`. Memory is bounded: at most
//! `max_tracked` sources are remembered; when full, the source whose window opened longest ago
//! is forgotten first, and a blocked source only when every tracked source is blocked (then the
//! one whose block ends soonest).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Default bound on tracked sources (see [`AuthLimiter::with_max_tracked`]).
pub const DEFAULT_MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum SourceKey {
    V4(u32),
    V6Prefix(u64),
}

impl SourceKey {
    fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => SourceKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey::V4(u32::from(v4)),
                None => {
                    let bits = u128::from(v6);
                    SourceKey::V6Prefix((bits >> 64) as u64)
                }
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Counting failures in the window opened at `since`.
    Counting { since: Instant, failures: u32 },
    /// Blocked until `until`.
    Blocked { until: Instant },
}

/// Ordering key of an entry in its index: the instant plus a tie-breaking sequence number.
type IndexKey = (Instant, u64);

/// Per-source authentication failure counter and blocker.
#[derive(Debug)]
pub struct AuthLimiter {
    max_failures: u32,
    window: Duration,
    block_for: Duration,
    max_tracked: usize,
    states: HashMap<SourceKey, (State, IndexKey)>,
    /// Counting sources by window start (oldest first).
    counting: BTreeMap<IndexKey, SourceKey>,
    /// Blocked sources by end of block (soonest first).
    blocked: BTreeMap<IndexKey, SourceKey>,
    next_seq: u64,
}

impl AuthLimiter {
    /// Block a source for `block_for` once it has failed `max_failures` times (at least 1)
    /// within `window`.
    pub fn new(max_failures: u32, window: Duration, block_for: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            block_for,
            max_tracked: DEFAULT_MAX_TRACKED,
            states: HashMap::new(),
            counting: BTreeMap::new(),
            blocked: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Bound the number of tracked sources (default [`DEFAULT_MAX_TRACKED`], minimum 1).
    pub fn with_max_tracked(mut self, max: usize) -> Self {
        self.max_tracked = max.max(1);
        self
    }

    /// Number of sources currently tracked (counting or blocked).
    pub fn tracked(&self) -> usize {
        self.states.len()
    }

    /// Whether requests from `ip` are to be refused now.
    pub fn is_blocked(&mut self, now: Instant, ip: IpAddr) -> bool {
        self.prune(now);
        matches!(
            self.states.get(&SourceKey::of(ip)),
            Some((State::Blocked { .. }, _))
        )
    }

    /// Count one authentication failure from `ip`; `true` if the source is blocked now
    /// (because of this failure or already before).
    pub fn record_failure(&mut self, now: Instant, ip: IpAddr) -> bool {
        self.prune(now);
        let key = SourceKey::of(ip);
        let (since, failures) = match self.states.get(&key) {
            Some((State::Blocked { .. }, _)) => return true,
            Some((State::Counting { since, failures }, _)) => (*since, failures.saturating_add(1)),
            None => (now, 1),
        };
        self.remove(key);
        if failures >= self.max_failures {
            self.insert(
                key,
                State::Blocked {
                    until: now + self.block_for,
                },
            );
            true
        } else {
            self.insert(key, State::Counting { since, failures });
            false
        }
    }

    /// A successful authentication from `ip` clears its failure count (so the other phones
    /// behind one NAT address keep a misconfigured one from being counted against them
    /// forever); it does not lift an active block.
    pub fn record_success(&mut self, now: Instant, ip: IpAddr) {
        self.prune(now);
        let key = SourceKey::of(ip);
        if let Some((State::Counting { .. }, _)) = self.states.get(&key) {
            self.remove(key);
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some((&(since, seq), &key)) = self.counting.first_key_value() {
            if now.saturating_duration_since(since) < self.window {
                break;
            }
            self.counting.remove(&(since, seq));
            self.states.remove(&key);
        }
        while let Some((&(until, seq), &key)) = self.blocked.first_key_value() {
            if until > now {
                break;
            }
            self.blocked.remove(&(until, seq));
            self.states.remove(&key);
        }
    }

    fn remove(&mut self, key: SourceKey) {
        if let Some((state, index)) = self.states.remove(&key) {
            match state {
                State::Counting { .. } => self.counting.remove(&index),
                State::Blocked { .. } => self.blocked.remove(&index),
            };
        }
    }

    fn insert(&mut self, key: SourceKey, state: State) {
        while self.states.len() >= self.max_tracked {
            let victim = self
                .counting
                .pop_first()
                .or_else(|| self.blocked.pop_first());
            match victim {
                Some((_, victim)) => {
                    self.states.remove(&victim);
                }
                None => break,
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let index = match state {
            State::Counting { since, .. } => {
                self.counting.insert((since, seq), key);
                (since, seq)
            }
            State::Blocked { until } => {
                self.blocked.insert((until, seq), key);
                (until, seq)
            }
        };
        self.states.insert(key, (state, index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const WINDOW: Duration = Duration::from_secs(60);
    const BLOCK: Duration = Duration::from_secs(300);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn blocks_after_max_failures_then_unblocks() {
        let mut l = AuthLimiter::new(3, WINDOW, BLOCK);
        let t0 = Instant::now();
        let a = ip("127.0.0.1"); // loopback is not exempt
        assert!(!l.is_blocked(t0, a));
        assert!(!l.record_failure(t0, a));
        assert!(!l.record_failure(t0 + secs(1), a));
        assert!(!l.is_blocked(t0 + secs(1), a));
        assert!(l.record_failure(t0 + secs(2), a));
        assert!(l.is_blocked(t0 + secs(2), a));
        assert!(l.is_blocked(t0 + secs(2) + BLOCK - Duration::from_millis(1), a));
        // Failures while blocked keep it blocked but do not extend the block.
        assert!(l.record_failure(t0 + secs(100), a));
        assert!(!l.is_blocked(t0 + secs(2) + BLOCK, a));
        assert_eq!(l.tracked(), 0);
        // Counting starts afresh.
        assert!(!l.record_failure(t0 + secs(2) + BLOCK, a));
    }

    #[test]
    fn window_resets_the_count() {
        let mut l = AuthLimiter::new(3, WINDOW, BLOCK);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert!(!l.record_failure(t0, a));
        assert!(!l.record_failure(t0 + secs(30), a));
        // The window opened at t0 has closed: this failure opens a new one.
        assert!(!l.record_failure(t0 + WINDOW, a));
        assert!(!l.record_failure(t0 + WINDOW + secs(1), a));
        assert!(l.record_failure(t0 + WINDOW + secs(2), a));
    }

    #[test]
    fn success_clears_failures_but_not_a_block() {
        let mut l = AuthLimiter::new(2, WINDOW, BLOCK);
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert!(!l.record_failure(t0, a));
        l.record_success(t0, a);
        assert!(!l.record_failure(t0, a));
        assert!(l.record_failure(t0, a));
        l.record_success(t0 + secs(1), a);
        assert!(l.is_blocked(t0 + secs(1), a));
    }

    #[test]
    fn sources_are_independent_and_ipv6_counts_per_64() {
        let mut l = AuthLimiter::new(2, WINDOW, BLOCK);
        let t0 = Instant::now();
        assert!(!l.record_failure(t0, ip("192.0.2.1")));
        assert!(!l.record_failure(t0, ip("192.0.2.2")));
        assert!(!l.is_blocked(t0, ip("192.0.2.1")));
        assert!(!l.record_failure(t0, ip("2001:db8:1:2::1")));
        assert!(l.record_failure(t0, ip("2001:db8:1:2:ffff::9")));
        assert!(l.is_blocked(t0, ip("2001:db8:1:2::abcd")));
        assert!(!l.is_blocked(t0, ip("2001:db8:1:3::1")));
        // IPv4-mapped IPv6 is the IPv4 address; ::1 is loopback and not exempt.
        assert!(l.record_failure(t0, IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped())));
        assert!(l.is_blocked(t0, ip("192.0.2.1")));
        assert!(!l.record_failure(t0, IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert!(l.record_failure(t0, IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn memory_is_bounded_and_blocked_sources_are_evicted_last() {
        let mut l = AuthLimiter::new(2, WINDOW, BLOCK).with_max_tracked(3);
        let t0 = Instant::now();
        let blocked = ip("203.0.113.1");
        l.record_failure(t0, blocked);
        assert!(l.record_failure(t0, blocked));
        // A flood of single failures from other (maybe spoofed) sources.
        for i in 0..1000u32 {
            let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            l.record_failure(t0 + Duration::from_millis(u64::from(i)), src);
            assert!(l.tracked() <= 3);
        }
        assert!(
            l.is_blocked(t0 + secs(2), blocked),
            "the block survives the flood"
        );
        // The newest counting sources are still tracked, the oldest forgotten.
        let newest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 999));
        assert!(l.record_failure(t0 + secs(2), newest));
        let oldest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000));
        assert!(!l.record_failure(t0 + secs(2), oldest));
    }

    #[test]
    fn when_all_are_blocked_the_soonest_ending_block_goes() {
        let mut l = AuthLimiter::new(1, WINDOW, BLOCK).with_max_tracked(2);
        let t0 = Instant::now();
        assert!(l.record_failure(t0, ip("192.0.2.1")));
        assert!(l.record_failure(t0 + secs(1), ip("192.0.2.2")));
        assert!(l.record_failure(t0 + secs(2), ip("192.0.2.3")));
        assert_eq!(l.tracked(), 2);
        assert!(!l.is_blocked(t0 + secs(3), ip("192.0.2.1")));
        assert!(l.is_blocked(t0 + secs(3), ip("192.0.2.2")));
        assert!(l.is_blocked(t0 + secs(3), ip("192.0.2.3")));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let mut l = AuthLimiter::new(5, WINDOW, BLOCK);
        let t0 = Instant::now();
        for i in 0..10u8 {
            l.record_failure(t0, IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)));
        }
        assert_eq!(l.tracked(), 10);
        assert!(!l.is_blocked(t0 + WINDOW, ip("192.0.2.200")));
        assert_eq!(l.tracked(), 0);
    }
}
