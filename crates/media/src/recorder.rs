//! The call recorder's timeline: two mono streams of RTP audio placed side by side on one
//! clock, as a stereo 8 kHz 16-bit recording (REC-*, HIST-04), with silence wherever a side
//! sent nothing (hold, loss, a pause asked for by the agent).
//!
//! Sans-IO: the relay hands it each audio packet with the time it arrived, and takes out the
//! finished part of the timeline as interleaved samples, which the caller writes to a file.
//!
//! A packet's place is its RTP timestamp relative to its stream's anchor, so jitter does not
//! move audio around; the anchor is the arrival time of the stream's first packet, and a
//! stream is anchored again when its SSRC changes or its timestamps stray too far from the
//! clock (a sender's timestamp jump, or drift built up over a long call). Audio is written out
//! once it is older than [`LATENCY`], which is how late a packet may arrive and still count.

use crate::g711::Law;
use std::collections::VecDeque;
use std::time::Duration;

/// Samples per second of the recording.
pub const RATE: u32 = 8000;
/// How long the timeline waits for late packets before writing a stretch out.
pub const LATENCY: Duration = Duration::from_millis(300);
/// A stream whose timestamps run on average this far (60 ms) from the arrival clock is moved
/// back to it: a sender's clock drifting from ours, corrected in small steps.
const MAX_DRIFT: i64 = RATE as i64 * 6 / 100;
/// A packet this far (300 ms) ahead of the clock, or so far behind it that it would miss the
/// write-out, anchors its stream again at its arrival: a jump of the sender's timestamps.
const MAX_AHEAD: i64 = RATE as i64 * 3 / 10;

/// Which channel of the recording a stream goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The external party (a customer, a carrier).
    Left,
    /// The agent.
    Right,
}

impl Channel {
    fn index(self) -> usize {
        match self {
            Channel::Left => 0,
            Channel::Right => 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    ts: u32,
    /// The sample position of `ts` on the timeline.
    at: i64,
    /// Sixteen times the moving average of (position − arrival), in samples: how far the
    /// stream's clock has drifted from ours, with one late packet counting for little.
    skew16: i64,
}

/// A stereo recording being assembled. Times are offsets from the start of the recording.
#[derive(Debug)]
pub struct Timeline {
    anchors: [Option<Anchor>; 2],
    /// Interleaved samples from `written` on, not yet handed out.
    pending: VecDeque<[i16; 2]>,
    /// Sample position of the first pending sample.
    written: u64,
    paused_since: Option<u64>,
    /// Pauses over but not yet written out, as sample ranges: a packet arriving after the
    /// resume with audio from the pause (jitter) stays unheard.
    paused_spans: Vec<std::ops::Range<u64>>,
    paused_samples: u64,
    late_packets: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            anchors: [None, None],
            pending: VecDeque::new(),
            written: 0,
            paused_since: None,
            paused_spans: Vec::new(),
            paused_samples: 0,
            late_packets: 0,
        }
    }

    /// One RTP packet of G.711 audio from `channel`, arrived at `now`.
    pub fn push(
        &mut self,
        channel: Channel,
        ssrc: u32,
        ts: u32,
        law: Law,
        payload: &[u8],
        now: Duration,
    ) {
        if self.paused_since.is_some() {
            return;
        }
        let arrival = i64::try_from(samples(now)).unwrap_or(i64::MAX);
        let ch = channel.index();
        let behind_limit = -(LATENCY_SAMPLES as i64 - 160);
        let placed = match &mut self.anchors[ch] {
            Some(a) if a.ssrc == ssrc => {
                // The signed distance of this timestamp from the anchor's, so reordered
                // packets land before it and a wrap of the 32-bit clock changes nothing.
                let delta = i64::from(ts.wrapping_sub(a.ts) as i32);
                let at = a.at.saturating_add(delta);
                let skew = at - arrival;
                if !(behind_limit..=MAX_AHEAD).contains(&skew) {
                    None
                } else {
                    a.skew16 += skew - a.skew16 / 16;
                    let drift = a.skew16 / 16;
                    if drift.abs() > MAX_DRIFT {
                        // Moved by the average, not by this packet's own lateness.
                        a.at -= drift;
                        a.skew16 = 0;
                        Some(at - drift)
                    } else {
                        Some(at)
                    }
                }
            }
            _ => None,
        };
        let at = match placed {
            Some(at) => at,
            None => {
                self.anchors[ch] = Some(Anchor {
                    ssrc,
                    ts,
                    at: arrival,
                    skew16: 0,
                });
                arrival
            }
        };
        let Ok(at) = u64::try_from(at) else {
            self.late_packets += 1;
            return;
        };
        if at < self.written {
            self.late_packets += 1;
            return;
        }
        let offset = usize::try_from(at - self.written).unwrap_or(usize::MAX);
        let end = offset.saturating_add(payload.len());
        // Never more than a few seconds ahead: anchoring keeps `at` near the arrival clock.
        if end > MAX_PENDING {
            self.late_packets += 1;
            return;
        }
        if self.pending.len() < end {
            self.pending.resize(end, [0, 0]);
        }
        for (slot, &byte) in self.pending.range_mut(offset..end).zip(payload) {
            slot[ch] = law.decode(byte);
        }
        let placed = at..at + payload.len() as u64;
        for span in &self.paused_spans {
            let quiet = span.start.max(placed.start)..span.end.min(placed.end);
            for pos in quiet {
                if let Some(slot) = self.pending.get_mut((pos - self.written) as usize) {
                    slot[ch] = 0;
                }
            }
        }
    }

