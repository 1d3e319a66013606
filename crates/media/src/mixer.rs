//! The mixing core of a bridge: what each member hears, 20 ms at a time.
//!
//! Sans-IO: the driver pushes the audio each member sent ([`Mixer::push`]) as it arrives and
//! calls [`Mixer::tick`] once per 20 ms, both with the time, so a minute of audio with jitter
//! and drift is tested as a few thousand calls with made-up times.
//!
//! Each member's audio goes through a small playout buffer keyed by its RTP timestamps, so
//! jitter, reordering and loss come out as one steady stream per member and the members' 20 ms
//! line up at each tick. A member whose clock runs a little fast or slow (phones drift by up to
//! about 1 %) would otherwise fill or drain its buffer: when the margin by which its packets
//! arrive before they are needed leaves its band, a few samples per frame are skipped or
//! repeated until it is back, so the delay stays bounded without dropping or repeating whole
//! packets.
//!
//! The sum is taken in `i32` and clipped to `i16` once per listener, so loud members saturate
//! instead of wrapping around into noise, and a member's own voice is taken out of the sum
//! exactly (it is in there unclipped) so nobody hears themselves.

use crate::g711::Law;
use crate::player::FRAME;
use std::time::Instant;

/// A member of a bridge, named by its owner (the core's leg id, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

/// What a member hears and who hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Hears every other contributing member; heard by every other member but those on hold.
    Talk,
    /// Hears the mix, contributes nothing (a supervisor monitoring a call).
    Listen,
    /// Hears the mix; heard by `to` only (a supervisor coaching an agent). A whisper whose
    /// target has left is heard by nobody.
    Whisper { to: MemberId },
    /// Hears nothing from the others (the driver plays music to it) and contributes nothing.
    Hold,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    #[error("member {0:?} is already in the bridge")]
    Duplicate(MemberId),
    #[error("no member {0:?} in the bridge")]
    Unknown(MemberId),
    #[error("member {0:?} cannot whisper to itself")]
    WhisperToSelf(MemberId),
}

/// What one member's playout buffer did, for statistics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Packets that came after their time had been played, dropped.
    pub late: u64,
    /// Times the buffer started over: first packet, new SSRC, a jump in the timestamps, or
    /// the first packet after the member fell silent.
    pub resyncs: u64,
    /// Samples skipped (the member's clock is fast) and repeated (slow) to keep in step.
    pub skipped: u64,
    pub repeated: u64,
}

/// Samples the playout buffer can hold (512 ms); a power of two so timestamps index it.
const CAPACITY: usize = 4096;
/// How long before it is played a packet should arrive (20 ms, in samples): what absorbs
/// jitter, and the delay the buffer adds.
///
/// The margin of a packet is its first sample's position minus the read position moved on by
/// the time since the last tick: measured against a clock that reads continuously, it does not
/// jump by a frame each time a drifting member's packets slip past a tick.
const TARGET_MARGIN: i64 = FRAME as i64;
/// The margin may wander this far from the target before the buffer corrects it.
const BAND: i64 = FRAME as i64 / 2;
/// Ticks over which the smallest margin is taken (500 ms): jitter makes single margins noisy,
/// while the smallest one over a window is the margin the buffer really has.
const WINDOW: u32 = 25;
/// Most samples skipped or repeated per 20 ms frame (2.5 %): enough for any real clock drift
/// and small enough to be inaudible.
const MAX_ADJUST: i64 = 4;
/// Packets longer than this are not audio anybody sends (G.711 at ptime 60 ms is 480).
const MAX_PACKET: usize = CAPACITY / 4;

/// One received RTP packet of G.711 audio.
#[derive(Debug, Clone, Copy)]
pub struct Audio<'a> {
    pub ssrc: u32,
    pub timestamp: u32,
    /// From the packet's payload type.
    pub law: Law,
    pub payload: &'a [u8],
}

