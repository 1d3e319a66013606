//! Legs: one SIP dialog each, either the caller's (an INVITE we answer) or one we place (an
//! INVITE we send), each driven by a task of its own. The call-control core holds a [`Leg`]
//! handle, tells it what to do (ring, answer, reject, cancel, hang up, re-INVITE) and hears what
//! happens on it as [`LegEvent`]s on the sink it attached. A leg can be attached to another
//! sink at any time: that is how the core moves a leg from one call to another.
//!
//! Requests inside the dialog reach the leg through the dialog table, matched on Call-ID and
//! both tags (RFC 3261 12.2.2); a re-INVITE is taken only from the dialog's peer.

use crate::admission::Directory;
use crate::dialog::{Dialog, Dialogs};
use crate::msg;
use crate::transport::{self, respond, Transport};
use crate::wire::Wire;
use rsipstack::sip::{Method, Request, Response, SipMessage};
use rsipstack::transaction::transaction::{Transaction, TransactionEventSender};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{mpsc, oneshot};

/// What every leg needs: the wire, the dialog table, and the configuration (a carrier's other
/// hosts may send in-dialog requests).
pub(crate) struct Legs {
    pub transport: Arc<Transport>,
    pub dialogs: Dialogs,
    pub directory: Arc<dyn Directory>,
}

impl Legs {
    /// Whether `source` is one of a trunk's hosts.
    fn is_trunk_host(&self, source: Option<SocketAddr>) -> bool {
        source.is_some_and(|s| self.directory.is_trunk_host(s.ip()))
    }
}

/// A leg's id, unique in the process: the core names legs by it.
pub type LegId = u64;

static NEXT_LEG: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_leg_id() -> LegId {
    NEXT_LEG.fetch_add(1, Ordering::Relaxed)
}

/// Why a leg we placed did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 486, 600.
    Busy,
    /// 408, 480, 487, or no final response at all.
    NoAnswer,
    /// 603.
    Declined,
    /// Anything else: unknown user, server error, the request could not be sent.
    Unreachable,
}

impl Failure {
    fn of(status: u16) -> Failure {
        match status {
            486 | 600 => Failure::Busy,
            408 | 480 | 487 => Failure::NoAnswer,
            603 => Failure::Declined,
            _ => Failure::Unreachable,
        }
    }
}

/// How we refuse a caller's INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refuse {
    Busy,
    /// Nobody answered, or the number routes nowhere.
    Unavailable(Option<String>),
    NotFound(String),
    Forbidden(String),
    Decline,
    AddressIncomplete,
    NotImplemented(String),
    ServiceUnavailable(String),
    ServerError,
}

impl Refuse {
    pub fn status(&self) -> u16 {
        match self {
            Refuse::Busy => 486,
            Refuse::Unavailable(_) => 480,
            Refuse::NotFound(_) => 404,
            Refuse::Forbidden(_) => 403,
            Refuse::Decline => 603,
            Refuse::AddressIncomplete => 484,
            Refuse::NotImplemented(_) => 501,
            Refuse::ServiceUnavailable(_) => 503,
            Refuse::ServerError => 500,
        }
    }

    pub fn reason(&self) -> String {
        let with = |base: &str, why: &Option<String>| match why {
            Some(w) => format!("{base}: {w}"),
            None => base.to_owned(),
        };
        match self {
            Refuse::Busy => "Busy Here".into(),
            Refuse::Unavailable(why) => with("Temporarily Unavailable", why),
            Refuse::NotFound(why) => format!("Not Found: {why}"),
            Refuse::Forbidden(why) => format!("Forbidden: {why}"),
            Refuse::Decline => "Decline".into(),
            Refuse::AddressIncomplete => "Address Incomplete".into(),
            Refuse::NotImplemented(why) => format!("Not Implemented: {why}"),
            Refuse::ServiceUnavailable(why) => format!("Service Unavailable: {why}"),
            Refuse::ServerError => "Server Internal Error".into(),
        }
    }
}

#[derive(Debug)]
pub struct LegEvent {
    pub leg: LegId,
    pub kind: LegEventKind,
}

