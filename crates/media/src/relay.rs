//! The two-party relay: RTP and RTCP forwarded between two legs as they are, without decoding.
//!
//! One task per relay waits on the readiness of its four sockets and drains whichever is ready
//! into a single buffer owned by the task, so forwarding a packet allocates nothing and costs
//! one `recvfrom` and one `sendto`.
//!
//! A leg can instead hear a [`Player`] (greeting, music on hold, announcements). What it hears
//! from the other side is then dropped, and once a player has spoken to a leg, packets sent on
//! to it carry the player's SSRC with sequence numbers and timestamps continuing its own, so
//! the switch back to the other party's voice is one stream to the phone, not a new one.

use crate::g711::Law;
use crate::player::{Player, Program, FRAME};
use crate::recorder::{Channel, Timeline};
use crate::rtp_pool::RtpEndpoint;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// Larger than any Ethernet-sized datagram; one that fills it was probably truncated.
const BUF_LEN: usize = 2048;
/// Datagrams handled per readiness wake-up before letting the other sockets have a turn.
const BATCH: usize = 32;
/// A latched source silent this long may be replaced by a new one: a phone behind NAT whose
/// mapping changed must not lose its audio for the rest of the call, while a stranger cannot
/// take over a stream that is flowing.
const RELATCH_AFTER: Duration = Duration::from_secs(2);
/// How many recent (timestamp, event) pairs to remember: end packets of an event can arrive
/// after the next event started when the network reorders.
const RECENT_EVENTS: usize = 4;
/// One packet of audio.
const PTIME: Duration = Duration::from_millis(20);
/// A player late by more than this many packets restarts its clock instead of bursting.
const MAX_CATCH_UP: u64 = 3;
/// How often a recording's final part is handed out while no packet arrives.
const TAP_DRAIN: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// No accepted RTP from either side for this long → [`RelayEvent::Idle`]. Zero disables.
    pub idle_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            idle_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct LegMedia {
    pub endpoint: RtpEndpoint,
    /// From that leg's SDP; replaced by the first packet's source (symmetric RTP).
    pub remote: Option<SocketAddr>,
    pub telephone_event_pt: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEvent {
    /// An RFC 4733 digit received from `leg` (0 or 1), reported once per event.
    Dtmf { leg: usize, digit: char },
    /// Neither leg sent RTP for `idle_timeout`. Reported once per silent period: it is
    /// reported again only if RTP resumed and then stopped again.
    Idle,
    /// The player on `leg` reached the end of a program that ends.
    PlayDone { leg: usize },
    /// The relay task ended (stopped or handle dropped); its ports are back in the pool.
    Stopped,
}

/// Where a recording's audio goes: the relay sends the finished parts of the stereo timeline
/// here as they become final, then [`RecorderOutput::End`].
#[derive(Debug)]
pub struct RecordTap {
    /// The leg of the external party (left channel); the other leg is the agent (right).
    pub left_leg: usize,
    pub output: UnboundedSender<RecorderOutput>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderOutput {
    /// Interleaved left/right 16-bit samples at 8 kHz, continuing the previous ones.
    Audio(Vec<i16>),
    /// The recording is over: no more audio follows.
    End {
        paused: Duration,
        /// Packets that came too late (or too far ahead) to be placed: heard as silence.
        late_packets: u64,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    pub rtp_packets: u64,
    pub rtp_bytes: u64,
    pub rtcp_packets: u64,
    pub rtcp_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Indexed by the leg the packets came from: `[0]` is 0→1, `[1]` is 1→0.
    pub forwarded: [DirectionStats; 2],
    /// Datagrams received on each leg that were not RTP/RTCP version 2, or were oversized.
    pub garbage: [u64; 2],
    /// Valid packets received on each leg from a source other than the latched one.
    pub foreign: [u64; 2],
    /// Packets from each leg not sent on: the other leg has no address yet, or send failed.
    pub unsent: [u64; 2],
    /// Packets of prompts and music sent to each leg.
    pub played: [u64; 2],
    /// RTP packets each leg's stream lost on the way to us (RFC 3550 A.3), by the leg they
    /// came from.
    pub lost: [u64; 2],
}

/// Controls a running relay. Dropping it stops the relay, like [`RelayHandle::stop`].
#[derive(Debug)]
pub struct RelayHandle {
    counters: Arc<Counters>,
    commands: UnboundedSender<Command>,
}

impl RelayHandle {
    pub fn stats(&self) -> RelayStats {
        self.counters.snapshot()
    }

    /// Points leg `leg` (0 or 1) at a new address after a re-INVITE, and lets the next packet
    /// from that leg latch again. `None` stops sending to the leg until it sends to us.
    /// The same address as the leg's SDP gave last time changes nothing, so a latched
    /// address survives session refreshes and hold.
    pub fn set_remote(&self, leg: usize, addr: Option<SocketAddr>) {
        debug_assert!(leg < 2, "a relay has legs 0 and 1, not {leg}");
        if leg < 2 {
            // The task ending first only means nobody needs the address any more.
            let _ = self.commands.send(Command::SetRemote(leg, addr));
        }
    }

    /// Also gives the leg's telephone-event payload type, once its SDP is known.
    pub fn set_leg(&self, leg: usize, addr: Option<SocketAddr>, telephone_event_pt: Option<u8>) {
        if leg < 2 {
            let _ = self
                .commands
                .send(Command::SetLeg(leg, addr, telephone_event_pt));
        }
    }

    /// Leg `leg` hears `program`, encoded with `law`, instead of the other side, until it ends
    /// ([`RelayEvent::PlayDone`]) or [`RelayHandle::stop_playing`].
    pub fn play(&self, leg: usize, program: Program, law: Law) {
        if leg < 2 {
            let _ = self
                .commands
                .send(Command::Play(leg, Box::new(program), law));
        }
    }

    /// Leg `leg` hears the other side again.
    pub fn stop_playing(&self, leg: usize) {
        if leg < 2 {
            let _ = self.commands.send(Command::StopPlaying(leg));
        }
    }

    /// Records both legs from now on into `tap` (a recording already running ends first). The
    /// recording ends with [`RelayHandle::stop_recording`] or when the relay stops.
    pub fn record(&self, tap: RecordTap) {
        let _ = self.commands.send(Command::Record(tap));
    }

    /// Both channels are silence in the recording until [`RelayHandle::resume_recording`].
    pub fn pause_recording(&self) {
        let _ = self.commands.send(Command::Recording(false));
    }

    pub fn resume_recording(&self) {
        let _ = self.commands.send(Command::Recording(true));
    }

    pub fn stop_recording(&self) {
        let _ = self.commands.send(Command::StopRecording);
    }

    /// Stops forwarding. The task sends [`RelayEvent::Stopped`] and frees the ports shortly
    /// after, not before this returns.
    pub fn stop(self) {}
}

/// Starts relaying between `a` (leg 0) and `b` (leg 1). Must be called within a tokio runtime.
pub fn spawn_relay(
    a: LegMedia,
    b: LegMedia,
    cfg: RelayConfig,
    events: UnboundedSender<RelayEvent>,
) -> RelayHandle {
    let counters = Arc::new(Counters::default());
    let (commands, command_rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let relay = Relay {
        legs: [
            LegState::new(a.remote, a.telephone_event_pt, now),
            LegState::new(b.remote, b.telephone_event_pt, now),
        ],
        counters: Arc::clone(&counters),
        events,
        last_rtp: now,
        idle_reported: false,
        outputs: [Output::new(), Output::new()],
        tap: None,
    };
    tokio::spawn(run(relay, [a.endpoint, b.endpoint], cfg, command_rx));
    RelayHandle { counters, commands }
}

#[derive(Debug)]
enum Command {
    SetRemote(usize, Option<SocketAddr>),
    SetLeg(usize, Option<SocketAddr>, Option<u8>),
    Play(usize, Box<Program>, Law),
    StopPlaying(usize),
    Record(RecordTap),
    /// Resume (true) or pause (false) the recording.
    Recording(bool),
    StopRecording,
}

#[derive(Debug, Default)]
struct Counters {
    /// Per source leg: RTP packets, RTP bytes, RTCP packets, RTCP bytes.
    forwarded: [[AtomicU64; 4]; 2],
    garbage: [AtomicU64; 2],
    foreign: [AtomicU64; 2],
    unsent: [AtomicU64; 2],
    played: [AtomicU64; 2],
    lost: [AtomicU64; 2],
}

impl Counters {
    fn snapshot(&self) -> RelayStats {
        let pair = |c: &[AtomicU64; 2]| [c[0].load(Relaxed), c[1].load(Relaxed)];
        let dir = |c: &[AtomicU64; 4]| DirectionStats {
            rtp_packets: c[0].load(Relaxed),
            rtp_bytes: c[1].load(Relaxed),
            rtcp_packets: c[2].load(Relaxed),
            rtcp_bytes: c[3].load(Relaxed),
        };
        RelayStats {
            forwarded: [dir(&self.forwarded[0]), dir(&self.forwarded[1])],
            garbage: pair(&self.garbage),
            foreign: pair(&self.foreign),
            unsent: pair(&self.unsent),
            played: pair(&self.played),
            lost: pair(&self.lost),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rtp,
    Rtcp,
}

/// Where one of a leg's streams goes, and whether that was learned from the leg's packets.
#[derive(Debug)]
struct Latch {
    addr: Option<SocketAddr>,
    latched: bool,
    last_seen: Instant,
}

impl Latch {
    fn new(addr: Option<SocketAddr>, now: Instant) -> Latch {
        Latch {
            addr,
            latched: false,
            last_seen: now,
        }
    }

    /// Whether a valid packet from `src` belongs to this leg; latches on it if it may.
    fn accept(&mut self, src: SocketAddr, now: Instant) -> bool {
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
struct LegState {
    /// The address the leg's SDP gave, as opposed to the one latched.
    signalled: Option<SocketAddr>,
    rtp: Latch,
    /// Empty until RTCP arrives from the leg; until then RTCP goes to the RTP port + 1.
    rtcp: Latch,
    telephone_event_pt: Option<u8>,
    recent_events: [Option<(u32, u8)>; RECENT_EVENTS],
    next_event_slot: usize,
    loss: crate::rtp_loss::LossCounter,
}

impl LegState {
    fn new(remote: Option<SocketAddr>, telephone_event_pt: Option<u8>, now: Instant) -> LegState {
        LegState {
            signalled: remote,
            rtp: Latch::new(remote, now),
            rtcp: Latch::new(None, now),
            telephone_event_pt,
            recent_events: [None; RECENT_EVENTS],
            next_event_slot: 0,
            loss: Default::default(),
        }
    }

    fn set_remote(&mut self, addr: Option<SocketAddr>) {
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

    fn destination(&self, kind: Kind) -> Option<SocketAddr> {
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
}

struct Relay {
    legs: [LegState; 2],
    counters: Arc<Counters>,
    events: UnboundedSender<RelayEvent>,
    last_rtp: Instant,
    idle_reported: bool,
    /// What each leg is sent: indexed by the leg that receives.
    outputs: [Output; 2],
    tap: Option<Tap>,
}

/// A recording in progress: the timeline both legs' audio is placed on.
struct Tap {
    timeline: Timeline,
    left_leg: usize,
    started: Instant,
    output: UnboundedSender<RecorderOutput>,
}

impl Tap {
    fn drain(&mut self, now: Instant) {
        let mut out = Vec::new();
        self.timeline.drain(now - self.started, &mut out);
        if !out.is_empty() {
            let _ = self.output.send(RecorderOutput::Audio(out));
        }
    }

    fn finish(mut self, now: Instant) {
        let mut out = Vec::new();
        self.timeline.finish(now - self.started, &mut out);
        if !out.is_empty() {
            let _ = self.output.send(RecorderOutput::Audio(out));
        }
        let _ = self.output.send(RecorderOutput::End {
            paused: self.timeline.paused(),
            late_packets: self.timeline.late_packets(),
        });
    }
}

/// The RTP stream one leg receives, as far as we take part in it.
#[derive(Debug)]
struct Output {
    ssrc: u32,
    /// Sequence number and timestamp of the last packet we made or rewrote.
    seq: u16,
    ts: u32,
    last_sent: Option<Instant>,
    player: Option<Playing>,
    /// Set once a player has spoken: forwarded packets are renumbered from then on.
    rewrite: bool,
    /// The forwarded source and the offsets that continue our numbering, for its packets.
    offsets: Option<(u32, u16, u32)>,
}

#[derive(Debug)]
struct Playing {
    player: Player,
    law: Law,
    started: Instant,
    frames: u64,
}

impl Output {
    fn new() -> Output {
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
    fn next_ts(&self, now: Instant) -> u32 {
        let elapsed = self
            .last_sent
            .map_or(0, |t| (now - t).as_micros() as u64 * 8 / 1000);
        self.ts.wrapping_add(elapsed.max(FRAME as u64) as u32)
    }

    /// Renumbers a forwarded RTP packet into our stream.
    fn rewrite(&mut self, packet: &mut [u8], now: Instant) {
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

    /// The next packet of the player, into `buf`; its length.
    fn next_packet(&mut self, buf: &mut [u8], now: Instant) -> Option<usize> {
        let playing = self.player.as_mut()?;
        let frame = playing.player.next_frame()?;
        let first = playing.frames == 0;
        let pt = playing.law.payload_type();
        let law = playing.law;
        let ts = if first {
            self.next_ts(now)
        } else {
            self.ts.wrapping_add(FRAME as u32)
        };
        self.seq = self.seq.wrapping_add(1);
        self.ts = ts;
        self.last_sent = Some(now);
        buf[0] = 0x80;
        buf[1] = pt | if first { 0x80 } else { 0 };
        buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
        buf[4..8].copy_from_slice(&ts.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        for (b, s) in buf[12..12 + FRAME].iter_mut().zip(frame) {
            *b = law.encode(s);
        }
        Some(12 + FRAME)
    }
}

/// Random enough for SSRCs and initial sequence numbers (RFC 3550 §5.1 asks for random starts),
/// without a dependency: the std hasher is seeded randomly per process and per instance.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish() as u32
}

async fn run(
    mut relay: Relay,
    endpoints: [RtpEndpoint; 2],
    cfg: RelayConfig,
    mut commands: UnboundedReceiver<Command>,
) {
    let mut buf = vec![0u8; BUF_LEN];
    let idle_timeout = cfg.idle_timeout;
    let idle = tokio::time::sleep_until(relay.last_rtp + idle_timeout);
    tokio::pin!(idle);
    let [e0, e1] = &endpoints;
    // A socket's write readiness is unknown to tokio until the reactor reports it, and until
    // then every try_send fails: a prompt played before any packet arrived would lose its start.
    for e in &endpoints {
        let _ = e.rtp_socket().writable().await;
    }
    let mut ticker = tokio::time::interval(PTIME);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Writes out the recording's final part while nobody sends anything (both on hold).
    let mut tap_ticker = tokio::time::interval(TAP_DRAIN);
    tap_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let idle_armed = !idle_timeout.is_zero() && !relay.idle_reported;
        let playing = relay.outputs.iter().any(|o| o.player.is_some());
        let recording = relay.tap.is_some();
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::SetRemote(leg, addr)) => relay.legs[leg].set_remote(addr),
                Some(Command::SetLeg(leg, addr, pt)) => {
                    relay.legs[leg].set_remote(addr);
                    relay.legs[leg].telephone_event_pt = pt;
                }
                Some(Command::Play(leg, program, law)) => {
                    let out = &mut relay.outputs[leg];
                    out.player = Some(Playing {
                        player: Player::new(*program),
                        law,
                        started: Instant::now(),
                        frames: 0,
                    });
                    out.rewrite = true;
                    out.offsets = None;
                    relay.play(&endpoints, &mut buf);
                }
                Some(Command::StopPlaying(leg)) => relay.outputs[leg].player = None,
                Some(Command::Record(tap)) => {
                    let now = Instant::now();
                    if let Some(old) = relay.tap.take() {
                        old.finish(now);
                    }
                    relay.tap = Some(Tap {
                        timeline: Timeline::new(),
                        left_leg: tap.left_leg.min(1),
                        started: now,
                        output: tap.output,
                    });
                }
                Some(Command::Recording(on)) => {
                    if let Some(tap) = &mut relay.tap {
                        let at = Instant::now() - tap.started;
                        if on {
                            tap.timeline.resume(at);
                        } else {
                            tap.timeline.pause(at);
                        }
                    }
                }
                Some(Command::StopRecording) => {
                    if let Some(tap) = relay.tap.take() {
                        tap.finish(Instant::now());
                    }
                }
                None => break,
            },
            _ = ticker.tick(), if playing => relay.play(&endpoints, &mut buf),
            _ = tap_ticker.tick(), if recording => {
                if let Some(tap) = &mut relay.tap {
                    tap.drain(Instant::now());
                }
            }
            r = e0.rtp_socket().readable() => relay.drain(&endpoints, &mut buf, r, 0, Kind::Rtp),
            r = e1.rtp_socket().readable() => relay.drain(&endpoints, &mut buf, r, 1, Kind::Rtp),
            r = e0.rtcp_socket().readable() => relay.drain(&endpoints, &mut buf, r, 0, Kind::Rtcp),
            r = e1.rtcp_socket().readable() => relay.drain(&endpoints, &mut buf, r, 1, Kind::Rtcp),
            () = &mut idle, if idle_armed => {
                let deadline = relay.last_rtp + idle_timeout;
                if Instant::now() >= deadline {
                    relay.idle_reported = true;
                    let _ = relay.events.send(RelayEvent::Idle);
                } else {
                    // Packets only record their time; the timer is moved here, once per
                    // timeout period, instead of once per packet.
                    idle.as_mut().reset(deadline);
                }
            }
        }
    }
    drop(endpoints);
    if let Some(tap) = relay.tap.take() {
        tap.finish(Instant::now());
    }
    let _ = relay.events.send(RelayEvent::Stopped);
}

impl Relay {
    /// Sends each player's packets that are due: one per 20 ms since it started.
    fn play(&mut self, endpoints: &[RtpEndpoint; 2], buf: &mut [u8]) {
        let now = Instant::now();
        for (leg, endpoint) in endpoints.iter().enumerate() {
            let Some(p) = &mut self.outputs[leg].player else {
                continue;
            };
            let mut due = (now - p.started).as_micros() as u64 / PTIME.as_micros() as u64 + 1;
            if due > p.frames + MAX_CATCH_UP {
                // The task was held up: a burst would flood the phone's jitter buffer, and
                // skipping frames would cut words out of the prompt. The prompt goes on where it
                // was, one packet now, and its clock restarts from here.
                p.started = now - PTIME * u32::try_from(p.frames).unwrap_or(u32::MAX);
                due = p.frames + 1;
            }
            while self.outputs[leg]
                .player
                .as_ref()
                .is_some_and(|p| p.frames < due)
            {
                let Some(len) = self.outputs[leg].next_packet(buf, now) else {
                    self.outputs[leg].player = None;
                    let _ = self.events.send(RelayEvent::PlayDone { leg });
                    break;
                };
                if let Some(p) = &mut self.outputs[leg].player {
                    p.frames += 1;
                }
                let sent = self.legs[leg]
                    .destination(Kind::Rtp)
                    .is_some_and(|dst| endpoint.rtp_socket().try_send_to(&buf[..len], dst).is_ok());
                if sent {
                    self.counters.played[leg].fetch_add(1, Relaxed);
                }
            }
        }
    }

    fn drain(
        &mut self,
        endpoints: &[RtpEndpoint; 2],
        buf: &mut [u8],
        readiness: std::io::Result<()>,
        from: usize,
        kind: Kind,
    ) {
        if let Err(e) = readiness {
            // Readiness only fails when the reactor is shutting down, and then so are we.
            tracing::debug!(error = %e, "relay socket readiness failed");
            return;
        }
        let socket = |leg: usize| match kind {
            Kind::Rtp => endpoints[leg].rtp_socket(),
            Kind::Rtcp => endpoints[leg].rtcp_socket(),
        };
        let now = Instant::now();
        for _ in 0..BATCH {
            let (len, src) = match socket(from).try_recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                // Errors on an unconnected UDP socket (a queued ICMP error, say) concern one
                // earlier datagram, not the socket, so carry on with the next one.
                Err(_) => continue,
            };
            if !self.accept(&buf[..len], len == buf.len(), from, src, kind, now) {
                continue;
            }
            let to = 1 - from;
            let out = &mut self.outputs[to];
            if out.player.is_some() {
                // The leg hears a prompt, not this side.
                continue;
            }
            if out.rewrite && kind == Kind::Rtp {
                out.rewrite(&mut buf[..len], now);
            }
            let packet = &buf[..len];
            let sent = self.legs[to]
                .destination(kind)
                .is_some_and(|dst| socket(to).try_send_to(packet, dst).is_ok());
            if sent {
                let base = if kind == Kind::Rtp { 0 } else { 2 };
                let c = &self.counters.forwarded[from];
                c[base].fetch_add(1, Relaxed);
                c[base + 1].fetch_add(len as u64, Relaxed);
            } else {
                self.counters.unsent[from].fetch_add(1, Relaxed);
            }
        }
    }

    /// Validates, latches and inspects one datagram; false if it must be dropped.
    fn accept(
        &mut self,
        packet: &[u8],
        oversized: bool,
        from: usize,
        src: SocketAddr,
        kind: Kind,
        now: Instant,
    ) -> bool {
        let valid = !oversized
            && match kind {
                Kind::Rtp => rtp_payload(packet).is_some(),
                Kind::Rtcp => is_rtcp(packet),
            };
        if !valid {
            self.counters.garbage[from].fetch_add(1, Relaxed);
            return false;
        }
        let leg = &mut self.legs[from];
        let latch = match kind {
            Kind::Rtp => &mut leg.rtp,
            Kind::Rtcp => &mut leg.rtcp,
        };
        if !latch.accept(src, now) {
            self.counters.foreign[from].fetch_add(1, Relaxed);
            return false;
        }
        if kind == Kind::Rtp {
            self.last_rtp = now;
            self.idle_reported = false;
            // The header is there: rtp_payload accepted the packet.
            let seq = u16::from_be_bytes([packet[2], packet[3]]);
            let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
            let before = leg.loss.lost();
            leg.loss.on_packet(ssrc, seq);
            let lost = leg.loss.lost();
            if lost != before {
                self.counters.lost[from].store(lost, Relaxed);
            }
            if let Some(digit) = dtmf_digit(leg, packet) {
                let _ = self.events.send(RelayEvent::Dtmf { leg: from, digit });
            }
            if let Some(tap) = &mut self.tap {
                let law = Law::from_payload_type(packet[1] & 0x7f);
                if let (Some(law), Some(payload)) = (law, rtp_payload(packet)) {
                    let channel = if from == tap.left_leg {
                        Channel::Left
                    } else {
                        Channel::Right
                    };
                    let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
                    tap.timeline
                        .push(channel, ssrc, ts, law, payload, now - tap.started);
                }
            }
        }
        true
    }
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
fn is_rtcp(packet: &[u8]) -> bool {
    packet.len() >= 8 && packet[0] >> 6 == 2 && (192..=223).contains(&packet[1])
}

/// The digit of an RFC 4733 event packet from `leg`, the first time that event is seen.
fn dtmf_digit(leg: &mut LegState, packet: &[u8]) -> Option<char> {
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
