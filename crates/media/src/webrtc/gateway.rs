//! The sans-IO core of one browser call: a `str0m::Rtc` answering the browser, and the
//! conversion between its frames and plain RTP.

use super::rtp::{self, Header, IncomingTimeline, OutgoingStream, PlainPeer};
use super::{
    CloseReason, FlowStats, WebRtcCert, WebRtcConfig, WebRtcError, WebRtcEvent, WebRtcStats,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::format::{Codec, CodecExtra, FormatParams};
use str0m::media::{Frequency, MediaData, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// Offers from browsers are a few kilobytes; anything far larger is not one.
const MAX_OFFER_LEN: usize = 64 * 1024;
/// Largest plain RTP packet accepted: a 12-byte header and 120 ms of G.711, with room for
/// CSRCs and extensions. Phones send 20–60 ms; anything larger is not a G.711 call.
const MAX_PLAIN_PACKET: usize = 1200;
/// RFC 4733 payloads longer than this (16 packed reports) are not from a phone.
const MAX_EVENT_PAYLOAD: usize = 64;
/// How many recent (timestamp, event) pairs to remember for de-duplicating digits: end
/// packets of one event can arrive after the next event started when the network reorders.
const RECENT_EVENTS: usize = 4;
/// str0m errors within one drain after which the session is given up rather than spun on.
const MAX_DRAIN_ERRORS: u32 = 16;
/// Due timeouts handled within one drain; str0m moves its timeout on after each, so a few
/// suffice, and the bound keeps a misbehaving timer from spinning here.
const MAX_IMMEDIATE_TIMEOUTS: u32 = 4;
/// What to wait for when nothing is due: an hour (str0m always has some timer of its own).
const IDLE: Duration = Duration::from_secs(3600);
/// The PT under which str0m is told about telephone-event before negotiation; the
/// browser's own number (Chrome offers 126) replaces it in the answer.
const LOCAL_EVENT_PT: u8 = 101;

/// A G.711 codec the browser and the gateway agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711 {
    Pcmu,
    Pcma,
}

impl G711 {
    /// The static payload type, used on both sides.
    pub fn pt(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            G711::Pcmu => "PCMU",
            G711::Pcma => "PCMA",
        }
    }
}

/// What the browser's offer and our answer agreed on, for the SIP side's SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// In the browser's order of preference; never empty.
    pub codecs: Vec<G711>,
    /// Whether the browser takes and sends RFC 4733 events (8 kHz telephone-event).
    pub telephone_event: bool,
}