    /// The part of the timeline that is final at `now`, as interleaved left/right samples
    /// appended to `out`: everything older than [`LATENCY`], silence included.
    pub fn drain(&mut self, now: Duration, out: &mut Vec<i16>) {
        let until = samples(now).saturating_sub(LATENCY_SAMPLES);
        self.drain_until(until, out);
    }

    /// All of the timeline up to `now`: the end of the recording.
    pub fn finish(&mut self, now: Duration, out: &mut Vec<i16>) {
        if let Some(since) = self.paused_since.take() {
            self.paused_samples += samples(now).saturating_sub(since);
        }
        self.drain_until(samples(now), out);
    }

    fn drain_until(&mut self, until: u64, out: &mut Vec<i16>) {
        while self.written < until {
            let s = self.pending.pop_front().unwrap_or([0, 0]);
            out.extend_from_slice(&s);
            self.written += 1;
        }
        self.paused_spans.retain(|span| span.end > until);
    }

    /// From `now` on, both channels are silent until [`Timeline::resume`].
    pub fn pause(&mut self, now: Duration) {
        if self.paused_since.is_none() {
            let at = samples(now);
            self.paused_since = Some(at);
            // What arrived for the time from now on is not to be kept.
            let keep = usize::try_from(at.saturating_sub(self.written)).unwrap_or(usize::MAX);
            self.pending.truncate(keep);
        }
    }