#[derive(Debug)]
pub enum LegEventKind {
    /// 180 or 183 from the phone we called.
    Ringing,
    /// A 18x with SDP: the other side plays something before it answers.
    EarlyMedia {
        sdp: String,
    },
    /// 2xx from the phone we called (ACKed); its SDP answer if it had one.
    Answered {
        sdp: Option<String>,
    },
    Failed {
        failure: Failure,
        status: u16,
    },
    /// The caller cancelled their INVITE (answered 487).
    Cancelled,
    /// BYE from the other side (answered 200).
    Bye,
    /// A re-INVITE from the other side, to be answered.
    Reinvite(ReinviteRequest),
}

/// A re-INVITE waiting for our answer.
pub struct ReinviteRequest {
    /// Its SDP offer, if it had one.
    pub offer: Option<String>,
    tx: Box<Transaction>,
    contact: String,
}

impl std::fmt::Debug for ReinviteRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReinviteRequest")
            .field("offer", &self.offer)
            .finish()
    }
}

impl ReinviteRequest {
    /// 200 with our SDP answer.
    pub fn answer(self, sdp: String) {
        let resp = msg::response(
            &self.tx.original,
            200,
            "OK",
            None,
            &[("Contact", self.contact.clone())],
            Some(("application/sdp", sdp.as_bytes())),
        );
        finish(self.tx, resp);
    }

    /// Refused: the other side would not take it, or it offered nothing we can use.
    pub fn refuse(self, reason: &str) {
        let resp = msg::response(
            &self.tx.original,
            488,
            &format!(
                "Not Acceptable Here{}",
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ),
            None,
            &[],
            None,
        );
        finish(self.tx, resp);
    }
}

/// Sends the final response and keeps the transaction running: it absorbs the ACK and
/// retransmits our 200.
fn finish(mut tx: Box<Transaction>, resp: Option<Response>) {
    tokio::spawn(async move {
        respond(&mut tx, resp).await.ok();
        while tx.receive().await.is_some() {}
    });
}

pub type Sink = mpsc::UnboundedSender<LegEvent>;

/// Where a leg's events go; they wait here until a sink is attached.
#[derive(Default)]
struct SinkCell {
    sink: Option<Sink>,
    waiting: Vec<LegEvent>,
}

#[derive(Clone)]
struct Events {
    leg: LegId,
    cell: Arc<Mutex<SinkCell>>,
}

impl Events {
    fn emit(&self, kind: LegEventKind) {
        let mut cell = self.cell.lock().unwrap_or_else(PoisonError::into_inner);
        let ev = LegEvent {
            leg: self.leg,
            kind,
        };
        match &cell.sink {
            Some(s) => {
                if let Err(mpsc::error::SendError(ev)) = s.send(ev) {
                    // The call has gone: answer what needs an answer.
                    if let LegEventKind::Reinvite(r) = ev.kind {
                        r.refuse("");
                    }
                }
            }
            None => cell.waiting.push(ev),
        }
    }
}

enum Control {
    Ringing,
    Progress(String),
    Answer(String),
    Reject(Refuse),
    Cancel,
    Hangup,
    Reinvite {
        offer: String,
        reply: oneshot::Sender<Option<String>>,
    },
}

/// The core's handle to a leg; cheap to clone.
#[derive(Clone)]
pub struct Leg {
    id: LegId,
    control: mpsc::UnboundedSender<Control>,
    events: Events,
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Leg({})", self.id)
    }
}

impl Leg {
    fn new() -> (Leg, mpsc::UnboundedReceiver<Control>) {
        let (control, rx) = mpsc::unbounded_channel();
        let id = next_leg_id();
        (
            Leg {
                id,
                control,
                events: Events {
                    leg: id,
                    cell: Arc::default(),
                },
            },
            rx,
        )
    }

    pub fn id(&self) -> LegId {
        self.id
    }

    /// From now on this leg's events go to `sink` (those that waited first).
    pub fn attach(&self, sink: Sink) {
        let mut cell = self
            .events
            .cell
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for ev in cell.waiting.drain(..) {
            sink.send(ev).ok();
        }
        cell.sink = Some(sink);
    }

    fn send(&self, c: Control) {
        self.control.send(c).ok();
    }

    /// 180 to the caller.
    pub fn ringing(&self) {
        self.send(Control::Ringing)
    }

    /// 183 with our SDP: the caller hears early media.
    pub fn progress(&self, sdp: String) {
        self.send(Control::Progress(sdp))
    }

    /// 200 with our SDP answer to the caller's INVITE.
    pub fn answer(&self, sdp: String) {
        self.send(Control::Answer(sdp))
    }

