//! The call recorder's timeline: the RTP audio of any number of sources placed side by side on
//! one clock, as a stereo 8 kHz 16-bit recording (REC-*, HIST-04), with silence wherever
//! nobody sent anything (hold, loss, a pause asked for by the agent).
//!
//! Sans-IO: the relay or bridge hands it each audio packet with the time it arrived, and takes
//! out the finished part of the timeline as interleaved samples, which the caller writes to a
//! file.
//!
//! A source is one leg (a phone's stream), recorded on the channel its owner gives it: the
//! external party on the left, the agent side on the right. Each source keeps its own lane and
//! anchor, so several sources on one channel (two agents in a bridge) are summed, clipped once
//! when written out, while a packet that arrives twice is placed twice at the same spot rather
//! than added to itself. A source is named by an id that moves with its leg, so a leg handed
//! from the relay to a bridge keeps its anchor and its audio continues sample for sample.
//!
//! A packet's place is its RTP timestamp relative to its source's anchor, so jitter does not
//! move audio around; the anchor is the arrival time of the source's first packet, and a
//! source is anchored again when its SSRC changes or its timestamps stray too far from the
//! clock (a sender's timestamp jump, or drift built up over a long call). Audio is written out
//! once it is older than [`LATENCY`], which is how late a packet may arrive and still count.

use crate::mixer::Audio;
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
/// A source that sent nothing for this long (10 s), with nothing left to write out, is
/// forgotten: a member long gone from a bridge costs nothing. Should it speak again, it is
/// anchored anew at its arrival.
const FORGET_AFTER: u64 = 10 * RATE as u64;

/// Which channel of the recording a source goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The external party (a customer, a carrier).
    Left,
    /// The agent side: the agent, and anyone else taking part on the call center's side.
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

/// Who a packet is from, as far as the recording is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// Unique among the sources of a recording, and the same for a leg wherever it goes.
    pub id: u64,
    pub channel: Channel,
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

#[derive(Debug)]
struct Lane {
    id: u64,
    channel: Channel,
    anchor: Option<Anchor>,
    /// Samples from the timeline's `written` on, not yet handed out.
    pending: VecDeque<i16>,
    /// Arrival (in samples) of the source's last packet.
    last_heard: u64,
}