/// Something for the driver to do.
#[derive(Debug)]
pub enum GatewayOutput {
    /// Send on the browser-facing socket.
    ToBrowser {
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    /// Send on the plain RTP socket.
    ToPlain {
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Event(WebRtcEvent),
    /// Nothing more to do until this time or the next datagram: then call
    /// [`WebRtcGateway::handle_timeout`].
    Timeout(Instant),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the browser's offer.
    New,
    /// Answered; waiting for ICE and DTLS.
    Answered,
    Connected,
    Closed,
}

/// Payload types on the browser's side, as it numbered them.
#[derive(Debug, Clone, Copy)]
struct BrowserPts {
    pcmu: Option<Pt>,
    pcma: Option<Pt>,
    event: Option<Pt>,
}

/// The sans-IO core of one browser call.
///
/// Feed it datagrams from the browser ([`handle_browser_datagram`](Self::handle_browser_datagram))
/// and from the SIP side ([`handle_plain_datagram`](Self::handle_plain_datagram)) and its
/// timeouts ([`handle_timeout`](Self::handle_timeout)); after each, take
/// [`poll_output`](Self::poll_output) until it returns [`GatewayOutput::Timeout`].
///
/// str0m requires that every mutation of an `Rtc` be followed by draining its output before
/// the next one. This core drains str0m into its own queue inside every `handle_*` call, so a
/// driver may feed a batch of datagrams before polling without breaking that rule.
pub struct WebRtcGateway {
    rtc: Rtc,
    config: WebRtcConfig,
    /// Our ICE candidate: the destination of everything the browser sends us.
    local: SocketAddr,
    state: State,
    mid: Option<Mid>,
    browser_pts: BrowserPts,
    negotiated: Option<Negotiated>,
    queue: VecDeque<GatewayOutput>,
    rtc_timeout: Instant,
    answered_at: Instant,
    last_from_browser: Instant,
    to_plain: OutgoingStream,
    from_plain: IncomingTimeline,
    plain: PlainPeer,
    recent_events: [Option<(u64, u8)>; RECENT_EVENTS],
    next_event_slot: usize,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for WebRtcGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcGateway")
            .field("local", &self.local)
            .field("state", &self.state)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl WebRtcGateway {
    /// A gateway that will answer with one host candidate, `candidate`: the address browsers
    /// send to, normally the local address of the browser-facing socket.
    pub fn new(
        cert: &WebRtcCert,
        config: &WebRtcConfig,
        candidate: SocketAddr,
        now: Instant,
    ) -> Result<WebRtcGateway, WebRtcError> {
        let mut rtc_config = RtcConfig::new()
            .set_crypto_provider(Arc::clone(cert.provider()))
            .set_dtls_cert(cert.cert().clone())
            .set_ice_lite(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            // The phone on the plain side has its own jitter buffer; by default str0m would
            // hold audio back up to 15 packets (or 1 s) after a loss, waiting for it to arrive.
            .set_reordering_size_audio(0)
            .set_reordering_timeout_audio(None);
        // str0m has no switch for telephone-event; it is added like any codec. "0-15" are
        // the DTMF keys, all that phones and the B2BUA use.
        rtc_config.codec_config().add_config(
            Pt::from(LOCAL_EVENT_PT),
            None,
            Codec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            FormatParams::parse_line("0-15"),
        );
        let mut rtc = rtc_config.build(now);
        let host = Candidate::host(candidate, "udp")
            .map_err(|e| WebRtcError::BadCandidate(candidate, e.to_string()))?;
        if rtc.add_local_candidate(host).is_none() {
            return Err(WebRtcError::BadCandidate(
                candidate,
                "refused by the ICE agent".to_owned(),
            ));
        }
        let mut gateway = WebRtcGateway {
            rtc,
            config: config.clone(),
            local: candidate,
            state: State::New,
            mid: None,
            browser_pts: BrowserPts {
                pcmu: None,
                pcma: None,
                event: None,
            },
            negotiated: None,
            queue: VecDeque::new(),
            rtc_timeout: now,
            answered_at: now,
            last_from_browser: now,
            // RFC 3550 §5.1: random SSRC, first sequence number and timestamp.
            to_plain: OutgoingStream::new(rand::random(), rand::random(), rand::random()),
            from_plain: IncomingTimeline::new(rand::random()),
            plain: PlainPeer::new(),
            recent_events: [None; RECENT_EVENTS],
            next_event_slot: 0,
            counters: Arc::default(),
        };
        gateway.drain(now);
        Ok(gateway)
    }

    /// Answers the browser's offer (the browser always offers, for incoming and outgoing
    /// calls alike). On error the gateway is of no further use.
    pub fn accept_offer(&mut self, offer_sdp: &str, now: Instant) -> Result<String, WebRtcError> {
        if self.state != State::New {
            return Err(WebRtcError::AlreadyAnswered);
        }
        if offer_sdp.len() > MAX_OFFER_LEN {
            return Err(WebRtcError::OfferTooLarge(offer_sdp.len()));
        }
        let offer = SdpOffer::from_sdp_string(offer_sdp)
            .map_err(|e| WebRtcError::BadOffer(e.to_string()))?;
        // str0m rejects (port 0) an audio line it has no codec for; remember that there was
        // one, to tell "no audio" from "no common codec".
        let offered_audio = offer
            .media_lines
            .iter()
            .any(|line| !line.disabled && line.typ.to_string() == "audio");
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WebRtcError::OfferRefused(e.to_string()));
        self.drain(now);
        let answer = answer?;
        // The first audio m-line carries the call; str0m's MediaAdded event would only come
        // with later output. Every line of an answer str0m made has its a=mid.
        let rtc = &self.rtc;
        let mid = answer
            .media_lines
            .iter()
            .filter(|line| !line.disabled && line.typ.is_media())
            .map(|line| line.mid())
            .find(|&mid| rtc.media(mid).is_some_and(|m| m.kind() == MediaKind::Audio))
            .ok_or(if offered_audio {
                WebRtcError::NoCommonCodec
            } else {
                WebRtcError::NoAudio
            })?;
        self.mid = Some(mid);
        let media = self.rtc.media(mid).ok_or(WebRtcError::NoAudio)?;
        let mut codecs = Vec::new();
        for &pt in media.remote_pts() {
            let Some(params) = self.rtc.codec_config().find(|p| p.pt() == pt) else {
                continue;
            };
            let spec = params.spec();
            match spec.codec {
                Codec::PCMU => {
                    self.browser_pts.pcmu = Some(pt);
                    codecs.push(G711::Pcmu);
                }
                Codec::PCMA => {
                    self.browser_pts.pcma = Some(pt);
                    codecs.push(G711::Pcma);
                }
                Codec::Tele if spec.clock_rate == Frequency::EIGHT_KHZ => {
                    self.browser_pts.event = Some(pt);
                }
                _ => {}
            }
        }
        if codecs.is_empty() {
            return Err(WebRtcError::NoCommonCodec);
        }
        self.negotiated = Some(Negotiated {
            codecs,
            telephone_event: self.browser_pts.event.is_some(),
        });
        self.state = State::Answered;
        self.answered_at = now;
        Ok(answer.to_sdp_string())
    }

    /// What was agreed with the browser, once its offer is accepted.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Our ICE candidate's address.
    pub fn local_candidate(&self) -> SocketAddr {
        self.local
    }

    /// Where plain RTP is sent, until the SIP side's packets say otherwise (symmetric RTP).
    pub fn set_plain_remote(&mut self, addr: SocketAddr) {
        self.plain.set_signalled(addr);
    }

    pub fn plain_remote(&self) -> Option<SocketAddr> {
        self.plain.addr()
    }

    pub fn stats(&self) -> WebRtcStats {
        self.counters.snapshot()
    }

    /// The live counters, for a driver to share with its handle.
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// A datagram that arrived on the browser-facing socket. `oversized` if it filled the
    /// receive buffer (and so was probably truncated).
    pub fn handle_browser_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        contents: &[u8],
        oversized: bool,
    ) {
        if self.state == State::Closed || self.state == State::New {
            // Before our answer no browser knows this socket; whatever comes is a stranger's.
            Counters::add(&self.counters.browser_rejected, 1);
            return;
        }
        if oversized {
            Counters::add(&self.counters.browser_garbage, 1);
            return;
        }
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, contents) else {
            Counters::add(&self.counters.browser_garbage, 1);
            return;
        };
        let input = Input::Receive(now, receive);
        if !self.rtc.accepts(&input) {
            Counters::add(&self.counters.browser_rejected, 1);
            return;
        }
        self.last_from_browser = now;
        if let Err(e) = self.rtc.handle_input(input) {
            if self.rtc.is_alive() {
                tracing::debug!(error = %e, "str0m refused a datagram from the browser");
                Counters::add(&self.counters.browser_rejected, 1);
            } else {
                self.shutdown(CloseReason::Failed(e.to_string()));
            }
        }
        self.drain(now);
    }

    /// A datagram that arrived on the plain RTP socket. `oversized` as for the browser side.
    pub fn handle_plain_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        contents: &[u8],
        oversized: bool,
    ) {
        if self.state == State::Closed {
            return;
        }
        let parsed = (!oversized && contents.len() <= MAX_PLAIN_PACKET)
            .then(|| rtp::parse(contents))
            .flatten()
            .filter(|(_, payload)| !payload.is_empty());
        let Some((header, payload)) = parsed else {
            Counters::add(&self.counters.plain_garbage, 1);
            return;
        };
        let is_event = header.pt == self.config.telephone_event_pt;
        if is_event && (payload.len() % 4 != 0 || payload.len() > MAX_EVENT_PAYLOAD) {
            // str0m would refuse it only later, inside poll_output, as an error.
            Counters::add(&self.counters.plain_garbage, 1);
            return;
        }
        // Latch even before the browser connects, so the first packets back already go to
        // where the phone really is.
        if !self.plain.accept(source, now) {
            Counters::add(&self.counters.plain_foreign, 1);
            return;
        }
        let Some(mid) = self.mid.filter(|_| self.state == State::Connected) else {
            // str0m drops what is written before the connection is up; count it here.
            Counters::add(&self.counters.dropped_before_connect, 1);
            return;
        };
        let browser_pt = if is_event {
            self.browser_pts.event
        } else {
            match header.pt {
                0 => self.browser_pts.pcmu,
                8 => self.browser_pts.pcma,
                _ => None,
            }
        };
        let Some(browser_pt) = browser_pt else {
            Counters::add(&self.counters.plain_unsupported, 1);
            return;
        };
        let time = self.from_plain.map(header.ssrc, header.timestamp, now);
        let Some(writer) = self.rtc.writer(mid) else {
            Counters::add(&self.counters.errors, 1);
            return;
        };
        // The marker passes through: start of a talkspurt for audio, first packet of an
        // event for RFC 4733 (str0m sets the bit from start_of_talkspurt for both).
        let written = writer.start_of_talkspurt(header.marker).write(
            browser_pt,
            now,
            MediaTime::new(time, Frequency::EIGHT_KHZ),
            payload,
        );
        match written {
            Ok(()) => {
                Counters::add(&self.counters.to_browser_packets, 1);
                Counters::add(&self.counters.to_browser_bytes, payload.len() as u64);
            }
            Err(e) => {
                tracing::debug!(error = %e, "str0m refused plain RTP for the browser");
                Counters::add(&self.counters.errors, 1);
            }
        }
        self.drain(now);
    }

