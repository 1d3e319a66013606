//! Minimal SDP (RFC 4566) for the audio offers and answers of SIP phones and carriers.
//!
//! The B2BUA is an SBC for media: it forwards each side's SDP to the other with the connection
//! address and port replaced by ours, so everything it does not understand must pass through
//! byte for byte (apart from line endings). That is why an [`Sdp`] is its list of lines and the
//! accessors look things up on demand instead of parsing into a model.

mod sdes;

pub use sdes::{Crypto, CryptoError};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Longest piece of an offending line quoted in an error, so a hostile body cannot flood logs.
const MAX_QUOTED: usize = 80;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP is empty or does not start with v=")]
    NoVersion,
    #[error("SDP line {line} `{text}`: {reason}")]
    Malformed {
        /// 1-based, counting every line of the body as received.
        line: usize,
        text: String,
        reason: &'static str,
    },
}

/// Why an offer cannot be taken (RFC 3264 §6), for the SIP edge to answer with 488.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OfferRefusal {
    #[error("an audio stream over RTP/AVP is required")]
    NoAudio,
    /// Only RTP/SAVP, RTP/SAVPF or UDP/TLS/RTP/SAVPF audio where SRTP is not allowed (SDES
    /// keys travel in the SDP, so only over TLS): an RTP/AVP alternative is what we need.
    #[error("only secure RTP profiles are offered; plain RTP/AVP is required")]
    SecureOnly,
    /// SRTP allowed, but not as offered: DTLS-SRTP, or no `a=crypto` with a suite we speak.
    #[error("SRTP needs SDES (a=crypto) with AES_CM_128_HMAC_SHA1_80 or _32 over RTP/SAVP")]
    NoSupportedCrypto,
    #[error("multicast connection addresses are not supported")]
    Multicast,
}

/// How we take an offer's audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferedAudio {
    Rtp,
    /// SDES-SRTP with the first offered `a=crypto` we can use; [`Crypto::answer`] makes ours.
    Srtp(Crypto),
}

/// Media direction (RFC 3264 §5.1). Absent attributes mean `SendRecv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_attribute(a: &str) -> Option<Direction> {
        match a {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction an answer gives a stream offered this way (RFC 3264 §6.1).
    pub fn mirrored(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    kind: u8,
    value: String,
}

/// A parsed session description. `to_string()` (via `Display`) renders it with CRLF endings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    lines: Vec<Line>,
}