#[derive(Debug)]
struct Playout {
    ring: Box<[i16; CAPACITY]>,
    /// The SSRC and the timestamp of the next sample to play, once the first packet came.
    sync: Option<(u32, u32)>,
    /// The timestamp just after the newest sample written.
    end: u32,
    /// The smallest margin of the packets in this window, and ticks left in it.
    window_low: Option<i64>,
    window_ticks: u32,
    /// Samples read per frame beyond (or, negative, short of) [`FRAME`].
    adjust: i64,
    stats: PlayoutStats,
}

impl Playout {
    fn new() -> Playout {
        Playout {
            ring: Box::new([0; CAPACITY]),
            sync: None,
            end: 0,
            window_low: None,
            window_ticks: WINDOW,
            adjust: 0,
            stats: PlayoutStats::default(),
        }
    }

    /// `elapsed`: samples since the last tick, at most a frame.
    fn push(&mut self, audio: Audio<'_>, elapsed: i64) {
        let len = audio.payload.len();
        if len == 0 || len > MAX_PACKET {
            return;
        }
        let ts = audio.timestamp;
        let read = match self.sync {
            Some((ssrc, read)) if ssrc == audio.ssrc => read,
            _ => self.resync(audio.ssrc, ts, elapsed),
        };
        let mut offset = i64::from(ts.wrapping_sub(read) as i32);
        let ahead = i64::from(self.end.wrapping_sub(read) as i32);
        let too_far = offset + len as i64 > (CAPACITY - FRAME) as i64 - MAX_ADJUST;
        if too_far || (offset < 0 && ahead <= 0) {
            // A jump forward, or the member fell silent and came back with its clock behind
            // ours: its audio starts a new stream here rather than being dropped as late.
            let read = self.resync(audio.ssrc, ts, elapsed);
            offset = i64::from(ts.wrapping_sub(read) as i32);
        }
        let margin = offset - elapsed;
        self.window_low = Some(self.window_low.map_or(margin, |l| l.min(margin)));
        if offset + len as i64 <= 0 {
            self.stats.late += 1;
            return;
        }
        // A packet partly late still has its on-time end played.
        let skip = usize::try_from(-offset).unwrap_or(0);
        let decode = audio.law;
        for (i, &b) in audio.payload.iter().enumerate().skip(skip) {
            let at = ts.wrapping_add(i as u32) as usize % CAPACITY;
            self.ring[at] = decode.decode(b);
        }
        let new_end = ts.wrapping_add(len as u32);
        if new_end.wrapping_sub(self.end) as i32 > 0 {
            self.end = new_end;
        }
    }

    /// Starts over so that a packet at `ts` arrives with the target margin; the new read
    /// position.
    fn resync(&mut self, ssrc: u32, ts: u32, elapsed: i64) -> u32 {
        let read = ts.wrapping_sub((TARGET_MARGIN + elapsed) as u32);
        self.ring.fill(0);
        self.sync = Some((ssrc, read));
        self.end = read;
        self.window_low = None;
        self.window_ticks = WINDOW;
        self.adjust = 0;
        self.stats.resyncs += 1;
        read
    }

    /// The next 20 ms into `out`; false (and `out` silent) when the member sent nothing for
    /// this time.
    fn read(&mut self, out: &mut [i32; FRAME]) -> bool {
        let Some((ssrc, read)) = self.sync else {
            out.fill(0);
            return false;
        };
        self.end_of_tick();
        let take = (FRAME as i64 + self.adjust) as usize;
        let ahead = i64::from(self.end.wrapping_sub(read) as i32);
        if ahead <= 0 {
            // Nothing buffered: the time passes without a skip or a repeat to count.
            out.fill(0);
            self.sync = Some((ssrc, read.wrapping_add(FRAME as u32)));
            return false;
        }
        // Nearest-sample resampling of `take` samples onto a frame: spreads the skipped or
        // repeated samples over the frame instead of bunching them.
        for (i, o) in out.iter_mut().enumerate() {
            let at = read.wrapping_add((i * take / FRAME) as u32) as usize % CAPACITY;
            *o = i32::from(self.ring[at]);
        }
        for i in 0..take {
            // Cleared once played, so a wrap of the ring never replays old audio.
            self.ring[read.wrapping_add(i as u32) as usize % CAPACITY] = 0;
        }
        if self.adjust > 0 {
            self.stats.skipped += self.adjust as u64;
        } else {
            self.stats.repeated += (-self.adjust) as u64;
        }
        self.sync = Some((ssrc, read.wrapping_add(take as u32)));
        true
    }

