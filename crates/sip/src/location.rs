//! The registrar's location service (RFC 3261 §10.3), sans-IO: terminal username (the AoR)
//! → contact bindings, with time injected as [`Instant`].
//!
//! The registrar authenticates the REGISTER, checks that the To user is the authenticated
//! terminal, then calls [`Location::register`]; the B2BUA calls [`Location::lookup`] to ring a
//! terminal; a periodic timer calls [`Location::expire`] and turns the AoRs it returns into
//! "terminal offline" events.
//!
//! Online/offline transitions are reported exactly once each and alternate: `came_online` from
//! `register` when the AoR was last reported offline and now has a live binding; `went_offline`
//! from `register` (last contact removed) or from `expire` (last binding timed out).

use crate::wire::Wire;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Expiry used when neither the contact nor the request says one (RFC 3261 §10.2.1.1).
pub const DEFAULT_EXPIRES: u32 = 3600;

/// One registered contact of a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI as sent (without angle brackets and header parameters).
    pub contact: String,
    /// Where the REGISTER came from: reply and send INVITEs there (NAT, rport).
    pub received: SocketAddr,
    /// The wire the REGISTER arrived on (and the one to reach the terminal on).
    pub transport: Wire,
    pub expires_at: Instant,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
}

impl Binding {
    /// Seconds left until expiry, for the `expires` parameter of the 200 OK's Contact.
    pub fn expires_in(&self, now: Instant) -> u32 {
        u32::try_from(self.expires_at.saturating_duration_since(now).as_secs()).unwrap_or(u32::MAX)
    }
}

/// A binding as kept across a restart: its expiry on the wall clock (epoch ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBinding {
    pub contact: String,
    pub received: SocketAddr,
    pub transport: Wire,
    pub expires_at_ms: i64,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
}

impl StoredBinding {
    pub fn of(b: &Binding, now: Instant, wall: i64) -> StoredBinding {
        let left = i64::try_from(b.expires_at.saturating_duration_since(now).as_millis())
            .unwrap_or(i64::MAX);
        StoredBinding {
            contact: b.contact.clone(),
            received: b.received,
            transport: b.transport,
            expires_at_ms: wall.saturating_add(left),
            call_id: b.call_id.clone(),
            cseq: b.cseq,
            user_agent: b.user_agent.clone(),
        }
    }

    /// The binding on `now`'s clock; `None` once expired.
    pub fn into_binding(self, now: Instant, wall: i64) -> Option<Binding> {
        let left = u64::try_from(self.expires_at_ms.checked_sub(wall)?).ok()?;
        Some(Binding {
            contact: self.contact,
            received: self.received,
            transport: self.transport,
            expires_at: now + Duration::from_millis(left),
            call_id: self.call_id,
            cseq: self.cseq,
            user_agent: self.user_agent,
        })
    }
}

/// Now on the wall clock, in epoch ms.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One Contact of a REGISTER: its URI and its `expires` parameter, if any. The URI `*` is the
/// wildcard ("remove all bindings", only with `Expires: 0` and no other contact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactParam {
    pub uri: String,
    pub expires: Option<u32>,
}

impl ContactParam {
    pub fn new(uri: impl Into<String>, expires: Option<u32>) -> Self {
        Self {
            uri: uri.into(),
            expires,
        }
    }

    /// The `Contact: *` wildcard.
    pub fn wildcard() -> Self {
        Self::new("*", None)
    }

    pub fn is_wildcard(&self) -> bool {
        self.uri.trim() == "*"
    }
}

/// The parts of a REGISTER the location service needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    pub call_id: String,
    pub cseq: u32,
    /// Empty = a query for the current bindings.
    pub contacts: Vec<ContactParam>,
    pub expires_header: Option<u32>,
    pub received: SocketAddr,
    pub transport: Wire,
    pub user_agent: Option<String>,
}

/// Result of a REGISTER that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// `bindings`: every live binding of the AoR after the request, newest first (list them all
    /// in the 200 OK). A REGISTER with an out-of-order CSeq for a known Call-ID changes nothing
    /// and also ends here, with the current bindings.
    Updated {
        bindings: Vec<Binding>,
        came_online: bool,
        went_offline: bool,
    },
}

/// Why a REGISTER was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Answer 423 Interval Too Brief with `Min-Expires: min_expires`.
    #[error("registration interval too brief (minimum {min_expires} s)")]
    IntervalTooBrief { min_expires: u32 },
    /// `Contact: *` with other contacts or with an Expires other than 0: answer 400.
    #[error("the `*` contact needs Expires: 0 and no other contact")]
    InvalidWildcard,
    /// An empty contact URI: answer 400.
    #[error("empty contact URI")]
    EmptyContact,
}