    /// Refuses the caller's INVITE.
    pub fn reject(&self, why: Refuse) {
        self.send(Control::Reject(why))
    }

    /// CANCEL of an INVITE we sent that has not been answered.
    pub fn cancel(&self) {
        self.send(Control::Cancel)
    }

    /// BYE (or, before an answer, the end of the attempt).
    pub fn hangup(&self) {
        self.send(Control::Hangup)
    }

    /// A re-INVITE with `offer`; the other side's SDP answer, or `None` if it refused or never
    /// answered.
    pub async fn reinvite(&self, offer: String) -> Option<String> {
        let (reply, rx) = oneshot::channel();
        self.send(Control::Reinvite { offer, reply });
        rx.await.ok().flatten()
    }
}

/// A new call: the caller's INVITE, admitted, with the leg that answers it.
#[derive(Debug)]
pub struct IncomingCall {
    pub leg: Leg,
    pub call_id: String,
    pub origin: crate::admission::Origin,
    /// The caller's number (the user of From).
    pub caller: String,
    /// The user of the Request-URI.
    pub dialed: String,
    pub source: SocketAddr,
    /// The wire the INVITE came on: an SDES-SRTP offer is only let through over TLS.
    pub wire: Wire,
    /// The caller's SDP offer.
    pub offer: String,
}

/// Starts the task of the caller's leg. The INVITE has been answered 100 already.
pub(crate) fn incoming(shared: &Arc<Legs>, tx: Transaction) -> Option<(Leg, String)> {
    let req = tx.original.clone();
    let call_id = msg::call_id(&req)?;
    let source = msg::source_addr(&req)?;
    let wire = Wire::of(tx.connection.as_ref());
    let (leg, control) = Leg::new();
    let tag = msg::token();
    let dialog = Dialog::uas(&req, &tag, shared.transport.local(wire), source, wire)?;
    let (inbox_tx, inbox) = mpsc::unbounded_channel();
    shared.dialogs.insert(&call_id, &tag, inbox_tx);
    let task = IncomingTask {
        shared: shared.clone(),
        responder: tx.tu_sender.clone(),
        req,
        tag,
        dialog,
        events: leg.events.clone(),
        answered: false,
        done: false,
    };
    tokio::spawn(task.run(tx, control, inbox));
    Some((leg, call_id))
}

struct IncomingTask {
    shared: Arc<Legs>,
    responder: TransactionEventSender,
    req: Request,
    tag: String,
    dialog: Dialog,
    events: Events,
    answered: bool,
    /// A final response has been sent.
    done: bool,
}

impl IncomingTask {
    async fn run(
        mut self,
        mut tx: Transaction,
        mut control: mpsc::UnboundedReceiver<Control>,
        mut inbox: mpsc::UnboundedReceiver<Transaction>,
    ) {
        let (cancel_tx, mut cancelled) = mpsc::unbounded_channel();
        // The caller's INVITE transaction keeps running: it retransmits our responses and
        // brings CANCEL.
        tokio::spawn(async move {
            while let Some(m) = tx.receive().await {
                if let SipMessage::Request(r) = m {
                    if r.method == Method::Cancel {
                        crate::counters::request_received("CANCEL");
                        cancel_tx.send(()).ok();
                    }
                }
            }
        });
        loop {
            tokio::select! {
                c = control.recv() => match c {
                    Some(c) => {
                        if self.control(c).await {
                            break;
                        }
                    }
                    None => break,
                },
                Some(()) = cancelled.recv() => {
                    // A CANCEL that crosses our 200 changes nothing (RFC 3261 9.2).
                    if !self.done {
                        self.done = true;
                        // The stack answered the CANCEL; the INVITE gets 487 with our tag.
                        self.final_response(487, "Request Terminated", &[], None);
                        self.events.emit(LegEventKind::Cancelled);
                        break;
                    }
                }
                Some(t) = inbox.recv() => {
                    if in_dialog(&self.shared, &self.dialog, &self.events, t).await {
                        self.done = true;
                        break;
                    }
                }
            }
        }
        self.shared.dialogs.remove(&self.dialog.call_id, &self.tag);
        // Late requests of the dialog still get an answer (a BYE crossing ours gets 200).
        while let Ok(mut t) = inbox.try_recv() {
            transport::no_dialog(&mut t).await;
        }
    }

