//! SRTP and SRTCP (RFC 3711) for SDES-keyed legs (RFC 4568), sans IO: packets in, packets
//! out, in place in the caller's buffer.
//!
//! Only the suites SDES phones and carriers offer are here: AES_CM_128_HMAC_SHA1_80 and _32,
//! with a key derivation rate of 0. The cipher and the MAC are RustCrypto's; what is ours is
//! the packet layout, the rollover counter and the replay list. One [`SrtpContext`] is one
//! direction of one leg: its master key protects every SSRC that direction carries (a relay
//! passes the other side's SSRC on, a prompt has its own), each with its own index and
//! replay window.

mod keys;
mod replay;

pub use keys::{MasterKey, Suite, MASTER_KEY_LEN, MASTER_SALT_LEN, SRTCP_TAG_LEN};

use hmac::Mac;
use keys::{SessionKeys, RTCP_LABELS, RTP_LABELS};
use replay::{estimate_index, ReplayWindow};
use std::fmt;

/// Longest MKI we accept in an `a=crypto` line. RFC 4568 allows 128 bytes; phones use 1 to 4,
/// and a bound keeps the room a sealed packet needs small.
pub const MAX_MKI_LEN: usize = 16;
/// Most bytes protecting a packet adds: SRTCP's E bit and index, an MKI and an 80-bit tag.
pub const MAX_OVERHEAD: usize = 4 + MAX_MKI_LEN + SRTCP_TAG_LEN;
/// Streams (SSRCs) remembered per direction. A leg carries one or two at a time; a peer that
/// changes SSRC often must not make us keep state for each.
const MAX_STREAMS: usize = 8;
/// SRTCP indices are 31 bits (RFC 3711 §3.4).
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("packet too short for its header and SRTP trailer")]
    TooShort,
    #[error("authentication tag does not match")]
    AuthFailed,
    #[error("packet index replayed or older than the replay window")]
    Replayed,
    #[error("no room in the buffer for the SRTP trailer")]
    NoRoom,
    #[error("the master key has protected as many SRTCP packets as it may")]
    KeyExhausted,
}

/// What protects one direction: a suite, a master key and, if the key's owner said so, the
/// MKI its packets carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: Suite,
    pub master: MasterKey,
    pub mki: Option<Vec<u8>>,
}

/// One leg's SRTP: what the peer sends us is checked and decrypted with its key, what we send
/// it is encrypted with ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    /// From the peer's `a=crypto`.
    pub remote: SrtpKey,
    /// From ours.
    pub local: SrtpKey,
}

/// One direction's SRTP and SRTCP state.
pub struct SrtpContext {
    suite: Suite,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    mki: Box<[u8]>,
    streams: Vec<Stream>,
    /// Counts uses, to find the stream used least recently.
    uses: u64,
}

#[derive(Debug)]
struct Stream {
    ssrc: u32,
    /// Empty until the stream's first SRTP packet.
    rtp: Option<ReplayWindow>,
    rtcp: Option<ReplayWindow>,
    /// The last SRTCP index we used, when sending.
    rtcp_sent: u32,
    last_use: u64,
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    pub fn new(key: &SrtpKey) -> SrtpContext {
        SrtpContext {
            suite: key.suite,
            rtp: SessionKeys::derive(&key.master, RTP_LABELS),
            rtcp: SessionKeys::derive(&key.master, RTCP_LABELS),
            mki: key.mki.clone().unwrap_or_default().into_boxed_slice(),
            streams: Vec::new(),
            uses: 0,
        }
    }