    /// Time has reached a deadline given by [`GatewayOutput::Timeout`] (calling it early or
    /// late is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if let Some(reason) = self.expired(now) {
            self.shutdown(reason);
        } else if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            if !self.rtc.is_alive() {
                self.shutdown(CloseReason::Failed(e.to_string()));
            } else {
                Counters::add(&self.counters.errors, 1);
            }
        }
        self.drain(now);
    }

    /// Ends the session from our side: the browser gets an RTCP BYE and a DTLS close_notify
    /// (both among the next outputs), and [`CloseReason::Stopped`] is reported.
    pub fn close(&mut self, now: Instant) {
        self.shutdown(CloseReason::Stopped);
        self.drain(now);
    }

    /// The next thing to do. Returns [`GatewayOutput::Timeout`] when there is nothing.
    pub fn poll_output(&mut self) -> GatewayOutput {
        if let Some(output) = self.queue.pop_front() {
            return output;
        }
        let deadline = match self.state {
            State::Closed => self.rtc_timeout + IDLE,
            State::New => self.rtc_timeout,
            State::Answered => self
                .rtc_timeout
                .min(self.answered_at + self.config.connect_timeout),
            State::Connected if self.config.silence_timeout.is_zero() => self.rtc_timeout,
            State::Connected => self
                .rtc_timeout
                .min(self.last_from_browser + self.config.silence_timeout),
        };
        GatewayOutput::Timeout(deadline)
    }

    fn expired(&self, now: Instant) -> Option<CloseReason> {
        match self.state {
            State::Answered if now >= self.answered_at + self.config.connect_timeout => {
                Some(CloseReason::ConnectTimeout)
            }
            State::Connected
                if !self.config.silence_timeout.is_zero()
                    && now >= self.last_from_browser + self.config.silence_timeout =>
            {
                Some(CloseReason::BrowserSilent)
            }
            _ => None,
        }
    }

    /// Marks the session closed and starts str0m's close; reports `reason` once.
    fn shutdown(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.queue
            .push_back(GatewayOutput::Event(WebRtcEvent::Closed { reason }));
        if self.rtc.is_alive() {
            // Fails only if DTLS cannot even start closing, and then there is nothing to send.
            let _ = self.rtc.close();
        }
    }

    /// Takes all of str0m's output into our queue, translating events and media.
    fn drain(&mut self, now: Instant) {
        let mut errors = 0;
        let mut immediate = 0;
        loop {
            let output = match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) if t <= now && immediate < MAX_IMMEDIATE_TIMEOUTS => {
                    // str0m turns a written frame into a packet only when time advances, and
                    // asks for that with a timeout that is already due. Advancing here saves
                    // the driver a timer round, which tokio rounds up to the next millisecond.
                    immediate += 1;
                    self.rtc.handle_input(Input::Timeout(now)).map(|()| None)
                }
                other => other.map(Some),
            };
            match output {
                Ok(None) => {}
                Ok(Some(Output::Timeout(t))) => {
                    self.rtc_timeout = t;
                    return;
                }
                Ok(Some(Output::Transmit(t))) => self.queue.push_back(GatewayOutput::ToBrowser {
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Some(Output::Event(e))) => self.on_event(e),
                Err(e) => {
                    Counters::add(&self.counters.errors, 1);
                    errors += 1;
                    if !self.rtc.is_alive() || errors >= MAX_DRAIN_ERRORS {
                        self.shutdown(CloseReason::Failed(e.to_string()));
                        self.rtc_timeout = now;
                        return;
                    }
                    tracing::debug!(error = %e, "str0m output error");
                }
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected if self.state == State::Answered => {
                self.state = State::Connected;
                self.queue
                    .push_back(GatewayOutput::Event(WebRtcEvent::Connected));
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                if self.state == State::Connected =>
            {
                // With ICE-lite this comes only after 15 s without the browser's checks; a
                // lite agent cannot restart ICE, so the session is over.
                self.shutdown(CloseReason::IceDisconnected);
            }
            Event::Closed => self.shutdown(CloseReason::BrowserClosed),
            Event::MediaData(data) => self.on_media(data),
            _ => {}
        }
    }

    /// One frame from the browser: an audio packet or one RFC 4733 report.
    fn on_media(&mut self, data: MediaData) {
        if self.state != State::Connected {
            return;
        }
        let spec = data.params.spec();
        let (pt, event) = match (spec.codec, data.codec_extra) {
            (Codec::PCMU, _) => (G711::Pcmu.pt(), None),
            (Codec::PCMA, _) => (G711::Pcma.pt(), None),
            (Codec::Tele, CodecExtra::Tele(e)) => (self.config.telephone_event_pt, Some(e)),
            _ => return,
        };
        let time = data.time.rebase(Frequency::EIGHT_KHZ).numer();
        let (seq, timestamp) = self.to_plain.next(**data.seq_range.end(), time);
        if let Some(e) = event.filter(|e| e.end) {
            // Every report comes up, the three repeated end packets too: one digit per
            // (timestamp, event).
            if self.new_event(time, e.event) {
                if let Some(digit) = rtp::dtmf_char(e.event) {
                    self.queue
                        .push_back(GatewayOutput::Event(WebRtcEvent::Dtmf(digit)));
                }
            }
        }
        let Some(destination) = self.plain.addr() else {
            Counters::add(&self.counters.plain_unsent, 1);
            return;
        };
        let header = Header {
            marker: data.audio_start_of_talk_spurt,
            pt,
            seq,
            timestamp,
            ssrc: self.to_plain.ssrc,
        };
        // For RFC 4733 str0m gives the report's four bytes as they were sent: event, end bit,
        // volume and duration pass through untouched.
        let contents = rtp::build(header, &data.data);
        Counters::add(&self.counters.to_plain_packets, 1);
        Counters::add(&self.counters.to_plain_bytes, contents.len() as u64);
        self.queue.push_back(GatewayOutput::ToPlain {
            destination,
            contents,
        });
    }

    fn new_event(&mut self, time: u64, event: u8) -> bool {
        let key = Some((time, event));
        if self.recent_events.contains(&key) {
            return false;
        }
        self.recent_events[self.next_event_slot] = key;
        self.next_event_slot = (self.next_event_slot + 1) % RECENT_EVENTS;
        true
    }
}

