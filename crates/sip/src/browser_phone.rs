//! The browser phone (PHONE-*, STATUS-02): while an agent's browser phone is ON, a small SIP
//! user agent runs inside Tsunagu on the agent's behalf. It has its own UDP socket on loopback
//! and talks SIP to our own SIP edge like any desk phone, so queue ringing, ring time, no-answer
//! handling, caller ID, restrictions and prefix routing apply to it unchanged. Its media is a
//! WebRTC gateway (`media::webrtc`) whose plain-RTP side is the "phone's" media address.
//!
//! The browser talks to it over the session's WebSocket: commands come in as JSON
//! ([`PhoneCommand`]), and what happens goes out as `phone_*` messages.

use crate::events::EdgeEvent;
use crate::msg;
use media::sdp::Sdp;
use media::webrtc::{spawn_webrtc_gateway, CloseReason, WebRtcEvent, WebRtcHandle};
use phone_signal::{EndReason, OffReason};
pub use phone_signal::{PhoneCommand, PhoneEvent};
use rsipstack::sip::{Method, Request, Response, SipMessage};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, PoisonError};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

/// The header by which the browser phone tells our SIP edge which caller ID the agent chose
/// (a number id, or `none` for 外線発信禁止). Trusted only from a browser phone's own socket.
pub(crate) const CALLER_NUMBER_HEADER: &str = "X-Tsunagu-Caller-Number";
/// The header carrying the phone's secret in its INVITEs: our SIP edge trusts a browser
/// phone's request only with the secret of the phone registered at that source address.
pub(crate) const PHONE_TOKEN_HEADER: &str = "X-Tsunagu-Phone";
/// RFC 4733 payload type on the SIP side of the gateway.
const TELEPHONE_EVENT_PT: u8 = 101;

/// A browser phone that is ON. Dropping it turns the phone OFF: calls in progress end.
pub struct PhoneLine {
    commands: UnboundedSender<PhoneCommand>,
}

impl PhoneLine {
    pub fn command(&self, cmd: PhoneCommand) {
        // The agent's task ending first only means the phone is already OFF.
        let _ = self.commands.send(cmd);
    }
}

/// The browser phones that are ON, by agent: the SIP edge rings them and trusts their sockets.
#[derive(Default)]
pub(crate) struct BrowserPhones {
    by_agent: HashMap<i64, Registered>,
}

struct Registered {
    addr: SocketAddr,
    /// Distinguishes this ON from a later one of the same agent (another tab took over).
    session: u64,
    /// Tells the phone that another tab turned the agent's phone ON.
    taken_over: Arc<tokio::sync::Notify>,
    /// The secret its requests carry ([`PHONE_TOKEN_HEADER`]).
    token: String,
}

impl BrowserPhones {
    /// Where the agent's browser phone listens, if it is ON.
    pub fn contact(&self, agent: i64) -> Option<SocketAddr> {
        self.by_agent.get(&agent).map(|r| r.addr)
    }

    /// The agent whose browser phone sent a request from `addr` carrying `token`. The address
    /// alone is not enough: over TCP a local process could claim any address in its Via.
    pub fn agent_at(&self, addr: SocketAddr, token: Option<&str>) -> Option<i64> {
        let token = token?.trim();
        self.by_agent
            .iter()
            .find(|(_, r)| r.addr == addr && r.token == token)
            .map(|(a, _)| *a)
    }
}

/// What every browser phone shares: the registry of phones that are ON, one DTLS certificate
/// for the media gateways (making one costs tens of milliseconds) and their settings, the RTP
/// ports, and the address of our own SIP edge.
pub(crate) struct Phones {
    pub registry: std::sync::Mutex<BrowserPhones>,
    pub cert: media::webrtc::WebRtcCert,
    pub config: media::webrtc::WebRtcConfig,
    pub rtp: media::RtpPool,
    /// Where our SIP edge listens.
    pub listen: SocketAddr,
    /// The port peers reach it on.
    pub sip_port: u16,
    pub events: UnboundedSender<EdgeEvent>,
    pub next_session: std::sync::atomic::AtomicU64,
}

