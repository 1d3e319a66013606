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
//!
//! When a third party joins, the relay hands its legs to a bridge ([`RelayHandle::into_legs`])
//! with their latches and the numbering of the stream each phone hears, and takes two legs back
//! from one ([`spawn_relay_legs`]) when the call is down to two again: the phones hear one
//! stream throughout (`media::bridge`). A recording in progress goes with the legs
//! ([`Recording`]) and goes on in the same file.
//!
//! Only a recorded call is decoded: the recorder tap places both legs' audio on the
//! recording's timeline as it passes through.
//!
//! An SRTP leg ([`LegMedia::srtp`]) is opened as its packets arrive and sealed as ours leave
//! (`media::srtp`), before latching and after renumbering: between the two, for DTMF, loss,
//! the recorder and prompts, every packet is plain RTP, and a plain leg costs one branch.

use crate::g711::Law;
use crate::mixer::Audio;
use crate::player::{Player, Program, FRAME};
use crate::recorder::{Channel, Source};
pub use crate::recording::{RecordTap, RecorderOutput};
use crate::recording::{Recording, DRAIN_EVERY};
use crate::rtp_leg::{dtmf_digit, rtp_payload, Accept, Kind, LegState, MediaLeg, Output, Playing};
use crate::rtp_pool::RtpEndpoint;
use crate::srtp::MAX_OVERHEAD;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Larger than any Ethernet-sized datagram; one that fills it was probably truncated.
const BUF_LEN: usize = 2048;
/// Datagrams handled per readiness wake-up before letting the other sockets have a turn.
const BATCH: usize = 32;
/// One packet of audio.
const PTIME: Duration = Duration::from_millis(20);
/// A player late by more than this many packets restarts its clock instead of bursting.
const MAX_CATCH_UP: u64 = 3;

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
    /// Set for an SRTP leg (from its SDES exchange): what it sends is decrypted with its key,
    /// what it is sent encrypted with ours, RTCP likewise.
    pub srtp: Option<crate::srtp::SrtpKeys>,
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
    /// SRTP and SRTCP packets from each SRTP leg refused: tag wrong (another key, tampered),
    /// replayed, or too short.
    pub unauthenticated: [u64; 2],
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

    /// Records both legs from now on into `tap` (a recording already running ends first): leg
    /// `left_leg` on the left channel, the other on the right, which the legs keep if they
    /// move to a bridge. The recording ends with [`RelayHandle::stop_recording`] or when the
    /// relay stops, and goes on elsewhere if the legs are handed over.
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

    /// Stops forwarding and hands both legs over (leg 0 first), with what was latched and the
    /// numbering of the stream each phone hears, for a bridge to carry on. A prompt playing
    /// goes with its leg; the recording in progress, if any, comes with them, to be given to
    /// the bridge ([`crate::BridgeHandle::continue_recording`], before adding the legs) or to
    /// the next relay: dropped, it ends. No [`RelayEvent::Stopped`] follows. None if the
    /// relay had stopped.
    pub async fn into_legs(self) -> Option<([MediaLeg; 2], Option<Recording>)> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Handover(reply)).ok()?;
        rx.await.ok()
    }
}

/// Starts relaying between `a` (leg 0) and `b` (leg 1). Must be called within a tokio runtime.
pub fn spawn_relay(
    a: LegMedia,
    b: LegMedia,
    cfg: RelayConfig,
    events: UnboundedSender<RelayEvent>,
) -> RelayHandle {
    spawn_relay_legs(MediaLeg::new(a), MediaLeg::new(b), cfg, events, None)
}

