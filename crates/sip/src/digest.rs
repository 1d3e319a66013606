//! SIP digest authentication (RFC 2617, RFC 7616, RFC 8760), done by us because the stack's
//! own check is defective (`nc` kept as a decimal `u8`, plain `==` comparison; see
//! `shared/notes/rsipstack.md`).
//!
//! Sans-IO: strings in, verdicts out, time injected as [`Instant`].
//!
//! Nonces are stateless-verifiable: `base64url(issue_ms ‖ seq ‖ HMAC-SHA256(secret, realm ‖
//! issue_ms ‖ seq ‖ source)[..16])`, where `issue_ms` counts milliseconds from the first time
//! this [`DigestAuth`] saw the clock, `seq` is a per-instance counter (so two challenges in the
//! same millisecond still get different nonces, and each client has its own `nc` sequence), and
//! `source` is the address the challenge was sent to: a nonce is good only from that address,
//! so credentials captured on the wire and replayed from another host are [`Verdict::Stale`]
//! (a phone whose address changed simply answers the new challenge).
//!
//! Replay from the same address is stopped by remembering every nonce once it has been *used*,
//! in a bounded map `nonce → use`, pruned as nonces expire: with `qop=auth` the last accepted
//! `nc` (the same or a lower one is [`Verdict::Wrong`]); without qop (an RFC 2069 client, which
//! sends no nonce count) the nonce is good for one request only, and a second use is
//! [`Verdict::Stale`], so such a client is challenged afresh for every request.
//!
//! Give every process start a fresh random `secret`: nonces from a previous run are then
//! "unknown" and answered with [`Verdict::Stale`] (the client retries at once with the new
//! nonce, without asking its user for a password).
//!
//! What the caller still checks: that `credentials.uri` is the Request-URI of the request
//! (RFC 3261 §22.4 leaves the strictness to the server), and that `credentials.username` is the
//! account whose password it passes to [`DigestAuth::verify`].

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Longest Authorization header value we parse (real ones are a few hundred bytes).
pub const MAX_HEADER_LEN: usize = 4096;
/// Default bound of the `nonce → last nc` map (see [`DigestAuth::with_max_tracked_nonces`]).
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 65_536;

const NONCE_MAC_LEN: usize = 16;
const NONCE_RAW_LEN: usize = 8 + 8 + NONCE_MAC_LEN;
const NONCE_DOMAIN: &[u8] = b"tsunagu-sip-nonce-v1";

/// Digest hash algorithm (the `-sess` variants are not offered and not accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The token used in the `algorithm=` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parse an `algorithm=` token (case-insensitive).
    pub fn from_token(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data)),
            Algorithm::Sha256 => hex(&Sha256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an Authorization / Proxy-Authorization header value could not be parsed.
/// The server answers these with 400 (or simply a fresh 401/407 challenge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("authorization header too long ({0} bytes)")]
    TooLong(usize),
    #[error("authorization scheme is not Digest")]
    NotDigest,
    #[error("malformed digest parameters: {0}")]
    Syntax(&'static str),
    #[error("duplicate digest parameter `{0}`")]
    DuplicateParam(String),
    #[error("missing or empty digest parameter `{0}`")]
    MissingParam(&'static str),
    #[error("unsupported digest algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    #[error("nc must be 8 hexadecimal digits, got `{0}`")]
    BadNonceCount(String),
}

/// Parsed digest credentials (the parameters of an Authorization header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
}

/// Result of [`DigestAuth::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated.
    Ok,
    /// The digest is right for the nonce the client used, but that nonce is expired or not one
    /// of ours (e.g. issued before a restart): re-challenge with `stale=true`.
    Stale,
    /// Bad response (wrong password), wrong realm, replayed or non-increasing `nc`,
    /// unsupported qop: re-challenge normally and count an authentication failure.
    Wrong,
}

/// What a used nonce may still do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonceUse {
    /// Used with qop=auth: only a higher `nc` than this one is accepted.
    Counted(u32),
    /// Used once without qop (RFC 2069): never again.
    Spent,
}

/// Digest authentication for one realm: issues challenges and verifies credentials.
#[derive(Debug)]
pub struct DigestAuth {
    realm: String,
    secret: [u8; 32],
    nonce_ttl: Duration,
    /// The origin of nonce timestamps, fixed at the first call that sees the clock.
    epoch: Option<Instant>,
    /// Sequence number of the next nonce.
    next_seq: u64,
    /// Nonces used so far, ordered by issue time.
    nonce_counts: BTreeMap<NonceKey, NonceUse>,
    max_tracked: usize,
    /// Highest key ever evicted from `nonce_counts` for lack of room: nonces at or below it that
    /// are not tracked any more are answered Stale instead of risking an nc replay.
    evicted_up_to: Option<NonceKey>,
    /// What challenges offer, strongest first.
    algorithms: Vec<Algorithm>,
}

/// (issue time in ms since epoch, sequence number): unique per issued nonce and ordered by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NonceKey {
    issued_ms: u64,
    seq: u64,
}

