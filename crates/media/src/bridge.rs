//! Bridges: any number of legs, each hearing what its [`Mode`] says, mixed by a [`Mixer`].
//!
//! One task per bridge owns its members' sockets. It wakes once per 20 ms, not once per
//! packet: it takes whatever each member sent since the last tick from the socket (latching,
//! RFC 4733 digits and loss counted as the relay does), feeds the audio to the mixer, and
//! sends every member its frame, numbered on in the member's own stream ([`MediaLeg`]), so a
//! leg moved in from the relay or another bridge keeps its SSRC, sequence numbers and
//! timestamps. A member can hear a [`Program`] instead of the mix (music on hold, an
//! announcement). RTCP from members is latched and dropped: a mix has no sender to report on.
//!
//! The core creates bridges and moves legs: [`BridgeHandle::add`] takes a [`MediaLeg`] (from
//! [`MediaLeg::new`], [`crate::relay::RelayHandle::into_legs`] or another bridge's
//! [`BridgeHandle::take`]), [`BridgeHandle::take`] gives it back for the next place.
//!
//! A bridge can record (REC-*): [`BridgeHandle::record`] starts a recording, and
//! [`BridgeHandle::continue_recording`] goes on with one the relay handed over with its legs
//! ([`crate::relay::RelayHandle::into_legs`]). What each member in [`Mode::Talk`] sends is
//! placed on the recording's timeline by its RTP timestamps, on the member's channel (its
//! leg's [`MediaLeg::recording_channel`]: the external party left, the agent side right, the
//! members of one channel summed). Members listening, on hold or whispering are not recorded,
//! nor is what is played to anyone: the recording is the conversation with the external
//! party, and a coach's whisper to the agent is not part of it (the customer never heard it).

use crate::g711::Law;
use crate::mixer::{Audio, MemberId, Mixer, MixerError, Mode};
use crate::player::{Player, Program, FRAME};
use crate::recorder::Channel;
use crate::recording::{RecorderOutput, Recording};
use crate::rtp_leg::{dtmf_digit, rtp_payload, Accept, Kind, MediaLeg, Playing};
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
/// Datagrams taken from one socket per tick at most: a flood on one member must not starve
/// the others (a phone sends one or two per tick).
const BATCH: usize = 16;
const PTIME: Duration = Duration::from_millis(20);
const PACKET: usize = 12 + FRAME;

