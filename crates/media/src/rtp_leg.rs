//! One leg's RTP as the relay and the bridges handle it: symmetric-RTP latching, RFC 4733
//! digits, loss counting, and the numbering of the stream the leg is sent. [`MediaLeg`] holds
//! all of it with the leg's sockets, so a leg moves between the relay and a bridge without
//! its phone noticing: same SSRC, sequence numbers and timestamps continuing. It also holds
//! the leg's place in a recording (its source id and channel), so a recording that moves with
//! the call goes on placing the leg's audio where it was. An SRTP leg's crypto contexts are
//! part of it too: wherever the leg is, what it sends is opened with its key as it arrives and
//! what it is sent is sealed with ours as it goes, and everything in between is plain RTP.

use crate::g711::Law;
use crate::player::{Player, FRAME};
use crate::recorder::{Channel, Source};
use crate::relay::LegMedia;
use crate::rtp_pool::RtpEndpoint;
use crate::srtp::{SrtpContext, SrtpError, SrtpKeys};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

/// A latched source silent this long may be replaced by a new one: a phone behind NAT whose
/// mapping changed must not lose its audio for the rest of the call, while a stranger cannot
/// take over a stream that is flowing.
const RELATCH_AFTER: Duration = Duration::from_secs(2);
/// How many recent (timestamp, event) pairs to remember: end packets of an event can arrive
/// after the next event started when the network reorders.
const RECENT_EVENTS: usize = 4;

/// A leg's media, with what was learned from it and the state of the stream it is sent.
/// Dropping it closes the sockets and returns the ports to the pool.
#[derive(Debug)]
pub struct MediaLeg {
    pub(crate) endpoint: RtpEndpoint,
    pub(crate) state: LegState,
    pub(crate) output: Output,
    /// How the leg's audio is recorded: the agent side unless told otherwise.
    pub(crate) source: Source,
}

/// Source ids of recordings: unique in the process, so legs from anywhere can share one.
static NEXT_SOURCE: AtomicU64 = AtomicU64::new(1);

impl MediaLeg {
    pub fn new(media: LegMedia) -> MediaLeg {
        MediaLeg {
            state: LegState {
                srtp: media.srtp.as_ref().map(|keys| Box::new(LegSrtp::new(keys))),
                ..LegState::new(media.remote, media.telephone_event_pt, Instant::now())
            },
            endpoint: media.endpoint,
            output: Output::new(),
            source: Source {
                id: NEXT_SOURCE.fetch_add(1, Relaxed),
                channel: Channel::Right,
            },
        }
    }

    /// The channel of a recording the leg's audio goes to, wherever the leg is: set the
    /// external party's leg to [`Channel::Left`] before adding it to a recorded bridge.
    /// [`crate::RelayHandle::record`] sets both legs' channels from its `left_leg`.
    pub fn set_recording_channel(&mut self, channel: Channel) {
        self.source.channel = channel;
    }

    pub fn recording_channel(&self) -> Channel {
        self.source.channel
    }

    /// Our local RTP address, as written into SDP.
    pub fn rtp_addr(&self) -> SocketAddr {
        self.endpoint.rtp_addr()
    }

    /// Where the leg's RTP goes now: the latched source, or the signalled address.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.state.rtp.addr
    }

    pub fn is_srtp(&self) -> bool {
        self.state.srtp.is_some()
    }
}

/// An SRTP leg's two directions.
#[derive(Debug)]
pub(crate) struct LegSrtp {
    /// What the leg sends us, under its key.
    inbound: SrtpContext,
    /// What we send it, under ours.
    outbound: SrtpContext,
}