/// A stereo recording being assembled. Times are offsets from the start of the recording.
#[derive(Debug)]
pub struct Timeline {
    lanes: Vec<Lane>,
    /// Sample position of the first pending sample of every lane.
    written: u64,
    paused_since: Option<u64>,
    /// Pauses over but not yet written out, as sample ranges: a packet arriving after the
    /// resume with audio from the pause (jitter, a bridge reading at its ticks) stays unheard.
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
            lanes: Vec::new(),
            written: 0,
            paused_since: None,
            paused_spans: Vec::new(),
            paused_samples: 0,
            late_packets: 0,
        }
    }

    /// One RTP packet of G.711 audio from `source`, arrived at `now`.
    pub fn push(&mut self, source: Source, audio: Audio<'_>, now: Duration) {
        if self.paused_since.is_some() {
            return;
        }
        let arrival = samples(now);
        let i = match self.lanes.iter().position(|l| l.id == source.id) {
            Some(i) => i,
            None => {
                self.lanes.push(Lane {
                    id: source.id,
                    channel: source.channel,
                    anchor: None,
                    pending: VecDeque::new(),
                    last_heard: arrival,
                });
                self.lanes.len() - 1
            }
        };
        let lane = &mut self.lanes[i];
        // A member moved to the other side (a consultation that became the agent) is heard
        // there from now on; what it said before is still pending on the lane and moves too.
        lane.channel = source.channel;
        lane.last_heard = arrival;
        let arrival = i64::try_from(arrival).unwrap_or(i64::MAX);
        let behind_limit = -(LATENCY_SAMPLES as i64 - 160);
        let placed = match &mut lane.anchor {
            Some(a) if a.ssrc == audio.ssrc => {
                // The signed distance of this timestamp from the anchor's, so reordered
                // packets land before it and a wrap of the 32-bit clock changes nothing.
                let delta = i64::from(audio.timestamp.wrapping_sub(a.ts) as i32);
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
                lane.anchor = Some(Anchor {
                    ssrc: audio.ssrc,
                    ts: audio.timestamp,
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
        let end = offset.saturating_add(audio.payload.len());
        // Never more than a few seconds ahead: anchoring keeps `at` near the arrival clock.
        if end > MAX_PENDING {
            self.late_packets += 1;
            return;
        }
        if lane.pending.len() < end {
            lane.pending.resize(end, 0);
        }
        let law = audio.law;
        for (slot, &byte) in lane.pending.range_mut(offset..end).zip(audio.payload) {
            *slot = law.decode(byte);
        }
        let placed = at..at + audio.payload.len() as u64;
        for span in &self.paused_spans {
            let quiet = span.start.max(placed.start)..span.end.min(placed.end);
            for pos in quiet {
                if let Some(slot) = lane.pending.get_mut((pos - self.written) as usize) {
                    *slot = 0;
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
        let Some(n) = until
            .checked_sub(self.written)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
        else {
            return;
        };
        // Summed wide and clipped once, like the mixer: two loud agents saturate instead of
        // wrapping around.
        let mut sum = vec![[0i32; 2]; n];
        for lane in &mut self.lanes {
            let ch = lane.channel.index();
            let take = n.min(lane.pending.len());
            for (s, x) in sum.iter_mut().zip(lane.pending.drain(..take)) {
                s[ch] += i32::from(x);
            }
        }
        out.reserve(2 * n);
        for s in sum {
            out.extend(s.map(clip));
        }
        self.written = until;
        self.paused_spans.retain(|span| span.end > until);
        self.lanes
            .retain(|l| !l.pending.is_empty() || until.saturating_sub(l.last_heard) < FORGET_AFTER);
    }

    /// From `now` on, both channels are silent until [`Timeline::resume`].
    pub fn pause(&mut self, now: Duration) {
        if self.paused_since.is_none() {
            let at = samples(now);
            self.paused_since = Some(at);
            // What arrived for the time from now on is not to be kept.
            let keep = usize::try_from(at.saturating_sub(self.written)).unwrap_or(usize::MAX);
            for lane in &mut self.lanes {
                lane.pending.truncate(keep);
            }
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

fn clip(s: i32) -> i16 {
    s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

const LATENCY_SAMPLES: u64 = LATENCY.as_millis() as u64 * RATE as u64 / 1000;
/// Ten seconds of audio: a bound on memory whatever the packets claim.
const MAX_PENDING: usize = 10 * RATE as usize;

fn samples(t: Duration) -> u64 {
    u64::try_from(t.as_micros()).unwrap_or(u64::MAX) * u64::from(RATE) / 1_000_000
}

/// The 44-byte header of a stereo 8 kHz 16-bit PCM WAV holding `data_bytes` of samples.
pub fn wav_header(data_bytes: u32) -> [u8; 44] {
    header(2, data_bytes)
}

/// A whole mono 8 kHz 16-bit PCM WAV of `samples` (a voicemail message).
pub fn mono_wav(samples: &[i16]) -> Vec<u8> {
    let data_bytes = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(&header(1, data_bytes));
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    wav
}

fn header(channels: u16, data_bytes: u32) -> [u8; 44] {
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
    use crate::g711::Law;

    const FRAME: usize = 160;

    /// A μ-law packet from the one source of `channel`, as the relay records each leg.
    fn push(t: &mut Timeline, channel: Channel, ssrc: u32, ts: u32, payload: &[u8], now: Duration) {
        let source = Source {
            id: channel.index() as u64,
            channel,
        };
        let audio = Audio {
            ssrc,
            timestamp: ts,
            law: Law::Ulaw,
            payload,
        };
        t.push(source, audio, now);
    }

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
            push(&mut t, Channel::Left, 1, 1000 + i * 160, &frame(1000), now);
            // The agent starts 100 ms later.
            if i >= 5 {
                push(
                    &mut t,
                    Channel::Right,
                    2,
                    9000 + i * 160,
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
            push(&mut t, Channel::Left, 7, seq * 160, &frame(level), ms(arr));
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
            push(&mut t, Channel::Left, 1, i * 160, &frame(3000), now);
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
            push(
                &mut t,
                Channel::Left,
                1,
                i * 160,
                &frame(3000),
                ms(u64::from(i) * 20),
            );
        }
        t.pause(ms(200));
        t.resume(ms(300));
        // Said from 260 to 320 ms, taken off the socket at 325 ms.
        for i in 13..16u32 {
            push(&mut t, Channel::Left, 1, i * 160, &frame(3000), ms(325));
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
        push(&mut t, Channel::Right, 1, 0, &frame(500), ms(0));
        // Same SSRC, timestamps jump by an hour: placed at its arrival, 1 s in.
        push(&mut t, Channel::Right, 1, 28_800_000, &frame(600), ms(1000));
        // Another SSRC at 1.5 s.
        push(&mut t, Channel::Right, 2, 5, &frame(700), ms(1500));
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
        push(&mut t, Channel::Left, 1, 0, &frame(500), ms(0));
        t.drain(ms(1000), &mut out);
        assert_eq!(out.len(), 2 * 5600, "up to 1 s minus the latency");
        // A packet of the first 20 ms, a second late: placed where it arrived instead.
        push(&mut t, Channel::Left, 1, 160, &frame(500), ms(1000));
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
            push(&mut t, Channel::Left, 1, i * 160, &frame(level), now);
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
                push(&mut t, Channel::Left, 9, ts, &frame(800), now);
                fast += 1;
            } else {
                now = next_slow;
                let ts = u32::try_from(slow * 160).unwrap_or(0);
                push(&mut t, Channel::Right, 3, ts, &frame(-800), now);
                slow += 1;
            }
            t.drain(now, &mut out);
            let pending = t.lanes.iter().map(|l| l.pending.len()).max().unwrap_or(0);
            most_pending = most_pending.max(pending);
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

    fn from(t: &mut Timeline, source: Source, ssrc: u32, ts: u32, payload: &[u8], now: Duration) {
        let audio = Audio {
            ssrc,
            timestamp: ts,
            law: Law::Ulaw,
            payload,
        };
        t.push(source, audio, now);
    }

    const CUSTOMER: Source = Source {
        id: 10,
        channel: Channel::Left,
    };
    const AGENT: Source = Source {
        id: 11,
        channel: Channel::Right,
    };
    const SUPERVISOR: Source = Source {
        id: 12,
        channel: Channel::Right,
    };

    #[test]
    fn sources_on_one_channel_are_summed_and_clipped_once() {
        let mut t = Timeline::new();
        for i in 0..10u32 {
            let now = ms(u64::from(i) * 20);
            from(&mut t, CUSTOMER, 1, i * 160, &frame(1000), now);
            from(&mut t, AGENT, 2, i * 160, &frame(2000), now);
            // The supervisor joins 100 ms later; for the last 60 ms both are loud.
            if i >= 5 {
                let level = if i >= 7 { 30_000 } else { 3000 };
                from(&mut t, SUPERVISOR, 3, i * 160, &frame(level), now);
            }
            if i >= 7 {
                from(&mut t, AGENT, 2, i * 160, &frame(30_000), now);
            }
        }
        let s = drain_all(&mut t, ms(200));
        let near = |x: i16, want: i32| (i32::from(x) - want).abs() < want / 16 + 8;
        assert!(
            s.iter().all(|x| near(x[0], 1000)),
            "the customer alone on the left"
        );
        assert!(near(s[400][1], 2000), "the agent alone");
        assert!(
            near(s[6 * FRAME + 80][1], 5000),
            "agent and supervisor summed"
        );
        assert_eq!(
            s[8 * FRAME + 80][1],
            i16::MAX,
            "clipped, not wrapped around"
        );
    }

    #[test]
    fn a_packet_received_twice_is_placed_once() {
        let mut t = Timeline::new();
        for i in 0..5u32 {
            let now = ms(u64::from(i) * 20);
            from(&mut t, AGENT, 2, i * 160, &frame(2000), now);
            from(&mut t, AGENT, 2, i * 160, &frame(2000), now + ms(3));
        }
        let s = drain_all(&mut t, ms(100));
        assert!(
            s.iter().all(|x| (1900..2100).contains(&x[1])),
            "{:?}",
            s[80]
        );
    }

    /// The frames of one phone's stream, each sample a distinct μ-law byte: any sample lost,
    /// repeated or moved shows.
    fn numbered(n: u32) -> Vec<u8> {
        (0..FRAME as u32)
            .map(|i| ((n * 7 + i) % 120 + 0x08) as u8)
            .collect()
    }

    #[test]
    fn a_source_moving_from_the_relay_to_a_bridge_and_back_goes_on_sample_for_sample() {
        // The relay places each packet as it arrives; a bridge takes the packets off the
        // socket at its 20 ms ticks (13 ms out of step with the phone), so their arrival is
        // later and uneven. Each hand-over takes 45 ms, with nobody reading the socket: the
        // packets sent meanwhile arrive together when the next owner starts.
        let mut t = Timeline::new();
        let mut out = Vec::new();
        let mut sent = Vec::new();
        for n in 0..150u32 {
            let sent_at = 5 + u64::from(n) * 20;
            let arrival = match sent_at {
                ..1000 => sent_at,
                1000..2000 => (sent_at.div_ceil(20) * 20 + 13).max(1045),
                _ => sent_at.max(2045),
            };
            let payload = numbered(n);
            from(&mut t, CUSTOMER, 77, 1000 + n * 160, &payload, ms(arrival));
            sent.extend(payload.iter().map(|&b| Law::Ulaw.decode(b)));
            t.drain(ms(arrival), &mut out);
        }
        t.finish(ms(5 + 150 * 20), &mut out);
        let left: Vec<i16> = out.iter().step_by(2).copied().collect();
        let start = 5 * 8;
        assert_eq!(left.len(), start + sent.len(), "as long as the call");
        assert!(left[..start].iter().all(|&x| x == 0));
        let differ = (0..sent.len()).find(|&i| left[start + i] != sent[i]);
        assert_eq!(differ, None, "the first sample that differs");
        assert_eq!(t.late_packets(), 0);
    }

    #[test]
    fn a_source_silent_for_ten_seconds_is_forgotten() {
        let mut t = Timeline::new();
        let mut out = Vec::new();
        from(&mut t, CUSTOMER, 1, 0, &frame(500), ms(0));
        from(&mut t, AGENT, 2, 0, &frame(500), ms(0));
        for i in 1..=500u32 {
            let now = ms(u64::from(i) * 20);
            from(&mut t, CUSTOMER, 1, i * 160, &frame(500), now);
            t.drain(now, &mut out);
        }
        assert_eq!(t.lanes.len(), 2, "the agent kept for 10 s");
        for i in 501..=600u32 {
            let now = ms(u64::from(i) * 20);
            from(&mut t, CUSTOMER, 1, i * 160, &frame(500), now);
            t.drain(now, &mut out);
        }
        assert_eq!(t.lanes.len(), 1, "the agent forgotten");
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