    pub fn resume(&mut self, now: Duration) {
        if let Some(since) = self.paused_since.take() {
            let at = samples(now);
            self.paused_samples += at.saturating_sub(since);
            self.paused_spans.push(since..at);
            // The streams go on from where they are; their anchors are still right.
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// How long the recording was paused for, in total.
    pub fn paused(&self) -> Duration {
        Duration::from_micros(self.paused_samples * 1_000_000 / u64::from(RATE))
    }

    /// Packets that arrived too late, or too far ahead, to be placed.
    pub fn late_packets(&self) -> u64 {
        self.late_packets
    }
}

const LATENCY_SAMPLES: u64 = LATENCY.as_millis() as u64 * RATE as u64 / 1000;
/// Ten seconds of audio: a bound on memory whatever the packets claim.
const MAX_PENDING: usize = 10 * RATE as usize;

fn samples(t: Duration) -> u64 {
    u64::try_from(t.as_micros()).unwrap_or(u64::MAX) * u64::from(RATE) / 1_000_000
}

/// The 44-byte header of a stereo 8 kHz 16-bit PCM WAV holding `data_bytes` of samples.
pub fn wav_header(data_bytes: u32) -> [u8; 44] {
    let channels: u16 = 2;
    let bits: u16 = 16;
    let block = channels * bits / 8;
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(RATE * u32::from(block)).to_le_bytes());
    h[32..34].copy_from_slice(&block.to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = 160;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A frame of μ-law bytes that decodes to `level` (approximately).
    fn frame(level: i16) -> Vec<u8> {
        vec![Law::Ulaw.encode(level); FRAME]
    }

    fn drain_all(t: &mut Timeline, now: Duration) -> Vec<[i16; 2]> {
        let mut out = Vec::new();
        t.finish(now, &mut out);
        out.chunks(2).map(|c| [c[0], c[1]]).collect()
    }

    #[test]
    fn each_side_goes_to_its_own_channel_in_time() {
        let mut t = Timeline::new();
        for i in 0..50u32 {
            let now = ms(u64::from(i) * 20);
            t.push(
                Channel::Left,
                1,
                1000 + i * 160,
                Law::Ulaw,
                &frame(1000),
                now,
            );
            // The agent starts 100 ms later.
            if i >= 5 {
                t.push(
                    Channel::Right,
                    2,
                    9000 + i * 160,
                    Law::Ulaw,
                    &frame(-2000),
                    now,
                );
            }
        }
        let s = drain_all(&mut t, ms(1000));
        assert_eq!(s.len(), 8000);
        assert!(s[..800].iter().all(|x| x[1] == 0), "right silent at first");
        assert!(s[..8000].iter().all(|x| x[0] > 900), "left all along");
        assert!(
            s[800..8000].iter().all(|x| x[1] < -1900),
            "right from 100 ms"
        );
    }

    #[test]
    fn jitter_does_not_move_audio_and_reordering_lands_in_place() {
        let mut t = Timeline::new();
        let arrivals = [0, 35, 38, 61, 95, 99]; // ms; packets 20 ms apart on the sender
        let order = [0u32, 2, 1, 3, 5, 4];
        for (&arr, &seq) in arrivals.iter().zip(&order) {
            let level = 100 * (i16::try_from(seq).unwrap_or(0) + 1);
            t.push(
                Channel::Left,
                7,
                seq * 160,
                Law::Ulaw,
                &frame(level),
                ms(arr),
            );
        }
        let s = drain_all(&mut t, ms(120));
        for seq in 0..6usize {
            let want = 100 * (seq as i32 + 1);
            let got = i32::from(s[seq * FRAME + 80][0]);
            assert!(
                (got - want).abs() < want / 10 + 8,
                "frame {seq}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn a_pause_is_silence_and_is_counted() {
        let mut t = Timeline::new();
        let mut out = Vec::new();
        for i in 0..100u32 {
            let now = ms(u64::from(i) * 20);
            if i == 25 {
                t.pause(now);
            }
            if i == 75 {
                t.resume(now);
            }
            t.push(Channel::Left, 1, i * 160, Law::Ulaw, &frame(3000), now);
            t.drain(now, &mut out);
        }
        t.finish(ms(2000), &mut out);
        let s: Vec<i16> = out.iter().step_by(2).copied().collect();
        assert_eq!(s.len(), 16000);
        assert!(
            s[4000..12000].iter().all(|&x| x == 0),
            "paused 0.5 s .. 1.5 s"
        );
        assert!(s[..4000].iter().all(|&x| x > 2900));
        assert!(s[12000..].iter().all(|&x| x > 2900));
        assert_eq!(t.paused(), ms(1000));
    }

    #[test]
    fn audio_from_a_pause_arriving_after_the_resume_stays_silent() {
        let mut t = Timeline::new();
        for i in 0..10u32 {
            let now = ms(u64::from(i) * 20);
            t.push(Channel::Left, 1, i * 160, Law::Ulaw, &frame(3000), now);
        }
        t.pause(ms(200));
        t.resume(ms(300));
        // Said from 260 to 320 ms, taken off the socket at 325 ms.
        for i in 13..16u32 {
            t.push(Channel::Left, 1, i * 160, Law::Ulaw, &frame(3000), ms(325));
        }
        let s = drain_all(&mut t, ms(400));
        let left: Vec<i16> = s.iter().map(|x| x[0]).collect();
        assert!(left[..1600].iter().all(|&x| x > 2900));
        assert!(
            left[1600..2400].iter().all(|&x| x == 0),
            "paused 200..300 ms"
        );
        assert!(
            left[2400..2560].iter().all(|&x| x > 2900),
            "from the resume on"
        );
        assert_eq!(t.paused(), ms(100));
    }

    #[test]
    fn a_new_ssrc_or_a_timestamp_jump_is_placed_by_its_arrival() {
        let mut t = Timeline::new();
        t.push(Channel::Right, 1, 0, Law::Ulaw, &frame(500), ms(0));
        // Same SSRC, timestamps jump by an hour: placed at its arrival, 1 s in.
        t.push(
            Channel::Right,
            1,
            28_800_000,
            Law::Ulaw,
            &frame(600),
            ms(1000),
        );
        // Another SSRC at 1.5 s.
        t.push(Channel::Right, 2, 5, Law::Ulaw, &frame(700), ms(1500));
        let s = drain_all(&mut t, ms(2000));
        assert_eq!(s.len(), 16000);
        assert!(s[8000 + 80][1] > 550 && s[8000 + 80][1] < 650);
        assert!(s[12000 + 80][1] > 650);
        assert_eq!(s[4000][1], 0);
    }

    #[test]
    fn a_packet_from_before_what_was_written_is_placed_at_its_arrival() {
        let mut t = Timeline::new();
        let mut out = Vec::new();
        t.push(Channel::Left, 1, 0, Law::Ulaw, &frame(500), ms(0));
        t.drain(ms(1000), &mut out);
        assert_eq!(out.len(), 2 * 5600, "up to 1 s minus the latency");
        // A packet of the first 20 ms, a second late: placed where it arrived instead.
        t.push(Channel::Left, 1, 160, Law::Ulaw, &frame(500), ms(1000));
        assert_eq!(t.late_packets(), 0);
        // What is left starts at 0.7 s; the packet is at 1 s.
        let s = drain_all(&mut t, ms(1100));
        assert!(s[2400 + 80][0] > 450);
    }

    #[test]
    fn one_packet_delayed_by_200_ms_still_lands_at_its_own_time() {
        let mut t = Timeline::new();
        for i in 0..20u32 {
            let delay = if i == 5 { 200 } else { 0 };
            let level = if i == 5 { 2000 } else { 500 };
            let now = ms(u64::from(i) * 20 + delay);
            t.push(Channel::Left, 1, i * 160, Law::Ulaw, &frame(level), now);
        }
        let s = drain_all(&mut t, ms(400));
        assert!(s[5 * FRAME + 80][0] > 1900, "the late frame in its place");
        assert!(s[6 * FRAME + 80][0] < 600, "and the stream not moved by it");
        assert!(s[19 * FRAME + 80][0] > 450);
    }

    #[test]
    fn streams_drifting_by_one_percent_stay_with_the_clock_for_a_minute() {
        // The left sender's clock runs 1 % fast (20 ms of audio every 19.8 ms of ours), the
        // right one's 1 % slow (every 20.2 ms).
        let mut t = Timeline::new();
        let mut out = Vec::new();
        let mut most_pending = 0;
        let end = Duration::from_secs(60);
        let (mut fast, mut slow) = (0u64, 0u64);
        let mut now = Duration::ZERO;
        while now < end {
            let next_fast = Duration::from_micros(fast * 19_800);
            let next_slow = Duration::from_micros(slow * 20_200);
            if next_fast <= next_slow {
                now = next_fast;
                let ts = u32::try_from(fast * 160).unwrap_or(0);
                t.push(Channel::Left, 9, ts, Law::Ulaw, &frame(800), now);
                fast += 1;
            } else {
                now = next_slow;
                let ts = u32::try_from(slow * 160).unwrap_or(0);
                t.push(Channel::Right, 3, ts, Law::Ulaw, &frame(-800), now);
                slow += 1;
            }
            t.drain(now, &mut out);
            most_pending = most_pending.max(t.pending.len());
        }
        t.finish(now, &mut out);
        assert_eq!(out.len() as u64, 2 * samples(now), "as long as the call");
        assert_eq!(t.late_packets(), 0);
        assert!(
            most_pending < 4000,
            "no growing delay: {most_pending} samples pending"
        );
        // The slow side has gaps where it was moved on, the fast side loses overlaps: both
        // small.
        let silent = |ch: usize| out.iter().skip(ch).step_by(2).filter(|&&s| s == 0).count();
        let total = out.len() / 2;
        assert!(
            silent(0) * 100 < total * 2,
            "left silent {} of {total}",
            silent(0)
        );
        assert!(
            silent(1) * 100 < total * 2,
            "right silent {} of {total}",
            silent(1)
        );
    }

    #[test]
    fn the_wav_header_describes_stereo_8k_16_bit() {
        let h = wav_header(32000);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes([h[4], h[5], h[6], h[7]]), 32036);
        assert_eq!(u16::from_le_bytes([h[22], h[23]]), 2);
        assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 8000);
        assert_eq!(u32::from_le_bytes([h[28], h[29], h[30], h[31]]), 32000);
        assert_eq!(u32::from_le_bytes([h[40], h[41], h[42], h[43]]), 32000);
    }
}