/// Starts relaying between two legs taken from a bridge (or another relay): each phone's
/// stream goes on with its SSRC and numbering, the other side's packets renumbered into it.
/// A `recording` taken from there goes on from the first packet, each leg on the channel it
/// was recorded on.
pub fn spawn_relay_legs(
    a: MediaLeg,
    b: MediaLeg,
    cfg: RelayConfig,
    events: UnboundedSender<RelayEvent>,
    recording: Option<Recording>,
) -> RelayHandle {
    let counters = Arc::new(Counters::default());
    let (commands, command_rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let [mut a, mut b] = [a, b];
    for leg in [&mut a, &mut b] {
        if let Some(p) = &mut leg.output.player {
            // The relay's clock for the prompt starts here.
            p.started = now;
            p.frames = 0;
        }
    }
    let relay = Relay {
        legs: [a.state, b.state],
        counters: Arc::clone(&counters),
        events,
        last_rtp: now,
        idle_reported: false,
        outputs: [a.output, b.output],
        sources: [a.source, b.source],
        tap: recording,
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
    Handover(oneshot::Sender<Handover>),
}

/// What the relay hands over: its legs and the recording going on.
type Handover = ([MediaLeg; 2], Option<Recording>);

#[derive(Debug, Default)]
struct Counters {
    /// Per source leg: RTP packets, RTP bytes, RTCP packets, RTCP bytes.
    forwarded: [[AtomicU64; 4]; 2],
    garbage: [AtomicU64; 2],
    foreign: [AtomicU64; 2],
    unauthenticated: [AtomicU64; 2],
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
            unauthenticated: pair(&self.unauthenticated),
            unsent: pair(&self.unsent),
            played: pair(&self.played),
            lost: pair(&self.lost),
        }
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
    /// Each leg's place in a recording; moves with the leg.
    sources: [Source; 2],
    tap: Option<Recording>,
}

async fn run(
    mut relay: Relay,
    endpoints: [RtpEndpoint; 2],
    cfg: RelayConfig,
    mut commands: UnboundedReceiver<Command>,
) {
    // Received packets go into the first BUF_LEN bytes; the rest is room for the trailer of
    // a packet sealed for an SRTP leg.
    let mut buf = vec![0u8; BUF_LEN + MAX_OVERHEAD];
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
    let mut tap_ticker = tokio::time::interval(DRAIN_EVERY);
    tap_ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut handover = None;
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
                    relay.play(&endpoints, &mut buf);
                }
                Some(Command::StopPlaying(leg)) => relay.outputs[leg].player = None,
                Some(Command::Record(tap)) => {
                    for (leg, source) in relay.sources.iter_mut().enumerate() {
                        source.channel = if leg == tap.left_leg.min(1) {
                            Channel::Left
                        } else {
                            Channel::Right
                        };
                    }
                    // The one running, if any, ends as it is dropped.
                    relay.tap = Some(Recording::start(tap.output, Instant::now()));
                }
                Some(Command::Recording(on)) => {
                    if let Some(tap) = &mut relay.tap {
                        tap.set_paused(!on, Instant::now());
                    }
                }
                Some(Command::StopRecording) => relay.tap = None,
                Some(Command::Handover(reply)) => {
                    handover = Some(reply);
                    break;
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
    if let Some(reply) = handover {
        let [e0, e1] = endpoints;
        let [s0, s1] = relay.legs;
        let [o0, o1] = relay.outputs;
        let [r0, r1] = relay.sources;
        let legs = [
            MediaLeg {
                endpoint: e0,
                state: s0,
                output: o0,
                source: r0,
            },
            MediaLeg {
                endpoint: e1,
                state: s1,
                output: o1,
                source: r1,
            },
        ];
        // Nobody waiting for them any more: the legs are dropped and their ports freed, the
        // recording ends.
        let _ = reply.send((legs, relay.tap.take()));
        return;
    }
    // Ends the recording before the relay says it stopped.
    relay.tap = None;
    drop(endpoints);
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
                let Some(len) = next_packet(&mut self.outputs[leg], buf, now) else {
                    self.outputs[leg].player = None;
                    let _ = self.events.send(RelayEvent::PlayDone { leg });
                    break;
                };
                if let Some(p) = &mut self.outputs[leg].player {
                    p.frames += 1;
                }
                let state = &mut self.legs[leg];
                let sent = state.destination(Kind::Rtp).is_some_and(|dst| {
                    state.seal(buf, len, Kind::Rtp).is_ok_and(|len| {
                        endpoint.rtp_socket().try_send_to(&buf[..len], dst).is_ok()
                    })
                });
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
            let (len, src) = match socket(from).try_recv_from(&mut buf[..BUF_LEN]) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                // Errors on an unconnected UDP socket (a queued ICMP error, say) concern one
                // earlier datagram, not the socket, so carry on with the next one.
                Err(_) => continue,
            };
            let oversized = len == BUF_LEN;
            let len = if oversized {
                len
            } else {
                match self.legs[from].open(&mut buf[..len], kind) {
                    Ok(len) => len,
                    Err(_) => {
                        self.counters.unauthenticated[from].fetch_add(1, Relaxed);
                        continue;
                    }
                }
            };
            if !self.accept(&buf[..len], oversized, from, src, kind, now) {
                continue;
            }
            let to = 1 - from;
            let out = &mut self.outputs[to];
            if out.player.is_some() {
                // The leg hears a prompt, not this side.
                continue;
            }
            if kind == Kind::Rtp {
                if out.rewrite {
                    out.rewrite(&mut buf[..len], now);
                } else {
                    out.passed_on(&buf[..len], now);
                }
            }
            let state = &mut self.legs[to];
            let sent = state.destination(kind).is_some_and(|dst| {
                state
                    .seal(buf, len, kind)
                    .is_ok_and(|len| socket(to).try_send_to(&buf[..len], dst).is_ok())
            });
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
        let leg = &mut self.legs[from];
        let verdict = if oversized {
            Accept::Garbage
        } else {
            leg.accept(packet, src, kind, now)
        };
        match verdict {
            Accept::Garbage => {
                self.counters.garbage[from].fetch_add(1, Relaxed);
                return false;
            }
            Accept::Foreign => {
                self.counters.foreign[from].fetch_add(1, Relaxed);
                return false;
            }
            Accept::Ok => {}
        }
        if kind == Kind::Rtp {
            self.last_rtp = now;
            self.idle_reported = false;
            let lost = leg.loss.lost();
            if lost != self.counters.lost[from].load(Relaxed) {
                self.counters.lost[from].store(lost, Relaxed);
            }
            if let Some(digit) = dtmf_digit(leg, packet) {
                let _ = self.events.send(RelayEvent::Dtmf { leg: from, digit });
            }
            if let Some(tap) = &mut self.tap {
                let law = Law::from_payload_type(packet[1] & 0x7f);
                if let (Some(law), Some(payload)) = (law, rtp_payload(packet)) {
                    let audio = Audio {
                        ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
                        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
                        law,
                        payload,
                    };
                    tap.push(self.sources[from], audio, now);
                }
            }
        }
        true
    }
}

/// The next packet of the leg's player, into `buf`; its length.
fn next_packet(out: &mut Output, buf: &mut [u8], now: Instant) -> Option<usize> {
    let playing = out.player.as_mut()?;
    let frame = playing.player.next_frame()?;
    let continuing = playing.frames != 0;
    let law = playing.law;
    out.stamp(buf, law.payload_type(), continuing, now);
    for (b, s) in buf[12..12 + FRAME].iter_mut().zip(frame) {
        *b = law.encode(s);
    }
    Some(12 + FRAME)
}