impl RegisterError {
    /// The SIP status code to answer with.
    pub fn status_code(&self) -> u16 {
        match self {
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::InvalidWildcard | RegisterError::EmptyContact => 400,
        }
    }

    /// The value of the Min-Expires header for a 423.
    pub fn min_expires(&self) -> Option<u32> {
        match self {
            RegisterError::IntervalTooBrief { min_expires } => Some(*min_expires),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Entry {
    binding: Binding,
    /// Comparison key of the contact URI.
    key: String,
    /// Order of the last update: higher = newer.
    seq: u64,
}

#[derive(Debug, Default)]
struct Aor {
    entries: Vec<Entry>,
    /// What was last reported to the server (came_online / went_offline).
    reported_online: bool,
}

impl Aor {
    fn drop_expired(&mut self, now: Instant) {
        self.entries.retain(|e| e.binding.expires_at > now);
    }

    fn live(&self, now: Instant) -> Vec<Binding> {
        let mut live: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.binding.expires_at > now)
            .collect();
        live.sort_by_key(|e| std::cmp::Reverse(e.seq));
        live.into_iter().map(|e| e.binding.clone()).collect()
    }
}

/// Terminal username → its bindings.
#[derive(Debug)]
pub struct Location {
    max_contacts_per_aor: usize,
    min_expires: u32,
    max_expires: u32,
    aors: HashMap<String, Aor>,
    next_seq: u64,
}

impl Location {
    /// `max_contacts_per_aor` (at least 1) bounds the bindings per terminal, the oldest being
    /// dropped; requested expiries below `min_expires` (except 0) are refused with 423, those
    /// above `max_expires` are shortened to it.
    pub fn new(max_contacts_per_aor: usize, min_expires: u32, max_expires: u32) -> Self {
        Self {
            max_contacts_per_aor: max_contacts_per_aor.max(1),
            min_expires,
            max_expires: max_expires.max(min_expires),
            aors: HashMap::new(),
            next_seq: 0,
        }
    }

    /// Apply one REGISTER for `aor` (RFC 3261 §10.3 steps 6–8). All or nothing: on `Err` no
    /// binding was changed.
    pub fn register(
        &mut self,
        now: Instant,
        aor: &str,
        req: RegisterRequest,
    ) -> Result<RegisterOutcome, RegisterError> {
        let wildcard = req.contacts.iter().any(ContactParam::is_wildcard);
        if wildcard && (req.contacts.len() != 1 || req.expires_header != Some(0)) {
            return Err(RegisterError::InvalidWildcard);
        }

        // Validate everything before touching state: (key, uri, granted seconds; 0 = remove).
        let mut updates: Vec<(String, String, u32)> = Vec::new();
        if !wildcard {
            for contact in &req.contacts {
                let uri = contact.uri.trim();
                if uri.is_empty() {
                    return Err(RegisterError::EmptyContact);
                }
                let requested = contact
                    .expires
                    .or(req.expires_header)
                    .unwrap_or(DEFAULT_EXPIRES);
                let granted = match requested {
                    0 => 0,
                    e if e < self.min_expires => {
                        return Err(RegisterError::IntervalTooBrief {
                            min_expires: self.min_expires,
                        })
                    }
                    e => e.min(self.max_expires),
                };
                let key = contact_key(uri);
                // A contact listed twice: the last one wins.
                updates.retain(|(k, _, _)| *k != key);
                updates.push((key, uri.to_owned(), granted));
            }
        }

        let max_contacts = self.max_contacts_per_aor;
        let aor_entry = self.aors.entry(aor.to_owned()).or_default();
        aor_entry.drop_expired(now);

        // Out-of-order check (§10.3 steps 6 and 7): a binding this request touches that was
        // last set with the same Call-ID and a CSeq not lower than this one wins.
        let out_of_order = aor_entry.entries.iter().any(|e| {
            e.binding.call_id == req.call_id
                && e.binding.cseq >= req.cseq
                && (wildcard || updates.iter().any(|(k, _, _)| *k == e.key))
        });

        let mut came_online = false;
        let mut went_offline = false;
        if !out_of_order {
            if wildcard {
                aor_entry.entries.clear();
            }
            for (key, uri, granted) in updates {
                aor_entry.entries.retain(|e| e.key != key);
                if granted == 0 {
                    continue;
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                aor_entry.entries.push(Entry {
                    binding: Binding {
                        contact: uri,
                        received: req.received,
                        transport: req.transport,
                        expires_at: now + Duration::from_secs(u64::from(granted)),
                        call_id: req.call_id.clone(),
                        cseq: req.cseq,
                        user_agent: req.user_agent.clone(),
                    },
                    key,
                    seq,
                });
            }
            if aor_entry.entries.len() > max_contacts {
                aor_entry.entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
                aor_entry.entries.truncate(max_contacts);
            }
            let online = !aor_entry.entries.is_empty();
            came_online = online && !aor_entry.reported_online;
            went_offline = !online && aor_entry.reported_online;
            aor_entry.reported_online = online;
        }

        let bindings = aor_entry.live(now);
        if aor_entry.entries.is_empty() && !aor_entry.reported_online {
            self.aors.remove(aor);
        }
        Ok(RegisterOutcome::Updated {
            bindings,
            came_online,
            went_offline,
        })
    }

    /// Live bindings of `aor`, newest first.
    pub fn lookup(&self, now: Instant, aor: &str) -> Vec<Binding> {
        self.aors.get(aor).map(|a| a.live(now)).unwrap_or_default()
    }

    pub fn is_online(&self, now: Instant, aor: &str) -> bool {
        self.aors
            .get(aor)
            .is_some_and(|a| a.entries.iter().any(|e| e.binding.expires_at > now))
    }

    /// Remove expired bindings; returns the AoRs that just went offline (each reported once).
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut gone = Vec::new();
        self.aors.retain(|aor, entry| {
            entry.drop_expired(now);
            if !entry.entries.is_empty() {
                return true;
            }
            if entry.reported_online {
                gone.push(aor.clone());
            }
            false
        });
        gone.sort();
        gone
    }

    /// Puts back bindings kept across a restart (their expiry already converted to `now`'s
    /// clock); expired ones are dropped. Returns whether `aor` is online now.
    pub fn restore(&mut self, now: Instant, aor: &str, bindings: Vec<Binding>) -> bool {
        let max_contacts = self.max_contacts_per_aor;
        let entry = self.aors.entry(aor.to_owned()).or_default();
        for b in bindings.into_iter().filter(|b| b.expires_at > now) {
            let key = contact_key(&b.contact);
            entry.entries.retain(|e| e.key != key);
            let seq = self.next_seq;
            self.next_seq += 1;
            entry.entries.push(Entry {
                binding: b,
                key,
                seq,
            });
        }
        if entry.entries.len() > max_contacts {
            entry.entries.sort_by_key(|e| std::cmp::Reverse(e.seq));
            entry.entries.truncate(max_contacts);
        }
        let online = !entry.entries.is_empty();
        entry.reported_online = online;
        if !online {
            self.aors.remove(aor);
        }
        online
    }

    /// Number of AoRs with bindings (live or not yet swept).
    pub fn aor_count(&self) -> usize {
        self.aors.len()
    }
}

/// Comparison key for a contact URI (a simplification of RFC 3261 §19.1.4): angle brackets
/// dropped, scheme, host, port and parameters case-insensitive, the user part case-sensitive.
fn contact_key(uri: &str) -> String {
    let uri = uri.trim();
    let uri = uri
        .strip_prefix('<')
        .and_then(|u| u.strip_suffix('>'))
        .unwrap_or(uri)
        .trim();
    let (scheme, rest) = uri.split_once(':').unwrap_or(("", uri));
    let (user, host) = match rest.rfind('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    format!(
        "{}:{}{}",
        scheme.to_ascii_lowercase(),
        user,
        host.to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u32 = 60;
    const MAX: u32 = 3600;

    fn loc() -> Location {
        Location::new(3, MIN, MAX)
    }

    fn addr() -> SocketAddr {
        "192.0.2.10:5062".parse().unwrap()
    }

    fn req(
        call_id: &str,
        cseq: u32,
        contacts: &[(&str, Option<u32>)],
        expires: Option<u32>,
    ) -> RegisterRequest {
        RegisterRequest {
            call_id: call_id.to_owned(),
            cseq,
            contacts: contacts
                .iter()
                .map(|(u, e)| ContactParam::new(*u, *e))
                .collect(),
            expires_header: expires,
            received: addr(),
            transport: Wire::Udp,
            user_agent: Some("Phone/1.0".to_owned()),
        }
    }

    fn updated(o: RegisterOutcome) -> (Vec<Binding>, bool, bool) {
        let RegisterOutcome::Updated {
            bindings,
            came_online,
            went_offline,
        } = o;
        (bindings, came_online, went_offline)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn register_lookup_and_binding_fields() {
        let mut l = loc();
        let t0 = Instant::now();
        let (b, on, off) = updated(
            l.register(
                t0,
                "1001",
                req("c1", 1, &[("sip:1001@10.0.0.5:5060", None)], Some(600)),
            )
            .unwrap(),
        );
        assert!(on && !off);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].contact, "sip:1001@10.0.0.5:5060");
        assert_eq!(b[0].received, addr());
        assert_eq!(b[0].transport, Wire::Udp);
        assert_eq!(b[0].expires_at, t0 + secs(600));
        assert_eq!(b[0].expires_in(t0 + secs(100)), 500);
        assert_eq!(b[0].user_agent.as_deref(), Some("Phone/1.0"));
        assert_eq!(l.lookup(t0, "1001"), b);
        assert!(l.is_online(t0, "1001"));
        assert!(!l.is_online(t0, "1002"));
        assert!(l.lookup(t0, "1002").is_empty());
    }

    #[test]
    fn contact_param_beats_header_and_default_applies() {
        let mut l = loc();
        let t0 = Instant::now();
        let (b, _, _) = updated(
            l.register(
                t0,
                "u",
                req(
                    "c",
                    1,
                    &[("sip:a@h", Some(120)), ("sip:b@h", None)],
                    Some(300),
                ),
            )
            .unwrap(),
        );
        let by = |c: &str| b.iter().find(|x| x.contact == c).unwrap().expires_at;
        assert_eq!(by("sip:a@h"), t0 + secs(120));
        assert_eq!(by("sip:b@h"), t0 + secs(300));
        let (b, _, _) = updated(
            l.register(t0, "v", req("c", 1, &[("sip:v@h", None)], None))
                .unwrap(),
        );
        assert_eq!(
            b[0].expires_at,
            t0 + secs(u64::from(DEFAULT_EXPIRES.min(MAX)))
        );
    }

    #[test]
    fn expires_clamped_and_too_brief_refused() {
        let mut l = loc();
        let t0 = Instant::now();
        let (b, _, _) = updated(
            l.register(t0, "u", req("c", 1, &[("sip:a@h", Some(999_999))], None))
                .unwrap(),
        );
        assert_eq!(b[0].expires_at, t0 + secs(u64::from(MAX)));
        let err = l
            .register(t0, "u", req("c", 2, &[("sip:b@h", Some(MIN - 1))], None))
            .unwrap_err();
        assert_eq!(err, RegisterError::IntervalTooBrief { min_expires: MIN });
        assert_eq!(err.status_code(), 423);
        assert_eq!(err.min_expires(), Some(MIN));
        // All or nothing: the valid contact in a refused request is not added either.
        let err = l
            .register(
                t0,
                "u",
                req(
                    "c",
                    3,
                    &[("sip:c@h", Some(600)), ("sip:d@h", Some(5))],
                    None,
                ),
            )
            .unwrap_err();
        assert_eq!(err.status_code(), 423);
        assert_eq!(l.lookup(t0, "u").len(), 1);
        // Exactly the minimum is fine; header below minimum too brief as well.
        assert!(l
            .register(t0, "u", req("c", 4, &[("sip:b@h", Some(MIN))], None))
            .is_ok());
        assert!(l
            .register(t0, "u", req("c", 5, &[("sip:e@h", None)], Some(1)))
            .is_err());
    }

    #[test]
    fn refresh_updates_in_place_and_expires_zero_removes() {
        let mut l = loc();
        let t0 = Instant::now();
        l.register(t0, "u", req("c", 1, &[("sip:u@10.0.0.5", None)], Some(600)))
            .unwrap();
        let mut r = req("c", 2, &[("<SIP:u@10.0.0.5>", None)], Some(900));
        r.received = "198.51.100.7:40000".parse().unwrap();
        r.transport = Wire::Tcp;
        let (b, on, off) = updated(l.register(t0 + secs(300), "u", r).unwrap());
        assert!(!on && !off, "already online");
        assert_eq!(
            b.len(),
            1,
            "same contact (URI comparison) refreshed, not duplicated"
        );
        assert_eq!(b[0].expires_at, t0 + secs(1200));
        assert_eq!(b[0].received, "198.51.100.7:40000".parse().unwrap());
        assert_eq!(b[0].transport, Wire::Tcp);
        let (b, on, off) = updated(
            l.register(
                t0 + secs(301),
                "u",
                req("c", 3, &[("sip:u@10.0.0.5", Some(0))], Some(900)),
            )
            .unwrap(),
        );
        assert!(b.is_empty());
        assert!(!on && off);
        assert!(!l.is_online(t0 + secs(301), "u"));
        assert_eq!(l.aor_count(), 0);
        // Removing something unknown is harmless and reports nothing.
        let (b, on, off) = updated(
            l.register(t0, "w", req("c", 1, &[("sip:w@h", None)], Some(0)))
                .unwrap(),
        );
        assert!(b.is_empty() && !on && !off);
        assert_eq!(l.aor_count(), 0);
    }

    #[test]
    fn user_part_is_case_sensitive() {
        let mut l = loc();
        let t0 = Instant::now();
        l.register(
            t0,
            "u",
            req(
                "c",
                1,
                &[("sip:Alice@h"), ("sip:alice@H")].map(|u| (u, None)),
                Some(600),
            ),
        )
        .unwrap();
        assert_eq!(l.lookup(t0, "u").len(), 2);
    }

    #[test]
    fn wildcard_removes_all_and_is_validated() {
        let mut l = loc();
        let t0 = Instant::now();
        l.register(
            t0,
            "u",
            req("a", 1, &[("sip:a@h", None), ("sip:b@h", None)], Some(600)),
        )
        .unwrap();
        let bad = l
            .register(t0, "u", req("z", 1, &[("*", None)], Some(600)))
            .unwrap_err();
        assert_eq!(bad, RegisterError::InvalidWildcard);
        assert_eq!(bad.status_code(), 400);
        assert_eq!(
            l.register(t0, "u", req("z", 1, &[("*", None)], None))
                .unwrap_err(),
            RegisterError::InvalidWildcard
        );
        assert_eq!(
            l.register(
                t0,
                "u",
                req("z", 1, &[("*", None), ("sip:c@h", None)], Some(0))
            )
            .unwrap_err(),
            RegisterError::InvalidWildcard
        );
        assert_eq!(l.lookup(t0, "u").len(), 2);
        let mut w = req("z", 1, &[], Some(0));
        w.contacts.push(ContactParam::wildcard());
        let (b, on, off) = updated(l.register(t0, "u", w).unwrap());
        assert!(b.is_empty() && !on && off);
    }

    #[test]
    fn out_of_order_cseq_same_call_id_is_ignored() {
        let mut l = loc();
        let t0 = Instant::now();
        l.register(t0, "u", req("c", 5, &[("sip:a@h", None)], Some(600)))
            .unwrap();
        // An older REGISTER (delayed datagram) that would remove the binding: ignored.
        let (b, on, off) = updated(
            l.register(t0, "u", req("c", 4, &[("sip:a@h", None)], Some(0)))
                .unwrap(),
        );
        assert_eq!(b.len(), 1);
        assert!(!on && !off);
        // Same CSeq again: also ignored (no refresh).
        l.register(
            t0 + secs(10),
            "u",
            req("c", 5, &[("sip:a@h", None)], Some(3000)),
        )
        .unwrap();
        assert_eq!(l.lookup(t0, "u")[0].expires_at, t0 + secs(600));
        // Wildcard with a lower CSeq for a known Call-ID: ignored.
        l.register(t0, "u", req("c", 3, &[("*", None)], Some(0)))
            .unwrap();
        assert_eq!(l.lookup(t0, "u").len(), 1);
        // A different Call-ID (phone rebooted) updates whatever its CSeq.
        let (b, _, off) = updated(
            l.register(t0, "u", req("d", 1, &[("sip:a@h", None)], Some(0)))
                .unwrap(),
        );
        assert!(b.is_empty() && off);
        // Higher CSeq, same Call-ID: applied.
        l.register(t0, "u", req("c", 6, &[("sip:a@h", None)], Some(600)))
            .unwrap();
        assert!(l.is_online(t0, "u"));
    }

    #[test]
    fn max_contacts_drops_oldest_and_lookup_is_newest_first() {
        let mut l = loc(); // max 3
        let t0 = Instant::now();
        for (i, c) in ["sip:a@h", "sip:b@h", "sip:c@h"].iter().enumerate() {
            let cseq = u32::try_from(i).unwrap() + 1;
            l.register(
                t0 + secs(i as u64),
                "u",
                req("c", cseq, &[(c, None)], Some(600)),
            )
            .unwrap();
        }
        // Refresh a: now newest.
        l.register(
            t0 + secs(5),
            "u",
            req("c", 10, &[("sip:a@h", None)], Some(600)),
        )
        .unwrap();
        let (b, _, _) = updated(
            l.register(
                t0 + secs(6),
                "u",
                req("c", 11, &[("sip:d@h", None)], Some(600)),
            )
            .unwrap(),
        );
        let order: Vec<&str> = b.iter().map(|x| x.contact.as_str()).collect();
        assert_eq!(
            order,
            ["sip:d@h", "sip:a@h", "sip:c@h"],
            "b (oldest) dropped"
        );
        assert_eq!(l.lookup(t0 + secs(6), "u"), b);
        // One request with more contacts than allowed keeps the last listed.
        let (b, _, _) = updated(
            l.register(
                t0 + secs(7),
                "v",
                req(
                    "c",
                    1,
                    &["sip:1@h", "sip:2@h", "sip:3@h", "sip:4@h"].map(|u| (u, None)),
                    Some(600),
                ),
            )
            .unwrap(),
        );
        let order: Vec<&str> = b.iter().map(|x| x.contact.as_str()).collect();
        assert_eq!(order, ["sip:4@h", "sip:3@h", "sip:2@h"]);
    }

    #[test]
    fn expiry_with_injected_clock() {
        let mut l = loc();
        let t0 = Instant::now();
        l.register(t0, "u", req("c", 1, &[("sip:a@h", Some(60))], None))
            .unwrap();
        l.register(t0, "u", req("c", 2, &[("sip:b@h", Some(120))], None))
            .unwrap();
        l.register(t0, "v", req("x", 1, &[("sip:v@h", Some(600))], None))
            .unwrap();
        assert!(l.expire(t0 + secs(59)).is_empty());
        assert_eq!(l.lookup(t0 + secs(59), "u").len(), 2);
        // At the expiry instant the binding is gone (lookup filters before the sweep too).
        assert_eq!(l.lookup(t0 + secs(60), "u").len(), 1);
        assert!(l.expire(t0 + secs(60)).is_empty(), "u still has b");
        assert!(l.is_online(t0 + secs(119), "u"));
        assert!(!l.is_online(t0 + secs(120), "u"));
        assert_eq!(l.expire(t0 + secs(120)), vec!["u".to_owned()]);
        assert!(l.expire(t0 + secs(121)).is_empty(), "reported once");
        assert_eq!(l.expire(t0 + secs(600)), vec!["v".to_owned()]);
        assert_eq!(l.aor_count(), 0);
        // Registering again reports came_online again.
        let (_, on, _) = updated(
            l.register(
                t0 + secs(700),
                "u",
                req("c", 3, &[("sip:a@h", None)], Some(60)),
            )
            .unwrap(),
        );
        assert!(on);
    }

    #[test]
    fn lapse_before_sweep_then_reregister_reports_nothing() {
        // Expired but not yet swept, then refreshed: the server never saw it go offline, so it
        // must not see a second "online" either.
        let mut l = loc();
        let t0 = Instant::now();
        let (_, on, _) = updated(
            l.register(t0, "u", req("c", 1, &[("sip:a@h", Some(60))], None))
                .unwrap(),
        );
        assert!(on);
        let (b, on, off) = updated(
            l.register(
                t0 + secs(90),
                "u",
                req("c", 2, &[("sip:a@h", Some(60))], None),
            )
            .unwrap(),
        );
        assert_eq!(b.len(), 1);
        assert!(!on && !off);
    }

    #[test]
    fn query_without_contacts_returns_bindings_and_empty_contact_is_refused() {
        let mut l = loc();
        let t0 = Instant::now();
        l.register(t0, "u", req("c", 1, &[("sip:a@h", None)], Some(600)))
            .unwrap();
        let (b, on, off) = updated(l.register(t0, "u", req("c", 2, &[], None)).unwrap());
        assert_eq!(b.len(), 1);
        assert!(!on && !off);
        let (b, _, _) = updated(l.register(t0, "nobody", req("c", 1, &[], None)).unwrap());
        assert!(b.is_empty());
        assert_eq!(l.aor_count(), 1, "a query leaves no empty AoR behind");
        assert_eq!(
            l.register(t0, "u", req("c", 3, &[(" ", None)], None))
                .unwrap_err(),
            RegisterError::EmptyContact
        );
    }
}