    /// Closes the window when it is over and decides the correction for the next one.
    fn end_of_tick(&mut self) {
        self.window_ticks -= 1;
        if self.window_ticks > 0 {
            return;
        }
        self.window_ticks = WINDOW;
        let Some(low) = self.window_low.take() else {
            // No packet in the window: nothing to say about the member's clock.
            self.adjust = 0;
            return;
        };
        let excess = low - TARGET_MARGIN;
        // Correct once the margin leaves the band, and keep correcting until it is back at the
        // target, so it does not hover at the edge of the band.
        let correcting = (self.adjust > 0 && excess > 0) || (self.adjust < 0 && excess < 0);
        self.adjust = if correcting || excess.abs() > BAND {
            // Enough to take the excess out within about one window.
            excess.signum() * (excess.abs() / i64::from(WINDOW) + 1).min(MAX_ADJUST)
        } else {
            0
        };
    }

    /// Samples buffered ahead of the read position: the delay the buffer adds right now.
    fn depth(&self) -> i64 {
        self.sync.map_or(0, |(_, read)| {
            i64::from(self.end.wrapping_sub(read) as i32).max(0)
        })
    }
}

#[derive(Debug)]
struct Member {
    id: MemberId,
    law: Law,
    mode: Mode,
    playout: Playout,
    /// This tick's audio from the member, decoded, and whether there was any.
    frame: [i32; FRAME],
    sent_audio: bool,
    /// This tick's audio for the member, encoded in its law.
    heard: [u8; FRAME],
}

impl Member {
    fn contributes(&self) -> bool {
        self.sent_audio && matches!(self.mode, Mode::Talk | Mode::Whisper { .. })
    }
}

/// The members of one bridge and what each of them hears.
#[derive(Debug)]
pub struct Mixer {
    members: Vec<Member>,
    /// When the last tick was, or (before the first one) when the ticks were started: where
    /// the 20 ms of each tick begin.
    last_tick: Instant,
}

impl Mixer {
    /// A mixer whose first tick comes 20 ms after `now`.
    pub fn new(now: Instant) -> Mixer {
        Mixer {
            members: Vec::new(),
            last_tick: now,
        }
    }

    /// Adds a member that is sent audio in `law`; it hears the others from the next tick.
    pub fn add(&mut self, id: MemberId, law: Law, mode: Mode) -> Result<(), MixerError> {
        if self.index(id).is_some() {
            return Err(MixerError::Duplicate(id));
        }
        self.check_mode(id, mode)?;
        self.members.push(Member {
            id,
            law,
            mode,
            playout: Playout::new(),
            frame: [0; FRAME],
            sent_audio: false,
            heard: [law.encode_fast(0); FRAME],
        });
        Ok(())
    }

    /// False if there was no such member. Whispers to it are heard by nobody from now on.
    pub fn remove(&mut self, id: MemberId) -> bool {
        let Some(i) = self.index(id) else {
            return false;
        };
        self.members.swap_remove(i);
        true
    }

    pub fn set_mode(&mut self, id: MemberId, mode: Mode) -> Result<(), MixerError> {
        let i = self.index(id).ok_or(MixerError::Unknown(id))?;
        self.check_mode(id, mode)?;
        self.members[i].mode = mode;
        Ok(())
    }

    /// The law the member is sent audio in (after a re-INVITE changed its codec).
    pub fn set_law(&mut self, id: MemberId, law: Law) -> Result<(), MixerError> {
        let i = self.index(id).ok_or(MixerError::Unknown(id))?;
        self.members[i].law = law;
        Ok(())
    }