#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// A member that sent no RTP for this long → [`BridgeEvent::Idle`]. Zero disables.
    pub idle_timeout: Duration,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            idle_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeEvent {
    /// An RFC 4733 digit from `member`, reported once per key press.
    Dtmf { member: MemberId, digit: char },
    /// The program played to `member` ended; it hears the bridge again.
    PlayDone { member: MemberId },
    /// `member` sent no RTP for the idle timeout; reported again only after it sent again.
    Idle { member: MemberId },
    /// The task ended (stopped or handle dropped); the members still in it are dropped and
    /// their ports are back in the pool.
    Stopped,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// RTP packets accepted from members.
    pub received: u64,
    /// Mixed frames sent to members.
    pub sent: u64,
    /// Frames of programs sent to members.
    pub played: u64,
    /// Datagrams that were not RTP/RTCP version 2, or were oversized.
    pub garbage: u64,
    /// Valid packets from another source than the member's latched one.
    pub foreign: u64,
    /// SRTP and SRTCP packets from SRTP members refused: tag wrong, replayed, too short.
    pub unauthenticated: u64,
    /// Frames not sent: the member has no address yet, or the send failed.
    pub unsent: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The leg was not added; here it is back.
    #[error("{error}")]
    Refused {
        error: MixerError,
        leg: Box<MediaLeg>,
    },
    #[error(transparent)]
    Mixer(#[from] MixerError),
    #[error("the bridge has stopped")]
    Stopped,
}

/// Controls a running bridge. Dropping it stops the bridge, like [`BridgeHandle::stop`].
#[derive(Debug)]
pub struct BridgeHandle {
    counters: Arc<Counters>,
    commands: UnboundedSender<Command>,
}

#[derive(Debug)]
enum Command {
    Add {
        id: MemberId,
        leg: Box<MediaLeg>,
        law: Law,
        mode: Mode,
        reply: oneshot::Sender<Result<(), BridgeError>>,
    },
    Take {
        id: MemberId,
        reply: oneshot::Sender<Option<MediaLeg>>,
    },
    SetMode {
        id: MemberId,
        mode: Mode,
        reply: oneshot::Sender<Result<(), MixerError>>,
    },
    SetLeg(MemberId, Option<SocketAddr>, Option<u8>),
    SetLaw(MemberId, Law),
    Play(MemberId, Box<Program>, Law),
    StopPlaying(MemberId),
    SetChannel(MemberId, Channel),
    Record(Box<Recording>),
    /// Pause (true) or resume (false) the recording.
    PauseRecording(bool),
    StopRecording,
    TakeRecording(oneshot::Sender<Option<Recording>>),
}

impl BridgeHandle {
    /// Adds a leg, sent the mix in `law`; it hears the others from the next tick on. A
    /// program the leg was hearing (in the relay, say) goes on playing.
    pub async fn add(
        &self,
        id: MemberId,
        leg: MediaLeg,
        law: Law,
        mode: Mode,
    ) -> Result<(), BridgeError> {
        let (reply, rx) = oneshot::channel();
        let command = Command::Add {
            id,
            leg: Box::new(leg),
            law,
            mode,
            reply,
        };
        // A stopped bridge drops the leg: its ports go back to the pool.
        self.commands
            .send(command)
            .map_err(|_| BridgeError::Stopped)?;
        rx.await.unwrap_or(Err(BridgeError::Stopped))
    }

    /// Takes a member out, with its sockets and stream state, to move it to the relay or
    /// another bridge. None if there is no such member or the bridge has stopped.
    pub async fn take(&self, id: MemberId) -> Option<MediaLeg> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Take { id, reply }).ok()?;
        rx.await.ok().flatten()
    }

    pub async fn set_mode(&self, id: MemberId, mode: Mode) -> Result<(), BridgeError> {
        let (reply, rx) = oneshot::channel();
        let command = Command::SetMode { id, mode, reply };
        self.commands
            .send(command)
            .map_err(|_| BridgeError::Stopped)?;
        Ok(rx.await.map_err(|_| BridgeError::Stopped)??)
    }

    /// A member's new address (and telephone-event payload type) after a re-INVITE; as with
    /// the relay, the same address as last time keeps what was latched.
    pub fn set_leg(&self, id: MemberId, addr: Option<SocketAddr>, telephone_event_pt: Option<u8>) {
        // The task ending first only means nobody needs the address any more.
        let _ = self
            .commands
            .send(Command::SetLeg(id, addr, telephone_event_pt));
    }

    /// The law a member is sent the mix in, after its codec changed.
    pub fn set_law(&self, id: MemberId, law: Law) {
        let _ = self.commands.send(Command::SetLaw(id, law));
    }

    /// `id` hears `program` instead of the bridge until it ends ([`BridgeEvent::PlayDone`])
    /// or [`BridgeHandle::stop_playing`]. What the member says is still mixed as its mode
    /// says (use [`Mode::Hold`] for music on hold).
    pub fn play(&self, id: MemberId, program: Program, law: Law) {
        let _ = self
            .commands
            .send(Command::Play(id, Box::new(program), law));
    }

    pub fn stop_playing(&self, id: MemberId) {
        let _ = self.commands.send(Command::StopPlaying(id));
    }

    /// The channel `id` is recorded on from now on (a member's leg brings its own, by default
    /// [`Channel::Right`]).
    pub fn set_channel(&self, id: MemberId, channel: Channel) {
        let _ = self.commands.send(Command::SetChannel(id, channel));
    }

    /// Records the bridge from now on into `output` (a recording already running ends first),
    /// each talking member on its channel. The recording ends with
    /// [`BridgeHandle::stop_recording`] or when the bridge stops.
    pub fn record(&self, output: UnboundedSender<RecorderOutput>) {
        let recording = Recording::start(output, Instant::now());
        let _ = self.commands.send(Command::Record(Box::new(recording)));
    }

    /// Goes on with a recording handed over with the legs it records, in the same output. Give
    /// it before adding the legs, so that none of their packets is taken unrecorded. A
    /// recording already running ends first; the bridge having stopped, it ends.
    pub fn continue_recording(&self, recording: Recording) {
        let _ = self.commands.send(Command::Record(Box::new(recording)));
    }

    /// Every member is silence in the recording until [`BridgeHandle::resume_recording`].
    pub fn pause_recording(&self) {
        let _ = self.commands.send(Command::PauseRecording(true));
    }

    pub fn resume_recording(&self) {
        let _ = self.commands.send(Command::PauseRecording(false));
    }

    pub fn stop_recording(&self) {
        let _ = self.commands.send(Command::StopRecording);
    }

    /// Stops recording here and gives the recording out, to go on where the legs go
    /// ([`crate::relay::spawn_relay_legs`]). Take it after those legs: what they send until
    /// then is still recorded here, and what they send after waits in their sockets for the
    /// next owner. None if nothing was being recorded or the bridge has stopped.
    pub async fn take_recording(&self) -> Option<Recording> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::TakeRecording(reply)).ok()?;
        rx.await.ok().flatten()
    }

    pub fn stats(&self) -> BridgeStats {
        self.counters.snapshot()
    }

    /// Ends the bridge; the members still in it are dropped (their ports freed) shortly after.
    pub fn stop(self) {}
}

