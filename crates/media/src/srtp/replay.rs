//! Packet indices: the rollover counter guessed from a sequence number (RFC 3711 §3.3.1,
//! Appendix A) and the replay list of the last 64 indices (§3.3.2).

/// Packets of one stream seen so far: the highest index, and which of the 63 before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplayWindow {
    top: u64,
    /// Bit `n` set: index `top - n` was seen.
    seen: u64,
}

/// RFC 3711 §3.3.2 asks for at least 64.
const WINDOW: u64 = 64;

impl ReplayWindow {
    /// The window after a stream's first packet.
    pub fn starting_at(index: u64) -> ReplayWindow {
        ReplayWindow {
            top: index,
            seen: 1,
        }
    }

    pub fn top(&self) -> u64 {
        self.top
    }

    /// Whether `index` may still arrive: newer than the highest, or within the window and
    /// not seen yet.
    pub fn is_new(&self, index: u64) -> bool {
        if index > self.top {
            return true;
        }
        let behind = self.top - index;
        behind < WINDOW && self.seen >> behind & 1 == 0
    }

    /// Notes `index` as seen; only for an authenticated packet, so that forged packets cannot
    /// move the window.
    pub fn mark(&mut self, index: u64) {
        if index > self.top {
            let ahead = index - self.top;
            self.seen = if ahead >= WINDOW {
                0
            } else {
                self.seen << ahead
            };
            self.seen |= 1;
            self.top = index;
        } else if self.top - index < WINDOW {
            self.seen |= 1 << (self.top - index);
        }
    }
}

/// The 48-bit index of the packet numbered `seq` in a stream whose highest index so far is
/// `top` (RFC 3711 Appendix A): the rollover counter is the one of `top`, or the one before
/// or after it when `seq` is closer that way. `None` for a packet from before a rollover
/// counter of 0, which no sender can have sent.
pub(crate) fn estimate_index(top: u64, seq: u16) -> Option<u64> {
    let roc = top >> 16;
    let s_l = top as u16;
    let v = if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        roc + 1
    } else {
        roc
    };
    Some(v << 16 | u64::from(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_follows_the_sequence_number_across_a_wrap() {
        // (highest index so far, sequence number, expected index)
        let cases = [
            (100, 101, Some(101)),
            (100, 99, Some(99)),
            (65_535, 0, Some(65_536)),
            (65_530, 3, Some(65_539)),
            // A late packet from before the wrap.
            (65_537, 65_534, Some(65_534)),
            ((7 << 16) | 40_000, 200, Some((8 << 16) | 200)),
            ((7 << 16) | 10, 60_000, Some((6 << 16) | 60_000)),
            // Before the first rollover counter.
            (10, 60_000, None),
            // Exactly half-way stays in the same rollover counter.
            (0, 0x8000, Some(0x8000)),
        ];
        for (top, seq, want) in cases {
            assert_eq!(estimate_index(top, seq), want, "top {top}, seq {seq}");
        }
    }

    #[test]
    fn window_refuses_repeats_and_packets_too_old() {
        let mut w = ReplayWindow::starting_at(1000);
        assert!(!w.is_new(1000));
        assert!(w.is_new(1001) && w.is_new(999) && w.is_new(1000 - 63));
        assert!(!w.is_new(1000 - 64), "64 behind is outside the window");
        w.mark(999);
        assert!(!w.is_new(999));
        w.mark(1010);
        assert_eq!(w.top(), 1010);
        assert!(!w.is_new(1000) && !w.is_new(999) && w.is_new(1005));
        // A jump further than the window forgets everything before it.
        w.mark(5000);
        assert!(!w.is_new(1010) && w.is_new(4999) && !w.is_new(5000));
        // Marking an old index leaves the top alone.
        w.mark(4990);
        assert_eq!(w.top(), 5000);
        assert!(!w.is_new(4990));
    }
}