impl DigestAuth {
    /// `secret` keys the nonce MAC (use 32 random bytes per process start); `nonce_ttl` is how
    /// long a nonce is accepted after it was issued (e.g. 5 minutes).
    pub fn new(realm: &str, secret: [u8; 32], nonce_ttl: Duration) -> Self {
        Self {
            realm: realm.to_owned(),
            secret,
            nonce_ttl,
            epoch: None,
            next_seq: 0,
            nonce_counts: BTreeMap::new(),
            max_tracked: DEFAULT_MAX_TRACKED_NONCES,
            evicted_up_to: None,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    /// Challenge with these algorithms only (default SHA-256 and MD5; an empty list keeps the
    /// default). Some clients (libre, so baresip 1.0) fail with ENOSYS on a 401 that carries
    /// any challenge they cannot answer, instead of answering the one they can.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        if !algorithms.is_empty() {
            let mut offered: Vec<Algorithm> = Vec::new();
            for a in [Algorithm::Sha256, Algorithm::Md5] {
                if algorithms.contains(&a) {
                    offered.push(a);
                }
            }
            self.algorithms = offered;
        }
        self
    }

    /// Bound the `nonce → last nc` map (default [`DEFAULT_MAX_TRACKED_NONCES`], minimum 1).
    /// When it is full the oldest nonce is forgotten, and later uses of it get [`Verdict::Stale`].
    pub fn with_max_tracked_nonces(mut self, max: usize) -> Self {
        self.max_tracked = max.max(1);
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Number of nonces currently tracked for replay protection.
    pub fn tracked_nonces(&self) -> usize {
        self.nonce_counts.len()
    }

    /// WWW-Authenticate / Proxy-Authenticate header values to send with a 401/407: one per
    /// offered algorithm (SHA-256 first, then MD5), `qop="auth"`, a fresh nonce (shared), and
    /// `stale=true` when asked. The nonce is good only for requests from `source`, the address
    /// the challenge answers.
    pub fn challenges(&mut self, now: Instant, stale: bool, source: IpAddr) -> Vec<String> {
        let now_ms = self.clock_ms(now);
        self.prune(now_ms);
        let nonce = self.issue_nonce(now_ms, source);
        self.algorithms
            .iter()
            .map(|&algorithm| {
                let mut value = format!(
                    "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
                    quote_escape(&self.realm),
                    nonce,
                    algorithm
                );
                if stale {
                    value.push_str(", stale=true");
                }
                value
            })
            .collect()
    }

    /// Parse an Authorization / Proxy-Authorization header value: `Digest` followed by
    /// parameters, quoted or not, in any order, with commas and `\`-escapes inside quotes.
    /// Unknown parameters are ignored; duplicates are an error.
    pub fn parse_credentials(header_value: &str) -> Result<Credentials, DigestError> {
        if header_value.len() > MAX_HEADER_LEN {
            return Err(DigestError::TooLong(header_value.len()));
        }
        let value = header_value.trim();
        let (scheme, rest) = match value.find(|c: char| c.is_ascii_whitespace()) {
            Some(i) => (&value[..i], &value[i..]),
            None => (value, ""),
        };
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let params = parse_params(rest)?;

        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut nc = None;
        let mut cnonce = None;
        let mut opaque = None;
        for (name, value) in params {
            let slot = match name.as_str() {
                "username" => &mut username,
                "realm" => &mut realm,
                "nonce" => &mut nonce,
                "uri" => &mut uri,
                "response" => &mut response,
                "algorithm" => &mut algorithm,
                "qop" => &mut qop,
                "nc" => &mut nc,
                "cnonce" => &mut cnonce,
                "opaque" => &mut opaque,
                _ => continue,
            };
            if slot.is_some() {
                return Err(DigestError::DuplicateParam(name));
            }
            *slot = Some(value);
        }

        fn required(v: Option<String>, name: &'static str) -> Result<String, DigestError> {
            match v {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(DigestError::MissingParam(name)),
            }
        }
        let algorithm = match algorithm {
            None => Algorithm::Md5,
            Some(token) => {
                Algorithm::from_token(&token).ok_or(DigestError::UnsupportedAlgorithm(token))?
            }
        };
        let qop = qop.filter(|q| !q.is_empty());
        if let Some(nc) = &nc {
            if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DigestError::BadNonceCount(nc.clone()));
            }
        }
        let (nc, cnonce) = if qop.is_some() {
            (Some(required(nc, "nc")?), Some(required(cnonce, "cnonce")?))
        } else {
            (nc, cnonce)
        };
        Ok(Credentials {
            username: required(username, "username")?,
            realm: realm.ok_or(DigestError::MissingParam("realm"))?,
            nonce: required(nonce, "nonce")?,
            uri: required(uri, "uri")?,
            response: required(response, "response")?,
            algorithm,
            qop,
            nc,
            cnonce,
            opaque,
        })
    }

    /// Verify `creds` for a request with `method` from `source` against the plaintext
    /// `password` of `creds.username`. On [`Verdict::Ok`] the nonce's use is remembered: with
    /// qop the same or a lower `nc` is refused from then on, without qop the nonce itself.
    pub fn verify(
        &mut self,
        now: Instant,
        method: &str,
        creds: &Credentials,
        password: &str,
        source: IpAddr,
    ) -> Verdict {
        let now_ms = self.clock_ms(now);
        self.prune(now_ms);

        if creds.realm != self.realm {
            return Verdict::Wrong;
        }
        let nc = match &creds.qop {
            None => None,
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                match (creds.nc.as_deref().and_then(parse_nc), &creds.cnonce) {
                    (Some(nc), Some(_)) if nc > 0 => Some(nc),
                    _ => return Verdict::Wrong,
                }
            }
            Some(_) => return Verdict::Wrong,
        };
        let Some(expected) = compute_response(creds, method, password) else {
            return Verdict::Wrong;
        };
        let given = creds.response.to_ascii_lowercase();
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Verdict::Wrong;
        }

        // The client knows the password; now judge the nonce.
        let Some(key) = self.decode_nonce(&creds.nonce, source) else {
            return Verdict::Stale;
        };
        if !self.is_fresh(key, now_ms) {
            return Verdict::Stale;
        }
        let this_use = match nc {
            Some(nc) => NonceUse::Counted(nc),
            None => NonceUse::Spent,
        };
        match self.nonce_counts.get_mut(&key) {
            Some(last) => match (*last, this_use) {
                (NonceUse::Counted(last_nc), NonceUse::Counted(nc)) if nc > last_nc => {
                    *last = this_use;
                }
                // A replayed request, or a client answering with a lower nc.
                (NonceUse::Counted(_), NonceUse::Counted(_)) => return Verdict::Wrong,
                // An RFC 2069 nonce is good once; the client that knows the password answers
                // the fresh challenge, a replay cannot.
                _ => return Verdict::Stale,
            },
            None => {
                if self.evicted_up_to.is_some_and(|floor| key <= floor) {
                    return Verdict::Stale;
                }
                while self.nonce_counts.len() >= self.max_tracked {
                    match self.nonce_counts.pop_first() {
                        Some((old, _)) => {
                            self.evicted_up_to =
                                Some(self.evicted_up_to.map_or(old, |f| f.max(old)))
                        }
                        None => break,
                    }
                }
                self.nonce_counts.insert(key, this_use);
            }
        }
        Verdict::Ok
    }

    fn clock_ms(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        u64::try_from(now.saturating_duration_since(epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.nonce_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    fn is_fresh(&self, key: NonceKey, now_ms: u64) -> bool {
        key.issued_ms <= now_ms && now_ms - key.issued_ms <= self.ttl_ms()
    }

    fn prune(&mut self, now_ms: u64) {
        let ttl = self.ttl_ms();
        while let Some((key, _)) = self.nonce_counts.first_key_value() {
            if now_ms.saturating_sub(key.issued_ms) > ttl {
                self.nonce_counts.pop_first();
            } else {
                break;
            }
        }
        if self
            .evicted_up_to
            .is_some_and(|floor| now_ms.saturating_sub(floor.issued_ms) > ttl)
        {
            // Everything at or below the floor is expired anyway.
            self.evicted_up_to = None;
        }
    }

    fn nonce_mac(&self, issued_ms: u64, seq: u64, source: IpAddr) -> HmacSha256 {
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            // HMAC accepts keys of any length; this arm is unreachable.
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        };
        mac.update(NONCE_DOMAIN);
        mac.update(&(self.realm.len() as u64).to_be_bytes());
        mac.update(self.realm.as_bytes());
        mac.update(&issued_ms.to_be_bytes());
        mac.update(&seq.to_be_bytes());
        // IPv4-mapped IPv6 is the IPv4 address (a dual-stack socket reports either).
        match source.to_canonical() {
            IpAddr::V4(v4) => mac.update(&v4.octets()),
            IpAddr::V6(v6) => mac.update(&v6.octets()),
        }
        mac
    }

    fn issue_nonce(&mut self, now_ms: u64, source: IpAddr) -> String {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let tag = self.nonce_mac(now_ms, seq, source).finalize().into_bytes();
        let mut raw = [0u8; NONCE_RAW_LEN];
        raw[..8].copy_from_slice(&now_ms.to_be_bytes());
        raw[8..16].copy_from_slice(&seq.to_be_bytes());
        raw[16..].copy_from_slice(&tag[..NONCE_MAC_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The nonce's key if it is one of ours issued to `source` (MAC checks), whatever its age.
    fn decode_nonce(&self, nonce: &str, source: IpAddr) -> Option<NonceKey> {
        if nonce.len() > 64 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if raw.len() != NONCE_RAW_LEN {
            return None;
        }
        let issued_ms = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?);
        self.nonce_mac(issued_ms, seq, source)
            .verify_truncated_left(raw.get(16..)?)
            .ok()?;
        Some(NonceKey { issued_ms, seq })
    }
}

/// The `response` value that `creds` should carry for a request with `method` and `password`
/// (lowercase hex): RFC 2617/7616 with `qop=auth`, RFC 2069 without qop. `creds.response` itself
/// is ignored, so the client side (trunk registration, outgoing INVITE) can use this to fill it.
/// `None` if qop is not `auth` or `nc`/`cnonce` are missing.
pub fn compute_response(creds: &Credentials, method: &str, password: &str) -> Option<String> {
    let alg = creds.algorithm;
    let ha1 = alg.hash_hex(format!("{}:{}:{}", creds.username, creds.realm, password).as_bytes());
    let ha2 = alg.hash_hex(format!("{}:{}", method, creds.uri).as_bytes());
    let kd = match &creds.qop {
        None => format!("{}:{}:{}", ha1, creds.nonce, ha2),
        Some(qop) if qop.eq_ignore_ascii_case("auth") => format!(
            "{}:{}:{}:{}:{}:{}",
            ha1,
            creds.nonce,
            creds.nc.as_deref()?,
            creds.cnonce.as_deref()?,
            qop,
            ha2
        ),
        Some(_) => return None,
    };
    Some(alg.hash_hex(kd.as_bytes()))
}

/// Our answer to a carrier's challenge (`WWW-Authenticate` / `Proxy-Authenticate` value) for
/// a request `method` to `uri`: the value of `Authorization` / `Proxy-Authorization`. `qop=auth`
/// is used when offered; `None` for a challenge we cannot answer (not Digest, unknown algorithm,
/// only `auth-int`).
pub fn answer_challenge(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
) -> Option<String> {
    let rest = challenge.trim();
    let (scheme, params) = rest.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let params = parse_params(params).ok()?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let algorithm = match get("algorithm") {
        Some(a) => Algorithm::from_token(&a)?,
        None => Algorithm::Md5,
    };
    let qop = match get("qop") {
        Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => {
            Some("auth".to_owned())
        }
        Some(_) => return None,
        None => None,
    };
    let creds = Credentials {
        username: username.to_owned(),
        realm: get("realm")?,
        nonce: get("nonce")?,
        uri: uri.to_owned(),
        response: String::new(),
        algorithm,
        nc: qop.as_ref().map(|_| "00000001".to_owned()),
        cnonce: qop.as_ref().map(|_| cnonce.to_owned()),
        qop,
        opaque: get("opaque"),
    };
    let response = compute_response(&creds, method, password)?;
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
        quote_escape(&creds.username),
        quote_escape(&creds.realm),
        quote_escape(&creds.nonce),
        quote_escape(&creds.uri),
        creds.algorithm.as_str(),
    );
    if let (Some(qop), Some(nc), Some(cnonce)) = (&creds.qop, &creds.nc, &creds.cnonce) {
        v.push_str(&format!(
            ", qop={qop}, nc={nc}, cnonce=\"{}\"",
            quote_escape(cnonce)
        ));
    }
    if let Some(opaque) = &creds.opaque {
        v.push_str(&format!(", opaque=\"{}\"", quote_escape(opaque)));
    }
    Some(v)
}

fn parse_nc(nc: &str) -> Option<u32> {
    if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(nc, 16).ok()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn quote_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Parse `name=value` pairs separated by commas; values are tokens or quoted strings.
/// Names are lowercased; quoted values are unescaped.
pub(crate) fn parse_params(input: &str) -> Result<Vec<(String, String)>, DigestError> {
    let mut params = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        // Skip separators between parameters (empty list elements are allowed, RFC 7230 #rule).
        while chars
            .peek()
            .is_some_and(|&c| c == ',' || c.is_ascii_whitespace())
        {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_ascii_whitespace() || c == '"' {
                break;
            }
            name.push(c.to_ascii_lowercase());
            chars.next();
        }
        if name.is_empty() {
            return Err(DigestError::Syntax("expected a parameter name"));
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(DigestError::Syntax("expected `=` after a parameter name"));
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match chars.next() {
                        Some(escaped) => value.push(escaped),
                        None => break,
                    },
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err(DigestError::Syntax("unterminated quoted string"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_ascii_whitespace() {
                    break;
                }
                if c == '"' || c == '=' {
                    return Err(DigestError::Syntax("unexpected character in a token"));
                }
                value.push(c);
                chars.next();
            }
        }
        while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some(',') => {}
            Some(_) => return Err(DigestError::Syntax("expected `,` between parameters")),
        }
        params.push((name, value));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_a_challenge_as_rfc_2617_computes_it() {
        let v = answer_challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
        )
        .unwrap();
        assert!(
            v.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{v}"
        );
        assert!(
            v.contains("qop=auth, nc=00000001") && v.contains("opaque="),
            "{v}"
        );
        let creds = DigestAuth::parse_credentials(&v).unwrap();
        assert_eq!(creds.username, "Mufasa");
        assert_eq!(
            answer_challenge("Basic realm=\"x\"", "GET", "/", "a", "b", "c"),
            None
        );
        assert_eq!(
            answer_challenge(
                "Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"",
                "GET",
                "/",
                "a",
                "b",
                "c"
            ),
            None
        );
    }

    use super::*;

    const SECRET: [u8; 32] = [7; 32];
    /// The address challenges go to and requests come from, unless a test says otherwise.
    const SRC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
    const TTL: Duration = Duration::from_secs(300);

    fn auth() -> DigestAuth {
        DigestAuth::new("tsunagu.example", SECRET, TTL)
    }

    fn challenge_param(challenge: &str, name: &str) -> String {
        let rest = challenge.strip_prefix("Digest ").unwrap();
        parse_params(rest)
            .unwrap()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap()
    }

    /// What a client builds from a challenge, computed independently of `compute_response`.
    fn client_creds(
        alg: Algorithm,
        user: &str,
        realm: &str,
        password: &str,
        nonce: &str,
        nc: Option<u32>,
    ) -> Credentials {
        let h = |s: String| alg.hash_hex(s.as_bytes());
        let uri = "sip:tsunagu.example";
        let ha1 = h(format!("{user}:{realm}:{password}"));
        let ha2 = h(format!("REGISTER:{uri}"));
        let (qop, nc, cnonce, response) = match nc {
            Some(nc) => {
                let nc = format!("{nc:08x}");
                let r = h(format!("{ha1}:{nonce}:{nc}:0a4f113b:auth:{ha2}"));
                (
                    Some("auth".to_owned()),
                    Some(nc),
                    Some("0a4f113b".to_owned()),
                    r,
                )
            }
            None => (None, None, None, h(format!("{ha1}:{nonce}:{ha2}"))),
        };
        Credentials {
            username: user.to_owned(),
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            uri: uri.to_owned(),
            response,
            algorithm: alg,
            qop,
            nc,
            cnonce,
            opaque: None,
        }
    }

    #[test]
    fn rfc2617_example_md5() {
        let header = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let creds = DigestAuth::parse_credentials(header).unwrap();
        assert_eq!(creds.username, "Mufasa");
        assert_eq!(creds.algorithm, Algorithm::Md5);
        assert_eq!(creds.qop.as_deref(), Some("auth"));
        assert_eq!(creds.nc.as_deref(), Some("00000001"));
        assert_eq!(
            creds.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(
            compute_response(&creds, "GET", "Circle Of Life").as_deref(),
            Some("6629fae49393a05397450978507c4ef1")
        );
        // Through verify: the digest is right but the nonce is not ours → Stale, not Ok.
        let mut a = DigestAuth::new("testrealm@host.com", SECRET, TTL);
        let now = Instant::now();
        assert_eq!(
            a.verify(now, "GET", &creds, "Circle Of Life", SRC),
            Verdict::Stale
        );
        assert_eq!(
            a.verify(now, "GET", &creds, "circle of life", SRC),
            Verdict::Wrong
        );
    }

    #[test]
    fn rfc7616_example_sha256_and_md5() {
        let base = Credentials {
            username: "Mufasa".into(),
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            uri: "/dir/index.html".into(),
            response: String::new(),
            algorithm: Algorithm::Sha256,
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into()),
            opaque: Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS".into()),
        };
        assert_eq!(
            compute_response(&base, "GET", "Circle of Life").as_deref(),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
        let md5 = Credentials {
            algorithm: Algorithm::Md5,
            ..base
        };
        assert_eq!(
            compute_response(&md5, "GET", "Circle of Life").as_deref(),
            Some("8ca523f5e9506fed4657c9700eebdbec")
        );
        let header = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let parsed = DigestAuth::parse_credentials(header).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::Sha256);
        assert_eq!(
            compute_response(&parsed, "GET", "Circle of Life").as_deref(),
            Some(parsed.response.as_str())
        );
    }

    #[test]
    fn challenges_sha256_first_then_md5_with_stale_flag() {
        let mut a = auth();
        let now = Instant::now();
        let c = a.challenges(now, false, SRC);
        assert_eq!(c.len(), 2);
        assert!(c[0].starts_with("Digest realm=\"tsunagu.example\""));
        assert!(c[0].contains("algorithm=SHA-256"));
        assert!(c[1].contains("algorithm=MD5"));
        assert!(c.iter().all(|v| v.contains("qop=\"auth\"")));
        assert!(c.iter().all(|v| !v.contains("stale")));
        assert_eq!(
            challenge_param(&c[0], "nonce"),
            challenge_param(&c[1], "nonce")
        );
        let stale = a.challenges(now, true, SRC);
        assert!(stale.iter().all(|v| v.ends_with(", stale=true")));
        // Fresh nonce every time, even in the same instant.
        assert_ne!(
            challenge_param(&c[0], "nonce"),
            challenge_param(&stale[0], "nonce")
        );
    }

    #[test]
    fn full_round_trip_both_algorithms() {
        for alg in [Algorithm::Sha256, Algorithm::Md5] {
            let mut a = auth();
            let now = Instant::now();
            let idx = if alg == Algorithm::Sha256 { 0 } else { 1 };
            let nonce = challenge_param(&a.challenges(now, false, SRC)[idx], "nonce");
            let creds = client_creds(alg, "1001", "tsunagu.example", "pw", &nonce, Some(1));
            // Through the header text, as the server will see it.
            let header = format!(
                "Digest username=\"{}\",realm=\"{}\",nonce=\"{}\",uri=\"{}\",response=\"{}\",algorithm={},qop=auth,nc={},cnonce=\"{}\"",
                creds.username,
                creds.realm,
                creds.nonce,
                creds.uri,
                creds.response,
                alg,
                creds.nc.as_deref().unwrap(),
                creds.cnonce.as_deref().unwrap()
            );
            let parsed = DigestAuth::parse_credentials(&header).unwrap();
            assert_eq!(parsed, creds);
            assert_eq!(a.verify(now, "REGISTER", &parsed, "pw", SRC), Verdict::Ok);
            assert_eq!(a.tracked_nonces(), 1);
        }
    }

    #[test]
    fn nc_rolls_past_0000000a_to_00000010_and_beyond() {
        let mut a = auth();
        let t0 = Instant::now();
        let nonce = challenge_param(&a.challenges(t0, false, SRC)[0], "nonce");
        for nc in 1..=0x10u32 {
            let creds = client_creds(
                Algorithm::Sha256,
                "1001",
                "tsunagu.example",
                "pw",
                &nonce,
                Some(nc),
            );
            if nc == 0x0a {
                assert_eq!(creds.nc.as_deref(), Some("0000000a"));
            }
            assert_eq!(
                a.verify(
                    t0 + Duration::from_secs(u64::from(nc)),
                    "REGISTER",
                    &creds,
                    "pw",
                    SRC
                ),
                Verdict::Ok,
                "nc={nc:08x}"
            );
        }
        // Gaps are fine as long as nc increases; 0x100 would be 0 in a u8.
        let creds = client_creds(
            Algorithm::Md5,
            "1001",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(0x100),
        );
        assert_eq!(
            a.verify(t0 + Duration::from_secs(20), "REGISTER", &creds, "pw", SRC),
            Verdict::Ok
        );
    }

    #[test]
    fn replayed_or_lower_nc_is_wrong() {
        let mut a = auth();
        let now = Instant::now();
        let nonce = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        let c5 = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(5),
        );
        let c3 = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(3),
        );
        assert_eq!(a.verify(now, "REGISTER", &c5, "pw", SRC), Verdict::Ok);
        assert_eq!(a.verify(now, "REGISTER", &c5, "pw", SRC), Verdict::Wrong);
        assert_eq!(a.verify(now, "REGISTER", &c3, "pw", SRC), Verdict::Wrong);
        // nc 00000000 is never valid (counting starts at 1).
        let n2 = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        let c0 = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &n2,
            Some(0),
        );
        assert_eq!(a.verify(now, "REGISTER", &c0, "pw", SRC), Verdict::Wrong);
    }

    #[test]
    fn separate_nonces_have_separate_counters() {
        let mut a = auth();
        let now = Instant::now();
        let n1 = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        let n2 = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        assert_ne!(n1, n2);
        for n in [&n1, &n2] {
            let c = client_creds(Algorithm::Sha256, "u", "tsunagu.example", "pw", n, Some(1));
            assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Ok);
        }
    }

    #[test]
    fn expired_nonce_is_stale_and_then_forgotten() {
        let mut a = auth();
        let t0 = Instant::now();
        let nonce = challenge_param(&a.challenges(t0, false, SRC)[0], "nonce");
        let c1 = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(1),
        );
        let c2 = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(2),
        );
        assert_eq!(a.verify(t0, "REGISTER", &c1, "pw", SRC), Verdict::Ok);
        assert_eq!(a.verify(t0 + TTL, "REGISTER", &c2, "pw", SRC), Verdict::Ok);
        let late = t0 + TTL + Duration::from_millis(1);
        let c3 = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(3),
        );
        assert_eq!(a.verify(late, "REGISTER", &c3, "pw", SRC), Verdict::Stale);
        assert_eq!(a.tracked_nonces(), 0, "pruned on expiry");
        // Expired and wrong password: Wrong, not Stale.
        assert_eq!(a.verify(late, "REGISTER", &c3, "nope", SRC), Verdict::Wrong);
    }

    #[test]
    fn foreign_or_forged_nonce_is_stale_only_with_right_digest() {
        let mut a = auth();
        let now = Instant::now();
        let nonce = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        // Same realm, other secret (e.g. before a restart).
        let mut other = DigestAuth::new("tsunagu.example", [9; 32], TTL);
        let foreign = challenge_param(&other.challenges(now, false, SRC)[0], "nonce");
        let c = client_creds(
            Algorithm::Md5,
            "u",
            "tsunagu.example",
            "pw",
            &foreign,
            Some(1),
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Stale);
        assert_eq!(a.verify(now, "REGISTER", &c, "bad", SRC), Verdict::Wrong);
        // A tampered nonce (timestamp changed) fails the MAC.
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        raw[7] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(raw);
        let c = client_creds(
            Algorithm::Md5,
            "u",
            "tsunagu.example",
            "pw",
            &tampered,
            Some(1),
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Stale);
        let c = client_creds(
            Algorithm::Md5,
            "u",
            "tsunagu.example",
            "pw",
            "garbage",
            Some(1),
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Stale);
    }

    #[test]
    fn wrong_password_realm_method_or_qop_is_wrong() {
        let mut a = auth();
        let now = Instant::now();
        let nonce = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        let c = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(1),
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw2", SRC), Verdict::Wrong);
        assert_eq!(a.verify(now, "INVITE", &c, "pw", SRC), Verdict::Wrong);
        let other_realm = client_creds(Algorithm::Sha256, "u", "evil", "pw", &nonce, Some(1));
        assert_eq!(
            a.verify(now, "REGISTER", &other_realm, "pw", SRC),
            Verdict::Wrong
        );
        let auth_int = Credentials {
            qop: Some("auth-int".into()),
            ..c.clone()
        };
        assert_eq!(
            a.verify(now, "REGISTER", &auth_int, "pw", SRC),
            Verdict::Wrong
        );
        // A failed attempt does not consume the nc.
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Ok);
        // Uppercase hex from a sloppy client is accepted once.
        let mut a2 = auth();
        let n2 = challenge_param(&a2.challenges(now, false, SRC)[0], "nonce");
        let mut up = client_creds(Algorithm::Md5, "u", "tsunagu.example", "pw", &n2, Some(1));
        up.response = up.response.to_ascii_uppercase();
        assert_eq!(a2.verify(now, "REGISTER", &up, "pw", SRC), Verdict::Ok);
    }

    #[test]
    fn legacy_rfc2069_without_qop_is_good_for_one_request() {
        let mut a = auth();
        let now = Instant::now();
        let rfc2069 = |a: &mut DigestAuth| {
            let nonce = challenge_param(&a.challenges(now, false, SRC)[1], "nonce");
            let c = client_creds(Algorithm::Md5, "u", "tsunagu.example", "pw", &nonce, None);
            let header = format!(
                "Digest username=\"u\", realm=\"tsunagu.example\", nonce=\"{nonce}\", uri=\"sip:tsunagu.example\", response=\"{}\"",
                c.response
            );
            let parsed = DigestAuth::parse_credentials(&header).unwrap();
            assert_eq!(parsed.qop, None);
            parsed
        };
        let parsed = rfc2069(&mut a);
        assert_eq!(
            a.verify(now, "REGISTER", &parsed, "xx", SRC),
            Verdict::Wrong
        );
        assert_eq!(a.verify(now, "REGISTER", &parsed, "pw", SRC), Verdict::Ok);
        // The same request again (a replay, or a client reusing its nonce): a fresh challenge,
        // which only the password's owner can answer.
        let later = now + Duration::from_secs(1);
        assert_eq!(
            a.verify(later, "REGISTER", &parsed, "pw", SRC),
            Verdict::Stale
        );
        assert_eq!(
            a.verify(later, "REGISTER", &parsed, "pw", SRC),
            Verdict::Stale
        );
        // Nor can the spent nonce be turned into a qop=auth one.
        let with_qop = client_creds(
            Algorithm::Md5,
            "u",
            "tsunagu.example",
            "pw",
            &parsed.nonce,
            Some(1),
        );
        assert_eq!(
            a.verify(later, "REGISTER", &with_qop, "pw", SRC),
            Verdict::Stale
        );
        // A fresh nonce works once more.
        let parsed = rfc2069(&mut a);
        assert_eq!(a.verify(later, "REGISTER", &parsed, "pw", SRC), Verdict::Ok);
        let parsed = rfc2069(&mut a);
        assert_eq!(
            a.verify(
                now + TTL + Duration::from_secs(1),
                "REGISTER",
                &parsed,
                "pw",
                SRC
            ),
            Verdict::Stale
        );
    }

    #[test]
    fn challenges_offer_only_the_configured_algorithms() {
        let now = Instant::now();
        let mut md5 = auth().with_algorithms(&[Algorithm::Md5]);
        let c = md5.challenges(now, false, SRC);
        assert_eq!(c.len(), 1);
        assert!(c[0].contains("algorithm=MD5"), "{c:?}");
        let mut both = auth().with_algorithms(&[Algorithm::Md5, Algorithm::Sha256]);
        let c = both.challenges(now, false, SRC);
        assert!(c[0].contains("SHA-256") && c[1].contains("MD5"), "{c:?}");
        let mut default = auth().with_algorithms(&[]);
        assert_eq!(default.challenges(now, false, SRC).len(), 2);
    }

    #[test]
    fn a_nonce_is_good_only_from_the_address_it_was_sent_to() {
        let mut a = auth();
        let now = Instant::now();
        let nonce = challenge_param(&a.challenges(now, false, SRC)[0], "nonce");
        let c = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonce,
            Some(1),
        );
        // Captured on the wire and sent first from another host: refused, the nonce unused.
        let elsewhere: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            a.verify(now, "REGISTER", &c, "pw", elsewhere),
            Verdict::Stale
        );
        assert_eq!(a.tracked_nonces(), 0);
        // IPv4-mapped IPv6 is the same address.
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(192, 0, 2, 10).to_ipv6_mapped());
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", mapped), Verdict::Ok);
        // Replayed later from either: the nc was used, the other host's nonce never matches.
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Wrong);
        assert_eq!(
            a.verify(now, "REGISTER", &c, "pw", elsewhere),
            Verdict::Stale
        );
        // A wrong password from the other host is still Wrong (it counts as a failure).
        assert_eq!(
            a.verify(now, "REGISTER", &c, "bad", elsewhere),
            Verdict::Wrong
        );
        // Same for RFC 2069.
        let nonce = challenge_param(&a.challenges(now, false, SRC)[1], "nonce");
        let c = client_creds(Algorithm::Md5, "u", "tsunagu.example", "pw", &nonce, None);
        assert_eq!(
            a.verify(now, "REGISTER", &c, "pw", elsewhere),
            Verdict::Stale
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Ok);
    }

    #[test]
    fn bounded_nonce_map_evicts_oldest_and_then_says_stale() {
        let mut a = auth().with_max_tracked_nonces(2);
        let now = Instant::now();
        let nonces: Vec<String> = (0..3)
            .map(|_| challenge_param(&a.challenges(now, false, SRC)[0], "nonce"))
            .collect();
        for n in &nonces {
            let c = client_creds(Algorithm::Sha256, "u", "tsunagu.example", "pw", n, Some(1));
            assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Ok);
        }
        assert_eq!(a.tracked_nonces(), 2);
        // The evicted first nonce cannot be replayed: Stale forces a new challenge.
        let c = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonces[0],
            Some(1),
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Stale);
        let c = client_creds(
            Algorithm::Sha256,
            "u",
            "tsunagu.example",
            "pw",
            &nonces[2],
            Some(2),
        );
        assert_eq!(a.verify(now, "REGISTER", &c, "pw", SRC), Verdict::Ok);
    }

    #[test]
    fn parser_accepts_any_order_quotes_commas_and_escapes() {
        let h = r#"digest   response="abc" ,uri="sip:a@b;transport=udp", nonce=n1,REALM="a, \"quoted\" realm", username = "x\\y",  algorithm="sha-256", qop="auth", nc=0000000A, cnonce="c,c", extra=1,,"#;
        let c = DigestAuth::parse_credentials(h).unwrap();
        assert_eq!(c.username, r"x\y");
        assert_eq!(c.realm, r#"a, "quoted" realm"#);
        assert_eq!(c.nonce, "n1");
        assert_eq!(c.uri, "sip:a@b;transport=udp");
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.nc.as_deref(), Some("0000000A"));
        assert_eq!(c.cnonce.as_deref(), Some("c,c"));
        assert_eq!(c.response, "abc");
    }

    #[test]
    fn malformed_headers_are_errors() {
        let ok = r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="r""#;
        assert!(DigestAuth::parse_credentials(ok).is_ok());
        let cases: &[(&str, DigestError)] = &[
            ("", DigestError::NotDigest),
            ("Basic dXNlcjpwdw==", DigestError::NotDigest),
            ("Digest", DigestError::MissingParam("username")),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="sip:x""#,
                DigestError::MissingParam("response"),
            ),
            (
                r#"Digest username="", realm="r", nonce="n", uri="sip:x", response="r""#,
                DigestError::MissingParam("username"),
            ),
            (
                r#"Digest username="u, realm=r"#,
                DigestError::Syntax("unterminated quoted string"),
            ),
            (
                r#"Digest username="u" realm="r""#,
                DigestError::Syntax("expected `,` between parameters"),
            ),
            (
                r#"Digest username"#,
                DigestError::Syntax("expected `=` after a parameter name"),
            ),
            (
                r#"Digest =x"#,
                DigestError::Syntax("expected a parameter name"),
            ),
            (
                r#"Digest username="u", username="v", realm="r", nonce="n", uri="sip:x", response="r""#,
                DigestError::DuplicateParam("username".into()),
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", algorithm=MD5-sess"#,
                DigestError::UnsupportedAlgorithm("MD5-sess".into()),
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, nc=1, cnonce="c""#,
                DigestError::BadNonceCount("1".into()),
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, nc=0000000g, cnonce="c""#,
                DigestError::BadNonceCount("0000000g".into()),
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, cnonce="c""#,
                DigestError::MissingParam("nc"),
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, nc=00000001"#,
                DigestError::MissingParam("cnonce"),
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                DigestAuth::parse_credentials(header).as_ref(),
                Err(expected),
                "{header}"
            );
        }
        let long = format!("Digest username=\"{}\"", "a".repeat(MAX_HEADER_LEN));
        assert!(matches!(
            DigestAuth::parse_credentials(&long),
            Err(DigestError::TooLong(_))
        ));
        // Non-ASCII and control bytes never panic.
        for junk in [
            "Digest ünïcode=\"✓\", x=y",
            "Digest a=\"\\",
            "Digest \u{0}=\u{0}",
        ] {
            let _ = DigestAuth::parse_credentials(junk);
        }
    }
}