/// The statistics, readable from other threads while the gateway runs.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    to_plain_packets: AtomicU64,
    to_plain_bytes: AtomicU64,
    to_browser_packets: AtomicU64,
    to_browser_bytes: AtomicU64,
    dropped_before_connect: AtomicU64,
    plain_unsent: AtomicU64,
    browser_garbage: AtomicU64,
    browser_rejected: AtomicU64,
    plain_garbage: AtomicU64,
    plain_foreign: AtomicU64,
    plain_unsupported: AtomicU64,
    pub(crate) errors: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WebRtcStats {
        let get = |c: &AtomicU64| c.load(Relaxed);
        WebRtcStats {
            to_plain: FlowStats {
                packets: get(&self.to_plain_packets),
                bytes: get(&self.to_plain_bytes),
            },
            to_browser: FlowStats {
                packets: get(&self.to_browser_packets),
                bytes: get(&self.to_browser_bytes),
            },
            dropped_before_connect: get(&self.dropped_before_connect),
            plain_unsent: get(&self.plain_unsent),
            browser_garbage: get(&self.browser_garbage),
            browser_rejected: get(&self.browser_rejected),
            plain_garbage: get(&self.plain_garbage),
            plain_foreign: get(&self.plain_foreign),
            plain_unsupported: get(&self.plain_unsupported),
            errors: get(&self.errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::media::Direction;

    /// An offer like a browser's: PCMU and telephone-event on Chrome's payload type.
    fn browser_offer() -> String {
        let mut config = RtcConfig::new().clear_codecs().enable_pcmu(true, false);
        config.codec_config().add_config(
            Pt::from(126),
            None,
            Codec::Tele,
            Frequency::EIGHT_KHZ,
            None,
            FormatParams::parse_line("0-15"),
        );
        let mut rtc = config.build(Instant::now());
        let host = Candidate::host("127.0.0.1:40000".parse().unwrap(), "udp").unwrap();
        rtc.add_local_candidate(host).unwrap();
        let mut change = rtc.sdp_api();
        change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        change.apply().unwrap().0.to_sdp_string()
    }

    fn gateway() -> WebRtcGateway {
        let cert = WebRtcCert::generate().unwrap();
        let candidate = "127.0.0.1:30000".parse().unwrap();
        WebRtcGateway::new(&cert, &WebRtcConfig::default(), candidate, Instant::now()).unwrap()
    }

    #[test]
    fn answers_ice_lite_with_one_host_candidate_and_the_browsers_event_pt() {
        let mut gw = gateway();
        let answer = gw.accept_offer(&browser_offer(), Instant::now()).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        let candidates: Vec<&str> = answer
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .collect();
        assert_eq!(candidates.len(), 1, "{answer}");
        assert!(
            candidates[0].contains("127.0.0.1 30000 typ host"),
            "{answer}"
        );
        assert!(answer.contains("a=rtpmap:0 PCMU/8000"), "{answer}");
        assert!(
            answer.contains("a=rtpmap:126 telephone-event/8000"),
            "{answer}"
        );
        assert!(!answer.contains("opus"), "{answer}");
        assert_eq!(
            gw.negotiated(),
            Some(&Negotiated {
                codecs: vec![G711::Pcmu],
                telephone_event: true
            })
        );
        assert!(!gw.is_connected());
        let err = gw
            .accept_offer(&browser_offer(), Instant::now())
            .unwrap_err();
        assert!(matches!(err, WebRtcError::AlreadyAnswered), "{err}");
    }

    #[test]
    fn offers_without_mids_or_ice_credentials_are_refused_not_panicked_on() {
        let offer = browser_offer();
        let strip = |prefix: &str| {
            offer
                .split_inclusive("\r\n")
                .filter(|l| !l.starts_with(prefix))
                .collect::<String>()
        };
        for bad in [
            strip("a=mid:"),
            strip("a=group:"),
            strip("a=ice-ufrag:"),
            strip("m="),
        ] {
            let mut gw = gateway();
            assert!(gw.accept_offer(&bad, Instant::now()).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_line_removed_or_cut_short_makes_it_panic() {
        let cert = WebRtcCert::generate().unwrap();
        let offer = browser_offer();
        let lines: Vec<&str> = offer.split_inclusive("\r\n").collect();
        for i in 0..lines.len() {
            let cut = &lines[i][..lines[i].len() / 2];
            for replacement in ["", cut] {
                let mut mutated = lines.clone();
                mutated[i] = replacement;
                let mutated = mutated.concat();
                let candidate = "127.0.0.1:30000".parse().unwrap();
                let now = Instant::now();
                let mut gw =
                    WebRtcGateway::new(&cert, &WebRtcConfig::default(), candidate, now).unwrap();
                // Either answer is fine; what matters is that there is one.
                let _ = gw.accept_offer(&mutated, now);
            }
        }
    }

    #[test]
    fn an_unusable_candidate_address_is_an_error() {
        let cert = WebRtcCert::generate().unwrap();
        let candidate = "0.0.0.0:30000".parse().unwrap();
        let err = WebRtcGateway::new(&cert, &WebRtcConfig::default(), candidate, Instant::now())
            .unwrap_err();
        assert!(matches!(err, WebRtcError::BadCandidate(..)), "{err}");
    }

    #[test]
    fn datagrams_before_the_answer_or_before_connecting_go_nowhere() {
        let mut gw = gateway();
        let now = Instant::now();
        let stranger = "127.0.0.1:5000".parse().unwrap();
        gw.handle_browser_datagram(now, stranger, &[0; 20], false);
        let packet = rtp::build(
            Header {
                marker: false,
                pt: 0,
                seq: 1,
                timestamp: 1,
                ssrc: 1,
            },
            &[0xff; 160],
        );
        gw.handle_plain_datagram(now, stranger, &packet, false);
        gw.accept_offer(&browser_offer(), now).unwrap();
        gw.handle_plain_datagram(now, stranger, &packet, false);
        let stats = gw.stats();
        assert_eq!(stats.browser_rejected, 1);
        assert_eq!(stats.dropped_before_connect, 2);
        // The phone was latched all the same.
        assert_eq!(gw.plain_remote(), Some(stranger));
        while let GatewayOutput::ToBrowser { .. } | GatewayOutput::Event(_) = gw.poll_output() {}
        assert!(matches!(gw.poll_output(), GatewayOutput::Timeout(_)));
    }

    #[test]
    fn connect_timeout_closes_once() {
        let mut gw = gateway();
        let now = Instant::now();
        gw.accept_offer(&browser_offer(), now).unwrap();
        let GatewayOutput::Timeout(deadline) = gw.poll_output() else {
            panic!("nothing to send before the browser shows up");
        };
        assert!(deadline <= now + WebRtcConfig::default().connect_timeout);
        gw.handle_timeout(now + Duration::from_secs(16));
        let mut events = Vec::new();
        loop {
            match gw.poll_output() {
                GatewayOutput::Event(e) => events.push(e),
                GatewayOutput::Timeout(_) => break,
                _ => {}
            }
        }
        assert_eq!(
            events,
            [WebRtcEvent::Closed {
                reason: CloseReason::ConnectTimeout
            }]
        );
        assert!(gw.is_closed());
        gw.close(now + Duration::from_secs(17));
        assert!(matches!(gw.poll_output(), GatewayOutput::Timeout(_)));
    }
}