impl Sdp {
    pub fn parse(text: &str) -> Result<Sdp, SdpError> {
        let mut lines = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            // Bodies commonly end with a line break, and some stacks add a blank line at the end.
            if line.trim().is_empty() {
                continue;
            }
            let malformed = |reason| SdpError::Malformed {
                line: i + 1,
                text: quote(line),
                reason,
            };
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
                return Err(malformed("expected <letter>=<value>"));
            }
            let kind = bytes[0];
            let value = &line[2..];
            if lines.is_empty() && kind != b'v' {
                return Err(SdpError::NoVersion);
            }
            match kind {
                b'v' if value.trim() != "0" => return Err(malformed("only v=0 is defined")),
                b'o' if value.split_whitespace().count() != 6 => {
                    return Err(malformed(
                        "o= needs <user> <sess-id> <sess-version> IN <addrtype> <address>",
                    ))
                }
                b'c' => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    if f.len() != 3 || f[0] != "IN" || !matches!(f[1], "IP4" | "IP6") {
                        return Err(malformed("c= needs IN IP4|IP6 <address>"));
                    }
                }
                b'm' => {
                    let f: Vec<&str> = value.split_whitespace().collect();
                    if f.len() < 4 {
                        return Err(malformed("m= needs <media> <port> <proto> <fmt> ..."));
                    }
                    if media_port(f[1]).is_none() {
                        return Err(malformed("m= port is not a number 0-65535"));
                    }
                }
                _ => {}
            }
            lines.push(Line {
                kind,
                value: value.to_owned(),
            });
        }
        if lines.is_empty() {
            return Err(SdpError::NoVersion);
        }
        Ok(Sdp { lines })
    }

    /// Where the peer wants to receive audio. `None` when there is no audio stream, it was
    /// rejected (port 0), or the connection address is not usable (FQDN, or `0.0.0.0`, the
    /// RFC 2543 way of putting a call on hold).
    pub fn audio_addr(&self) -> Option<SocketAddr> {
        let (m, end) = self.audio_section()?;
        let port = self.audio_port()?;
        if port == 0 {
            return None;
        }
        let c = self.lines[m + 1..end]
            .iter()
            .rev()
            .find(|l| l.kind == b'c')
            .or_else(|| self.session_lines().iter().rev().find(|l| l.kind == b'c'))?;
        let ip = connection_ip(&c.value)?;
        if ip.is_unspecified() {
            return None;
        }
        Some(SocketAddr::new(ip, port))
    }

    /// Whether we can take this offer at all: a plain-RTP audio stream on a unicast address.
    /// A stream on hold (port 0, `c=0.0.0.0`) is fine; the edge answers a refusal with 488.
    pub fn check_offer(&self) -> Result<(), OfferRefusal> {
        self.accept_offer(false).map(|_| ())
    }

    /// Like [`Sdp::check_offer`], but where `allow_srtp` (the SIP edge allows it over TLS
    /// only: SDES keys are in the clear in the SDP), a secure-only offer is taken as
    /// SDES-SRTP if one of its `a=crypto` lines has a suite we speak, the first such in the
    /// offerer's order of preference (RFC 4568). Plain RTP, when offered as well, is still
    /// what we take.
    pub fn accept_offer(&self, allow_srtp: bool) -> Result<OfferedAudio, OfferRefusal> {
        let Some((m, end)) = self.audio_section() else {
            return Err(OfferRefusal::NoAudio);
        };
        let proto = self.lines[m].value.split_whitespace().nth(2).unwrap_or("");
        let mut offered = OfferedAudio::Rtp;
        if !is_plain_rtp(proto) {
            if !proto.contains("SAVP") {
                return Err(OfferRefusal::NoAudio);
            }
            if !allow_srtp {
                return Err(OfferRefusal::SecureOnly);
            }
            let crypto = is_sdes_srtp(proto)
                .then(|| self.audio_crypto().into_iter().next())
                .flatten();
            offered = OfferedAudio::Srtp(crypto.ok_or(OfferRefusal::NoSupportedCrypto)?);
        }
        let c = self.lines[m + 1..end]
            .iter()
            .rev()
            .find(|l| l.kind == b'c')
            .or_else(|| self.session_lines().iter().rev().find(|l| l.kind == b'c'));
        if c.and_then(|c| connection_ip(&c.value))
            .is_some_and(|ip| ip.is_multicast())
        {
            return Err(OfferRefusal::Multicast);
        }
        Ok(offered)
    }

    /// The audio stream's `a=crypto` lines we can use, in the offerer's order; the others
    /// (unknown suites, session parameters, several keys) are left out.
    pub fn audio_crypto(&self) -> Vec<Crypto> {
        let Some((m, end)) = self.audio_section() else {
            return Vec::new();
        };
        self.lines[m + 1..end]
            .iter()
            .filter(|l| l.kind == b'a')
            .filter_map(|l| l.value.strip_prefix("crypto:"))
            .filter_map(|v| Crypto::parse(v).ok())
            .collect()
    }

    /// For the plain side of an SRTP call: the audio stream becomes RTP/AVP (or RTP/AVPF),
    /// and its `a=crypto` lines go, so that the caller's key is not passed on.
    pub fn to_plain_rtp(&mut self) {
        self.set_audio_security(None);
    }

    /// For the SRTP side: the audio stream becomes RTP/SAVP (or RTP/SAVPF), with `crypto`
    /// (ours, from [`Crypto::answer`]) as its only `a=crypto` line.
    pub fn to_srtp(&mut self, crypto: &Crypto) {
        self.set_audio_security(Some(crypto));
    }

    fn set_audio_security(&mut self, crypto: Option<&Crypto>) {
        let Some((m, end)) = self.audio_section() else {
            return;
        };
        let mut f: Vec<String> = self.lines[m]
            .value
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let proto = match (crypto.is_some(), f[2].as_str()) {
            (true, "RTP/AVP") => "RTP/SAVP",
            (true, "RTP/AVPF") => "RTP/SAVPF",
            (false, "RTP/SAVP") => "RTP/AVP",
            (false, "RTP/SAVPF") => "RTP/AVPF",
            (_, other) => other,
        };
        f[2] = proto.to_owned();
        self.lines[m].value = f.join(" ");
        let mut i = m + 1;
        let mut end = end;
        while i < end {
            if self.lines[i].kind == b'a' && self.lines[i].value.starts_with("crypto:") {
                self.lines.remove(i);
                end -= 1;
            } else {
                i += 1;
            }
        }
        if let Some(crypto) = crypto {
            self.lines.insert(
                m + 1,
                Line {
                    kind: b'a',
                    value: crypto.to_string(),
                },
            );
        }
    }

    /// The audio formats in the order of the m= line (preference order for the offerer).
    pub fn audio_payload_types(&self) -> Vec<u8> {
        match self.audio_section() {
            Some((m, _)) => self.lines[m]
                .value
                .split_whitespace()
                .skip(3)
                .filter_map(|f| f.parse().ok())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The payload type of RFC 4733 events at 8 kHz, if the audio stream offers them.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        let (m, end) = self.audio_section()?;
        let offered = self.audio_payload_types();
        self.lines[m + 1..end]
            .iter()
            .filter(|l| l.kind == b'a')
            .filter_map(|l| l.value.strip_prefix("rtpmap:"))
            .find_map(|rtpmap| {
                let (pt, encoding) = rtpmap.split_once(char::is_whitespace)?;
                let pt: u8 = pt.parse().ok()?;
                let mut parts = encoding.trim().split('/');
                let name = parts.next()?;
                let clock = parts.next()?;
                (name.eq_ignore_ascii_case("telephone-event")
                    && clock == "8000"
                    && offered.contains(&pt))
                .then_some(pt)
            })
    }

    pub fn direction(&self) -> Direction {
        let from = |lines: &[Line]| {
            lines
                .iter()
                .filter(|l| l.kind == b'a')
                .find_map(|l| Direction::from_attribute(l.value.trim()))
        };
        self.audio_section()
            .and_then(|(m, end)| from(&self.lines[m + 1..end]))
            .or_else(|| from(self.session_lines()))
            .unwrap_or_default()
    }

    /// Sets the audio direction at media level, removing any other direction attribute of the
    /// session or the audio stream (music on hold answers with `sendonly`, for instance).
    pub fn set_direction(&mut self, direction: Direction) {
        let Some((m, end)) = self.audio_section() else {
            return;
        };
        let session_end = self.session_end();
        let mut kept = Vec::with_capacity(self.lines.len() + 1);
        for (i, line) in self.lines.drain(..).enumerate() {
            let relevant = i < session_end || (i > m && i < end);
            if relevant
                && line.kind == b'a'
                && Direction::from_attribute(line.value.trim()).is_some()
            {
                continue;
            }
            kept.push(line);
            if i == m {
                // Placed right after m= so it stays in the audio section whatever follows.
                kept.push(Line {
                    kind: b'a',
                    value: direction.as_str().to_owned(),
                });
            }
        }
        self.lines = kept;
    }

    /// Makes the description point at our relay: the origin address, the c= lines that apply
    /// to audio and the audio port become ours; codecs, direction, ptime and the rest are kept.
    ///
    /// Things the peer's address leaks through or that would let the other side bypass the
    /// relay are changed too: `a=rtcp` (RFC 3605) now names our RTCP port, and ICE attributes
    /// are removed, because we do not answer connectivity checks on behalf of the peer.
    /// A c= of `0.0.0.0` (legacy hold) and a rejected stream (port 0) are left as they are so
    /// that their meaning reaches the other side.
    pub fn rewrite_audio(&mut self, addr: SocketAddr) {
        let (addrtype, ip) = match addr.ip() {
            IpAddr::V4(v4) => ("IP4", v4.to_string()),
            IpAddr::V6(v6) => ("IP6", v6.to_string()),
        };
        let audio = self.audio_section();
        let session_end = self.session_end();
        let in_audio = |i: usize| audio.is_some_and(|(m, end)| i > m && i < end);

        let mut audio_has_c = false;
        let mut session_has_c = false;
        let mut kept = Vec::with_capacity(self.lines.len() + 1);
        for (i, mut line) in std::mem::take(&mut self.lines).into_iter().enumerate() {
            let session = i < session_end;
            match line.kind {
                b'o' if session => {
                    let mut f: Vec<&str> = line.value.split_whitespace().collect();
                    if f.len() == 6 {
                        f[4] = addrtype;
                        f[5] = &ip;
                        line.value = f.join(" ");
                    }
                }
                b'c' if session || in_audio(i) => {
                    if session {
                        session_has_c = true;
                    } else {
                        audio_has_c = true;
                    }
                    if !connection_ip(&line.value).is_some_and(|ip| ip.is_unspecified()) {
                        line.value = format!("IN {addrtype} {ip}");
                    }
                }
                b'm' if audio.is_some_and(|(m, _)| m == i) => {
                    let mut f: Vec<String> =
                        line.value.split_whitespace().map(str::to_owned).collect();
                    if media_port(&f[1]).is_some_and(|p| p != 0) {
                        f[1] = addr.port().to_string();
                        line.value = f.join(" ");
                    }
                }
                // Every other stream (video, a second or secure audio line) is not relayed: it
                // keeps its place, disabled (RFC 3264 §6, §8.2), so that the peers cannot send
                // it past us and the answer still has one m= line per offered one.
                b'm' => {
                    let mut f: Vec<String> =
                        line.value.split_whitespace().map(str::to_owned).collect();
                    f[1] = "0".into();
                    line.value = f.join(" ");
                }
                b'a' if session || in_audio(i) => {
                    let name = line.value.split(':').next().unwrap_or_default();
                    if is_ice_attribute(name) {
                        continue;
                    }
                    if name == "rtcp" && in_audio(i) {
                        let has_addr = line.value.split_whitespace().count() > 1;
                        let port = addr.port().wrapping_add(1);
                        line.value = if has_addr {
                            format!("rtcp:{port} IN {addrtype} {ip}")
                        } else {
                            format!("rtcp:{port}")
                        };
                    }
                }
                _ => {}
            }
            kept.push(line);
        }
        self.lines = kept;

        // A description without any c= for audio is invalid, but we must still say where to
        // send, and the media level is where it cannot affect other streams.
        if let Some((m, _)) = audio {
            if !audio_has_c && !session_has_c {
                self.lines.insert(
                    m + 1,
                    Line {
                        kind: b'c',
                        value: format!("IN {addrtype} {ip}"),
                    },
                );
            }
        }
    }

    /// Index of the first `m=audio` line and the index one past its section.
    /// The first G.711 law among the audio formats: what a prompt must be encoded in.
    pub fn g711_law(&self) -> Option<crate::g711::Law> {
        self.audio_payload_types()
            .into_iter()
            .find_map(crate::g711::Law::from_payload_type)
    }

    /// Keeps only the audio formats in `keep` (their rtpmap and fmtp lines too), so that the
    /// peer can only choose what the other leg already uses.
    pub fn restrict_audio(&mut self, keep: &[u8]) {
        let Some((m, end)) = self.audio_section() else {
            return;
        };
        let f: Vec<&str> = self.lines[m].value.split_whitespace().collect();
        if f.len() < 4 {
            return;
        }
        let formats: Vec<&str> = f[3..]
            .iter()
            .copied()
            .filter(|pt| pt.parse::<u8>().is_ok_and(|pt| keep.contains(&pt)))
            .collect();
        if formats.is_empty() {
            return;
        }
        let value = format!("{} {} {} {}", f[0], f[1], f[2], formats.join(" "));
        self.lines[m].value = value;
        let mut i = m + 1;
        let mut end = end;
        while i < end {
            let l = &self.lines[i];
            let pt = l
                .value
                .strip_prefix("rtpmap:")
                .or_else(|| l.value.strip_prefix("fmtp:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|pt| pt.parse::<u8>().ok());
            if l.kind == b'a' && pt.is_some_and(|pt| !keep.contains(&pt)) {
                self.lines.remove(i);
                end -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// Our own answer to `offer` for a leg we answer ourselves (to play it a prompt), as
    /// RFC 3264 §6 has it: one m= line per offered one, in order; the audio stream with one
    /// G.711 law and, when offered, RFC 4733 events with the offer's payload type, its
    /// direction mirrored (`sendonly` → `recvonly`, `inactive` stays); every other stream
    /// rejected with port 0.
    pub fn g711_answer_to(offer: &Sdp, addr: SocketAddr, law: crate::g711::Law) -> Sdp {
        let (addrtype, ip) = match addr.ip() {
            IpAddr::V4(v4) => ("IP4", v4.to_string()),
            IpAddr::V6(v6) => ("IP6", v6.to_string()),
        };
        let pt = law.payload_type();
        let name = match law {
            crate::g711::Law::Ulaw => "PCMU",
            crate::g711::Law::Alaw => "PCMA",
        };
        let te = offer.telephone_event_pt();
        let audio = offer.audio_section().map(|(m, _)| m);
        let mut text = format!(
            "v=0\r\no=tsunagu {id} {id} IN {addrtype} {ip}\r\ns=tsunagu\r\nc=IN {addrtype} {ip}\r\nt=0 0\r\n",
            id = addr.port(),
        );
        let offered: Vec<(usize, &Line)> = offer
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.kind == b'm')
            .collect();
        for (i, m) in offered {
            if Some(i) != audio {
                let f: Vec<&str> = m.value.split_whitespace().collect();
                text.push_str(&format!("m={} 0 {} {}\r\n", f[0], f[2], f[3]));
                continue;
            }
            text.push_str(&format!("m=audio {} RTP/AVP {pt}", addr.port()));
            if let Some(te) = te {
                text.push_str(&format!(" {te}"));
            }
            text.push_str(&format!("\r\na=rtpmap:{pt} {name}/8000\r\n"));
            if let Some(te) = te {
                text.push_str(&format!(
                    "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-15\r\n"
                ));
            }
            text.push_str(&format!(
                "a=ptime:20\r\na={}\r\n",
                offer.direction().mirrored().as_str()
            ));
        }
        // Built from well-formed parts: parsing cannot fail, but an empty description is the
        // harmless answer if it ever did.
        Sdp::parse(&text).unwrap_or(Sdp { lines: Vec::new() })
    }

    /// One G.711 audio stream at `addr` (and RFC 4733 events as `telephone_event_pt`): the
    /// browser phone's plain side, where the description is ours on both ends.
    pub fn g711_answer(
        addr: SocketAddr,
        law: crate::g711::Law,
        telephone_event_pt: Option<u8>,
    ) -> Sdp {
        let offer = match telephone_event_pt {
            Some(te) => format!("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP {pt} {te}\r\na=rtpmap:{te} telephone-event/8000\r\n", pt = law.payload_type()),
            None => format!("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP {}\r\n", law.payload_type()),
        };
        match Sdp::parse(&offer) {
            Ok(o) => Sdp::g711_answer_to(&o, addr, law),
            Err(_) => Sdp { lines: Vec::new() },
        }
    }

    /// Our offer for a leg we place ourselves, with no caller's offer to pass on (a call we
    /// originate): both G.711 laws and RFC 4733 events (payload type 101).
    pub fn g711_offer(addr: SocketAddr) -> Sdp {
        let (addrtype, ip) = match addr.ip() {
            IpAddr::V4(v4) => ("IP4", v4.to_string()),
            IpAddr::V6(v6) => ("IP6", v6.to_string()),
        };
        let text = format!(
            "v=0\r\no=tsunagu {id} {id} IN {addrtype} {ip}\r\ns=tsunagu\r\nc=IN {addrtype} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
            id = addr.port(),
            port = addr.port(),
        );
        Sdp::parse(&text).unwrap_or(Sdp { lines: Vec::new() })
    }

    /// The audio stream we relay: the first `m=audio` over plain RTP (an offer may list a
    /// secure line before its plain alternative), else the first `m=audio` at all.
    fn audio_section(&self) -> Option<(usize, usize)> {
        let audio = |l: &Line| l.kind == b'm' && l.value.split_whitespace().next() == Some("audio");
        let plain =
            |l: &Line| audio(l) && is_plain_rtp(l.value.split_whitespace().nth(2).unwrap_or(""));
        let m = self
            .lines
            .iter()
            .position(plain)
            .or_else(|| self.lines.iter().position(audio))?;
        let end = self.lines[m + 1..]
            .iter()
            .position(|l| l.kind == b'm')
            .map_or(self.lines.len(), |p| m + 1 + p);
        Some((m, end))
    }

    fn audio_port(&self) -> Option<u16> {
        let (m, _) = self.audio_section()?;
        media_port(self.lines[m].value.split_whitespace().nth(1)?)
    }

    fn session_end(&self) -> usize {
        self.lines
            .iter()
            .position(|l| l.kind == b'm')
            .unwrap_or(self.lines.len())
    }

    fn session_lines(&self) -> &[Line] {
        &self.lines[..self.session_end()]
    }
}

impl FromStr for Sdp {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sdp::parse(s)
    }
}

impl fmt::Display for Sdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            write!(f, "{}={}\r\n", char::from(line.kind), line.value)?;
        }
        Ok(())
    }
}