    fn final_response(
        &mut self,
        status: u16,
        reason: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) {
        transport::respond_via(
            &self.responder,
            msg::response(&self.req, status, reason, Some(&self.tag), extra, body),
        );
    }

    /// Carries out one order; true when the leg is over.
    async fn control(&mut self, c: Control) -> bool {
        let contact = self.shared.transport.contact_header(self.dialog.wire);
        match c {
            Control::Ringing if !self.done => self.final_response(180, "Ringing", &[], None),
            Control::Progress(sdp) if !self.done => self.final_response(
                183,
                "Session Progress",
                &[("Contact", contact)],
                Some(("application/sdp", sdp.as_bytes())),
            ),
            Control::Answer(sdp) if !self.done => {
                self.done = true;
                self.answered = true;
                self.final_response(
                    200,
                    "OK",
                    &[("Contact", contact), ("Allow", msg::ALLOW.into())],
                    Some(("application/sdp", sdp.as_bytes())),
                );
            }
            Control::Reject(why) if !self.done => {
                self.done = true;
                self.final_response(why.status(), &why.reason(), &[], None);
                return true;
            }
            Control::Hangup => {
                if self.answered {
                    if let Some(bye) = self.dialog.request("BYE", &[], None) {
                        self.shared
                            .transport
                            .send_request(bye, self.dialog.peer, self.dialog.wire);
                    }
                } else if !self.done {
                    self.done = true;
                    self.final_response(480, "Temporarily Unavailable", &[], None);
                }
                return true;
            }
            Control::Reinvite { offer, reply } => {
                let answer =
                    match self
                        .dialog
                        .request("INVITE", &[], Some(("application/sdp", &offer)))
                    {
                        Some(req) if self.answered => {
                            self.shared
                                .transport
                                .reinvite(req, self.dialog.peer, self.dialog.wire)
                                .await
                        }
                        _ => None,
                    };
                reply.send(answer).ok();
            }
            _ => {}
        }
        false
    }
}

/// A request inside the dialog: BYE ends the leg (true), a re-INVITE goes to the core, other
/// methods are answered here.
async fn in_dialog(shared: &Legs, dialog: &Dialog, events: &Events, mut t: Transaction) -> bool {
    if !dialog.matches(&t.original) {
        transport::no_dialog(&mut t).await;
        return false;
    }
    let req = &t.original;
    match req.method {
        Method::Bye => {
            let resp = msg::response(req, 200, "OK", None, &[], None);
            respond(&mut t, resp).await.ok();
            events.emit(LegEventKind::Bye);
            true
        }
        Method::Invite => {
            // A new media address only from the dialog's peer: anyone who learnt the tags
            // must not move the caller's audio elsewhere.
            let from_peer = msg::source_addr(req).is_some_and(|s| s.ip() == dialog.peer.ip())
                || shared.is_trunk_host(msg::source_addr(req));
            if !from_peer {
                let resp = msg::response(
                    req,
                    403,
                    "Forbidden: not from the dialog's peer",
                    None,
                    &[],
                    None,
                );
                respond(&mut t, resp).await.ok();
                return false;
            }
            let offer = Some(String::from_utf8_lossy(req.body()).into_owned())
                .filter(|s| !s.trim().is_empty());
            // An offer we cannot take (secure profile only, except SDES over TLS; multicast)
            // is refused here, before the core hears of it: the media stay as they are.
            if let Some(refusal) = offer.as_deref().and_then(|o| {
                media::Sdp::parse(o)
                    .map_err(|_| media::OfferRefusal::NoAudio)
                    .and_then(|sdp| sdp.accept_offer(dialog.wire.allows_sdes()))
                    .err()
            }) {
                let resp = msg::not_acceptable(req, refusal, None);
                respond(&mut t, resp).await.ok();
                return false;
            }
            events.emit(LegEventKind::Reinvite(ReinviteRequest {
                offer,
                tx: Box::new(t),
                contact: shared.transport.contact_header(dialog.wire),
            }));
            false
        }
        _ => {
            let resp = msg::response(req, 200, "OK", None, &[], None);
            respond(&mut t, resp).await.ok();
            false
        }
    }
}

/// Where a request for a leg goes: a registration's contact, a browser phone or a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Request-URI and To.
    pub uri: String,
    pub dest: SocketAddr,
    /// The wire to call on: the phone's registration's (TCP, TLS), else UDP.
    pub wire: Wire,
}