impl LegSrtp {
    fn new(keys: &SrtpKeys) -> LegSrtp {
        LegSrtp {
            inbound: SrtpContext::new(&keys.remote),
            outbound: SrtpContext::new(&keys.local),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rtp,
    Rtcp,
}

/// Where one of a leg's streams goes, and whether that was learned from the leg's packets.
#[derive(Debug)]
pub(crate) struct Latch {
    pub addr: Option<SocketAddr>,
    latched: bool,
    pub last_seen: Instant,
}

impl Latch {
    pub fn new(addr: Option<SocketAddr>, now: Instant) -> Latch {
        Latch {
            addr,
            latched: false,
            last_seen: now,
        }
    }

    /// Whether a valid packet from `src` belongs to this leg; latches on it if it may.
    pub fn accept(&mut self, src: SocketAddr, now: Instant) -> bool {
        if self.latched && self.addr != Some(src) && now - self.last_seen < RELATCH_AFTER {
            return false;
        }
        self.addr = Some(src);
        self.latched = true;
        self.last_seen = now;
        true
    }
}

#[derive(Debug)]
pub(crate) struct LegState {
    /// The address the leg's SDP gave, as opposed to the one latched.
    signalled: Option<SocketAddr>,
    pub rtp: Latch,
    /// Empty until RTCP arrives from the leg; until then RTCP goes to the RTP port + 1.
    pub rtcp: Latch,
    pub telephone_event_pt: Option<u8>,
    recent_events: [Option<(u32, u8)>; RECENT_EVENTS],
    next_event_slot: usize,
    pub loss: crate::rtp_loss::LossCounter,
    /// None for a plain leg; boxed so that a plain leg's state stays small.
    pub srtp: Option<Box<LegSrtp>>,
}

impl LegState {
    pub fn new(
        remote: Option<SocketAddr>,
        telephone_event_pt: Option<u8>,
        now: Instant,
    ) -> LegState {
        LegState {
            signalled: remote,
            rtp: Latch::new(remote, now),
            rtcp: Latch::new(None, now),
            telephone_event_pt,
            recent_events: [None; RECENT_EVENTS],
            next_event_slot: 0,
            loss: Default::default(),
            srtp: None,
        }
    }

    /// What the leg sent, opened in place: an SRTP leg's packet authenticated and decrypted
    /// (before anything else looks at it, so that forged packets cannot latch), a plain leg's
    /// left as it is. The plain packet's length.
    #[inline]
    pub fn open(&mut self, packet: &mut [u8], kind: Kind) -> Result<usize, SrtpError> {
        match (&mut self.srtp, kind) {
            (None, _) => Ok(packet.len()),
            (Some(s), Kind::Rtp) => s.inbound.unprotect_rtp(packet),
            (Some(s), Kind::Rtcp) => s.inbound.unprotect_rtcp(packet),
        }
    }

    /// What we send the leg, `buf[..len]`, sealed in place for an SRTP leg (`buf` needs
    /// [`crate::srtp::MAX_OVERHEAD`] bytes of room after it). The length to send.
    #[inline]
    pub fn seal(&mut self, buf: &mut [u8], len: usize, kind: Kind) -> Result<usize, SrtpError> {
        match (&mut self.srtp, kind) {
            (None, _) => Ok(len),
            (Some(s), Kind::Rtp) => s.outbound.protect_rtp(buf, len),
            (Some(s), Kind::Rtcp) => s.outbound.protect_rtcp(buf, len),
        }
    }

    pub fn set_remote(&mut self, addr: Option<SocketAddr>) {
        // Session refreshes and hold re-INVITEs repeat the address the phone gave before. A
        // phone behind NAT gives its private one, and on hold it may send nothing we could
        // latch on again, so the address learned from its packets must be kept.
        if addr == self.signalled {
            return;
        }
        let now = Instant::now();
        self.signalled = addr;
        self.rtp = Latch::new(addr, now);
        self.rtcp = Latch::new(None, now);
    }

    pub fn destination(&self, kind: Kind) -> Option<SocketAddr> {
        match kind {
            Kind::Rtp => self.rtp.addr,
            Kind::Rtcp => self.rtcp.addr.or_else(|| {
                self.rtp.addr.map(|mut a| {
                    a.set_port(a.port().wrapping_add(1));
                    a
                })
            }),
        }
    }

    /// True the first time this event (identified by its RTP timestamp) is seen.
    fn new_event(&mut self, timestamp: u32, event: u8) -> bool {
        let key = Some((timestamp, event));
        if self.recent_events.contains(&key) {
            return false;
        }
        self.recent_events[self.next_event_slot] = key;
        self.next_event_slot = (self.next_event_slot + 1) % RECENT_EVENTS;
        true
    }

    /// Validates and latches one datagram and counts its loss: false if it is not the leg's.
    pub fn accept(&mut self, packet: &[u8], src: SocketAddr, kind: Kind, now: Instant) -> Accept {
        let valid = match kind {
            Kind::Rtp => rtp_payload(packet).is_some(),
            Kind::Rtcp => is_rtcp(packet),
        };
        if !valid {
            return Accept::Garbage;
        }
        let latch = match kind {
            Kind::Rtp => &mut self.rtp,
            Kind::Rtcp => &mut self.rtcp,
        };
        if !latch.accept(src, now) {
            return Accept::Foreign;
        }
        if kind == Kind::Rtp {
            // The header is there: rtp_payload accepted the packet.
            let seq = u16::from_be_bytes([packet[2], packet[3]]);
            let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
            self.loss.on_packet(ssrc, seq);
        }
        Accept::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    Ok,
    /// Not RTP (or RTCP) version 2.
    Garbage,
    /// From another source than the latched one.
    Foreign,
}

/// The RTP stream one leg receives, as far as we take part in it.
#[derive(Debug)]
pub(crate) struct Output {
    pub ssrc: u32,
    /// Sequence number and timestamp of the last packet we made, rewrote or passed on.
    pub seq: u16,
    pub ts: u32,
    pub last_sent: Option<Instant>,
    pub player: Option<Playing>,
    /// Set once we have made packets of this stream: forwarded ones are renumbered from then
    /// on.
    pub rewrite: bool,
    /// The forwarded source and the offsets that continue our numbering, for its packets.
    pub offsets: Option<(u32, u16, u32)>,
}

#[derive(Debug)]
pub(crate) struct Playing {
    pub player: Player,
    pub law: Law,
    pub started: Instant,
    pub frames: u64,
}

impl Output {
    pub fn new() -> Output {
        Output {
            ssrc: rand_u32(),
            seq: rand_u32() as u16,
            ts: rand_u32(),
            last_sent: None,
            player: None,
            rewrite: false,
            offsets: None,
        }
    }

    /// The timestamp that continues our stream now: at least one packet on from the last.
    pub fn next_ts(&self, now: Instant) -> u32 {
        let elapsed = self
            .last_sent
            .map_or(0, |t| (now - t).as_micros() as u64 * 8 / 1000);
        self.ts.wrapping_add(elapsed.max(FRAME as u64) as u32)
    }

    /// Notes a packet passed on unchanged: its SSRC and numbering become the stream's, so a
    /// bridge taking the leg over continues the stream the phone already hears.
    pub fn passed_on(&mut self, packet: &[u8], now: Instant) {
        self.ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        self.seq = u16::from_be_bytes([packet[2], packet[3]]);
        self.ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        self.last_sent = Some(now);
    }

    /// Renumbers a forwarded RTP packet into our stream.
    pub fn rewrite(&mut self, packet: &mut [u8], now: Instant) {
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let (seq_off, ts_off) = match self.offsets {
            Some((src, seq_off, ts_off)) if src == ssrc => (seq_off, ts_off),
            _ => {
                let seq_off = self.seq.wrapping_add(1).wrapping_sub(seq);
                let ts_off = self.next_ts(now).wrapping_sub(ts);
                self.offsets = Some((ssrc, seq_off, ts_off));
                // A new talkspurt for the phone's jitter buffer.
                packet[1] |= 0x80;
                (seq_off, ts_off)
            }
        };
        let seq = seq.wrapping_add(seq_off);
        let ts = ts.wrapping_add(ts_off);
        packet[2..4].copy_from_slice(&seq.to_be_bytes());
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.seq = seq;
        self.ts = ts;
        self.last_sent = Some(now);
    }

    /// Writes the 12-byte header of the next packet we make: one frame on if we sent the
    /// previous frame too (`continuing`), otherwise as far on as time passed, marked as a new
    /// talkspurt. Forwarded packets are renumbered into this stream from then on.
    pub fn stamp(&mut self, buf: &mut [u8], pt: u8, continuing: bool, now: Instant) {
        let ts = if continuing {
            self.ts.wrapping_add(FRAME as u32)
        } else {
            self.next_ts(now)
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = ts;
        self.last_sent = Some(now);
        self.rewrite = true;
        self.offsets = None;
        buf[0] = 0x80;
        buf[1] = pt | if continuing { 0 } else { 0x80 };
        buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
        buf[4..8].copy_from_slice(&ts.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
    }
}

/// Random enough for SSRCs and initial sequence numbers (RFC 3550 §5.1 asks for random starts),
/// without a dependency: the std hasher is seeded randomly per process and per instance.
pub(crate) fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() as u32
}

/// The payload of an RTP version 2 packet whose header fits in it (RFC 3550 §5.1).
pub(crate) fn rtp_payload(packet: &[u8]) -> Option<&[u8]> {
    let first = *packet.first()?;
    if packet.len() < 12 || first >> 6 != 2 {
        return None;
    }
    let mut start = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let ext = packet.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let padding = if first & 0x20 != 0 {
        usize::from(*packet.last()?)
    } else {
        0
    };
    packet.get(start..packet.len().checked_sub(padding)?)
}

/// RTCP version 2 with a packet type in the RTCP range (RFC 5761 §4).
pub(crate) fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 8 && packet[0] >> 6 == 2 && (192..=223).contains(&packet[1])
}

/// The digit of an RFC 4733 event packet from `leg`, the first time that event is seen.
pub(crate) fn dtmf_digit(leg: &mut LegState, packet: &[u8]) -> Option<char> {
    let pt = leg.telephone_event_pt?;
    if packet[1] & 0x7f != pt {
        return None;
    }
    let payload = rtp_payload(packet)?;
    let event = *payload.first()?;
    if payload.len() < 4 {
        return None;
    }
    let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    if !leg.new_event(timestamp, event) {
        return None;
    }
    crate::webrtc::rtp::dtmf_char(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_payload_honours_csrc_extension_and_padding() {
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 0xbb];
        assert_eq!(rtp_payload(&p), Some(&[0xaa, 0xbb][..]));
        p[0] = 0x81; // one CSRC eats the payload
        assert_eq!(rtp_payload(&p), None);
        let mut ext = vec![0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1];
        ext.extend([1, 2, 3, 4, 0xcc]);
        assert_eq!(rtp_payload(&ext), Some(&[0xcc][..]));
        let padded = [0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xdd, 0, 2];
        assert_eq!(rtp_payload(&padded), Some(&[0xdd][..]));
        let bad_padding = [0xa0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200];
        assert_eq!(rtp_payload(&bad_padding), None);
        assert_eq!(rtp_payload(&[0x40; 20]), None);
        assert_eq!(rtp_payload(&[]), None);
    }

    #[test]
    fn rtcp_needs_version_2_and_a_control_packet_type() {
        assert!(is_rtcp(&[0x81, 201, 0, 1, 0, 0, 0, 1]));
        assert!(!is_rtcp(&[0x80, 0, 0, 1, 0, 0, 0, 1]));
        assert!(!is_rtcp(&[0x81, 201, 0, 1]));
    }
}