    fn check_mode(&self, id: MemberId, mode: Mode) -> Result<(), MixerError> {
        match mode {
            Mode::Whisper { to } if to == id => Err(MixerError::WhisperToSelf(id)),
            Mode::Whisper { to } if self.index(to).is_none() => Err(MixerError::Unknown(to)),
            _ => Ok(()),
        }
    }

    pub fn mode(&self, id: MemberId) -> Option<Mode> {
        self.index(id).map(|i| self.members[i].mode)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn members(&self) -> impl Iterator<Item = (MemberId, Mode)> + '_ {
        self.members.iter().map(|m| (m.id, m.mode))
    }

    /// Audio the member sent, received at `now`. Unknown members are ignored: a packet can
    /// still be in flight when its member is removed.
    pub fn push(&mut self, id: MemberId, audio: Audio<'_>, now: Instant) {
        let us = now.saturating_duration_since(self.last_tick).as_micros() as i64;
        let elapsed = (us * 8 / 1000).min(FRAME as i64);
        if let Some(i) = self.index(id) {
            self.members[i].playout.push(audio, elapsed);
        }
    }

    /// The 20 ms due at `now`: every member's frame to send, in its own law. Members on hold
    /// get none (the driver plays their music).
    pub fn tick(&mut self, now: Instant) -> impl Iterator<Item = (MemberId, &[u8; FRAME])> + '_ {
        self.last_tick = now;
        for m in &mut self.members {
            m.sent_audio = m.playout.read(&mut m.frame);
        }
        let mut sum = [0i32; FRAME];
        for m in self.members.iter().filter(|m| m.contributes()) {
            if m.mode == Mode::Talk {
                add(&mut sum, &m.frame, 1);
            }
        }
        for i in 0..self.members.len() {
            let me = &self.members[i];
            if me.mode == Mode::Hold {
                continue;
            }
            let mut heard = sum;
            if me.mode == Mode::Talk && me.contributes() {
                add(&mut heard, &me.frame, -1);
            }
            for w in self.members.iter().filter(|w| w.contributes()) {
                if w.mode == (Mode::Whisper { to: me.id }) {
                    add(&mut heard, &w.frame, 1);
                }
            }
            let law = me.law;
            let out = &mut self.members[i].heard;
            for (o, &s) in out.iter_mut().zip(&heard) {
                *o = law.encode_fast(s.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16);
            }
        }
        self.members
            .iter()
            .filter(|m| m.mode != Mode::Hold)
            .map(|m| (m.id, &m.heard))
    }

    /// Samples buffered for the member: how far behind its voice is heard.
    pub fn depth(&self, id: MemberId) -> Option<usize> {
        self.index(id)
            .map(|i| self.members[i].playout.depth() as usize)
    }

    pub fn stats(&self, id: MemberId) -> Option<PlayoutStats> {
        self.index(id).map(|i| self.members[i].playout.stats)
    }

    fn index(&self, id: MemberId) -> Option<usize> {
        self.members.iter().position(|m| m.id == id)
    }
}

