//! Defence against SIP scanners and password guessing, sans-IO, with time injected as
//! [`Instant`]: authentication failures are counted per source address *and* per account, and
//! a source or an account that fails too often is refused without its credentials being checked
//! for a while — except where a phone has proved itself.
//!
//! - **Per source** (one guesser): sources are keyed by IPv4 address, and by /64 prefix for
//!   IPv6 (one customer's network; a scanner on IPv6 has a whole /64 to rotate through).
//!   IPv4-mapped IPv6 addresses count as their IPv4 address. Loopback is not exempt.
//! - **Per account** (guessing spread over many addresses): failures for one username from any
//!   source, unknown usernames included (a scanner cannot tell them apart either).
//! - **Known phones.** A source that authenticated as an account is trusted for that account for
//!   a day after its last success: its requests for *that* account are checked even while the
//!   source or the account is blocked. So the real phone behind an attacker's NAT address, or
//!   whose account is under distributed attack, keeps registering and calling, while the
//!   attacker learns nothing (a blocked source's or account's guesses are refused unchecked, so
//!   no answer tells a right password from a wrong one). A trusted pair that itself fails as
//!   often as a source may loses its trust. What stays refused: a phone that never
//!   authenticated from that address before, until the block ends.
//!
//! Count only real failures ([`crate::digest::Verdict::Wrong`]), not the credential-less first
//! REGISTER that is answered with a challenge, nor a stale nonce.
//!
//! Failures are counted in a fixed window that opens at the first failure: `max_failures`
//! failures within `window` block the key for `block_for`. Memory is bounded: each map holds at
//! most its `max_tracked` keys; when full, the one whose window opened (or trust began) longest
//! ago is forgotten first, and a blocked key only when every tracked key is blocked (then the
//! one whose block ends soonest).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Default bound on tracked sources, and on trusted (source, account) pairs.
pub const DEFAULT_MAX_TRACKED: usize = 100_000;
/// Default bound on tracked accounts (usernames come from the network: unknown ones count too).
pub const DEFAULT_MAX_TRACKED_ACCOUNTS: usize = 20_000;
/// Usernames are compared on at most this many bytes (a bound on memory per entry).
const MAX_ACCOUNT_KEY: usize = 64;

/// How many failures within which window block for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max_failures: u32,
    pub window: Duration,
    pub block_for: Duration,
}

impl Limit {
    pub fn new(max_failures: u32, window: Duration, block_for: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            block_for,
        }
    }
}

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

fn account_key(username: &str) -> String {
    let mut end = username.len().min(MAX_ACCOUNT_KEY);
    while !username.is_char_boundary(end) {
        end -= 1;
    }
    username[..end].to_owned()
}

/// Ordering key of an entry in its index: the instant plus a tie-breaking sequence number.
type IndexKey = (Instant, u64);

#[derive(Debug, Clone, Copy)]
enum State {
    /// Counting failures in the window opened at `since`.
    Counting { since: Instant, failures: u32 },
    /// Blocked until `until`.
    Blocked { until: Instant },
}

/// Failure counter and blocker for one kind of key.
#[derive(Debug)]
struct Counter<K> {
    limit: Limit,
    max_tracked: usize,
    states: HashMap<K, (State, IndexKey)>,
    /// Counting keys by window start (oldest first).
    counting: BTreeMap<IndexKey, K>,
    /// Blocked keys by end of block (soonest first).
    blocked: BTreeMap<IndexKey, K>,
    next_seq: u64,
}

impl<K: Clone + Eq + Hash> Counter<K> {
    fn new(limit: Limit, max_tracked: usize) -> Self {
        Self {
            limit,
            max_tracked: max_tracked.max(1),
            states: HashMap::new(),
            counting: BTreeMap::new(),
            blocked: BTreeMap::new(),
            next_seq: 0,
        }
    }

    fn is_blocked(&mut self, now: Instant, key: &K) -> bool {
        self.prune(now);
        matches!(self.states.get(key), Some((State::Blocked { .. }, _)))
    }