impl Target {
    /// A number at a carrier's host (`sip:0312345678@carrier.example:5060`).
    pub fn at_host(user: &str, host: &str, dest: SocketAddr) -> Target {
        Target {
            uri: format!("sip:{user}@{host}"),
            dest,
            wire: Wire::Udp,
        }
    }
}

/// Who a leg we place says is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub display: Option<String>,
    pub user: String,
}

/// An INVITE we send.
#[derive(Debug, Clone)]
pub struct Originate {
    pub target: Target,
    /// Who calls (From); shown to the called party.
    pub from: Identity,
    /// P-Asserted-Identity for a carrier (the real number when From is withheld or a trunk
    /// account).
    pub asserted: Option<String>,
    /// `Privacy: id` (184).
    pub privacy: bool,
    /// User name and password for a carrier that challenges us (401/407).
    pub auth: Option<(String, String)>,
    pub offer: String,
}

/// Places a leg. Its events (ringing, answer or failure, then BYE and re-INVITEs) go to the
/// sink attached to the returned handle.
pub(crate) fn originate(shared: &Arc<Legs>, o: Originate) -> Leg {
    let (leg, control) = Leg::new();
    tokio::spawn(run_outgoing(shared.clone(), o, leg.events.clone(), control));
    leg
}

async fn run_outgoing(
    shared: Arc<Legs>,
    o: Originate,
    events: Events,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let call_id = format!("{}@tsunagu", msg::token());
    let from_tag = msg::token();
    let t = &o.target;
    let local = shared.transport.local(t.wire);
    let mut invite = match invite_request(local, &o, &call_id, &from_tag, 1, None) {
        Some(r) => r,
        None => {
            events.emit(LegEventKind::Failed {
                failure: Failure::Unreachable,
                status: 500,
            });
            return;
        }
    };
    let Some(mut tx) = shared.transport.start_client(&invite, t.dest, t.wire).await else {
        events.emit(LegEventKind::Failed {
            failure: Failure::Unreachable,
            status: 503,
        });
        return;
    };
    let mut cancelled = false;
    let mut authenticated = false;
    let ok: Response = loop {
        tokio::select! {
            m = tx.receive() => match m {
                Some(SipMessage::Response(r)) => {
                    let code = r.status_code.code();
                    crate::counters::response_received(code);
                    if code < 200 {
                        if code == 180 || code == 183 {
                            events.emit(LegEventKind::Ringing);
                            let body = String::from_utf8_lossy(r.body()).into_owned();
                            if !body.trim().is_empty() {
                                events.emit(LegEventKind::EarlyMedia { sdp: body });
                            }
                        }
                    } else if code < 300 {
                        tx.send_ack(None).await.ok();
                        let body = String::from_utf8_lossy(r.body()).into_owned();
                        events.emit(LegEventKind::Answered { sdp: Some(body).filter(|b| !b.trim().is_empty()) });
                        break r;
                    } else if (code == 401 || code == 407) && !authenticated && !cancelled {
                        // The carrier wants to know it is us: once, with the trunk's account.
                        authenticated = true;
                        let retry = o.auth.as_ref().and_then(|(user, pass)| {
                            let (ask, tell) = if code == 407 {
                                ("Proxy-Authenticate", "Proxy-Authorization")
                            } else {
                                ("WWW-Authenticate", "Authorization")
                            };
                            let answer = crate::digest::answer_challenge(
                                &msg::header(&r, ask)?,
                                "INVITE",
                                &t.uri,
                                user,
                                pass,
                                &msg::token(),
                            )?;
                            invite_request(local, &o, &call_id, &from_tag, 2, Some((tell, answer)))
                        });
                        let Some(retry) = retry else {
                            events.emit(LegEventKind::Failed { failure: Failure::of(code), status: code });
                            return;
                        };
                        invite = retry;
                        match shared.transport.start_client(&invite, t.dest, t.wire).await {
                            Some(next) => tx = next,
                            None => {
                                events.emit(LegEventKind::Failed { failure: Failure::Unreachable, status: 503 });
                                return;
                            }
                        }
                    } else {
                        let status = if cancelled { 487 } else { code };
                        events.emit(LegEventKind::Failed { failure: Failure::of(status), status });
                        return;
                    }
                }
                Some(_) => {}
                None => {
                    // Timer B: the phone never answered the INVITE at all.
                    events.emit(LegEventKind::Failed { failure: Failure::NoAnswer, status: 408 });
                    return;
                }
            },
            c = control.recv() => match c {
                Some(Control::Cancel) | Some(Control::Hangup) if !cancelled => {
                    cancelled = true;
                    if let Some(c) = cancel_of(&invite) {
                        tx.send_cancel(c).await.ok();
                    }
                }
                Some(Control::Reinvite { reply, .. }) => {
                    reply.send(None).ok();
                }
                Some(_) => {}
                None => return,
            },
        }
    };
    // Answered: the dialog lives until one side hangs up.
    let Some(dialog) = Dialog::uac(&invite, &ok, local, t.dest, t.wire) else {
        return;
    };
    let (inbox_tx, mut inbox) = mpsc::unbounded_channel();
    shared
        .dialogs
        .insert(&dialog.call_id, &dialog.local_tag, inbox_tx);
    let mut dialog = dialog;
    loop {
        tokio::select! {
            c = control.recv() => match c {
                Some(Control::Reinvite { offer, reply }) => {
                    let answer = match dialog.request("INVITE", &[], Some(("application/sdp", &offer))) {
                        Some(req) => shared.transport.reinvite(req, dialog.peer, dialog.wire).await,
                        None => None,
                    };
                    reply.send(answer).ok();
                }
                Some(Control::Hangup) | Some(Control::Cancel) | None => {
                    if let Some(bye) = dialog.request("BYE", &[], None) {
                        shared.transport.send_request(bye, dialog.peer, dialog.wire);
                    }
                    break;
                }
                Some(_) => {}
            },
            Some(t) = inbox.recv() => {
                if in_dialog(&shared, &dialog, &events, t).await {
                    break;
                }
            }
        }
    }
    shared.dialogs.remove(&dialog.call_id, &dialog.local_tag);
    while let Ok(mut t) = inbox.try_recv() {
        let resp = msg::response(
            &t.original,
            481,
            "Call/Transaction Does Not Exist",
            None,
            &[],
            None,
        );
        respond(&mut t, resp).await.ok();
    }
}

