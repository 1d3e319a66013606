//! The plain-RTP side of the gateway: header parsing and writing, and the bookkeeping that
//! keeps each direction's sequence numbers and timestamps continuous.

use crate::rtp_leg::rtp_payload;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// G.711 and RFC 4733 at 20 ms: 8000 Hz × 20 ms.
pub(crate) const SAMPLES_PER_FRAME: u64 = 160;
const CLOCK_RATE: u64 = 8000;

/// The fields of an RTP header the gateway looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// Splits an RTP version 2 packet into its header and payload (CSRCs, extension and padding
/// skipped), or `None` if it is not one.
pub(crate) fn parse(packet: &[u8]) -> Option<(Header, &[u8])> {
    let payload = rtp_payload(packet)?;
    let header = Header {
        marker: packet[1] & 0x80 != 0,
        pt: packet[1] & 0x7f,
        seq: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
    };
    Some((header, payload))
}

/// A 12-byte header (no CSRC, no extension) followed by `payload`.
pub(crate) fn build(header: Header, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(header.pt & 0x7f | if header.marker { 0x80 } else { 0 });
    p.extend_from_slice(&header.seq.to_be_bytes());
    p.extend_from_slice(&header.timestamp.to_be_bytes());
    p.extend_from_slice(&header.ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The key an RFC 4733 event stands for (RFC 4733 §3.2), if it is a DTMF one.
pub(crate) fn dtmf_char(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// Numbers the packets going out on the plain side as one RTP stream of ours.
///
/// str0m hands us frames with the browser's extended sequence numbers and media time. The
/// timestamp keeps the browser's timing (offset onto our random base), so gaps and RFC 4733
/// event timestamps stay right. Sequence numbers advance by one per packet we send, plus the
/// size of any gap in the browser's numbering, so the phone still sees a loss as a loss; a
/// late or repeated number (a reordered packet, or several reports packed in one packet) just
/// takes the next number, so ours never repeat or go backwards.
#[derive(Debug)]
pub(crate) struct OutgoingStream {
    pub ssrc: u32,
    next_seq: u16,
    ts_base: u32,
    first_time: Option<u64>,
    last_seq: Option<u64>,
}

/// A larger jump in the browser's numbering is a discontinuity, not loss worth mirroring.
const MAX_MIRRORED_GAP: u64 = 100;

impl OutgoingStream {
    pub fn new(ssrc: u32, first_seq: u16, ts_base: u32) -> OutgoingStream {
        OutgoingStream {
            ssrc,
            next_seq: first_seq,
            ts_base,
            first_time: None,
            last_seq: None,
        }
    }

    /// Our sequence number and timestamp for a frame with the browser's extended sequence
    /// number `seq` and media time `time` (8 kHz units).
    pub fn next(&mut self, seq: u64, time: u64) -> (u16, u32) {
        let step = match self.last_seq {
            Some(last) if seq > last && seq - last <= MAX_MIRRORED_GAP => seq - last,
            _ => 1,
        };
        if self.last_seq.is_none_or(|last| seq > last) {
            self.last_seq = Some(seq);
        }
        let out_seq = match self.first_time {
            // The very first packet takes the first number itself.
            None => self.next_seq,
            Some(_) => self.next_seq.wrapping_add(step as u16),
        };
        self.next_seq = out_seq;
        let first = *self.first_time.get_or_insert(time);
        // Wrapping arithmetic: a reordered frame older than the first one maps just below
        // the base, and 32-bit wrap-around is what RTP timestamps do anyway.
        let ts = self.ts_base.wrapping_add(time.wrapping_sub(first) as u32);
        (out_seq, ts)
    }
}

/// Maps the plain side's RTP timestamps onto the one media timeline of our stream to the
/// browser (str0m writes `numer as u32` into the header and numbers packets itself).
///
/// Within one source the mapping is a fixed offset, so the phone's timing, silence gaps and
/// RFC 4733 event timestamps (the start of the event, repeated in every packet of it) pass
/// unchanged. When the source changes (new SSRC after a transfer or re-INVITE) or its timestamp
/// jumps far from what the elapsed time explains, the timeline is re-based to continue from
/// where it was, so the browser's jitter buffer sees one continuous stream.
#[derive(Debug)]
pub(crate) struct IncomingTimeline {
    last: Option<Last>,
    /// Where the timeline starts; large enough that going back below it cannot underflow.
    base: u64,
}

#[derive(Debug, Clone, Copy)]
struct Last {
    ssrc: u32,
    timestamp: u32,
    out: u64,
    at: Instant,
}

/// Jumps further than this from the elapsed wall-clock time are discontinuities.
const MAX_TIMESTAMP_SKEW: Duration = Duration::from_secs(10);

impl IncomingTimeline {
    pub fn new(start: u32) -> IncomingTimeline {
        IncomingTimeline {
            last: None,
            base: (1 << 32) + u64::from(start),
        }
    }

    /// The media time (8 kHz units) to write for a packet with these header fields.
    pub fn map(&mut self, ssrc: u32, timestamp: u32, now: Instant) -> u64 {
        let out = match self.last {
            None => self.base,
            Some(last) => {
                let elapsed = samples(now.saturating_duration_since(last.at));
                let delta = i64::from(timestamp.wrapping_sub(last.timestamp) as i32);
                let skew = (delta - elapsed as i64).unsigned_abs();
                if ssrc != last.ssrc || skew > samples(MAX_TIMESTAMP_SKEW) {
                    last.out + elapsed.max(SAMPLES_PER_FRAME)
                } else {
                    last.out.saturating_add_signed(delta)
                }
            }
        };
        self.last = Some(Last {
            ssrc,
            timestamp,
            out,
            at: now,
        });
        out
    }
}

fn samples(d: Duration) -> u64 {
    (d.as_micros() as u64).saturating_mul(CLOCK_RATE) / 1_000_000
}

/// Where plain RTP goes: the address signalled for the SIP side, replaced by the source of the
/// packets it sends (symmetric RTP, as in the relay).
#[derive(Debug)]
pub(crate) struct PlainPeer {
    signalled: Option<SocketAddr>,
    addr: Option<SocketAddr>,
    latched: bool,
    last_seen: Option<Instant>,
}

/// A latched source silent this long may be replaced by a new one: a phone behind NAT whose
/// mapping changed must not lose its audio, while a stranger cannot take over a live stream.
const RELATCH_AFTER: Duration = Duration::from_secs(2);

impl PlainPeer {
    pub fn new() -> PlainPeer {
        PlainPeer {
            signalled: None,
            addr: None,
            latched: false,
            last_seen: None,
        }
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The address from the SIP side's SDP. Repeating the previous one changes nothing, so a
    /// latched address survives session refreshes.
    pub fn set_signalled(&mut self, addr: SocketAddr) {
        if self.signalled == Some(addr) {
            return;
        }
        self.signalled = Some(addr);
        self.addr = Some(addr);
        self.latched = false;
    }

    /// Whether a valid packet from `src` belongs to the SIP side; latches on it if it may.
    pub fn accept(&mut self, src: SocketAddr, now: Instant) -> bool {
        let live = self
            .last_seen
            .is_some_and(|t| now.saturating_duration_since(t) < RELATCH_AFTER);
        if self.latched && self.addr != Some(src) && live {
            return false;
        }
        self.addr = Some(src);
        self.latched = true;
        self.last_seen = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = Header {
            marker: true,
            pt: 101,
            seq: 65535,
            timestamp: 0xdead_beef,
            ssrc: 7,
        };
        let p = build(h, &[1, 2, 3, 4]);
        assert_eq!(p.len(), 16);
        assert_eq!(parse(&p), Some((h, &[1u8, 2, 3, 4][..])));
        assert_eq!(parse(&p[..11]), None);
        assert_eq!(parse(&[0x40; 20]), None);
    }

    #[test]
    fn dtmf_chars() {
        let all: String = (0..=16).filter_map(dtmf_char).collect();
        assert_eq!(all, "0123456789*#ABCD");
    }

    #[test]
    fn outgoing_numbers_are_continuous_and_mirror_loss() {
        let mut s = OutgoingStream::new(1, 65534, u32::MAX - 100);
        assert_eq!(s.next(1000, 50_000), (65534, u32::MAX - 100));
        assert_eq!(s.next(1001, 50_160), (65535, 59));
        // 1002 lost: the gap shows.
        assert_eq!(s.next(1003, 50_480), (1, 379));
        // 1002 arrives late: a new number, its own timestamp.
        assert_eq!(s.next(1002, 50_320), (2, 219));
        // Two reports from one packet (same browser number) get two numbers.
        assert_eq!(s.next(1004, 50_640).0, 3);
        assert_eq!(s.next(1004, 50_640).0, 4);
        // A huge jump is a discontinuity.
        assert_eq!(s.next(90_000, 60_000).0, 5);
    }

    #[test]
    fn incoming_timeline_keeps_offsets_and_rebases_on_new_source() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut tl = IncomingTimeline::new(5);
        let base = (1 << 32) + 5;
        assert_eq!(tl.map(9, u32::MAX - 80, ms(0)), base);
        // Wraps around in the source: still +160.
        assert_eq!(tl.map(9, 79, ms(20)), base + 160);
        // An RFC 4733 packet with an older timestamp (the event start) maps back.
        assert_eq!(tl.map(9, u32::MAX - 80, ms(40)), base);
        assert_eq!(tl.map(9, 239, ms(60)), base + 320);
        // New SSRC with an unrelated timestamp: continues after the elapsed time.
        assert_eq!(tl.map(10, 123_456, ms(100)), base + 320 + 320);
        assert_eq!(tl.map(10, 123_616, ms(120)), base + 640 + 160);
        // Same SSRC, but a jump of an hour: re-based as well.
        assert_eq!(tl.map(10, 123_616 + 28_800_000, ms(140)), base + 800 + 160);
    }

    #[test]
    fn plain_peer_latches_and_refuses_strangers_while_live() {
        let t0 = Instant::now();
        let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut p = PlainPeer::new();
        assert_eq!(p.addr(), None);
        p.set_signalled(a);
        assert_eq!(p.addr(), Some(a));
        assert!(p.accept(b, t0));
        assert_eq!(p.addr(), Some(b));
        assert!(!p.accept(a, t0 + Duration::from_millis(500)));
        // Same SDP again: the latched address stays.
        p.set_signalled(a);
        assert_eq!(p.addr(), Some(b));
        assert!(p.accept(a, t0 + Duration::from_secs(3)));
        assert_eq!(p.addr(), Some(a));
    }
}