    /// Count one failure; `true` if the key is blocked now (by this failure or before).
    fn record_failure(&mut self, now: Instant, key: K) -> bool {
        self.prune(now);
        let (since, failures) = match self.states.get(&key) {
            Some((State::Blocked { .. }, _)) => return true,
            Some((State::Counting { since, failures }, _)) => (*since, failures.saturating_add(1)),
            None => (now, 1),
        };
        self.remove(&key);
        if failures >= self.limit.max_failures {
            let until = now + self.limit.block_for;
            self.insert(key, State::Blocked { until });
            true
        } else {
            self.insert(key, State::Counting { since, failures });
            false
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some((&(since, seq), key)) = self.counting.first_key_value() {
            if now.saturating_duration_since(since) < self.limit.window {
                break;
            }
            let key = key.clone();
            self.counting.remove(&(since, seq));
            self.states.remove(&key);
        }
        while let Some((&(until, seq), key)) = self.blocked.first_key_value() {
            if until > now {
                break;
            }
            let key = key.clone();
            self.blocked.remove(&(until, seq));
            self.states.remove(&key);
        }
    }

    fn remove(&mut self, key: &K) {
        if let Some((state, index)) = self.states.remove(key) {
            match state {
                State::Counting { .. } => self.counting.remove(&index),
                State::Blocked { .. } => self.blocked.remove(&index),
            };
        }
    }

    fn insert(&mut self, key: K, state: State) {
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
            State::Counting { since, .. } => (since, seq),
            State::Blocked { until } => (until, seq),
        };
        match state {
            State::Counting { .. } => self.counting.insert(index, key.clone()),
            State::Blocked { .. } => self.blocked.insert(index, key.clone()),
        };
        self.states.insert(key, (state, index));
    }
}

/// A (source, account) pair that authenticated: its last success and its failures since.
#[derive(Debug, Clone, Copy)]
struct Trust {
    /// Index key: the last success.
    index: IndexKey,
    /// Failures in the window opened at the first one.
    failures: Option<(Instant, u32)>,
}

type PairKey = (SourceKey, String);

/// Whether [`AuthLimiter::record_failure`] left the source or the account blocked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Blocked {
    pub source: bool,
    pub account: bool,
}

/// Per-source and per-account authentication failure counter and blocker, with trusted pairs.
#[derive(Debug)]
pub struct AuthLimiter {
    sources: Counter<SourceKey>,
    accounts: Counter<String>,
    /// How long a pair stays trusted after its last success.
    trust_for: Duration,
    max_trusted: usize,
    trusted: HashMap<PairKey, Trust>,
    /// Trusted pairs by last success (oldest first).
    trusted_by_age: BTreeMap<IndexKey, PairKey>,
    next_seq: u64,
}

