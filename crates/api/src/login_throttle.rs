//! Login throttling (AUTH-06, issue 10 item 3): growing delays after failed logins, per
//! account and per source address, before the lock. An attempt inside a delay is answered
//! 429 with `Retry-After` without looking at the password, so guessing is slowed to the
//! delays' pace and an outsider cannot lock an account in a burst.
//!
//! The account's delay is measured from its failure count and time in the database (so that
//! an unlock clears it and a restart does not); the source's is kept here in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Delays that double after `free` failures: `base`, `2·base`, `4·base`… up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed without any delay (typos).
    pub free: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// No delays at all.
    pub const NONE: Backoff = Backoff {
        free: u32::MAX,
        base: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// The wait before the next attempt after `failures` consecutive failures.
    pub fn after(&self, failures: u32) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free - 1).min(30);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

/// What the login route enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Consecutive failures that lock an account (AUTH-06).
    pub lock_after: u32,
    /// An automatic lock is lifted after this long; `None` keeps it until an administrator
    /// unlocks. Locks set by an administrator (AUTH-07) are never lifted automatically.
    pub release_after: Option<Duration>,
    pub account: Backoff,
    pub source: Backoff,
    /// A source's failures are forgotten after this long without one.
    pub source_window: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            lock_after: 5,
            release_after: Some(Duration::from_secs(30 * 60)),
            // 1st failure: none; then 1, 2, 4 s; then the lock (or, for the last
            // administrator, 8, 16, 32, 60 s…).
            account: Backoff {
                free: 1,
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            // An office behind one NAT address shares it: room for many typos first.
            source: Backoff {
                free: 10,
                base: Duration::from_secs(1),
                max: Duration::from_secs(300),
            },
            source_window: Duration::from_secs(15 * 60),
        }
    }
}

/// The wait an account still owes: `failures` consecutive failures, the last at
/// `last_failed_ms`, now `now_ms` (epoch ms).
pub fn account_wait(
    backoff: &Backoff,
    failures: i64,
    last_failed_ms: Option<i64>,
    now_ms: i64,
) -> Option<Duration> {
    let last = last_failed_ms?;
    let delay = backoff.after(u32::try_from(failures.max(0)).unwrap_or(u32::MAX));
    let elapsed = Duration::from_millis(u64::try_from(now_ms.saturating_sub(last)).unwrap_or(0));
    delay.checked_sub(elapsed).filter(|d| !d.is_zero())
}

struct Entry {
    failures: u32,
    last: Instant,
}

/// Failures per source address. IPv6 sources count per /64, the block one subscriber gets.
pub struct SourceThrottle {
    backoff: Backoff,
    window: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// Entries kept before expired ones are swept out.
const SWEEP_AT: usize = 10_000;

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

impl SourceThrottle {
    pub fn new(backoff: Backoff, window: Duration) -> Self {
        SourceThrottle {
            backoff,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        // The map holds only counters: one left by a panicking thread is still usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `ip` must still wait before it may try again, if at all.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let entries = self.lock();
        let e = entries.get(&key(ip))?;
        if now.saturating_duration_since(e.last) > self.window {
            return None;
        }
        let until = e.last + self.backoff.after(e.failures);
        until.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    /// Counts a failure from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut entries = self.lock();
        if entries.len() >= SWEEP_AT {
            let window = self.window;
            entries.retain(|_, e| now.saturating_duration_since(e.last) <= window);
        }
        let e = entries.entry(key(ip)).or_insert(Entry {
            failures: 0,
            last: now,
        });
        if now.saturating_duration_since(e.last) > self.window {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn delays_double_after_the_free_failures_up_to_the_cap() {
        let b = LoginPolicy::default().account;
        let waits: Vec<u64> = (0..10).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.after(u32::MAX), Duration::from_secs(60));
        assert_eq!(Backoff::NONE.after(1000), Duration::ZERO);
    }

    #[test]
    fn an_account_waits_from_its_last_failure() {
        let b = LoginPolicy::default().account;
        assert_eq!(account_wait(&b, 0, None, 10_000), None);
        assert_eq!(account_wait(&b, 1, Some(10_000), 10_000), None);
        // Three failures: 2 s from the last one.
        assert_eq!(
            account_wait(&b, 3, Some(10_000), 10_500),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(account_wait(&b, 3, Some(10_000), 12_000), None);
        // A clock that went back does not make the wait longer than the delay.
        assert_eq!(account_wait(&b, 3, Some(10_000), 9_000), Some(2 * S));
    }

    #[test]
    fn sources_are_throttled_separately_and_forgotten_after_the_window() {
        let t = SourceThrottle::new(
            Backoff {
                free: 2,
                base: S,
                max: 4 * S,
            },
            Duration::from_secs(60),
        );
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        t.failed(a, t0);
        t.failed(a, t0);
        assert_eq!(t.wait(a, t0), None);
        t.failed(a, t0);
        assert_eq!(t.wait(a, t0), Some(S));
        assert_eq!(t.wait(b, t0), None);
        t.failed(a, t0 + S);
        assert_eq!(t.wait(a, t0 + S), Some(2 * S));
        for _ in 0..10 {
            t.failed(a, t0 + S);
        }
        assert_eq!(t.wait(a, t0 + S), Some(4 * S));
        // Quiet for longer than the window: a fresh start.
        let later = t0 + Duration::from_secs(62);
        assert_eq!(t.wait(a, later), None);
        t.failed(a, later);
        assert_eq!(t.wait(a, later), None);
    }

    #[test]
    fn ipv6_counts_per_slash_64_and_mapped_ipv4_as_ipv4() {
        let t = SourceThrottle::new(
            Backoff {
                free: 0,
                base: S,
                max: S,
            },
            Duration::from_secs(60),
        );
        let now = Instant::now();
        t.failed("2001:db8:1:2::1".parse().unwrap(), now);
        assert!(t.wait("2001:db8:1:2::ffff".parse().unwrap(), now).is_some());
        assert!(t.wait("2001:db8:1:3::1".parse().unwrap(), now).is_none());
        t.failed("::ffff:192.0.2.7".parse().unwrap(), now);
        assert!(t.wait("192.0.2.7".parse().unwrap(), now).is_some());
    }
}