/// Starts an empty bridge. Must be called within a tokio runtime.
pub fn spawn_bridge(cfg: BridgeConfig, events: UnboundedSender<BridgeEvent>) -> BridgeHandle {
    let counters = Arc::new(Counters::default());
    let (commands, command_rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let bridge = Bridge {
        slots: Vec::new(),
        mixer: Mixer::new(now.into_std()),
        counters: Arc::clone(&counters),
        events,
        cfg,
        last_tick: now,
        tap: None,
    };
    tokio::spawn(run(bridge, command_rx));
    BridgeHandle { counters, commands }
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    sent: AtomicU64,
    played: AtomicU64,
    garbage: AtomicU64,
    foreign: AtomicU64,
    unauthenticated: AtomicU64,
    unsent: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> BridgeStats {
        BridgeStats {
            received: self.received.load(Relaxed),
            sent: self.sent.load(Relaxed),
            played: self.played.load(Relaxed),
            garbage: self.garbage.load(Relaxed),
            foreign: self.foreign.load(Relaxed),
            unauthenticated: self.unauthenticated.load(Relaxed),
            unsent: self.unsent.load(Relaxed),
        }
    }
}

#[derive(Debug)]
struct Slot {
    id: MemberId,
    leg: MediaLeg,
    law: Law,
    /// A frame went to the member at the last tick: the next one continues its timestamps.
    sent_last_tick: bool,
    idle_reported: bool,
}

struct Bridge {
    slots: Vec<Slot>,
    mixer: Mixer,
    counters: Arc<Counters>,
    events: UnboundedSender<BridgeEvent>,
    cfg: BridgeConfig,
    last_tick: Instant,
    tap: Option<Recording>,
}

async fn run(mut bridge: Bridge, mut commands: UnboundedReceiver<Command>) {
    let mut buf = vec![0u8; BUF_LEN];
    let mut ticker = tokio::time::interval(PTIME);
    // A late tick is followed by ticks on the 20 ms grid again, not by a burst; the
    // timestamps of the frames after a skipped one show the time that passed.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(c) => bridge.command(c).await,
                None => break,
            },
            now = ticker.tick() => bridge.tick(now, &mut buf),
        }
    }
    drop(bridge.slots);
    // The recording ends before the bridge says it stopped.
    drop(bridge.tap);
    let _ = bridge.events.send(BridgeEvent::Stopped);
}