impl AuthLimiter {
    /// `per_source` limits what one address may get wrong, `per_account` what all addresses
    /// together may get wrong for one username; a pair that authenticated is trusted for
    /// `trust_for` after its last success.
    pub fn new(per_source: Limit, per_account: Limit, trust_for: Duration) -> Self {
        Self {
            sources: Counter::new(per_source, DEFAULT_MAX_TRACKED),
            accounts: Counter::new(per_account, DEFAULT_MAX_TRACKED_ACCOUNTS),
            trust_for,
            max_trusted: DEFAULT_MAX_TRACKED,
            trusted: HashMap::new(),
            trusted_by_age: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Bound the number of tracked sources, accounts and trusted pairs (minimum 1 each).
    pub fn with_max_tracked(mut self, sources: usize, accounts: usize, trusted: usize) -> Self {
        self.sources.max_tracked = sources.max(1);
        self.accounts.max_tracked = accounts.max(1);
        self.max_trusted = trusted.max(1);
        self
    }

    /// Number of sources, accounts and trusted pairs currently tracked.
    pub fn tracked(&self) -> (usize, usize, usize) {
        (
            self.sources.states.len(),
            self.accounts.states.len(),
            self.trusted.len(),
        )
    }

    /// Whether credentials for `username` from `ip` are to be checked now; if not, refuse the
    /// request without checking them.
    pub fn admit(&mut self, now: Instant, ip: IpAddr, username: &str) -> bool {
        self.prune_trusted(now);
        let source = SourceKey::of(ip);
        let account = account_key(username);
        if self.trusted.contains_key(&(source, account.clone())) {
            return true;
        }
        // Both are looked at, so that both prune.
        let source_blocked = self.sources.is_blocked(now, &source);
        let account_blocked = self.accounts.is_blocked(now, &account);
        !source_blocked && !account_blocked
    }

    /// Count one authentication failure for `username` from `ip`.
    pub fn record_failure(&mut self, now: Instant, ip: IpAddr, username: &str) -> Blocked {
        self.prune_trusted(now);
        let source = SourceKey::of(ip);
        let account = account_key(username);
        let pair = (source, account.clone());
        let limit = self.sources.limit;
        if let Some(trust) = self.trusted.get_mut(&pair) {
            let (since, failures) = match trust.failures {
                Some((since, n)) if now.saturating_duration_since(since) < limit.window => {
                    (since, n.saturating_add(1))
                }
                _ => (now, 1),
            };
            trust.failures = Some((since, failures));
            if failures >= limit.max_failures {
                let index = trust.index;
                self.trusted.remove(&pair);
                self.trusted_by_age.remove(&index);
            }
        }
        Blocked {
            source: self.sources.record_failure(now, source),
            account: self.accounts.record_failure(now, account),
        }
    }

    /// A successful authentication: `ip` is trusted for `username` from now on (its failures
    /// as a pair forgotten). It neither lifts a block nor clears the source's or the account's
    /// count: a phone refreshing its registration must not wipe out an attack's traces.
    pub fn record_success(&mut self, now: Instant, ip: IpAddr, username: &str) {
        self.prune_trusted(now);
        let pair = (SourceKey::of(ip), account_key(username));
        if let Some(old) = self.trusted.remove(&pair) {
            self.trusted_by_age.remove(&old.index);
        }
        while self.trusted.len() >= self.max_trusted {
            match self.trusted_by_age.pop_first() {
                Some((_, victim)) => {
                    self.trusted.remove(&victim);
                }
                None => break,
            }
        }
        let index = (now, self.next_seq);
        self.next_seq += 1;
        self.trusted_by_age.insert(index, pair.clone());
        self.trusted.insert(
            pair,
            Trust {
                index,
                failures: None,
            },
        );
    }

    fn prune_trusted(&mut self, now: Instant) {
        while let Some((&(since, seq), pair)) = self.trusted_by_age.first_key_value() {
            if now.saturating_duration_since(since) < self.trust_for {
                break;
            }
            let pair = pair.clone();
            self.trusted_by_age.remove(&(since, seq));
            self.trusted.remove(&pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const WINDOW: Duration = Duration::from_secs(60);
    const BLOCK: Duration = Duration::from_secs(300);
    const DAY: Duration = Duration::from_secs(86_400);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// 3 failures per source, 5 per account, both per minute, blocking for 5 minutes.
    fn limiter() -> AuthLimiter {
        AuthLimiter::new(
            Limit::new(3, WINDOW, BLOCK),
            Limit::new(5, WINDOW, BLOCK),
            DAY,
        )
    }

    #[test]
    fn a_source_is_blocked_after_max_failures_then_unblocked() {
        let mut l = limiter();
        let t0 = Instant::now();
        let a = ip("127.0.0.1"); // loopback is not exempt
        assert!(l.admit(t0, a, "201"));
        assert!(!l.record_failure(t0, a, "x1").source);
        assert!(!l.record_failure(t0 + secs(1), a, "x2").source);
        assert!(l.admit(t0 + secs(1), a, "201"));
        assert!(l.record_failure(t0 + secs(2), a, "x3").source);
        // Blocked for every account it has not proved itself for.
        assert!(!l.admit(t0 + secs(2), a, "201"));
        assert!(!l.admit(t0 + secs(2) + BLOCK - Duration::from_millis(1), a, "x1"));
        // Failures while blocked keep it blocked but do not extend the block.
        assert!(l.record_failure(t0 + secs(100), a, "x4").source);
        assert!(l.admit(t0 + secs(2) + BLOCK, a, "201"));
        assert_eq!(l.tracked().0, 0);
        // Counting starts afresh.
        assert!(!l.record_failure(t0 + secs(2) + BLOCK, a, "x5").source);
    }

    #[test]
    fn the_window_resets_the_count() {
        let mut l = limiter();
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert!(!l.record_failure(t0, a, "u").source);
        assert!(!l.record_failure(t0 + secs(30), a, "u").source);
        // The window opened at t0 has closed: this failure opens a new one.
        assert!(!l.record_failure(t0 + WINDOW, a, "u").source);
        assert!(!l.record_failure(t0 + WINDOW + secs(1), a, "u").source);
        assert!(l.record_failure(t0 + WINDOW + secs(2), a, "u").source);
    }

    #[test]
    fn a_phone_that_authenticated_gets_through_its_blocked_source() {
        let mut l = limiter();
        let t0 = Instant::now();
        let nat = ip("203.0.113.5");
        // The real phone registered a while ago.
        assert!(l.admit(t0, nat, "201"));
        l.record_success(t0, nat, "201");
        // Then a scanner behind the same address guesses other accounts until it is blocked.
        for (i, user) in ["100", "admin", "1000", "202"].iter().enumerate() {
            l.record_failure(t0 + secs(10 + i as u64), nat, user);
        }
        let t = t0 + secs(20);
        assert!(!l.admit(t, nat, "202"), "the scanner is refused unchecked");
        assert!(!l.admit(t, nat, "203"), "for any other account too");
        assert!(l.admit(t, nat, "201"), "the phone's refresh is checked");
        // Its own refresh keeps it trusted, but does not clear the scanner's block.
        l.record_success(t, nat, "201");
        assert!(!l.admit(t + secs(1), nat, "202"));
        // Trust is per source: the same account from elsewhere is an ordinary source.
        assert!(l.admit(t, ip("198.51.100.1"), "201"));
    }

    #[test]
    fn guesses_spread_over_many_sources_throttle_the_account() {
        let mut l = limiter();
        let t0 = Instant::now();
        let phone = ip("192.0.2.50");
        l.record_success(t0, phone, "201");
        // Five addresses, one guess each: no source reaches its limit, the account does.
        let mut blocked = Blocked::default();
        for i in 1..=5u8 {
            let src = IpAddr::V4(Ipv4Addr::new(198, 51, 100, i));
            assert!(l.admit(t0 + secs(u64::from(i)), src, "201"));
            blocked = l.record_failure(t0 + secs(u64::from(i)), src, "201");
            assert!(!blocked.source);
        }
        assert!(blocked.account);
        let t = t0 + secs(10);
        assert!(
            !l.admit(t, ip("198.51.100.99"), "201"),
            "new sources refused"
        );
        assert!(
            l.admit(t, ip("198.51.100.99"), "202"),
            "other accounts unaffected"
        );
        assert!(l.admit(t, phone, "201"), "the known phone still registers");
        // A success does not clear the account's block either.
        l.record_success(t, phone, "201");
        assert!(!l.admit(t + secs(1), ip("198.51.100.98"), "201"));
        // The block ends.
        let t = t0 + secs(5) + BLOCK;
        assert!(l.admit(t, ip("198.51.100.99"), "201"));
        // Unknown usernames are throttled the same way (a scanner cannot tell them apart).
        for i in 1..=5u8 {
            l.record_failure(t, IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), "nobody");
        }
        assert!(!l.admit(t, ip("10.0.0.9"), "nobody"));
    }

    #[test]
    fn a_trusted_pair_that_keeps_failing_loses_its_trust() {
        let mut l = limiter();
        let t0 = Instant::now();
        let nat = ip("203.0.113.5");
        l.record_success(t0, nat, "201");
        // Someone behind the NAT guesses the phone's own account: after as many failures as a
        // source may have, the pair is an ordinary one again, and the source is blocked.
        for i in 0..3 {
            l.record_failure(t0 + secs(i), nat, "201");
        }
        assert!(!l.admit(t0 + secs(3), nat, "201"));
        assert_eq!(l.tracked().2, 0);
        // A success after the block makes it trusted again, failures forgotten.
        let later = t0 + secs(3) + BLOCK;
        assert!(l.admit(later, nat, "201"));
        l.record_success(later, nat, "201");
        l.record_failure(later, nat, "201");
        l.record_success(later + secs(1), nat, "201");
        l.record_failure(later + secs(2), nat, "201");
        l.record_failure(later + secs(3), nat, "201");
        assert!(
            l.admit(later + secs(4), nat, "201"),
            "only 2 since the last success"
        );
    }

    #[test]
    fn trust_expires_a_day_after_the_last_success() {
        let mut l = limiter();
        let t0 = Instant::now();
        let nat = ip("203.0.113.5");
        l.record_success(t0, nat, "201");
        l.record_success(t0 + secs(3600), nat, "201");
        let t = t0 + DAY + secs(10);
        for i in 0..3 {
            l.record_failure(t + secs(i), nat, "x");
        }
        assert!(l.admit(t + secs(3), nat, "201"), "refreshed an hour in");
        let t = t0 + secs(3600) + DAY;
        for i in 0..3 {
            l.record_failure(t + secs(i), nat, "y");
        }
        assert!(
            !l.admit(t + secs(3), nat, "201"),
            "a day after the last success"
        );
        assert_eq!(l.tracked().2, 0);
    }

    #[test]
    fn sources_are_independent_and_ipv6_counts_per_64() {
        let mut l = AuthLimiter::new(
            Limit::new(2, WINDOW, BLOCK),
            Limit::new(1000, WINDOW, BLOCK),
            DAY,
        );
        let t0 = Instant::now();
        assert!(!l.record_failure(t0, ip("192.0.2.1"), "u").source);
        assert!(!l.record_failure(t0, ip("192.0.2.2"), "u").source);
        assert!(l.admit(t0, ip("192.0.2.1"), "u"));
        assert!(!l.record_failure(t0, ip("2001:db8:1:2::1"), "u").source);
        assert!(l.record_failure(t0, ip("2001:db8:1:2:ffff::9"), "u").source);
        assert!(!l.admit(t0, ip("2001:db8:1:2::abcd"), "u"));
        assert!(l.admit(t0, ip("2001:db8:1:3::1"), "u"));
        // IPv4-mapped IPv6 is the IPv4 address; ::1 is loopback and not exempt.
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert!(l.record_failure(t0, mapped, "u").source);
        assert!(!l.admit(t0, ip("192.0.2.1"), "u"));
        assert!(
            !l.record_failure(t0, IpAddr::V6(Ipv6Addr::LOCALHOST), "u")
                .source
        );
        assert!(
            l.record_failure(t0, IpAddr::V6(Ipv6Addr::LOCALHOST), "u")
                .source
        );
    }

    #[test]
    fn memory_is_bounded_and_blocked_keys_are_evicted_last() {
        let mut l = AuthLimiter::new(
            Limit::new(2, WINDOW, BLOCK),
            Limit::new(2, WINDOW, BLOCK),
            DAY,
        )
        .with_max_tracked(3, 3, 3);
        let t0 = Instant::now();
        let blocked = ip("203.0.113.1");
        l.record_failure(t0, blocked, "victim");
        assert!(l.record_failure(t0, blocked, "victim").source);
        // A flood of single failures from other (maybe spoofed) sources and usernames.
        for i in 0..1000u32 {
            let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            let t = t0 + Duration::from_millis(u64::from(i));
            l.record_failure(t, src, &format!("user{i}"));
            l.record_success(t, src, &format!("user{i}"));
            let (s, a, p) = l.tracked();
            assert!(s <= 3 && a <= 3 && p <= 3);
        }
        let t = t0 + secs(2);
        assert!(!l.admit(t, blocked, "other"), "the source block survives");
        assert!(
            !l.admit(t, ip("198.51.100.1"), "victim"),
            "the account's too"
        );
        // The newest counting keys are still tracked, the oldest forgotten.
        let newest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 999));
        assert!(l.record_failure(t, newest, "n").source);
        let oldest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000));
        assert!(!l.record_failure(t, oldest, "o").source);
        // Long usernames are keyed on their first bytes, at a character boundary.
        let long = "あ".repeat(100);
        l.record_failure(t, ip("192.0.2.7"), &long);
        assert!(l.accounts.states.keys().all(|k| k.len() <= MAX_ACCOUNT_KEY));
    }