/// `port` or `port/count` of an m= line.
fn media_port(field: &str) -> Option<u16> {
    field.split('/').next()?.parse().ok()
}

/// The address of a c= value, without the multicast `/ttl/count` suffix; `None` for names.
fn connection_ip(value: &str) -> Option<IpAddr> {
    let addr = value.split_whitespace().nth(2)?;
    addr.split('/').next()?.parse().ok()
}

/// The profiles that carry SDES-keyed SRTP.
fn is_sdes_srtp(proto: &str) -> bool {
    matches!(proto, "RTP/SAVP" | "RTP/SAVPF")
}

/// RTP without SRTP: the profiles the relay speaks.
fn is_plain_rtp(proto: &str) -> bool {
    matches!(proto, "RTP/AVP" | "RTP/AVPF")
}

fn is_ice_attribute(name: &str) -> bool {
    matches!(
        name,
        "candidate"
            | "remote-candidates"
            | "end-of-candidates"
            | "ice-ufrag"
            | "ice-pwd"
            | "ice-options"
            | "ice-lite"
            | "ice-mismatch"
            | "ice-pacing"
    )
}

fn quote(line: &str) -> String {
    match line.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDIA_LEVEL_C: &str = "v=0\r\n\
        o=carrier 1 7 IN IP4 203.0.113.9\r\n\
        s=call\r\n\
        c=IN IP4 203.0.113.9\r\n\
        t=0 0\r\n\
        a=sendonly\r\n\
        m=audio 40000 RTP/AVP 0 101\r\n\
        c=IN IP4 203.0.113.10\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=rtcp:40001 IN IP4 203.0.113.10\r\n\
        a=ice-ufrag:abcd\r\n\
        a=candidate:1 1 UDP 2130706431 203.0.113.10 40000 typ host\r\n\
        a=recvonly\r\n\
        a=ptime:20\r\n\
        m=video 0 RTP/AVP 31\r\n\
        a=sendrecv\r\n";

    #[test]
    fn media_level_overrides_session_level() {
        let sdp = Sdp::parse(MEDIA_LEVEL_C).unwrap();
        assert_eq!(
            sdp.audio_addr(),
            Some("203.0.113.10:40000".parse().unwrap())
        );
        assert_eq!(sdp.direction(), Direction::RecvOnly);
        assert_eq!(sdp.audio_payload_types(), vec![0, 101]);
        assert_eq!(sdp.telephone_event_pt(), Some(101));
    }

    #[test]
    fn rewrite_hides_the_peer() {
        let mut sdp = Sdp::parse(MEDIA_LEVEL_C).unwrap();
        sdp.rewrite_audio("198.51.100.1:20000".parse().unwrap());
        let text = sdp.to_string();
        assert!(!text.contains("203.0.113"), "{text}");
        assert!(text.contains("o=carrier 1 7 IN IP4 198.51.100.1\r\n"));
        assert!(text.contains("a=rtcp:20001 IN IP4 198.51.100.1\r\n"));
        assert!(text.contains("m=video 0 RTP/AVP 31\r\n"));
        assert!(!text.contains("ice-ufrag"));
        assert_eq!(
            sdp.audio_addr(),
            Some("198.51.100.1:20000".parse().unwrap())
        );
        assert_eq!(sdp.direction(), Direction::RecvOnly);
    }

    #[test]
    fn direction_defaults_and_session_level() {
        let base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";
        let audio = "m=audio 4000 RTP/AVP 0\r\n";
        let parse = |s: String| Sdp::parse(&s).unwrap().direction();
        assert_eq!(parse(format!("{base}{audio}")), Direction::SendRecv);
        assert_eq!(
            parse(format!("{base}a=inactive\r\n{audio}")),
            Direction::Inactive
        );
        assert_eq!(
            parse(format!("{base}a=inactive\r\n{audio}a=sendonly\r\n")),
            Direction::SendOnly
        );
        assert_eq!(
            parse(format!("{base}{audio}a=recvonly\r\n")),
            Direction::RecvOnly
        );
    }

    #[test]
    fn set_direction_replaces_all_relevant_attributes() {
        let mut sdp = Sdp::parse(MEDIA_LEVEL_C).unwrap();
        sdp.set_direction(Direction::Inactive);
        let text = sdp.to_string();
        assert_eq!(sdp.direction(), Direction::Inactive);
        assert!(!text.contains("a=sendonly") && !text.contains("a=recvonly"));
        // The video section's own attribute is not ours to touch.
        assert!(text.contains("a=sendrecv"));
    }

    #[test]
    fn hold_and_rejected_streams_survive_rewrite() {
        let hold = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
                    m=audio 4000 RTP/AVP 0\r\n";
        let mut sdp = Sdp::parse(hold).unwrap();
        assert_eq!(sdp.audio_addr(), None);
        sdp.rewrite_audio("192.0.2.1:10000".parse().unwrap());
        assert!(sdp.to_string().contains("c=IN IP4 0.0.0.0\r\n"));
        assert!(sdp.to_string().contains("m=audio 10000 "));

        let rejected = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
                        m=audio 0 RTP/AVP 0\r\n";
        let mut sdp = Sdp::parse(rejected).unwrap();
        assert_eq!(sdp.audio_addr(), None);
        sdp.rewrite_audio("192.0.2.1:10000".parse().unwrap());
        assert!(sdp.to_string().contains("m=audio 0 RTP/AVP 0\r\n"));
    }

    #[test]
    fn rewrite_to_ipv6_and_missing_c_line() {
        let no_c = "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";
        let mut sdp = Sdp::parse(no_c).unwrap();
        assert_eq!(sdp.audio_addr(), None);
        sdp.rewrite_audio("[2001:db8::1]:10000".parse().unwrap());
        assert_eq!(
            sdp.to_string(),
            "v=0\r\no=- 1 2 IN IP6 2001:db8::1\r\ns=-\r\nt=0 0\r\n\
             m=audio 10000 RTP/AVP 8\r\nc=IN IP6 2001:db8::1\r\n"
        );
        assert_eq!(
            sdp.audio_addr(),
            Some("[2001:db8::1]:10000".parse().unwrap())
        );
    }

    #[test]
    fn no_audio() {
        let sdp = Sdp::parse("v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n").unwrap();
        assert_eq!(sdp.audio_addr(), None);
        assert!(sdp.audio_payload_types().is_empty());
        assert_eq!(sdp.telephone_event_pt(), None);
        assert_eq!(sdp.direction(), Direction::SendRecv);
    }

    #[test]
    fn malformed_lines_are_named() {
        let err = |s: &str| Sdp::parse(s).unwrap_err();
        assert_eq!(err(""), SdpError::NoVersion);
        assert_eq!(err("s=-\r\nv=0\r\n"), SdpError::NoVersion);
        match err("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ngarbage\r\n") {
            SdpError::Malformed { line, text, .. } => {
                assert_eq!((line, text.as_str()), (3, "garbage"))
            }
            e => panic!("{e}"),
        }
        let e = err("v=0\r\nm=audio 70000 RTP/AVP 0\r\n");
        assert!(
            e.to_string().contains("line 2 `m=audio 70000 RTP/AVP 0`"),
            "{e}"
        );
        assert!(matches!(
            err("v=0\r\nc=IN IP4\r\n"),
            SdpError::Malformed { line: 2, .. }
        ));
        assert!(matches!(
            err("v=0\r\no=too few\r\n"),
            SdpError::Malformed { line: 2, .. }
        ));
        assert!(matches!(
            err("v=1\r\n"),
            SdpError::Malformed { line: 1, .. }
        ));
        assert!(matches!(
            err("v=0\r\nM=audio 1 RTP/AVP 0\r\n"),
            SdpError::Malformed { line: 2, .. }
        ));
        let long = format!("v=0\r\n{}\r\n", "x".repeat(1000));
        assert!(err(&long).to_string().len() < 200);
    }
}