impl Phones {
    /// Tells the core that the agent's browser phone was turned ON or OFF (STATUS-02).
    fn changed(&self, agent: i64) {
        self.events.send(EdgeEvent::BrowserPhone { agent }).ok();
    }

    /// Where the agent's browser phone listens, if it is ON.
    pub fn contact(&self, agent: i64) -> Option<SocketAddr> {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contact(agent)
    }

    /// The agent whose browser phone sent a request from `addr` carrying `token`.
    pub fn agent_at(&self, addr: SocketAddr, token: Option<&str>) -> Option<i64> {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .agent_at(addr, token)
    }
}

/// Turns the agent's browser phone ON; `events` receives the `phone_*` messages for the browser.
/// A phone already ON in another tab is turned OFF there (told with `phone_state`).
pub(crate) async fn turn_on(
    phones: &Arc<Phones>,
    agent: i64,
    events: UnboundedSender<PhoneEvent>,
) -> Result<PhoneLine, String> {
    let ip = match phones.listen.ip() {
        ip if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        ip => ip,
    };
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0))
        .await
        .map_err(|e| format!("cannot open the phone's socket: {e}"))?;
    let addr = socket
        .local_addr()
        .map_err(|e| format!("cannot open the phone's socket: {e}"))?;
    let session = phones
        .next_session
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let taken_over = Arc::new(tokio::sync::Notify::new());
    let token = format!("{}{}", msg::token(), msg::token());
    let previous = phones
        .registry
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .by_agent
        .insert(
            agent,
            Registered {
                addr,
                session,
                taken_over: taken_over.clone(),
                token: token.clone(),
            },
        );
    match previous {
        // One browser phone per agent: the one in the other tab turns OFF.
        Some(p) => p.taken_over.notify_one(),
        None => phones.changed(agent),
    }
    let (commands, command_rx) = mpsc::unbounded_channel();
    let server = match phones.listen {
        a if a.ip().is_unspecified() => SocketAddr::new(ip, phones.sip_port),
        a => SocketAddr::new(a.ip(), phones.sip_port),
    };
    let ua = Ua {
        phones: phones.clone(),
        agent,
        session,
        socket,
        addr,
        server,
        events,
        calls: HashMap::new(),
        token,
    };
    events_send(
        &ua.events,
        PhoneEvent::PhoneState {
            on: true,
            reason: None,
        },
    );
    tokio::spawn(ua.run(command_rx, taken_over));
    Ok(PhoneLine { commands })
}

fn events_send(events: &UnboundedSender<PhoneEvent>, v: PhoneEvent) {
    let _ = events.send(v);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Our SIP edge called the phone.
    In,
    /// The browser dialled.
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Incoming and ringing, or outgoing and not answered yet.
    Setup,
    Connected,
    /// Outgoing, CANCEL sent: a 200 may still cross it and must then be ACKed and hung up.
    Cancelling,
}

struct UaCall {
    dir: Dir,
    state: State,
    /// Incoming: the INVITE we were sent. Outgoing: the INVITE we sent.
    invite: Request,
    our_tag: String,
    /// The other side's tag (outgoing calls, from the response).
    their_tag: Option<String>,
    /// Where in-dialog requests go (the other side's Contact).
    target: String,
    /// Our CSeq for requests in the dialog.
    cseq: u32,
    gateway: Option<WebRtcHandle>,
    /// The 200 we sent (incoming), for a retransmitted INVITE.
    last_response: Option<String>,
    /// The SDP of our side (plain RTP of the gateway), for re-INVITE answers.
    our_sdp: Option<Sdp>,
    /// Our hold re-INVITE in flight: the hold state it asks for.
    pending_hold: Option<bool>,
}