    #[test]
    fn when_all_are_blocked_the_soonest_ending_block_goes() {
        let mut l = AuthLimiter::new(
            Limit::new(1, WINDOW, BLOCK),
            Limit::new(1000, WINDOW, BLOCK),
            DAY,
        )
        .with_max_tracked(2, 10, 10);
        let t0 = Instant::now();
        assert!(l.record_failure(t0, ip("192.0.2.1"), "u").source);
        assert!(l.record_failure(t0 + secs(1), ip("192.0.2.2"), "u").source);
        assert!(l.record_failure(t0 + secs(2), ip("192.0.2.3"), "u").source);
        assert_eq!(l.tracked().0, 2);
        assert!(l.admit(t0 + secs(3), ip("192.0.2.1"), "u"));
        assert!(!l.admit(t0 + secs(3), ip("192.0.2.2"), "u"));
        assert!(!l.admit(t0 + secs(3), ip("192.0.2.3"), "u"));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let mut l = AuthLimiter::new(
            Limit::new(5, WINDOW, BLOCK),
            Limit::new(5, WINDOW, BLOCK),
            DAY,
        );
        let t0 = Instant::now();
        for i in 0..10u8 {
            l.record_failure(t0, IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)), "u");
        }
        assert_eq!(l.tracked(), (10, 1, 0));
        assert!(l.admit(t0 + BLOCK, ip("192.0.2.200"), "u"));
        assert_eq!(l.tracked(), (0, 0, 0));
    }
}