    /// Encrypts and tags the RTP packet in `buf[..len]`; the SRTP packet's length. `buf` needs
    /// room for the MKI and tag after the packet.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let packet = buf.get(..len).ok_or(SrtpError::TooShort)?;
        let header = rtp_header_len(packet).ok_or(SrtpError::TooShort)?;
        let (seq, ssrc) = seq_and_ssrc(packet);
        let tag_len = self.suite.rtp_tag_len();
        let total = len + self.mki.len() + tag_len;
        if buf.len() < total {
            return Err(SrtpError::NoRoom);
        }
        let stream = self.stream(ssrc);
        // A sender must not reuse an index either: the same keystream on two different
        // payloads gives both away. A duplicate we are asked to pass on is dropped instead.
        let index = match &stream.rtp {
            Some(w) => estimate_index(w.top(), seq)
                .filter(|&i| w.is_new(i))
                .ok_or(SrtpError::Replayed)?,
            None => u64::from(seq),
        };
        mark(&mut stream.rtp, index);
        self.rtp.apply_keystream(ssrc, index, &mut buf[header..len]);
        buf[len..len + self.mki.len()].copy_from_slice(&self.mki);
        let mut mac = self.rtp.auth.clone();
        mac.update(&buf[..len]);
        mac.update(&roc(index).to_be_bytes());
        let tag = mac.finalize().into_bytes();
        buf[len + self.mki.len()..total].copy_from_slice(&tag[..tag_len]);
        Ok(total)
    }

    /// Checks and decrypts the SRTP packet in `packet`, in place; the RTP packet's length
    /// (the start of `packet`).
    pub fn unprotect_rtp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let trailer = self.mki.len() + self.suite.rtp_tag_len();
        let end = packet
            .len()
            .checked_sub(trailer)
            .ok_or(SrtpError::TooShort)?;
        let header = rtp_header_len(&packet[..end]).ok_or(SrtpError::TooShort)?;
        if packet[end..end + self.mki.len()] != *self.mki {
            return Err(SrtpError::AuthFailed);
        }
        let (seq, ssrc) = seq_and_ssrc(packet);
        let known = self.find(ssrc).and_then(|s| s.rtp);
        let index = match known {
            Some(w) => estimate_index(w.top(), seq)
                .filter(|&i| w.is_new(i))
                .ok_or(SrtpError::Replayed)?,
            // The sender's rollover counter starts at 0 (RFC 3711 §3.3.1).
            None => u64::from(seq),
        };
        let mut mac = self.rtp.auth.clone();
        mac.update(&packet[..end]);
        mac.update(&roc(index).to_be_bytes());
        mac.verify_truncated_left(&packet[end + self.mki.len()..])
            .map_err(|_| SrtpError::AuthFailed)?;
        // Only an authentic packet starts a stream or moves its window.
        mark(&mut self.stream(ssrc).rtp, index);
        self.rtp
            .apply_keystream(ssrc, index, &mut packet[header..end]);
        Ok(end)
    }

    /// Encrypts the RTCP packet in `buf[..len]` (all but its first 8 bytes), appends the E
    /// bit and SRTCP index, the MKI and the tag; the SRTCP packet's length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if len < 8 || buf.len() < len {
            return Err(SrtpError::TooShort);
        }
        let total = len + 4 + self.mki.len() + SRTCP_TAG_LEN;
        if buf.len() < total {
            return Err(SrtpError::NoRoom);
        }
        let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let stream = self.stream(ssrc);
        if stream.rtcp_sent >= MAX_SRTCP_INDEX {
            return Err(SrtpError::KeyExhausted);
        }
        // From 1, like libsrtp.
        stream.rtcp_sent += 1;
        let index = stream.rtcp_sent;
        self.rtcp
            .apply_keystream(ssrc, u64::from(index), &mut buf[8..len]);
        buf[len..len + 4].copy_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let mki_end = len + 4 + self.mki.len();
        buf[len + 4..mki_end].copy_from_slice(&self.mki);
        let mut mac = self.rtcp.auth.clone();
        mac.update(&buf[..len + 4]);
        let tag = mac.finalize().into_bytes();
        buf[mki_end..total].copy_from_slice(&tag[..SRTCP_TAG_LEN]);
        Ok(total)
    }

    /// Checks the SRTCP packet in `packet` and decrypts it in place if its E bit says it is
    /// encrypted; the RTCP packet's length.
    pub fn unprotect_rtcp(&mut self, packet: &mut [u8]) -> Result<usize, SrtpError> {
        let trailer = 4 + self.mki.len() + SRTCP_TAG_LEN;
        let end = packet
            .len()
            .checked_sub(trailer)
            .filter(|&end| end >= 8)
            .ok_or(SrtpError::TooShort)?;
        let mki_at = end + 4;
        if packet[mki_at..mki_at + self.mki.len()] != *self.mki {
            return Err(SrtpError::AuthFailed);
        }
        let word = u32::from_be_bytes([
            packet[end],
            packet[end + 1],
            packet[end + 2],
            packet[end + 3],
        ]);
        let (encrypted, index) = (word >> 31 == 1, u64::from(word & MAX_SRTCP_INDEX));
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        if self
            .find(ssrc)
            .and_then(|s| s.rtcp)
            .is_some_and(|w| !w.is_new(index))
        {
            return Err(SrtpError::Replayed);
        }
        let mut mac = self.rtcp.auth.clone();
        mac.update(&packet[..mki_at]);
        mac.verify_truncated_left(&packet[mki_at + self.mki.len()..])
            .map_err(|_| SrtpError::AuthFailed)?;
        mark(&mut self.stream(ssrc).rtcp, index);
        if encrypted {
            self.rtcp.apply_keystream(ssrc, index, &mut packet[8..end]);
        }
        Ok(end)
    }

    fn find(&self, ssrc: u32) -> Option<&Stream> {
        self.streams.iter().find(|s| s.ssrc == ssrc)
    }

    /// The stream of `ssrc`, made if new, in place of the one used least recently if full.
    fn stream(&mut self, ssrc: u32) -> &mut Stream {
        self.uses += 1;
        let uses = self.uses;
        let at = match self.streams.iter().position(|s| s.ssrc == ssrc) {
            Some(at) => at,
            None => {
                let fresh = Stream {
                    ssrc,
                    rtp: None,
                    rtcp: None,
                    rtcp_sent: 0,
                    last_use: uses,
                };
                if self.streams.len() < MAX_STREAMS {
                    self.streams.push(fresh);
                    self.streams.len() - 1
                } else {
                    let oldest = self
                        .streams
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.last_use)
                        .map_or(0, |(i, _)| i);
                    self.streams[oldest] = fresh;
                    oldest
                }
            }
        };
        let stream = &mut self.streams[at];
        stream.last_use = uses;
        stream
    }
}

fn mark(window: &mut Option<ReplayWindow>, index: u64) {
    match window {
        Some(w) => w.mark(index),
        None => *window = Some(ReplayWindow::starting_at(index)),
    }
}

fn roc(index: u64) -> u32 {
    (index >> 16) as u32
}

/// Sequence number and SSRC of a packet `rtp_header_len` accepted.
fn seq_and_ssrc(packet: &[u8]) -> (u16, u32) {
    (
        u16::from_be_bytes([packet[2], packet[3]]),
        u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
    )
}

/// The length of the RTP header with its CSRCs and extension, which stay in the clear
/// (RFC 3711 §3.1), if `packet` holds all of it.
fn rtp_header_len(packet: &[u8]) -> Option<usize> {
    let first = *packet.first()?;
    let mut len = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let ext = packet.get(len..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    (packet.len() >= len).then_some(len)
}

#[cfg(test)]
mod tests;