struct Ua {
    phones: Arc<Phones>,
    agent: i64,
    session: u64,
    socket: UdpSocket,
    addr: SocketAddr,
    /// Our own SIP edge.
    server: SocketAddr,
    events: UnboundedSender<PhoneEvent>,
    calls: HashMap<String, UaCall>,
    /// Sent in our INVITEs ([`PHONE_TOKEN_HEADER`]).
    token: String,
}

impl Ua {
    async fn run(
        mut self,
        mut commands: UnboundedReceiver<PhoneCommand>,
        taken_over: Arc<tokio::sync::Notify>,
    ) {
        let mut reason = OffReason::Off;
        let (gw_tx, mut gw_rx) = mpsc::unbounded_channel::<(String, WebRtcEvent)>();
        let mut buf = vec![0u8; 65_535];
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.handle_command(cmd, &gw_tx).await,
                    None => break,
                },
                () = taken_over.notified() => {
                    reason = OffReason::TakenOver;
                    break;
                }
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, from)) = r else { continue };
                    if from != self.server {
                        // Only our own SIP edge talks to this phone.
                        continue;
                    }
                    match SipMessage::try_from(&buf[..n]) {
                        Ok(SipMessage::Request(req)) => self.handle_request(req).await,
                        Ok(SipMessage::Response(resp)) => self.handle_response(resp).await,
                        Err(e) => tracing::debug!(error = %e, "browser phone: unparsable SIP"),
                    }
                }
                Some((call, ev)) = gw_rx.recv() => self.handle_media(call, ev).await,
            }
        }
        // OFF (or the tab closed): end every call, then stop being the agent's phone.
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            self.hang_up(&id).await;
        }
        let removed = {
            let mut phones = self
                .phones
                .registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let ours = phones
                .by_agent
                .get(&self.agent)
                .is_some_and(|r| r.session == self.session);
            ours && phones.by_agent.remove(&self.agent).is_some()
        };
        if removed {
            self.phones.changed(self.agent);
        }
        events_send(
            &self.events,
            PhoneEvent::PhoneState {
                on: false,
                reason: Some(reason),
            },
        );
    }

    async fn send(&self, text: String) {
        if let Err(e) = self.socket.send_to(text.as_bytes(), self.server).await {
            tracing::warn!(error = %e, "browser phone: cannot send to the SIP edge");
        }
    }

    fn contact(&self) -> String {
        format!("<sip:browser-{}@{}>", self.agent, self.addr)
    }

    fn emit(&self, v: PhoneEvent) {
        events_send(&self.events, v);
    }

    async fn respond(
        &self,
        req: &Request,
        status: u16,
        reason: &str,
        tag: Option<&str>,
        sdp: Option<&str>,
    ) -> Option<String> {
        let extra = [("Contact", self.contact())];
        let resp = msg::response(
            req,
            status,
            reason,
            tag,
            &extra,
            sdp.map(|s| ("application/sdp", s.as_bytes())),
        )?;
        let text = resp.to_string();
        self.send(text.clone()).await;
        Some(text)
    }

    async fn handle_request(&mut self, req: Request) {
        let Some(call_id) = msg::call_id(&req) else {
            return;
        };
        match req.method {
            Method::Invite if msg::to_tag(&req).is_none() => {
                if let Some(c) = self.calls.get(&call_id) {
                    // A retransmission: say again what we said.
                    if let Some(text) = c.last_response.clone() {
                        self.send(text).await;
                    }
                    return;
                }
                let tag = msg::token();
                let busy = self
                    .calls
                    .values()
                    .any(|c| c.state == State::Connected || c.dir == Dir::Out);
                if busy {
                    self.respond(&req, 486, "Busy Here", Some(&tag), None).await;
                    return;
                }
                let text = self.respond(&req, 180, "Ringing", Some(&tag), None).await;
                let caller = msg::from_user(&req).unwrap_or_else(|| "anonymous".into());
                let target = msg::header(&req, "Contact")
                    .map(|c| msg::addr_uri(&c))
                    .unwrap_or_else(|| format!("sip:{}", self.server));
                self.calls.insert(
                    call_id.clone(),
                    UaCall {
                        dir: Dir::In,
                        state: State::Setup,
                        invite: req,
                        our_tag: tag,
                        their_tag: None,
                        target,
                        cseq: 1,
                        gateway: None,
                        last_response: text,
                        our_sdp: None,
                        pending_hold: None,
                    },
                );
                self.emit(PhoneEvent::PhoneIncoming {
                    call: call_id.clone(),
                    caller,
                });
            }
            Method::Invite => {
                // A re-INVITE (the other side holds or moves): our media stays as it is.
                let Some(c) = self.calls.get(&call_id) else {
                    self.respond(&req, 481, "Call/Transaction Does Not Exist", None, None)
                        .await;
                    return;
                };
                let mut sdp = c.our_sdp.clone();
                let offer = Sdp::parse(&String::from_utf8_lossy(req.body())).ok();
                if let (Some(sdp), Some(offer)) = (&mut sdp, &offer) {
                    use media::sdp::Direction;
                    sdp.set_direction(match offer.direction() {
                        Direction::SendOnly => Direction::RecvOnly,
                        Direction::RecvOnly => Direction::SendOnly,
                        d => d,
                    });
                    if let (Some(g), Some(a)) = (&c.gateway, offer.audio_addr()) {
                        g.set_plain_remote(a);
                    }
                }
                let body = sdp.map(|s| s.to_string());
                self.respond(&req, 200, "OK", None, body.as_deref()).await;
            }
            Method::Ack => {}
            Method::Cancel => {
                self.respond(&req, 200, "OK", None, None).await;
                if let Some(c) = self.calls.remove(&call_id) {
                    let invite = c.invite.clone();
                    self.respond(&invite, 487, "Request Terminated", Some(&c.our_tag), None)
                        .await;
                    self.emit(PhoneEvent::ended(call_id.clone(), EndReason::Cancelled));
                }
            }
            Method::Bye => {
                self.respond(&req, 200, "OK", None, None).await;
                if self.calls.remove(&call_id).is_some() {
                    self.emit(PhoneEvent::ended(call_id.clone(), EndReason::RemoteHangup));
                }
            }
            Method::Options => {
                self.respond(&req, 200, "OK", None, None).await;
            }
            _ => {
                self.respond(&req, 405, "Method Not Allowed", None, None)
                    .await;
            }
        }
    }

    async fn handle_response(&mut self, resp: Response) {
        let (Some(call_id), Some((cseq, method))) = (msg::call_id(&resp), msg::cseq(&resp)) else {
            return;
        };
        let code = resp.status_code.code();
        if method != "INVITE" {
            return;
        }
        let Some(c) = self.calls.get_mut(&call_id) else {
            return;
        };
        if c.state == State::Cancelling {
            match code {
                100..=199 => {}
                200..=299 => {
                    // The answer crossed our CANCEL: acknowledge it, then hang up at once.
                    let to = msg::header(&resp, "To").unwrap_or_default();
                    c.their_tag = msg::param(&to, "tag");
                    if let Some(contact) = msg::header(&resp, "Contact") {
                        c.target = msg::addr_uri(&contact);
                    }
                    let ack = self.in_dialog_request(&call_id, "ACK", Some(cseq), None);
                    let bye = self.in_dialog_request(&call_id, "BYE", None, None);
                    for text in [ack, bye].into_iter().flatten() {
                        self.send(text).await;
                    }
                    self.calls.remove(&call_id);
                }
                _ => {
                    let to = msg::header(&resp, "To").unwrap_or_default();
                    if let Some(ack) = non_2xx_ack(&c.invite, &to) {
                        self.send(ack).await;
                    }
                    self.calls.remove(&call_id);
                }
            }
            return;
        }
        if c.state == State::Connected {
            // The answer to our hold or unhold re-INVITE (or a retransmitted 200 of the call).
            let hold = c.pending_hold.take();
            if (200..300).contains(&code) {
                if let Some(ack) = self.in_dialog_request(&call_id, "ACK", Some(cseq), None) {
                    self.send(ack).await;
                }
                if let Some(hold) = hold {
                    self.emit(PhoneEvent::PhoneHold {
                        call: call_id.clone(),
                        hold,
                    });
                }
            } else if code >= 300 {
                let target = self.calls.get(&call_id).map(|c| c.target.clone());
                if let Some(ack) = target.and_then(|t| ack_of_response(&resp, &t, cseq)) {
                    self.send(ack).await;
                }
                if hold.is_some() {
                    self.emit(PhoneEvent::call_error(
                        call_id.clone(),
                        format!("The other side refused the hold ({code})."),
                    ));
                }
            }
            return;
        }
        if c.dir != Dir::Out {
            return;
        }
        match code {
            100 => {}
            101..=199 => self.emit(PhoneEvent::PhoneRinging {
                call: call_id.clone(),
            }),
            200..=299 => {
                let to = msg::header(&resp, "To").unwrap_or_default();
                c.their_tag = msg::param(&to, "tag");
                if let Some(contact) = msg::header(&resp, "Contact") {
                    c.target = msg::addr_uri(&contact);
                }
                let answer = Sdp::parse(&String::from_utf8_lossy(resp.body())).ok();
                if let (Some(g), Some(addr)) =
                    (&c.gateway, answer.as_ref().and_then(|a| a.audio_addr()))
                {
                    g.set_plain_remote(addr);
                }
                let first = c.state == State::Setup;
                c.state = State::Connected;
                let ack = self.in_dialog_request(&call_id, "ACK", Some(1), None);
                if let Some(ack) = ack {
                    self.send(ack).await;
                }
                if first {
                    self.emit(PhoneEvent::PhoneConnected {
                        call: call_id.clone(),
                    });
                }
            }
            _ => {
                // Non-2xx final: the ACK belongs to the INVITE transaction (same branch).
                let c = self.calls.remove(&call_id);
                if let Some(c) = c {
                    let to = msg::header(&resp, "To").unwrap_or_default();
                    if let Some(ack) = non_2xx_ack(&c.invite, &to) {
                        self.send(ack).await;
                    }
                }
                let reason = resp.reason_phrase().map(str::to_owned);
                self.emit(PhoneEvent::PhoneEnded {
                    call: call_id.clone(),
                    reason: EndReason::Failed,
                    status: Some(code),
                    message: reason,
                });
            }
        }
    }

    async fn handle_media(&mut self, call: String, ev: WebRtcEvent) {
        match ev {
            WebRtcEvent::Connected => self.emit(PhoneEvent::PhoneMedia {
                call,
                connected: true,
            }),
            WebRtcEvent::Dtmf(d) => tracing::debug!(call, digit = %d, "browser phone DTMF"),
            WebRtcEvent::Closed { reason } => {
                if reason == CloseReason::Stopped || !self.calls.contains_key(&call) {
                    return;
                }
                // The browser's media is gone (a closed tab, a lost network): so is the call.
                tracing::info!(call, ?reason, "browser phone media closed; hanging up");
                self.hang_up(&call).await;
                self.emit(PhoneEvent::ended(call, EndReason::MediaLost));
            }
        }
    }

    async fn handle_command(
        &mut self,
        cmd: PhoneCommand,
        gw: &UnboundedSender<(String, WebRtcEvent)>,
    ) {
        match cmd {
            PhoneCommand::PhoneAnswer { call, sdp } => self.answer(call, sdp, gw).await,
            PhoneCommand::PhoneReject { call } => {
                // A call already answered (the answer crossed the click) is hung up properly.
                if self.calls.contains_key(&call) {
                    self.hang_up(&call).await;
                    self.emit(PhoneEvent::ended(call, EndReason::Rejected));
                }
            }
            PhoneCommand::PhoneDial {
                number,
                sdp,
                caller_number,
            } => self.dial(number, sdp, caller_number, gw).await,
            PhoneCommand::PhoneHangup { call } => {
                if self.calls.contains_key(&call) {
                    self.hang_up(&call).await;
                    self.emit(PhoneEvent::ended(call, EndReason::LocalHangup));
                }
            }
            PhoneCommand::PhoneHold { call, hold } => self.hold(&call, hold).await,
        }
    }

    /// Starts the gateway for the browser's offer, restricted to `law` when the SIP side
    /// already fixed one; the gateway and its answer for the browser.
    async fn gateway(
        &self,
        call: &str,
        offer: &str,
        only: Option<Vec<u8>>,
        gw: &UnboundedSender<(String, WebRtcEvent)>,
    ) -> Result<WebRtcHandle, String> {
        let mut offer_sdp = offer.to_owned();
        if let Some(keep) = only {
            // The browser must send what the SIP side accepts: the bridge does not transcode.
            if let Ok(mut sdp) = Sdp::parse(offer) {
                let mut keep = keep;
                keep.extend(sdp.telephone_event_pt());
                sdp.restrict_audio(&keep);
                offer_sdp = sdp.to_string();
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        let handle = spawn_webrtc_gateway(
            &self.phones.cert,
            &self.phones.config,
            &self.phones.rtp,
            &offer_sdp,
            tx,
        )
        .await
        .map_err(|e| e.to_string())?;
        let forward = gw.clone();
        let call = call.to_owned();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if forward.send((call.clone(), ev)).is_err() {
                    break;
                }
            }
        });
        Ok(handle)
    }

    async fn answer(
        &mut self,
        call: String,
        offer: String,
        gw: &UnboundedSender<(String, WebRtcEvent)>,
    ) {
        let Some(c) = self.calls.get(&call) else {
            self.emit(PhoneEvent::call_error(
                call,
                "This call is no longer ringing.",
            ));
            return;
        };
        if c.dir != Dir::In || c.state != State::Setup {
            return;
        }
        let their = Sdp::parse(&String::from_utf8_lossy(c.invite.body())).ok();
        // One law, the SIP side's first that the browser offers: the browser then cannot send
        // the other one, which the SIP side did not agree to.
        let browser_pts = Sdp::parse(&offer)
            .map(|s| s.audio_payload_types())
            .unwrap_or_default();
        let laws: Vec<u8> = their
            .as_ref()
            .map(|s| s.audio_payload_types())
            .unwrap_or_default()
            .into_iter()
            .filter(|pt| {
                (*pt == 0 || *pt == 8) && (browser_pts.is_empty() || browser_pts.contains(pt))
            })
            .take(1)
            .collect();
        let handle = match self.gateway(&call, &offer, Some(laws.clone()), gw).await {
            Ok(h) => h,
            Err(e) => {
                self.emit(PhoneEvent::call_error(
                    call,
                    format!("The browser's audio could not be connected: {e}"),
                ));
                return;
            }
        };
        if let Some(addr) = their.as_ref().and_then(|s| s.audio_addr()) {
            handle.set_plain_remote(addr);
        }
        let law = handle
            .negotiated()
            .codecs
            .iter()
            .map(|c| c.pt())
            .find(|pt| laws.contains(pt));
        let Some(law) = law.and_then(media::g711::Law::from_payload_type) else {
            self.emit(PhoneEvent::call_error(
                call,
                "No common audio codec (PCMU/PCMA).",
            ));
            return;
        };
        let te = their
            .as_ref()
            .and_then(|s| s.telephone_event_pt())
            .map(|_| TELEPHONE_EVENT_PT);
        let sdp = Sdp::g711_answer(handle.plain_rtp_addr(), law, te);
        self.emit(PhoneEvent::PhoneAnswerSdp {
            call: call.clone(),
            sdp: handle.answer_sdp().to_owned(),
        });
        let body = sdp.to_string();
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let invite = c.invite.clone();
        let tag = c.our_tag.clone();
        let text = self
            .respond(&invite, 200, "OK", Some(&tag), Some(&body))
            .await;
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = State::Connected;
            c.gateway = Some(handle);
            c.last_response = text;
            c.our_sdp = Some(sdp);
        }
        self.emit(PhoneEvent::PhoneConnected { call: call.clone() });
    }

    async fn dial(
        &mut self,
        number: String,
        offer: String,
        caller_number: Option<Option<i64>>,
        gw: &UnboundedSender<(String, WebRtcEvent)>,
    ) {
        let number: String = number
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if number.is_empty()
            || number.len() > 32
            || !number
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            self.emit(PhoneEvent::error("Enter a number of digits, * and # only."));
            return;
        }
        if !self.calls.is_empty() {
            self.emit(PhoneEvent::error("Hang up the current call first."));
            return;
        }
        let call_id = format!("{}@browser.tsunagu", msg::token());
        // PCMU first: what carriers in Japan take without question.
        let handle = match self.gateway(&call_id, &offer, Some(vec![0]), gw).await {
            Ok(h) => h,
            Err(_) => match self.gateway(&call_id, &offer, Some(vec![8]), gw).await {
                Ok(h) => h,
                Err(e) => {
                    self.emit(PhoneEvent::error(format!(
                        "The browser's audio could not be connected: {e}"
                    )));
                    return;
                }
            },
        };
        let law = handle
            .negotiated()
            .codecs
            .first()
            .and_then(|c| media::g711::Law::from_payload_type(c.pt()))
            .unwrap_or(media::g711::Law::Ulaw);
        let te = handle
            .negotiated()
            .telephone_event
            .then_some(TELEPHONE_EVENT_PT);
        let sdp = Sdp::g711_answer(handle.plain_rtp_addr(), law, te);
        let body = sdp.to_string();
        let tag = msg::token();
        let branch = format!("z9hG4bK{}", msg::token());
        let server = self.server;
        let me = format!("browser-{}", self.agent);
        let caller_header = match caller_number {
            Some(Some(id)) => format!("{CALLER_NUMBER_HEADER}: {id}\r\n"),
            Some(None) => format!("{CALLER_NUMBER_HEADER}: none\r\n"),
            None => String::new(),
        };
        let text = format!(
            "INVITE sip:{number}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{me}@{ip}>;tag={tag}\r\nTo: <sip:{number}@{server}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: {contact}\r\n{PHONE_TOKEN_HEADER}: {token}\r\n{caller_header}Allow: {allow}\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
            addr = self.addr,
            ip = self.addr.ip(),
            contact = self.contact(),
            token = self.token,
            allow = msg::ALLOW,
            len = body.len(),
        );
        let Ok(invite) = Request::try_from(text.clone()) else {
            self.emit(PhoneEvent::error("The number cannot be dialled."));
            return;
        };
        self.emit(PhoneEvent::PhoneAnswerSdp {
            call: call_id.clone(),
            sdp: handle.answer_sdp().to_owned(),
        });
        self.emit(PhoneEvent::PhoneDialing {
            call: call_id.clone(),
            number: number.clone(),
        });
        self.calls.insert(
            call_id,
            UaCall {
                dir: Dir::Out,
                state: State::Setup,
                invite,
                our_tag: tag,
                their_tag: None,
                target: format!("sip:{number}@{server}"),
                cseq: 1,
                gateway: Some(handle),
                last_response: None,
                our_sdp: Some(sdp),
                pending_hold: None,
            },
        );
        self.send(text).await;
    }

    /// A request in the dialog of `call` (BYE, re-INVITE, ACK), from our side.
    fn in_dialog_request(
        &mut self,
        call: &str,
        method: &str,
        cseq: Option<u32>,
        sdp: Option<&str>,
    ) -> Option<String> {
        let addr = self.addr;
        let contact = self.contact();
        let c = self.calls.get_mut(call)?;
        let (from, to) = match c.dir {
            // We are the UAS: our side is the To of their INVITE.
            Dir::In => (
                format!(
                    "{};tag={}",
                    strip_tag(&msg::header(&c.invite, "To")?),
                    c.our_tag
                ),
                msg::header(&c.invite, "From")?,
            ),
            Dir::Out => (
                msg::header(&c.invite, "From")?,
                match &c.their_tag {
                    Some(t) => format!("{};tag={t}", strip_tag(&msg::header(&c.invite, "To")?)),
                    None => msg::header(&c.invite, "To")?,
                },
            ),
        };
        let n = match cseq {
            Some(n) => n,
            None => {
                c.cseq += 1;
                c.cseq
            }
        };
        let body = sdp.unwrap_or_default();
        let content_type = if sdp.is_some() {
            "Content-Type: application/sdp\r\n"
        } else {
            ""
        };
        Some(format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bK{branch};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call}\r\nCSeq: {n} {method}\r\nContact: {contact}\r\n{content_type}Content-Length: {len}\r\n\r\n{body}",
            target = c.target,
            branch = msg::token(),
            len = body.len(),
        ))
    }

    /// Ends `call` on the SIP side in whatever way its state needs, and stops its media.
    async fn hang_up(&mut self, call: &str) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        let text = match (c.dir, c.state) {
            (Dir::In, State::Setup) => {
                let invite = c.invite.clone();
                let tag = c.our_tag.clone();
                self.respond(&invite, 486, "Busy Here", Some(&tag), None)
                    .await;
                None
            }
            (Dir::Out, State::Setup) => {
                let cancel = crate::leg::cancel_of(&c.invite).map(|r| r.to_string());
                if let Some(c) = self.calls.get_mut(call) {
                    // Kept until the INVITE's final response: a 200 crossing the CANCEL is
                    // then ACKed and hung up instead of left connected.
                    c.state = State::Cancelling;
                    c.gateway = None;
                }
                if let Some(text) = cancel {
                    self.send(text).await;
                }
                return;
            }
            (_, State::Cancelling) => return,
            (_, State::Connected) => self.in_dialog_request(call, "BYE", None, None),
        };
        if let Some(text) = text {
            self.send(text).await;
        }
        self.calls.remove(call);
    }

    async fn hold(&mut self, call: &str, hold: bool) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        if c.state != State::Connected {
            return;
        }
        let Some(mut sdp) = c.our_sdp.clone() else {
            return;
        };
        sdp.set_direction(if hold {
            media::sdp::Direction::SendOnly
        } else {
            media::sdp::Direction::SendRecv
        });
        let body = sdp.to_string();
        if let Some(text) = self.in_dialog_request(call, "INVITE", None, Some(&body)) {
            if let Some(c) = self.calls.get_mut(call) {
                c.pending_hold = Some(hold);
            }
            // The panel shows the new state once the other side has accepted it.
            self.send(text).await;
        }
    }
}

fn strip_tag(header: &str) -> String {
    match header.find(";tag=") {
        Some(i) => header[..i].to_owned(),
        None => header.to_owned(),
    }
}

/// The ACK of a non-2xx final response to a re-INVITE, from the response itself: its Via is
/// the re-INVITE's (same branch, as the transaction needs), and so are From, To and Call-ID.
fn ack_of_response(resp: &Response, request_uri: &str, cseq: u32) -> Option<String> {
    Some(format!(
        "ACK {request_uri} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
        msg::header(resp, "Via")?,
        msg::header(resp, "From")?,
        msg::header(resp, "To")?,
        msg::call_id(resp)?,
    ))
}

/// The ACK of a non-2xx final response: part of the INVITE transaction (RFC 3261 §17.1.1.3).
fn non_2xx_ack(invite: &Request, to: &str) -> Option<String> {
    let via = msg::header(invite, "Via")?;
    Some(format!(
        "ACK {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        invite.uri,
        msg::header(invite, "From")?,
        msg::call_id(invite)?,
    ))
}