impl Bridge {
    fn slot(&mut self, id: MemberId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Add {
                id,
                leg,
                law,
                mode,
                reply,
            } => {
                if let Err(error) = self.mixer.add(id, law, mode) {
                    let _ = reply.send(Err(BridgeError::Refused { error, leg }));
                    return;
                }
                // A socket's write readiness is unknown to tokio until the reactor reports
                // it, and until then every try_send fails.
                let _ = leg.endpoint.rtp_socket().writable().await;
                self.slots.push(Slot {
                    id,
                    leg: *leg,
                    law,
                    sent_last_tick: false,
                    idle_reported: false,
                });
                let _ = reply.send(Ok(()));
            }
            Command::Take { id, reply } => {
                self.mixer.remove(id);
                let leg = self
                    .slots
                    .iter()
                    .position(|s| s.id == id)
                    .map(|i| self.slots.swap_remove(i).leg);
                let _ = reply.send(leg);
            }
            Command::SetMode { id, mode, reply } => {
                let _ = reply.send(self.mixer.set_mode(id, mode));
            }
            Command::SetLeg(id, addr, pt) => {
                if let Some(s) = self.slot(id) {
                    s.leg.state.set_remote(addr);
                    s.leg.state.telephone_event_pt = pt;
                }
            }
            Command::SetLaw(id, law) => {
                if self.mixer.set_law(id, law).is_ok() {
                    if let Some(s) = self.slot(id) {
                        s.law = law;
                    }
                }
            }
            Command::Play(id, program, law) => {
                if let Some(s) = self.slot(id) {
                    s.leg.output.player = Some(Playing {
                        player: Player::new(*program),
                        law,
                        started: Instant::now(),
                        frames: 0,
                    });
                }
            }
            Command::StopPlaying(id) => {
                if let Some(s) = self.slot(id) {
                    s.leg.output.player = None;
                }
            }
            Command::SetChannel(id, channel) => {
                if let Some(s) = self.slot(id) {
                    s.leg.set_recording_channel(channel);
                }
            }
            // The one running, if any, ends as it is dropped.
            Command::Record(recording) => self.tap = Some(*recording),
            Command::PauseRecording(paused) => {
                if let Some(tap) = &mut self.tap {
                    tap.set_paused(paused, Instant::now());
                }
            }
            Command::StopRecording => self.tap = None,
            Command::TakeRecording(reply) => {
                // Not taken after all (nobody waiting): it ends.
                let _ = reply.send(self.tap.take());
            }
        }
    }

    fn tick(&mut self, now: Instant, buf: &mut [u8]) {
        // A tick much later than 20 ms after the last one (the task was held up) breaks every
        // member's timestamps: the next frames say how much time passed.
        let on_time = now - self.last_tick < PTIME * 3 / 2;
        self.last_tick = now;
        for i in 0..self.slots.len() {
            self.receive(i, buf, now);
        }
        if let Some(tap) = &mut self.tap {
            tap.drain_due(now);
        }
        // Room after the packet for an SRTP member's trailer.
        let mut packet = [0u8; PACKET + MAX_OVERHEAD];
        for (id, frame) in self.mixer.tick(now.into_std()) {
            let Some(s) = self.slots.iter_mut().find(|s| s.id == id) else {
                continue;
            };
            if s.leg.output.player.is_some() {
                continue;
            }
            let continuing = on_time && s.sent_last_tick;
            s.leg
                .output
                .stamp(&mut packet, s.law.payload_type(), continuing, now);
            packet[12..PACKET].copy_from_slice(frame);
            s.sent_last_tick = send(s, &mut packet, &self.counters.sent, &self.counters.unsent);
        }
        for s in &mut self.slots {
            let Some(playing) = &mut s.leg.output.player else {
                if self.mixer.mode(s.id) == Some(Mode::Hold) {
                    s.sent_last_tick = false;
                }
                continue;
            };
            let law = playing.law;
            let Some(frame) = playing.player.next_frame() else {
                s.leg.output.player = None;
                s.sent_last_tick = false;
                let _ = self.events.send(BridgeEvent::PlayDone { member: s.id });
                continue;
            };
            let continuing = on_time && s.sent_last_tick;
            s.leg
                .output
                .stamp(&mut packet, law.payload_type(), continuing, now);
            for (b, &x) in packet[12..PACKET].iter_mut().zip(&frame) {
                *b = law.encode_fast(x);
            }
            s.sent_last_tick = send(s, &mut packet, &self.counters.played, &self.counters.unsent);
        }
        if !self.cfg.idle_timeout.is_zero() {
            for s in &mut self.slots {
                if !s.idle_reported && now - s.leg.state.rtp.last_seen >= self.cfg.idle_timeout {
                    s.idle_reported = true;
                    let _ = self.events.send(BridgeEvent::Idle { member: s.id });
                }
            }
        }
    }

    /// Takes what member `i` sent since the last tick off its sockets.
    fn receive(&mut self, i: usize, buf: &mut [u8], now: Instant) {
        let s = &mut self.slots[i];
        // Only the conversation is recorded: not a supervisor listening in or whispering to
        // the agent, nor a member on hold.
        let mut tap = self
            .tap
            .as_mut()
            .filter(|_| self.mixer.mode(s.id) == Some(Mode::Talk));
        for kind in [Kind::Rtp, Kind::Rtcp] {
            let socket = match kind {
                Kind::Rtp => s.leg.endpoint.rtp_socket(),
                Kind::Rtcp => s.leg.endpoint.rtcp_socket(),
            };
            for _ in 0..BATCH {
                let (len, src) = match socket.try_recv_from(buf) {
                    Ok(r) => r,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    // An error queued for one earlier datagram (ICMP), not for the socket.
                    Err(_) => continue,
                };
                let oversized = len == buf.len();
                let len = if oversized {
                    len
                } else {
                    match s.leg.state.open(&mut buf[..len], kind) {
                        Ok(len) => len,
                        Err(_) => {
                            self.counters.unauthenticated.fetch_add(1, Relaxed);
                            continue;
                        }
                    }
                };
                let packet = &buf[..len];
                let verdict = if oversized {
                    Accept::Garbage
                } else {
                    s.leg.state.accept(packet, src, kind, now)
                };
                match verdict {
                    Accept::Garbage => {
                        self.counters.garbage.fetch_add(1, Relaxed);
                        continue;
                    }
                    Accept::Foreign => {
                        self.counters.foreign.fetch_add(1, Relaxed);
                        continue;
                    }
                    Accept::Ok if kind == Kind::Rtcp => continue,
                    Accept::Ok => {}
                }
                self.counters.received.fetch_add(1, Relaxed);
                s.idle_reported = false;
                if let Some(digit) = dtmf_digit(&mut s.leg.state, packet) {
                    let _ = self.events.send(BridgeEvent::Dtmf {
                        member: s.id,
                        digit,
                    });
                }
                let Some(law) = Law::from_payload_type(packet[1] & 0x7f) else {
                    // RFC 4733 events, comfort noise: nothing to mix.
                    continue;
                };
                let Some(payload) = rtp_payload(packet) else {
                    continue;
                };
                let audio = Audio {
                    ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
                    timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
                    law,
                    payload,
                };
                if let Some(tap) = &mut tap {
                    tap.push(s.leg.source, audio, now);
                }
                self.mixer.push(s.id, audio, now.into_std());
            }
        }
    }
}

/// Sends one of our packets (the first [`PACKET`] bytes of `buf`, sealed there for an SRTP
/// member) to the member; whether it went.
fn send(s: &mut Slot, buf: &mut [u8], sent: &AtomicU64, unsent: &AtomicU64) -> bool {
    let leg = &mut s.leg;
    let ok = leg.state.destination(Kind::Rtp).is_some_and(|dst| {
        leg.state.seal(buf, PACKET, Kind::Rtp).is_ok_and(|len| {
            leg.endpoint
                .rtp_socket()
                .try_send_to(&buf[..len], dst)
                .is_ok()
        })
    });
    if ok {
        sent.fetch_add(1, Relaxed);
    } else {
        unsent.fetch_add(1, Relaxed);
    }
    ok
}
