//! Packet loss of a received RTP stream, counted as RFC 3550 (A.3) does: the packets expected
//! from the sequence numbers seen (highest extended number − first + 1) minus the packets
//! received. Late packets still count as received, so reordering is not loss; duplicates are
//! not counted twice. A new SSRC, or a jump larger than any plausible dropout confirmed by the
//! next packet (A.1's probation, so one stray packet does not reset the count), starts a new
//! stream whose loss adds to the loss counted so far. Sans-IO: fed one sequence number at a
//! time by the relay.

/// A forward jump beyond this is a restarted sender, not a loss (RFC 3550 A.1's MAX_DROPOUT).
const MAX_DROPOUT: u16 = 3000;
/// A backward step within this is a late or duplicate packet (A.1's MAX_MISORDER).
const MAX_MISORDER: u16 = 100;

#[derive(Debug, Clone, Default)]
pub struct LossCounter {
    stream: Option<Stream>,
    /// Loss of the streams before the current one.
    earlier: u64,
}

#[derive(Debug, Clone)]
struct Stream {
    ssrc: u32,
    first: u64,
    /// Highest extended sequence number (cycles × 65536 + seq).
    highest: u64,
    received: u64,
    /// The last few sequence numbers, to tell a duplicate from a late packet.
    recent: [Option<u16>; 8],
    next_slot: usize,
    /// After a jump: the number that, arriving next, confirms the sender restarted.
    probation: Option<u16>,
}

impl Stream {
    fn start(ssrc: u32, seq: u16) -> Stream {
        let mut s = Stream {
            ssrc,
            first: u64::from(seq),
            highest: u64::from(seq),
            received: 1,
            recent: [None; 8],
            next_slot: 0,
            probation: None,
        };
        s.remember(seq);
        s
    }

    fn remember(&mut self, seq: u16) {
        self.recent[self.next_slot] = Some(seq);
        self.next_slot = (self.next_slot + 1) % self.recent.len();
    }

    fn lost(&self) -> u64 {
        (self.highest - self.first + 1).saturating_sub(self.received)
    }
}

impl LossCounter {
    /// One RTP packet of `ssrc` with sequence number `seq` arrived.
    pub fn on_packet(&mut self, ssrc: u32, seq: u16) {
        let Some(s) = self.stream.as_mut().filter(|s| s.ssrc == ssrc) else {
            self.restart(ssrc, seq);
            return;
        };
        let highest = s.highest as u16;
        let ahead = seq.wrapping_sub(highest);
        if ahead == 0 || s.recent.contains(&Some(seq)) {
            return; // a duplicate
        }
        if ahead < MAX_DROPOUT {
            // In order, perhaps after a gap; crossing 65535 → 0 starts a new cycle.
            s.highest += u64::from(ahead);
        } else if ahead <= u16::MAX - MAX_MISORDER {
            // Neither ahead nor just behind: the sender restarted its numbering if the next
            // packet follows this one; a stray packet is ignored.
            if s.probation == Some(seq) {
                self.restart(ssrc, seq);
            } else {
                s.probation = Some(seq.wrapping_add(1));
            }
            return;
        }
        s.probation = None;
        // (Otherwise a late packet: received, and the gap it left is smaller.)
        s.received += 1;
        s.remember(seq);
    }

    fn restart(&mut self, ssrc: u32, seq: u16) {
        self.earlier += self.stream.as_ref().map_or(0, Stream::lost);
        self.stream = Some(Stream::start(ssrc, seq));
    }

    /// Packets lost so far.
    pub fn lost(&self) -> u64 {
        self.earlier + self.stream.as_ref().map_or(0, Stream::lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (SSRC, sequence number) of each packet, in arrival order.
    type Packets = Vec<(u32, u16)>;

    fn lost_after(packets: &[(u32, u16)]) -> u64 {
        let mut c = LossCounter::default();
        for &(ssrc, seq) in packets {
            c.on_packet(ssrc, seq);
        }
        c.lost()
    }

    #[test]
    fn loss_is_expected_minus_received() {
        let cases: &[(&str, Packets, u64)] = &[
            ("nothing yet", vec![], 0),
            ("in order", (0..50).map(|s| (1, s)).collect(), 0),
            (
                "one gap of three",
                vec![(1, 10), (1, 11), (1, 15), (1, 16)],
                3,
            ),
            (
                "reordered is not lost",
                vec![(1, 1), (1, 3), (1, 2), (1, 4)],
                0,
            ),
            (
                "a duplicate is not counted twice",
                vec![(1, 1), (1, 2), (1, 2), (1, 4)],
                1,
            ),
            (
                "across the wrap",
                vec![(1, 65534), (1, 65535), (1, 1), (1, 2)],
                1,
            ),
            (
                "a new SSRC keeps the earlier loss",
                vec![(1, 1), (1, 3), (2, 500), (2, 503)],
                1 + 2,
            ),
            (
                "a restarted numbering is not 30000 lost",
                vec![(1, 1), (1, 2), (1, 30_000), (1, 30_001)],
                0,
            ),
            (
                "a stray packet is ignored",
                vec![(1, 1000), (1, 1001), (1, 500), (1, 1002)],
                0,
            ),
        ];
        for (name, packets, lost) in cases {
            assert_eq!(lost_after(packets), *lost, "{name}");
        }
    }
}