/// The INVITE of a leg we place (CSeq `cseq`; a second one answers a carrier's challenge).
fn invite_request(
    local: SocketAddr,
    o: &Originate,
    call_id: &str,
    from_tag: &str,
    cseq: u32,
    authorization: Option<(&str, String)>,
) -> Option<Request> {
    let host = local.ip();
    let proto = o.target.wire.via();
    let uri = &o.target.uri;
    let from = if o.privacy {
        "\"Anonymous\" <sip:anonymous@anonymous.invalid>".to_owned()
    } else {
        match &o.from.display {
            Some(d) => format!(
                "\"{}\" <sip:{}@{host}>",
                d.replace(['"', '\\'], ""),
                o.from.user
            ),
            None => format!("<sip:{}@{host}>", o.from.user),
        }
    };
    let mut extra = String::new();
    if let Some(user) = &o.asserted {
        extra.push_str(&format!("P-Asserted-Identity: <sip:{user}@{host}>\r\n"));
    }
    if o.privacy {
        extra.push_str("Privacy: id\r\n");
    }
    if let Some((name, value)) = authorization {
        extra.push_str(&format!("{name}: {value}\r\n"));
    }
    let text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/{proto} {local};branch=z9hG4bK{};rport\r\nMax-Forwards: 70\r\nFrom: {from};tag={from_tag}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <{}>\r\n{extra}Allow: {}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
        msg::token(),
        o.target.wire.contact_uri(local),
        msg::ALLOW,
        o.offer.len(),
        o.offer,
    );
    Request::try_from(text).ok()
}

/// The CANCEL for an INVITE we sent: same Request-URI, Call-ID, From, To, top Via and CSeq
/// number (RFC 3261 §9.1).
pub(crate) fn cancel_of(invite: &Request) -> Option<Request> {
    let via = msg::header(invite, "Via")?;
    let (n, _) = msg::cseq(invite)?;
    let text = format!(
        "CANCEL {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {n} CANCEL\r\nContent-Length: 0\r\n\r\n",
        invite.uri,
        msg::header(invite, "From")?,
        msg::header(invite, "To")?,
        msg::call_id(invite)?,
    );
    Request::try_from(text).ok()
}
