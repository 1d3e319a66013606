//! A str0m peer that plays the browser: it offers PCMU and telephone-event with the payload
//! type Chrome uses (126), has its own UDP socket, and does real ICE, DTLS and SRTP with the
//! gateway. Shared by the tests and the benchmark (`#[path]`), so not every part is used by
//! both.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::{Codec, CodecExtra, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Chrome's payload type for telephone-event/8000.
pub const BROWSER_EVENT_PT: u8 = 126;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserEvent {
    Connected,
    Audio {
        pt: u8,
        payload: Vec<u8>,
        /// RTP timestamp (extended), 8 kHz.
        time: u64,
        marker: bool,
        /// When the datagram carrying it was read from the socket.
        received_at: Instant,
    },
    Tele {
        pt: u8,
        event: u8,
        end: bool,
        duration: Duration,
        time: u64,
        marker: bool,
    },
    Closed,
}

#[derive(Debug)]
pub enum BrowserCommand {
    /// One 20 ms PCMU frame.
    Audio(Vec<u8>),
    /// A key press of `duration`, sent the way libwebrtc does (str0m makes the packets).
    Dtmf { event: u8, duration: Duration },
    /// Raw bytes from the browser's own socket to the gateway (for garbage tests).
    Raw(Vec<u8>),
}

/// Sends a generated 20 ms frame on its own, for load tests: `make(n)` is called at send
/// time for frame number `n`.
#[derive(Clone, Copy)]
pub struct Generator {
    pub every: Duration,
    pub make: fn(u64) -> Vec<u8>,
}

pub struct Browser {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    offer: String,
    pending: SdpPendingOffer,
}

pub struct BrowserHandle {
    pub commands: UnboundedSender<BrowserCommand>,
    pub events: UnboundedReceiver<BrowserEvent>,
}

impl Browser {
    pub async fn new(ip: IpAddr) -> Browser {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut config = RtcConfig::new()
            .clear_codecs()
            .enable_pcmu(true, false)
            .set_reordering_size_audio(0);
        config.codec_config().add_config(
            Pt::from(BROWSER_EVENT_PT),
            None,
            Codec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            FormatParams::parse_line("0-15"),
        );
        let mut rtc = config.build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap())
            .unwrap();
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        Browser {
            rtc,
            socket,
            local,
            mid,
            offer: offer.to_sdp_string(),
            pending,
        }
    }

    pub fn offer(&self) -> &str {
        &self.offer
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Takes the gateway's answer and starts the browser's task.
    pub fn start(mut self, answer: &str, generator: Option<Generator>) -> BrowserHandle {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        self.rtc
            .sdp_api()
            .accept_answer(self.pending, answer)
            .unwrap();
        let (commands, command_rx) = unbounded_channel();
        let (event_tx, events) = unbounded_channel();
        let task = Task {
            rtc: self.rtc,
            socket: self.socket,
            local: self.local,
            mid: self.mid,
            events: event_tx,
            connected: false,
            next_time: 8000,
            frames: 0,
            peer: None,
        };
        tokio::spawn(task.run(command_rx, generator));
        BrowserHandle { commands, events }
    }
}

struct Task {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    events: UnboundedSender<BrowserEvent>,
    connected: bool,
    next_time: u64,
    frames: u64,
    /// Where str0m last sent to: the gateway.
    peer: Option<SocketAddr>,
}

impl Task {
    async fn run(
        mut self,
        mut commands: UnboundedReceiver<BrowserCommand>,
        generator: Option<Generator>,
    ) {
        let mut buf = vec![0u8; 2048];
        let mut ticker = generator.map(|g| {
            let mut t = tokio::time::interval(g.every);
            // A late tick is skipped rather than sent in a burst that would distort latency.
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            t
        });
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        loop {
            let Some(deadline) = self.drain() else {
                let _ = self.events.send(BrowserEvent::Closed);
                return;
            };
            timer
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
            let tick = async {
                match ticker.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(c) => self.command(c).await,
                    // The test is done with this browser.
                    None => return,
                },
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, source)) = r else { continue };
                    let now = Instant::now();
                    if let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(now, receive));
                    }
                }
                () = tick => {
                    if let Some(g) = generator {
                        if self.connected {
                            let payload = (g.make)(self.frames);
                            self.audio(payload);
                        }
                    }
                }
                () = &mut timer => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
            }
        }
    }

    async fn command(&mut self, command: BrowserCommand) {
        match command {
            BrowserCommand::Audio(payload) => self.audio(payload),
            BrowserCommand::Dtmf { event, duration } => {
                let now = Instant::now();
                let time = MediaTime::new(self.next_time, Frequency::EIGHT_KHZ);
                let tele = TelephoneEvent {
                    event,
                    end: true,
                    volume: 10,
                    duration,
                };
                self.rtc
                    .writer(self.mid)
                    .unwrap()
                    .telephone_event(tele)
                    .write(Pt::from(0), now, time, [])
                    .unwrap();
            }
            BrowserCommand::Raw(bytes) => {
                if let Some(to) = self.peer {
                    let _ = self.socket.send_to(&bytes, to).await;
                }
            }
        }
    }

    fn audio(&mut self, payload: Vec<u8>) {
        let now = Instant::now();
        let time = MediaTime::new(self.next_time, Frequency::EIGHT_KHZ);
        self.next_time += 160;
        self.frames += 1;
        // No writer once the gateway has closed the session.
        if let Some(writer) = self.rtc.writer(self.mid) {
            writer.write(Pt::from(0), now, time, payload).unwrap();
        }
    }

    /// Runs str0m's output to its next timeout; `None` once the session is closed.
    fn drain(&mut self) -> Option<Instant> {
        let mut immediate = 0;
        loop {
            if !self.rtc.is_alive() {
                return None;
            }
            match self.rtc.poll_output() {
                // Due already (str0m packetizes written frames on a timeout): do it now rather
                // than through tokio's millisecond timer, which would add latency to the bench.
                Ok(Output::Timeout(t)) if t <= Instant::now() && immediate < 4 => {
                    immediate += 1;
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Transmit(t)) => {
                    self.peer = Some(t.destination);
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => self.event(e),
                Err(_) => return None,
            }
        }
    }

    fn event(&mut self, event: Event) {
        let out = match event {
            Event::Connected => {
                self.connected = true;
                BrowserEvent::Connected
            }
            Event::MediaData(data) => match data.codec_extra {
                CodecExtra::Tele(e) => BrowserEvent::Tele {
                    pt: *data.pt,
                    event: e.event,
                    end: e.end,
                    duration: e.duration,
                    time: data.time.numer(),
                    marker: data.audio_start_of_talk_spurt,
                },
                _ => BrowserEvent::Audio {
                    pt: *data.pt,
                    payload: data.data.to_vec(),
                    time: data.time.numer(),
                    marker: data.audio_start_of_talk_spurt,
                    received_at: data.network_time,
                },
            },
            Event::Closed => BrowserEvent::Closed,
            _ => return,
        };
        let _ = self.events.send(out);
    }
}