fn add(acc: &mut [i32; FRAME], frame: &[i32; FRAME], sign: i32) {
    for (a, &s) in acc.iter_mut().zip(frame) {
        *a += sign * s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::Duration;

    const A: MemberId = MemberId(1);
    const B: MemberId = MemberId(2);
    const C: MemberId = MemberId(3);
    const D: MemberId = MemberId(4);

    /// A bridge fed with made-up packets on a made-up clock.
    struct Bridge {
        mixer: Mixer,
        t0: Instant,
        /// Microseconds since `t0`: of the last tick, or of a packet's arrival.
        now: u64,
        ticks: u64,
        /// Next timestamp per member.
        ts: HashMap<MemberId, u32>,
    }

    impl Bridge {
        fn new(members: &[(MemberId, Law, Mode)]) -> Bridge {
            let t0 = Instant::now();
            let mut mixer = Mixer::new(t0);
            for &(id, law, mode) in members {
                mixer.add(id, law, mode).unwrap();
            }
            Bridge {
                mixer,
                t0,
                now: 0,
                ticks: 0,
                ts: HashMap::new(),
            }
        }

        fn talking(ids: &[MemberId]) -> Bridge {
            let members: Vec<_> = ids.iter().map(|&id| (id, Law::Ulaw, Mode::Talk)).collect();
            Bridge::new(&members)
        }

        fn at(&self) -> Instant {
            self.t0 + Duration::from_micros(self.now)
        }

        /// One 20 ms packet of a constant level from `id`, with the next timestamp.
        fn send(&mut self, id: MemberId, level: i16) {
            let ts = *self.ts.entry(id).or_insert(1000 * id.0 as u32);
            self.ts.insert(id, ts.wrapping_add(FRAME as u32));
            self.send_at(id, ts, &[level; FRAME]);
        }

        fn send_at(&mut self, id: MemberId, timestamp: u32, samples: &[i16]) {
            let payload: Vec<u8> = samples.iter().map(|&s| Law::Ulaw.encode(s)).collect();
            let audio = Audio {
                ssrc: id.0 as u32,
                timestamp,
                law: Law::Ulaw,
                payload: &payload,
            };
            let at = self.at();
            self.mixer.push(id, audio, at);
        }

        /// The next tick, 20 ms after the last: what each member hears, decoded.
        fn tick(&mut self) -> HashMap<MemberId, Vec<i16>> {
            self.ticks += 1;
            self.now = self.ticks * 20_000;
            let laws: HashMap<MemberId, Law> =
                self.mixer.members.iter().map(|m| (m.id, m.law)).collect();
            let at = self.at();
            self.mixer
                .tick(at)
                .map(|(id, frame)| (id, frame.iter().map(|&b| laws[&id].decode(b)).collect()))
                .collect()
        }

        /// Every member in `levels` sends one packet, then a tick: what each member hears in
        /// the middle of its frame.
        fn round(&mut self, levels: &[(MemberId, i16)]) -> HashMap<MemberId, i16> {
            for &(id, level) in levels {
                self.send(id, level);
            }
            self.tick()
                .into_iter()
                .map(|(id, s)| (id, s[FRAME / 2]))
                .collect()
        }

        /// A few rounds so the buffers have played out their start; the last round's levels.
        fn steady(&mut self, levels: &[(MemberId, i16)]) -> HashMap<MemberId, i16> {
            (0..5).map(|_| self.round(levels)).last().unwrap()
        }
    }

    /// G.711 is logarithmic: a level comes back within a few percent.
    fn near(got: i16, want: i32) -> bool {
        (i32::from(got) - want).abs() <= want.abs() / 16 + 40
    }

    #[track_caller]
    fn hears(heard: &HashMap<MemberId, i16>, who: MemberId, want: i32) {
        let got = heard[&who];
        assert!(near(got, want), "{who:?} hears {got}, not about {want}");
    }

    #[test]
    fn a_member_never_hears_itself() {
        let mut alone = Bridge::talking(&[A]);
        hears(&alone.steady(&[(A, 8000)]), A, 0);
        let mut two = Bridge::talking(&[A, B]);
        let heard = two.steady(&[(A, 8000), (B, 1000)]);
        hears(&heard, A, 1000);
        hears(&heard, B, 8000);
    }

    #[test]
    fn three_members_each_hear_the_other_two() {
        let mut b = Bridge::talking(&[A, B, C]);
        let heard = b.steady(&[(A, 1000), (B, 2000), (C, 4000)]);
        hears(&heard, A, 6000);
        hears(&heard, B, 5000);
        hears(&heard, C, 3000);
    }

    #[test]
    fn each_member_is_sent_its_own_law() {
        let mut b = Bridge::new(&[(A, Law::Alaw, Mode::Talk), (B, Law::Ulaw, Mode::Talk)]);
        for _ in 0..5 {
            b.send(A, 3000);
            b.send(B, 3000);
            b.tick();
        }
        let at = b.at();
        let frames: HashMap<MemberId, [u8; FRAME]> =
            b.mixer.tick(at).map(|(id, f)| (id, *f)).collect();
        // The buffers still hold a frame of each: decoding A's bytes as A-law and B's as µ-law
        // gives the level back; the other way round it would not.
        assert!(near(Law::Alaw.decode(frames[&A][FRAME / 2]), 3000));
        assert!(near(Law::Ulaw.decode(frames[&B][FRAME / 2]), 3000));
    }

    #[test]
    fn a_listener_hears_the_mix_and_contributes_nothing() {
        let mut b = Bridge::new(&[
            (A, Law::Ulaw, Mode::Talk),
            (B, Law::Ulaw, Mode::Talk),
            (C, Law::Ulaw, Mode::Listen),
        ]);
        let heard = b.steady(&[(A, 1000), (B, 2000), (C, 8000)]);
        hears(&heard, A, 2000);
        hears(&heard, B, 1000);
        hears(&heard, C, 3000);
    }

    #[test]
    fn a_whisper_reaches_only_its_target_and_the_whisperer_hears_the_mix() {
        let mut b = Bridge::new(&[
            (A, Law::Ulaw, Mode::Talk),
            (B, Law::Ulaw, Mode::Talk),
            (C, Law::Ulaw, Mode::Whisper { to: A }),
        ]);
        let heard = b.steady(&[(A, 1000), (B, 2000), (C, 4000)]);
        hears(&heard, A, 2000 + 4000);
        hears(&heard, B, 1000);
        hears(&heard, C, 3000);
    }

    #[test]
    fn a_member_on_hold_hears_nothing_from_the_bridge_and_is_not_heard() {
        let mut b = Bridge::new(&[
            (A, Law::Ulaw, Mode::Talk),
            (B, Law::Ulaw, Mode::Talk),
            (C, Law::Ulaw, Mode::Hold),
        ]);
        let heard = b.steady(&[(A, 1000), (B, 2000), (C, 4000)]);
        assert!(!heard.contains_key(&C), "the driver plays music to C");
        hears(&heard, A, 2000);
        hears(&heard, B, 1000);
        // Back from hold, C is in the conversation again from the next tick.
        b.mixer.set_mode(C, Mode::Talk).unwrap();
        let heard = b.steady(&[(A, 1000), (B, 2000), (C, 4000)]);
        hears(&heard, A, 6000);
        hears(&heard, C, 3000);
    }

    #[test]
    fn loud_members_are_clipped_instead_of_wrapping_around() {
        for level in [30_000i16, -30_000] {
            let mut b = Bridge::talking(&[A, B, C]);
            let mut c = Vec::new();
            for _ in 0..5 {
                b.send(A, level);
                b.send(B, level);
                c.extend(b.tick()[&C].clone());
            }
            // 60 000 wrapped into i16 would be -5536: a loud crackle of the wrong sign.
            let wrong = c.iter().find(|&&s| s != 0 && s.signum() != level.signum());
            assert_eq!(wrong, None, "{level}");
            let loudest = c.iter().map(|&s| i32::from(s).abs()).max();
            assert!(loudest >= Some(32_000), "{level}: {loudest:?}");
        }
    }

    #[test]
    fn invalid_memberships_are_refused() {
        let mut m = Mixer::new(Instant::now());
        m.add(A, Law::Ulaw, Mode::Talk).unwrap();
        assert_eq!(
            m.add(A, Law::Alaw, Mode::Listen),
            Err(MixerError::Duplicate(A))
        );
        assert_eq!(
            m.add(B, Law::Ulaw, Mode::Whisper { to: B }),
            Err(MixerError::WhisperToSelf(B))
        );
        assert_eq!(
            m.add(B, Law::Ulaw, Mode::Whisper { to: C }),
            Err(MixerError::Unknown(C))
        );
        assert_eq!(m.set_mode(C, Mode::Talk), Err(MixerError::Unknown(C)));
        m.add(B, Law::Ulaw, Mode::Whisper { to: A }).unwrap();
        assert!(m.remove(A));
        assert!(!m.remove(A));
        assert_eq!(m.len(), 1);
        // B whispers to nobody now: it still hears the mix, and no tick fails.
        assert_eq!(m.tick(Instant::now()).count(), 1);
    }

    #[test]
    fn reordered_packets_within_the_margin_play_as_if_in_order() {
        let mut b = Bridge::talking(&[A, B]);
        let ramp = |n: u32| -> Vec<i16> {
            (0..FRAME)
                .map(|i| (n * 160 + i as u32) as i16 * 2)
                .collect()
        };
        // (arrival in µs, packet): 3 comes before 2, which is 4 ms late, within the margin.
        let arrivals = [(1_000, 0), (21_000, 1), (41_000, 3), (45_000, 2)];
        let later = (4..10).map(|n| (u64::from(n) * 20_000 + 1_000, n));
        let mut arrivals: Vec<(u64, u32)> = arrivals.into_iter().chain(later).collect();
        arrivals.reverse();
        let mut heard = Vec::new();
        for tick in 1..=10u64 {
            while arrivals.last().is_some_and(|&(at, _)| at < tick * 20_000) {
                let (at, n) = arrivals.pop().unwrap();
                b.now = at;
                b.send_at(A, n * 160, &ramp(n));
            }
            heard.extend(b.tick()[&B].clone());
        }
        let start = heard.iter().position(|&s| s != 0).unwrap();
        let played: Vec<i16> = heard[start..].iter().copied().take(6 * FRAME).collect();
        let sent: Vec<i16> = (0..6).flat_map(ramp).collect();
        for (i, (&got, &want)) in played.iter().zip(&sent).enumerate() {
            assert!(near(got, i32::from(want)), "sample {i}: {got} vs {want}");
        }
        assert_eq!(b.mixer.stats(A).unwrap().late, 0);
    }

    #[test]
    fn a_lost_packet_is_20_ms_of_silence_and_the_rest_keeps_its_time() {
        let mut b = Bridge::talking(&[A, B]);
        let mut mids = Vec::new();
        for n in 0..20u32 {
            if n != 10 {
                b.send_at(A, n * 160, &[4000; FRAME]);
            }
            mids.push(b.tick()[&B][FRAME / 2]);
        }
        let silent: Vec<usize> = mids
            .iter()
            .enumerate()
            .skip(3)
            .filter(|(_, &s)| s == 0)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(silent.len(), 1, "one frame of silence: {mids:?}");
        assert_eq!(
            b.mixer.stats(A).unwrap().resyncs,
            1,
            "no restart after the loss"
        );
    }

    #[test]
    fn a_packet_too_late_to_be_played_is_dropped_and_counted() {
        let mut b = Bridge::talking(&[A, B]);
        for n in 0..5u32 {
            b.send_at(A, n * 160, &[4000; FRAME]);
            b.tick();
        }
        b.send_at(A, 0, &[4000; FRAME]);
        assert_eq!(b.mixer.stats(A).unwrap().late, 1);
    }

    #[test]
    fn a_member_back_from_silence_with_its_own_clock_is_heard_again_at_once() {
        let mut b = Bridge::talking(&[A, B]);
        for n in 0..5u32 {
            b.send_at(A, n * 160, &[4000; FRAME]);
            b.tick();
        }
        // Two seconds without packets (silence suppression), and the phone's clock is 30 ms
        // behind ours when it speaks again.
        for _ in 0..100 {
            b.tick();
        }
        let resumed = 5 * 160 + 100 * 160 - 240;
        let mut mids = Vec::new();
        for n in 0..5u32 {
            b.send_at(A, resumed + n * 160, &[4000; FRAME]);
            mids.push(b.tick()[&B][FRAME / 2]);
        }
        assert!(mids[1..].iter().all(|&s| near(s, 4000)), "{mids:?}");
        assert_eq!(b.mixer.stats(A).unwrap().late, 0);
    }

    /// Members whose clocks run `rates` times ours send constant levels for a minute, with
    /// some jitter; returns the largest depth of any buffer and every sample C heard, from
    /// one second on.
    fn drifting(rates: &[(MemberId, f64, i16)]) -> (Bridge, usize, Vec<i16>) {
        let mut ids: Vec<MemberId> = rates.iter().map(|r| r.0).collect();
        ids.push(C);
        let mut b = Bridge::talking(&ids);
        let mut next: Vec<(u64, u32)> = rates.iter().map(|_| (3_000, 0)).collect();
        let mut heard = Vec::new();
        let mut max_depth = 0;
        let mut jitter = 0x1234_5678u32;
        for tick in 1..=3000u64 {
            let tick_at = tick * 20_000;
            // Every packet due before this tick, in time order across members.
            loop {
                let due = next
                    .iter()
                    .enumerate()
                    .filter(|(_, (at, _))| *at < tick_at)
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(i, _)| i);
                let Some(i) = due else { break };
                let (id, rate, level) = rates[i];
                let (at, ts) = next[i];
                debug_assert!(at >= b.now, "arrivals in time order");
                b.now = at;
                b.send_at(id, ts, &[level; FRAME]);
                // Up to 8 ms of network jitter on the next one (xorshift: fixed, no crate).
                jitter ^= jitter << 13;
                jitter ^= jitter >> 17;
                jitter ^= jitter << 5;
                // Sent on the member's own clock; the jitter does not accumulate.
                let sent = f64::from(ts / FRAME as u32 + 1) * 20_000.0 / rate;
                next[i] = (
                    sent as u64 + 3_000 + u64::from(jitter % 8_000),
                    ts + FRAME as u32,
                );
            }
            let frame = b.tick();
            if tick > 50 {
                heard.extend_from_slice(&frame[&C]);
                for &(id, _, _) in rates {
                    max_depth = max_depth.max(b.mixer.depth(id).unwrap());
                }
            }
        }
        (b, max_depth, heard)
    }

    #[test]
    fn members_one_percent_fast_and_slow_stay_in_step_for_a_minute() {
        let (b, max_depth, heard) = drifting(&[(A, 1.01, 1000), (B, 0.99, 2000)]);
        // Bounded: at most 80 ms behind after a minute, where without correction the fast
        // member would be 600 ms ahead and the slow one would have run dry after 0.2 s.
        assert!(max_depth <= 640, "buffer depth reached {max_depth} samples");
        // In step and without gaps: C hears both, all the time.
        let off: Vec<usize> = heard
            .iter()
            .enumerate()
            .filter(|(_, &s)| !near(s, 3000))
            .map(|(i, _)| i)
            .take(5)
            .collect();
        assert!(off.is_empty(), "C did not hear both at samples {off:?}");
        for id in [A, B] {
            let s = b.mixer.stats(id).unwrap();
            assert_eq!((s.late, s.resyncs), (0, 1), "{id:?}: {s:?}");
        }
        // About 1 % of a minute (4800 samples) was skipped of the fast member and repeated
        // of the slow one.
        let (fast, slow) = (b.mixer.stats(A).unwrap(), b.mixer.stats(B).unwrap());
        assert!((4000..6000).contains(&fast.skipped), "{fast:?}");
        assert!((4000..6000).contains(&slow.repeated), "{slow:?}");
    }

    #[test]
    fn a_member_on_our_clock_is_never_adjusted() {
        let (b, max_depth, heard) = drifting(&[(A, 1.0, 1000), (D, 1.0, 2000)]);
        assert!(max_depth <= 640, "{max_depth}");
        assert!(heard.iter().all(|&s| near(s, 3000)));
        let s = b.mixer.stats(A).unwrap();
        assert_eq!((s.skipped, s.repeated, s.late), (0, 0, 0), "{s:?}");
    }
}
