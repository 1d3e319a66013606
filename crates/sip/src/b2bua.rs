//! One call through the back-to-back user agent: the caller's leg (answered by us), the legs we
//! place towards phones, and the media relay between the caller and whoever answers. The
//! decisions are made by `engine::call::Call`; this task carries them out on the wire.

use crate::msg;
use crate::prompts::GroupAudio;
use crate::queue::{AcdCommand, QueueInput};
use crate::routing::{self, Target};
use crate::server::{self, Auth, DialogRoute, Shared};
use engine::call::{Call, Command, EndCause};
use engine::{RouteTarget, TargetKind};
use media::g711::Law;
use media::player::{Program, Prompt};
use media::relay::{spawn_relay, LegMedia, RelayConfig, RelayEvent, RelayHandle};
use media::sdp::Sdp;
use media::RtpEndpoint;
use rsipstack::sip::{Request, Response, SipMessage};
use rsipstack::transaction::transaction::{Transaction, TransactionEventSender};
use std::net::SocketAddr;
use std::sync::Arc;
use store::calls::{self, NewCall};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegRef {
    Caller,
    Callee(usize),
}

pub(crate) enum CallEvent {
    /// CANCEL from the caller before our final response.
    CallerCancel,
    /// A BYE or re-INVITE in one of the call's dialogs.
    InDialog {
        leg: LegRef,
        tx: Box<Transaction>,
    },
    LegRinging(usize),
    /// A 18x with SDP: the other side plays something before it answers (ringback, a
    /// carrier's announcement).
    LegEarlyMedia {
        leg: usize,
        sdp: Sdp,
    },
    LegAnswered {
        leg: usize,
        dialog: LegDialog,
    },
    LegFailed {
        leg: usize,
        status: u16,
    },
    Media(RelayEvent),
    /// What the ACD decided for a queued call.
    Acd(AcdCommand),
    /// A re-INVITE moved a side's media (0 = caller, 1 = callee).
    PeerMedia {
        side: usize,
        addr: Option<SocketAddr>,
    },
}

/// What the call needs of a callee's 2xx (the leg task keeps the rest for its BYE).
pub(crate) struct LegDialog {
    pub sdp: Option<Sdp>,
}

enum LegControl {
    Cancel,
    Bye,
    /// Send this SDP offer in a re-INVITE; the answer (if any) comes back.
    Reinvite {
        offer: String,
        reply: tokio::sync::oneshot::Sender<Option<Sdp>>,
    },
}

/// A call overflowing from group to group this many times is refused: two groups diverting to
/// each other while both are full would otherwise pass it back and forth for ever.
const MAX_DIVERTS: u32 = 5;
/// How long an agent a call was diverted to is rung.
const DIVERT_RING_MS: u64 = 30_000;

fn reply(tx: &TransactionEventSender, req: &Request, status: u16, reason: &str, tag: &str) {
    Shared::respond(tx, msg::response(req, status, reason, Some(tag), &[], None));
}

pub(crate) async fn handle_invite(shared: Arc<Shared>, mut tx: Transaction) {
    let req = tx.original.clone();
    let tag = msg::token();
    if tx.send_trying().await.is_err() {
        return;
    }
    let (Some(source), Some(call_id)) = (msg::source_addr(&req), msg::call_id(&req)) else {
        let resp = msg::response(&req, 400, "Bad Request", Some(&tag), &[], None);
        server::respond(&mut tx, resp).await.ok();
        return;
    };
    let offer = match Sdp::parse(&String::from_utf8_lossy(req.body())) {
        Ok(sdp) if sdp.audio_addr().is_some() => sdp,
        _ => {
            // Offerless INVITEs and non-audio sessions are not supported by the relay.
            let resp = msg::response(
                &req,
                488,
                "Not Acceptable Here: an audio SDP offer is required",
                Some(&tag),
                &[],
                None,
            );
            server::respond(&mut tx, resp).await.ok();
            return;
        }
    };
    let caller = msg::from_user(&req).unwrap_or_else(|| "anonymous".into());
    let dialed = msg::uri_user(&req.uri.to_string()).unwrap_or_default();
    // A carrier calls our numbers; anything else must come from a registered phone. (On one
    // host both share an address, so the dialled number decides.)
    let from_trunk = match routing::is_trunk_source(&shared, source.ip()).await {
        Ok(t) => t && routing::is_our_number(&shared, &dialed).await,
        Err(()) => {
            let resp = msg::response(&req, 500, "Server Internal Error", Some(&tag), &[], None);
            server::respond(&mut tx, resp).await.ok();
            return;
        }
    };
    let browser_agent = shared.browser_phones.lock().ok().and_then(|b| {
        let token = msg::header(&req, crate::browser_phone::PHONE_TOKEN_HEADER);
        b.agent_at(source, token.as_deref())
    });
    let routed = if from_trunk {
        routing::inbound(&shared, &caller, &dialed).await
    } else if let Some(agent) = browser_agent {
        // Our own browser phone: its agent logged in to the web app; no digest needed.
        let terminal = store::terminals::Terminal {
            id: 0,
            fields: store::terminals::TerminalFields {
                username: format!("browser-{agent}"),
                name: "Browser phone".into(),
                agent_id: Some(agent),
                sip_password: String::new(),
            },
            password_set: false,
            stamps: Default::default(),
        };
        let choice = match msg::header(&req, crate::browser_phone::CALLER_NUMBER_HEADER) {
            None => routing::CallerChoice::Default,
            Some(v) if v.trim() == "none" => routing::CallerChoice::Prohibited,
            Some(v) => match v.trim().parse() {
                Ok(id) => routing::CallerChoice::Number(id),
                Err(_) => routing::CallerChoice::Prohibited,
            },
        };
        routing::from_terminal(&shared, &terminal, &dialed, choice).await
    } else {
        let terminal = match server::authenticate(&shared, &mut tx, true).await {
            Ok(Auth::Ok(t)) => t,
            _ => return,
        };
        routing::from_terminal(&shared, &terminal, &dialed, routing::CallerChoice::Default).await
    };
    let mut routed = match routed {
        Ok(r) => r,
        Err(refusal) => {
            if let Some(r) = &refusal.record {
                record_refused(&shared, &call_id, r).await;
            }
            let resp = msg::response(&req, refusal.status, &refusal.reason, Some(&tag), &[], None);
            server::respond(&mut tx, resp).await.ok();
            return;
        }
    };

    // Media: one endpoint faces the caller, one faces whichever phone answers.
    let (caller_media, callee_media) =
        match (shared.rtp.allocate().await, shared.rtp.allocate().await) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                tracing::warn!("RTP ports exhausted; refusing a call");
                let resp = msg::response(
                    &req,
                    503,
                    "Service Unavailable: no media ports",
                    Some(&tag),
                    &[],
                    None,
                );
                server::respond(&mut tx, resp).await.ok();
                return;
            }
        };

    let started_at = shared.wall_ms();
    let record = NewCall {
        call_uuid: &call_id,
        direction: routed.direction,
        started_at,
        remote_party: &routed.remote_party,
        number_id: routed.number_id,
        number: routed.number.as_deref(),
        agent_id: routed.agent_id,
        group_id: routed.group_id,
    };
    if let Err(e) = record_start(&shared, &record).await {
        tracing::error!(error = %e, "cannot record call start; refusing the call");
        let resp = msg::response(&req, 500, "Server Internal Error", Some(&tag), &[], None);
        server::respond(&mut tx, resp).await.ok();
        return;
    }

    let (events_tx, events_rx) = mpsc::unbounded_channel();
    shared.route_dialog(
        &call_id,
        DialogRoute {
            call: events_tx.clone(),
            leg: LegRef::Caller,
        },
    );
    let responder = tx.tu_sender.clone();
    // The caller's INVITE transaction keeps running: it retransmits our responses and brings
    // CANCEL and ACK.
    let cancel_events = events_tx.clone();
    tokio::spawn(async move {
        while let Some(m) = tx.receive().await {
            if let SipMessage::Request(r) = m {
                if r.method == rsipstack::sip::Method::Cancel {
                    cancel_events.send(CallEvent::CallerCancel).ok();
                }
            }
        }
    });

    let queue = routed.queue;
    let popup = routed.popup.take();
    let acd_call = queue.map(|_| shared.next_queue_call());
    let audio = match queue {
        Some(group) => GroupAudio::load(&shared, group).await,
        None => GroupAudio::default(),
    };
    let mut offer = offer;
    let law = offer.g711_law();
    let divert_prompt = match (routed.voice_file, law) {
        (Some(id), Some(_)) => shared.prompts.get(id).await,
        _ => None,
    };
    let engine = match queue {
        // The number plays a voice file: answered by us, ended when it has played.
        _ if divert_prompt.is_some() => Call::queued(true),
        Some(_) => {
            // A caller who hears prompts is answered by us: whoever answers later must use
            // the same codec, so agents are offered only that one.
            let answer_first = audio.plays_while_waiting() && law.is_some();
            if let (true, Some(law)) = (answer_first, law) {
                let mut keep = vec![law.payload_type()];
                keep.extend(offer.telephone_event_pt());
                offer.restrict_audio(&keep);
            }
            Call::queued(answer_first)
        }
        None => Call::new(shared.now_ms(), routed.targets.len(), routed.ring_ms),
    };
    let call = CallTask {
        acd_call,
        shared: shared.clone(),
        req,
        tag,
        call_id,
        source,
        responder,
        engine,
        targets: routed.targets,
        legs: Vec::new(),
        offer,
        caller_rtp: caller_media.rtp_addr(),
        callee_rtp: callee_media.rtp_addr(),
        caller_media: Some(caller_media),
        callee_media: Some(callee_media),
        relay: None,
        events_tx,
        caller_cseq: Arc::new(std::sync::atomic::AtomicU32::new(100)),
        inbound: routed.direction == store::calls::Direction::Inbound,
        acd_gave_up: false,
        audio,
        law,
        announcing: false,
        divert_prompt,
        diverts: 0,
        early_sdp: None,
        direct_agents: Vec::new(),
        _channel: routed.channel.take(),
    };
    let mut call = call;
    if !from_trunk {
        // An agent placing a call is busy from the first digit: no queue call for them now.
        if let Some(agent) = routed.agent_id {
            call.direct_call(agent);
        }
    }
    if let (Some(group), Some(id)) = (queue, acd_call) {
        // GROUP-24: the greeting is played first, then agents are rung.
        let hold_ms = match (&call.audio.greeting, call.engine.caller_answered()) {
            (Some(g), true) => g.duration_ms(),
            _ => 0,
        };
        shared.queue.send(QueueInput::Arrived {
            call: id,
            sip_call_id: call.call_id.clone(),
            group,
            events: call.events_tx.clone(),
            popup,
            hold_ms,
        });
    }
    call.run(events_rx).await;
}

async fn record_refused(shared: &Shared, call_id: &str, r: &routing::RefusedCall) {
    let now = shared.wall_ms();
    let c = NewCall {
        call_uuid: call_id,
        direction: r.direction,
        started_at: now,
        remote_party: &r.remote_party,
        number_id: r.number_id,
        number: r.number.as_deref(),
        agent_id: r.agent_id,
        group_id: None,
    };
    let result = async {
        let mut t = shared.store.begin().await?;
        calls::start(&mut t, &c).await?;
        calls::ended(&mut t, call_id, now, r.cause).await?;
        t.commit().await?;
        Ok::<(), store::StoreError>(())
    }
    .await;
    if let Err(e) = result {
        tracing::error!(error = %e, call = call_id, "could not write call history");
    }
}

async fn record_start(shared: &Shared, c: &NewCall<'_>) -> Result<(), store::StoreError> {
    let mut tx = shared.store.begin().await?;
    calls::start(&mut tx, c).await?;
    tx.commit().await?;
    Ok(())
}

struct LegHandle {
    control: mpsc::UnboundedSender<LegControl>,
    call_id: String,
    agent_id: Option<i64>,
    answer: Option<Sdp>,
    /// The phone answered but the ACD has not yet said whether this agent gets the call.
    answered: bool,
    failed: bool,
}

struct CallTask {
    /// The call's id in the ACD when it came through a group's queue.
    acd_call: Option<u64>,
    shared: Arc<Shared>,
    req: Request,
    tag: String,
    call_id: String,
    source: SocketAddr,
    responder: TransactionEventSender,
    engine: Call,
    targets: Vec<Target>,
    legs: Vec<LegHandle>,
    offer: Sdp,
    caller_media: Option<RtpEndpoint>,
    callee_media: Option<RtpEndpoint>,
    /// Our media addresses, kept after the endpoints move into the relay (re-INVITEs).
    caller_rtp: SocketAddr,
    callee_rtp: SocketAddr,
    relay: Option<RelayHandle>,
    events_tx: mpsc::UnboundedSender<CallEvent>,
    /// CSeq of the requests we send in the caller's dialog (our own sequence space).
    caller_cseq: Arc<std::sync::atomic::AtomicU32>,
    inbound: bool,
    /// The ACD ended the call itself (divert): it needs no report of the end.
    acd_gave_up: bool,
    /// What the call's group plays.
    audio: GroupAudio,
    /// The caller's G.711 law, which prompts are encoded in.
    law: Option<Law>,
    /// The agent hears the answer-side announcement; the caller waits for its end.
    announcing: bool,
    /// Diverted to a voice file: the call ends when it has played.
    divert_prompt: Option<Arc<Prompt>>,
    /// Group-to-group diverts so far.
    diverts: u32,
    /// Our SDP in the 183 that opened early media to the caller; the 200 repeats it.
    early_sdp: Option<Sdp>,
    /// Agents this call keeps busy outside the queues (the calling agent, the agent who
    /// answered a direct call): told to the ACD at start and end.
    direct_agents: Vec<i64>,
    _channel: Option<routing::ChannelGuard>,
}

impl CallTask {
    async fn run(mut self, mut events: mpsc::UnboundedReceiver<CallEvent>) {
        loop {
            self.execute().await;
            if self.engine.is_ended() {
                break;
            }
            let timeout = self.engine.poll_timeout();
            let sleep = async {
                match timeout {
                    Some(at) => {
                        let now = self.shared.now_ms();
                        tokio::time::sleep(std::time::Duration::from_millis(at.saturating_sub(now)))
                            .await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.handle(ev).await,
                    None => break,
                },
                _ = sleep => self.engine.handle_timeout(self.shared.now_ms()),
            }
        }
        // Let late messages of the dialogs reach us for a moment (a BYE crossing ours gets 200).
        self.shared.forget_dialog(&self.call_id);
        for leg in &self.legs {
            self.shared.forget_dialog(&leg.call_id);
        }
        // Drain what is still queued so that transactions handed to us get an answer.
        while let Ok(ev) = events.try_recv() {
            if let CallEvent::InDialog { mut tx, .. } = ev {
                let resp = msg::response(
                    &tx.original,
                    481,
                    "Call/Transaction Does Not Exist",
                    None,
                    &[],
                    None,
                );
                server::respond(&mut tx, resp).await.ok();
            }
        }
    }

    async fn handle(&mut self, ev: CallEvent) {
        let now = self.shared.now_ms();
        match ev {
            CallEvent::CallerCancel => {
                // The stack answered the CANCEL itself; the INVITE gets 487 with our tag.
                reply(
                    &self.responder,
                    &self.req,
                    487,
                    "Request Terminated",
                    &self.tag,
                );
                self.engine.handle_caller_hangup(now);
            }
            CallEvent::LegRinging(leg) => self.engine.handle_leg_ringing(now, leg),
            CallEvent::LegEarlyMedia { leg, sdp } => self.early_media(leg, sdp),
            CallEvent::LegAnswered { leg, dialog } => {
                if let Some(l) = self.legs.get_mut(leg) {
                    l.answer = dialog.sdp;
                    l.answered = true;
                }
                match (self.acd_call, self.legs.get(leg).and_then(|l| l.agent_id)) {
                    // The ACD decides which answer wins (Connect or Stop comes back).
                    (Some(call), Some(agent)) if !self.acd_gave_up => {
                        self.shared.queue.send(QueueInput::Answered { call, agent })
                    }
                    _ => self.engine.handle_leg_answered(now, leg),
                }
            }
            CallEvent::LegFailed { leg, status } => {
                self.engine.handle_leg_failed(now, leg, status);
                if let Some(l) = self.legs.get_mut(leg) {
                    l.failed = true;
                }
                if let (Some(call), Some(agent), false) = (
                    self.acd_call,
                    self.legs.get(leg).and_then(|l| l.agent_id),
                    self.acd_gave_up,
                ) {
                    // An agent fails only when every one of their phones has.
                    let all_failed = self
                        .legs
                        .iter()
                        .filter(|l| l.agent_id == Some(agent))
                        .all(|l| l.failed);
                    if all_failed {
                        self.shared.queue.send(QueueInput::Failed { call, agent });
                    }
                }
            }
            CallEvent::Acd(cmd) => self.handle_acd(now, cmd).await,
            CallEvent::Media(RelayEvent::Idle) => {
                tracing::info!(call = %self.call_id, "no RTP for too long; ending the call");
                self.engine.handle_media_timeout(now);
            }
            CallEvent::Media(RelayEvent::Dtmf { leg, digit }) => self.record_dtmf(leg, digit).await,
            CallEvent::Media(RelayEvent::PlayDone { leg }) => {
                if leg == 1 && self.announcing {
                    // The agent has heard which line this is: now they hear the caller.
                    self.announcing = false;
                    if let Some(relay) = &self.relay {
                        relay.stop_playing(0);
                    }
                } else if leg == 0 && self.divert_prompt.is_some() {
                    self.engine.give_up(now, EndCause::Announcement);
                }
            }
            CallEvent::Media(_) => {}
            CallEvent::PeerMedia { side, addr } => {
                if let Some(relay) = &self.relay {
                    relay.set_remote(side, addr);
                }
            }
            CallEvent::InDialog { leg, mut tx } => {
                let is_bye = tx.original.method == rsipstack::sip::Method::Bye;
                if is_bye {
                    let resp = msg::response(&tx.original, 200, "OK", None, &[], None);
                    server::respond(&mut tx, resp).await.ok();
                    match leg {
                        LegRef::Caller => self.engine.handle_caller_hangup(now),
                        LegRef::Callee(l) => self.engine.handle_leg_hangup(now, l),
                    }
                } else if self.hold_music(leg, &tx.original) {
                    // The agent's hold: the caller hears our music, not a silent line.
                    self.answer_reinvite(leg, &mut tx).await;
                } else if self.relay.is_some() && self.engine.answered_leg().is_some() {
                    self.pass_reinvite(leg, tx);
                } else {
                    // Before the answer there is no other side to ask: answer it ourselves
                    // with the same media address.
                    self.answer_reinvite(leg, &mut tx).await;
                }
            }
        }
    }

    /// Adds a leg for each phone of `agent` (desk phones, browser phone); false if they have
    /// none registered.
    async fn ring_agent(&mut self, now: u64, agent: i64) -> bool {
        let from = format!(
            "<sip:{}@{}>",
            msg::from_user(&self.req).unwrap_or_else(|| "anonymous".into()),
            self.shared.contact_addr.ip()
        );
        let targets = match self.shared.store.conn().await {
            Ok(mut conn) => routing::agent_targets(&self.shared, &mut conn, agent, &from).await,
            Err(_) => Vec::new(),
        };
        let any = !targets.is_empty();
        for t in targets {
            self.targets.push(t);
            self.engine.add_leg(now);
        }
        any
    }

    /// Carries out the ACD's decision for this queued call.
    async fn handle_acd(&mut self, now: u64, cmd: AcdCommand) {
        match cmd {
            AcdCommand::Ring(agent) => {
                if !self.ring_agent(now, agent).await {
                    // Unregistered since the ACD last heard: it must move on.
                    if let Some(call) = self.acd_call {
                        self.shared.queue.send(QueueInput::Failed { call, agent });
                    }
                }
            }
            AcdCommand::Stop(agent) => {
                for (leg, l) in self.legs.iter().enumerate() {
                    if l.agent_id == Some(agent) {
                        self.engine.cancel_leg(leg);
                        if l.answered {
                            // Answered too late: the ACD gave the call to someone else.
                            l.control.send(LegControl::Bye).ok();
                        }
                    }
                }
            }
            AcdCommand::Connect(agent) => {
                let leg = self
                    .legs
                    .iter()
                    .position(|l| l.agent_id == Some(agent) && l.answered);
                if let Some(leg) = leg {
                    self.engine.handle_leg_answered(now, leg);
                }
            }
            AcdCommand::Divert(Some(RouteTarget {
                kind: TargetKind::Group,
                id,
            })) if self.diverts < MAX_DIVERTS => {
                // Overflow or timeout to another group: the call queues there (GROUP-14/16),
                // with that group's music, announcements and hold music.
                self.diverts += 1;
                self.audio = GroupAudio::load(&self.shared, id).await;
                if let (Some(relay), Some(law), true) =
                    (&self.relay, self.law, self.engine.caller_answered())
                {
                    let mut waiting = self.audio.clone();
                    waiting.greeting = None;
                    relay.play(0, waiting.queue_program(), law);
                }
                if let Some(call) = self.acd_call {
                    self.shared.queue.send(QueueInput::Arrived {
                        call,
                        sip_call_id: self.call_id.clone(),
                        group: id,
                        events: self.events_tx.clone(),
                        popup: None,
                        hold_ms: 0,
                    });
                }
            }
            AcdCommand::Divert(Some(RouteTarget {
                kind: TargetKind::Agent,
                id,
            })) => {
                // To one agent: the ACD lets go, and their phones ring like a direct call.
                self.acd_gave_up = true;
                for leg in 0..self.legs.len() {
                    self.engine.cancel_leg(leg);
                }
                self.engine.unmanage(DIVERT_RING_MS);
                if !self.ring_agent(now, id).await {
                    self.engine.give_up(now, EndCause::Unavailable);
                }
            }
            AcdCommand::Divert(target) => {
                self.acd_gave_up = true;
                let prompt = match target {
                    Some(RouteTarget {
                        kind: TargetKind::VoiceFile,
                        id,
                    }) => self.shared.prompts.get(id).await,
                    _ => None,
                };
                match (prompt, self.law) {
                    (Some(prompt), Some(law)) => {
                        for leg in 0..self.legs.len() {
                            self.engine.cancel_leg(leg);
                        }
                        self.divert_prompt = Some(prompt.clone());
                        match &self.relay {
                            Some(relay) => relay.play(0, Program::Once(prompt), law),
                            // Answering plays it (AnswerCaller).
                            None => self.engine.answer_caller(),
                        }
                    }
                    _ => {
                        let cause = match target {
                            None => EndCause::Busy,
                            // IVR and forwarding come with those features; a voice file that
                            // cannot be played is as good as none, and so is a group after
                            // too many diverts (two groups overflowing into each other).
                            Some(_) => EndCause::Unavailable,
                        };
                        self.engine.give_up(now, cause);
                    }
                }
            }
        }
    }

    /// Passes a re-INVITE (hold, unhold, a new address) to the other side of the bridge and
    /// answers it with the other side's answer, each SDP rewritten to our own addresses.
    fn pass_reinvite(&mut self, leg: LegRef, mut tx: Box<Transaction>) {
        let Ok(mut offer) = Sdp::parse(&String::from_utf8_lossy(tx.original.body())) else {
            let resp = msg::response(&tx.original, 488, "Not Acceptable Here", None, &[], None);
            tokio::spawn(async move { server::respond(&mut tx, resp).await.ok() });
            return;
        };
        let (from_side, to_side) = match leg {
            LegRef::Caller => (0, 1),
            LegRef::Callee(_) => (1, 0),
        };
        if let Some(relay) = &self.relay {
            relay.set_remote(from_side, offer.audio_addr());
        }
        let (toward_other, toward_sender) = if from_side == 0 {
            (self.callee_rtp, self.caller_rtp)
        } else {
            (self.caller_rtp, self.callee_rtp)
        };
        offer.rewrite_audio(toward_other);
        let offer = offer.to_string();
        let (reply, answer) = tokio::sync::oneshot::channel();
        match leg {
            LegRef::Caller => {
                let Some(l) = self.engine.answered_leg().and_then(|l| self.legs.get(l)) else {
                    return;
                };
                l.control.send(LegControl::Reinvite { offer, reply }).ok();
            }
            LegRef::Callee(_) => {
                let request = self.caller_reinvite(&offer);
                let shared = self.shared.clone();
                let dest = self.source;
                tokio::spawn(async move {
                    let answer = match request {
                        Some(req) => server::reinvite(&shared, req, dest, false)
                            .await
                            .filter(|r| r.status_code.code() < 300)
                            .and_then(|r| Sdp::parse(&String::from_utf8_lossy(r.body())).ok()),
                        None => None,
                    };
                    reply.send(answer).ok();
                });
            }
        }
        let events = self.events_tx.clone();
        let contact = format!("<sip:tsunagu@{}>", self.shared.contact_addr);
        tokio::spawn(async move {
            let answer = tokio::time::timeout(std::time::Duration::from_secs(32), answer)
                .await
                .ok()
                .and_then(|r| r.ok())
                .flatten();
            let resp = match answer {
                Some(mut sdp) => {
                    events
                        .send(CallEvent::PeerMedia {
                            side: to_side,
                            addr: sdp.audio_addr(),
                        })
                        .ok();
                    sdp.rewrite_audio(toward_sender);
                    let body = sdp.to_string();
                    msg::response(
                        &tx.original,
                        200,
                        "OK",
                        None,
                        &[("Contact", contact)],
                        Some(("application/sdp", body.as_bytes())),
                    )
                }
                None => msg::response(
                    &tx.original,
                    488,
                    "Not Acceptable Here: the other side refused",
                    None,
                    &[],
                    None,
                ),
            };
            server::respond(&mut tx, resp).await.ok();
            // Keep the transaction running: it absorbs the ACK and retransmits our 200.
            while tx.receive().await.is_some() {}
        });
    }

    /// A re-INVITE towards the caller, in the dialog of their INVITE.
    fn caller_reinvite(&self, offer: &str) -> Option<Request> {
        let from = msg::header(&self.req, "To")?;
        let to = msg::header(&self.req, "From")?;
        let target = msg::header(&self.req, "Contact")
            .map(|c| msg::addr_uri(&c))
            .unwrap_or_else(|| format!("sip:{}", self.source));
        let cseq = self
            .caller_cseq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let local = self.shared.contact_addr;
        let text = format!(
            "INVITE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{};rport\r\nMax-Forwards: 70\r\nFrom: {from};tag={}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:tsunagu@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            msg::token(),
            self.tag,
            self.call_id,
            offer.len(),
        );
        Request::try_from(text).ok()
    }

    async fn answer_reinvite(&mut self, leg: LegRef, tx: &mut Transaction) {
        let ours = match leg {
            LegRef::Caller => self.caller_rtp,
            LegRef::Callee(_) => self.callee_rtp,
        };
        let sdp = Sdp::parse(&String::from_utf8_lossy(tx.original.body()));
        let (addr, Ok(mut sdp)) = (ours, sdp) else {
            let resp = msg::response(&tx.original, 488, "Not Acceptable Here", None, &[], None);
            server::respond(tx, resp).await.ok();
            return;
        };
        if let (Some(relay), Some(remote)) = (&self.relay, sdp.audio_addr()) {
            relay.set_remote(if leg == LegRef::Caller { 0 } else { 1 }, Some(remote));
        }
        // Mirror the peer's direction so hold (sendonly) is answered recvonly.
        let dir = match sdp.direction() {
            media::sdp::Direction::SendOnly => media::sdp::Direction::RecvOnly,
            media::sdp::Direction::RecvOnly => media::sdp::Direction::SendOnly,
            d => d,
        };
        sdp.set_direction(dir);
        sdp.rewrite_audio(addr);
        let body = sdp.to_string();
        let contact = format!("<sip:tsunagu@{}>", self.shared.contact_addr);
        let resp = msg::response(
            &tx.original,
            200,
            "OK",
            None,
            &[("Contact", contact)],
            Some(("application/sdp", body.as_bytes())),
        );
        server::respond(tx, resp).await.ok();
    }

    async fn record_dtmf(&self, leg: usize, digit: char) {
        let Ok(mut conn) = self.shared.store.conn().await else {
            return;
        };
        let e = store::events::NewEvent {
            at: self.shared.wall_ms(),
            kind: "call.dtmf",
            call_id: Some(&self.call_id),
            agent_id: None,
            group_id: None,
            data: serde_json::json!({"digit": digit.to_string(), "from": if leg == 0 { "caller" } else { "callee" }}),
        };
        store::events::append(&mut conn, &e).await.ok();
    }

    /// Carries out what the engine decided.
    async fn execute(&mut self) {
        while let Some(cmd) = self.engine.poll_command() {
            match cmd {
                Command::Ring { leg, target } => self.ring(leg, target),
                Command::RingingToCaller => {
                    reply(&self.responder, &self.req, 180, "Ringing", &self.tag)
                }
                Command::AnswerCaller => self.answer_caller(),
                Command::Cancel { leg } | Command::HangupLeg { leg } => {
                    let ctl = if matches!(cmd, Command::Cancel { .. }) {
                        LegControl::Cancel
                    } else {
                        LegControl::Bye
                    };
                    if let Some(l) = self.legs.get(leg) {
                        l.control.send(ctl).ok();
                    }
                }
                Command::Connect { leg } => self.connect(leg).await,
                Command::HangupCaller => self.bye_caller(),
                Command::RejectCaller { status } => {
                    let reason = match status {
                        486 => "Busy Here",
                        480 => "Temporarily Unavailable",
                        _ => "Service Unavailable",
                    };
                    reply(&self.responder, &self.req, status, reason, &self.tag);
                }
                Command::Ended {
                    cause,
                    answered_leg,
                    ..
                } => {
                    match (self.acd_call, self.acd_gave_up) {
                        (Some(call), false) => self.shared.queue.send(match answered_leg {
                            Some(_) => QueueInput::Ended { call },
                            None => QueueInput::CallerHangup { call },
                        }),
                        // The ACD let go of it already; its driver may forget it now.
                        (Some(call), true) => self.shared.queue.send(QueueInput::Forget { call }),
                        (None, _) => {}
                    }
                    if let Some(relay) = self.relay.take() {
                        self.record_media(relay.stats()).await;
                    }
                    for agent in self.direct_agents.drain(..) {
                        self.shared.queue.send(QueueInput::DirectCall {
                            agent,
                            active: false,
                        });
                    }
                    self.record_end(cause).await;
                }
            }
        }
    }

    fn ring(&mut self, leg: usize, target: usize) {
        let Some(t) = self.targets.get(target) else {
            return;
        };
        let (control, control_rx) = mpsc::unbounded_channel();
        let leg_call_id = format!("{}@tsunagu", msg::token());
        let mut offer = self.offer.clone();
        // Our callee-facing address, even once the endpoint has moved into the relay (prompts
        // or early media started it before this leg).
        offer.rewrite_audio(self.callee_rtp);
        self.shared.route_dialog(
            &leg_call_id,
            DialogRoute {
                call: self.events_tx.clone(),
                leg: LegRef::Callee(leg),
            },
        );
        self.legs.push(LegHandle {
            control,
            call_id: leg_call_id.clone(),
            agent_id: t.agent_id,
            answer: None,
            answered: false,
            failed: false,
        });
        tokio::spawn(run_leg(
            self.shared.clone(),
            leg,
            t.clone(),
            leg_call_id,
            offer.to_string(),
            self.events_tx.clone(),
            control_rx,
        ));
    }

    async fn connect(&mut self, leg: usize) {
        let answer = self.legs.get_mut(leg).and_then(|l| l.answer.take());
        if let Some(relay) = &self.relay {
            // The relay already runs (we answered the caller to play prompts, or early media
            // flows): the answering side takes over its leg 1.
            let Some(answer) = answer else {
                tracing::warn!(call = %self.call_id, "answer without SDP; ending the call");
                self.engine.handle_leg_hangup(self.shared.now_ms(), leg);
                return;
            };
            relay.set_leg(1, answer.audio_addr(), answer.telephone_event_pt());
            if let Some(sdp) = self.early_sdp.clone() {
                // The caller has had only a 183: the 200 repeats its SDP.
                self.law = answer.g711_law();
                self.answer_with(&sdp);
            }
            self.announce_or_bridge(self.law);
            self.record_answered(leg).await;
            self.answered_directly(leg);
            return;
        }
        let (Some(mut answer), Some(caller_media), Some(callee_media)) =
            (answer, self.caller_media.take(), self.callee_media.take())
        else {
            // A 2xx without a usable answer: nothing can flow, so end both sides.
            tracing::warn!(call = %self.call_id, "answer without SDP; ending the call");
            reply(
                &self.responder,
                &self.req,
                500,
                "Server Internal Error",
                &self.tag,
            );
            self.engine.handle_leg_hangup(self.shared.now_ms(), leg);
            return;
        };
        let callee_remote = answer.audio_addr();
        let callee_te = answer.telephone_event_pt();
        let law = answer.g711_law();
        // Both sides use the codec the answer chose; music on hold is encoded in it.
        self.law = law;
        answer.rewrite_audio(caller_media.rtp_addr());
        let a = LegMedia {
            remote: self.offer.audio_addr(),
            telephone_event_pt: self.offer.telephone_event_pt(),
            endpoint: caller_media,
        };
        let b = LegMedia {
            remote: callee_remote,
            telephone_event_pt: callee_te,
            endpoint: callee_media,
        };
        self.start_relay(a, b);
        if self.audio.answer.is_some() {
            if let (Some(relay), Some(law)) = (&self.relay, law) {
                // The caller hears nothing until the agent has heard the announcement.
                relay.play(0, Program::Silence, law);
            }
        }
        self.announce_or_bridge(law);
        self.answer_with(&answer);
        self.record_answered(leg).await;
        self.answered_directly(leg);
    }

    /// The agent who answered a call that the ACD does not manage is busy with it.
    fn answered_directly(&mut self, leg: usize) {
        if self.acd_call.is_some() && !self.acd_gave_up {
            return;
        }
        if let Some(agent) = self.legs.get(leg).and_then(|l| l.agent_id) {
            self.direct_call(agent);
        }
    }

    /// 200 OK to the caller's INVITE with our SDP.
    fn answer_with(&self, sdp: &Sdp) {
        let body = sdp.to_string();
        let contact = format!("<sip:tsunagu@{}>", self.shared.contact_addr);
        let resp = msg::response(
            &self.req,
            200,
            "OK",
            Some(&self.tag),
            &[("Contact", contact), ("Allow", msg::ALLOW.into())],
            Some(("application/sdp", body.as_bytes())),
        );
        Shared::respond(&self.responder, resp);
    }

    fn start_relay(&mut self, a: LegMedia, b: LegMedia) {
        let (media_tx, mut media_rx) = mpsc::unbounded_channel();
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            while let Some(e) = media_rx.recv().await {
                if events.send(CallEvent::Media(e)).is_err() {
                    break;
                }
            }
        });
        self.relay = Some(spawn_relay(
            a,
            b,
            RelayConfig {
                idle_timeout: self.shared.cfg.rtp_idle_timeout,
            },
            media_tx,
        ));
    }

    /// On answer: the agent first hears the group's answer-side announcement when it has
    /// one (the caller keeps hearing what they heard), else the two sides hear each other.
    fn announce_or_bridge(&mut self, law: Option<Law>) {
        let Some(relay) = &self.relay else {
            return;
        };
        match (self.audio.answer.clone(), law) {
            (Some(prompt), Some(law)) => {
                relay.play(1, Program::Once(prompt), law);
                self.announcing = true;
            }
            _ => relay.stop_playing(0),
        }
    }

    /// A 183 with SDP before anyone answered: the caller hears that side from now on (a
    /// carrier's ringback or announcement), through the relay the answer will use.
    fn early_media(&mut self, leg: usize, mut sdp: Sdp) {
        if self.relay.is_some() || self.engine.answered_leg().is_some() {
            // Already bridged (early media of another leg, or we answered to play prompts).
            return;
        }
        let (Some(remote), Some(caller_media), Some(callee_media)) = (
            sdp.audio_addr(),
            self.caller_media.take(),
            self.callee_media.take(),
        ) else {
            return;
        };
        let a = LegMedia {
            remote: self.offer.audio_addr(),
            telephone_event_pt: self.offer.telephone_event_pt(),
            endpoint: caller_media,
        };
        let b = LegMedia {
            remote: Some(remote),
            telephone_event_pt: sdp.telephone_event_pt(),
            endpoint: callee_media,
        };
        self.start_relay(a, b);
        sdp.rewrite_audio(self.caller_rtp);
        let body = sdp.to_string();
        let contact = format!("<sip:tsunagu@{}>", self.shared.contact_addr);
        let resp = msg::response(
            &self.req,
            183,
            "Session Progress",
            Some(&self.tag),
            &[("Contact", contact)],
            Some(("application/sdp", body.as_bytes())),
        );
        Shared::respond(&self.responder, resp);
        tracing::debug!(call = %self.call_id, leg, "early media from the callee");
        self.early_sdp = Some(sdp);
    }

    /// Answers the waiting caller with our own media to play them the group's prompts, or the
    /// voice file they were diverted to.
    fn answer_caller(&mut self) {
        let (Some(law), Some(caller_media), Some(callee_media)) =
            (self.law, self.caller_media.take(), self.callee_media.take())
        else {
            return;
        };
        let te = self.offer.telephone_event_pt();
        let a = LegMedia {
            remote: self.offer.audio_addr(),
            telephone_event_pt: te,
            endpoint: caller_media,
        };
        let b = LegMedia {
            remote: None,
            telephone_event_pt: None,
            endpoint: callee_media,
        };
        self.start_relay(a, b);
        let program = match &self.divert_prompt {
            Some(p) => Program::Once(p.clone()),
            None => self.audio.queue_program(),
        };
        if let Some(relay) = &self.relay {
            relay.play(0, program, law);
        }
        self.answer_with(&Sdp::g711_answer(self.caller_rtp, law, te));
    }

    /// A hold or unhold re-INVITE from the agent while the group has music on hold: the music
    /// starts or stops for the caller, and the re-INVITE is answered here. True if so.
    fn hold_music(&mut self, leg: LegRef, req: &Request) -> bool {
        let (LegRef::Callee(_), Some(relay), Some(music), Some(law)) =
            (leg, &self.relay, &self.audio.hold, self.law)
        else {
            return false;
        };
        if self.engine.answered_leg().is_none() || self.announcing {
            return false;
        }
        let Ok(offer) = Sdp::parse(&String::from_utf8_lossy(req.body())) else {
            return false;
        };
        use media::sdp::Direction;
        let held = matches!(offer.direction(), Direction::SendOnly | Direction::Inactive)
            || offer.audio_addr().is_none();
        if held {
            relay.play(0, Program::Loop(music.clone()), law);
        } else {
            relay.stop_playing(0);
        }
        true
    }

    /// Tells the ACD that `agent` is on this call, which is not a queue call.
    fn direct_call(&mut self, agent: i64) {
        if !self.direct_agents.contains(&agent) {
            self.direct_agents.push(agent);
            self.shared.queue.send(QueueInput::DirectCall {
                agent,
                active: true,
            });
        }
    }

    async fn record_answered(&self, leg: usize) {
        // Inbound calls belong to whoever answered; outbound and internal ones to the caller.
        let agent = self
            .legs
            .get(leg)
            .and_then(|l| l.agent_id)
            .filter(|_| self.inbound);
        let at = self.shared.wall_ms();
        let result = async {
            let mut t = self.shared.store.begin().await?;
            calls::answered(&mut t, &self.call_id, at, agent).await?;
            t.commit().await?;
            Ok::<(), store::StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, call = %self.call_id, "could not write call history");
        }
    }

    /// BYE towards the caller: our side of their dialog is the To of their INVITE.
    fn bye_caller(&mut self) {
        let cseq = self
            .caller_cseq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (Some(from), Some(to)) = (msg::header(&self.req, "To"), msg::header(&self.req, "From"))
        else {
            return;
        };
        let target = msg::header(&self.req, "Contact")
            .map(|c| msg::addr_uri(&c))
            .unwrap_or_else(|| format!("sip:{}", self.source));
        let text = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bK{};rport\r\nMax-Forwards: 70\r\nFrom: {from};tag={}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\nContent-Length: 0\r\n\r\n",
            self.shared.contact_addr,
            msg::token(),
            self.tag,
            self.call_id,
            cseq,
        );
        if let Ok(req) = Request::try_from(text) {
            server::send_request(&self.shared, req, self.source, false);
        }
    }

    /// What the relay carried, per direction: proof that audio flowed both ways.
    async fn record_media(&self, stats: media::relay::RelayStats) {
        let Ok(mut conn) = self.shared.store.conn().await else {
            return;
        };
        let [to_callee, to_caller] = stats.forwarded;
        let e = store::events::NewEvent {
            at: self.shared.wall_ms(),
            kind: "call.media",
            call_id: Some(&self.call_id),
            agent_id: None,
            group_id: None,
            data: serde_json::json!({
                "caller_to_callee_packets": to_callee.rtp_packets,
                "callee_to_caller_packets": to_caller.rtp_packets,
                "caller_to_callee_bytes": to_callee.rtp_bytes,
                "callee_to_caller_bytes": to_caller.rtp_bytes,
                "garbage": stats.garbage,
                "prompt_packets_to_caller": stats.played[0],
                "prompt_packets_to_callee": stats.played[1],
            }),
        };
        store::events::append(&mut conn, &e).await.ok();
    }

    async fn record_end(&self, cause: EndCause) {
        let at = self.shared.wall_ms();
        let result = async {
            let mut t = self.shared.store.begin().await?;
            calls::ended(&mut t, &self.call_id, at, cause.as_str()).await?;
            t.commit().await?;
            Ok::<(), store::StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, call = %self.call_id, "could not write call history");
        }
        tracing::info!(call = %self.call_id, cause = cause.as_str(), "call ended");
    }
}

/// One outgoing INVITE (to a registered phone or a trunk), and afterwards its dialog until BYE.
async fn run_leg(
    shared: Arc<Shared>,
    leg: usize,
    target: Target,
    call_id: String,
    offer: String,
    events: mpsc::UnboundedSender<CallEvent>,
    mut control: mpsc::UnboundedReceiver<LegControl>,
) {
    let local = shared.contact_addr;
    let leg_tcp = target.tcp;
    let proto = if leg_tcp { "TCP" } else { "UDP" };
    let from_tag = msg::token();
    let branch = format!("z9hG4bK{}", msg::token());
    let from = format!("{};tag={from_tag}", target.from);
    let extra: String = target
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let invite_text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/{proto} {local};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:tsunagu@{local}>\r\n{extra}Allow: {}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
        msg::ALLOW,
        offer.len(),
        uri = target.uri,
    );
    let failed = |status| {
        events.send(CallEvent::LegFailed { leg, status }).ok();
    };
    let Ok(mut invite) = Request::try_from(invite_text.clone()) else {
        failed(500);
        return;
    };
    let dest = target.dest;
    let Some(mut tx) = start_client(&shared, &invite, dest, target.tcp).await else {
        failed(503);
        return;
    };
    let mut cancelled = false;
    let mut authenticated = false;
    let ok: Response = loop {
        tokio::select! {
            m = tx.receive() => match m {
                Some(SipMessage::Response(r)) => {
                    let code = r.status_code.code();
                    if code < 200 {
                        if code == 180 || code == 183 {
                            events.send(CallEvent::LegRinging(leg)).ok();
                            if let Ok(sdp) = Sdp::parse(&String::from_utf8_lossy(r.body())) {
                                events.send(CallEvent::LegEarlyMedia { leg, sdp }).ok();
                            }
                        }
                    } else if code < 300 {
                        tx.send_ack(None).await.ok();
                        let dialog = LegDialog { sdp: Sdp::parse(&String::from_utf8_lossy(r.body())).ok() };
                        events.send(CallEvent::LegAnswered { leg, dialog }).ok();
                        break r;
                    } else if (code == 401 || code == 407) && !authenticated && !cancelled {
                        // The carrier wants to know it is us: once, with the trunk's account.
                        authenticated = true;
                        let retry = target.auth.as_ref().and_then(|(user, pass)| {
                            let (ask, tell) = if code == 407 {
                                ("Proxy-Authenticate", "Proxy-Authorization")
                            } else {
                                ("WWW-Authenticate", "Authorization")
                            };
                            let answer = crate::digest::answer_challenge(
                                &msg::header(&r, ask)?,
                                "INVITE",
                                &target.uri,
                                user,
                                pass,
                                &msg::token(),
                            )?;
                            let text = invite_text
                                .replacen(&branch, &format!("z9hG4bK{}", msg::token()), 1)
                                .replacen("CSeq: 1 INVITE", "CSeq: 2 INVITE", 1)
                                .replacen("Allow: ", &format!("{tell}: {answer}\r\nAllow: "), 1);
                            Request::try_from(text).ok()
                        });
                        let Some(retry) = retry else {
                            failed(code);
                            return;
                        };
                        invite = retry;
                        match start_client(&shared, &invite, dest, target.tcp).await {
                            Some(t) => tx = t,
                            None => {
                                failed(503);
                                return;
                            }
                        }
                    } else {
                        failed(if cancelled { 487 } else { code });
                        return;
                    }
                }
                Some(_) => {}
                None => {
                    // Timer B: the phone never answered the INVITE at all.
                    failed(408);
                    return;
                }
            },
            ctl = control.recv() => match ctl {
                Some(LegControl::Cancel) if !cancelled => {
                    cancelled = true;
                    let cancel = cancel_of(&invite);
                    if let Some(c) = cancel {
                        tx.send_cancel(c).await.ok();
                    }
                }
                Some(_) => {}
                None => return,
            },
        }
    };
    // Answered: wait for our own decision to hang up (a BYE from the phone goes to the call).
    let mut cseq = msg::cseq(&invite).map_or(1, |(n, _)| n);
    while let Some(ctl) = control.recv().await {
        if let LegControl::Reinvite { offer, reply } = ctl {
            cseq += 1;
            let remote_to = msg::header(&ok, "To").unwrap_or_default();
            let target_uri = msg::header(&ok, "Contact")
                .map(|c| msg::addr_uri(&c))
                .unwrap_or_else(|| target.uri.clone());
            let text = format!(
                "INVITE {target_uri} SIP/2.0\r\nVia: SIP/2.0/{proto} {local};branch=z9hG4bK{};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {remote_to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:tsunagu@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
                msg::token(),
                offer.len(),
            );
            let answer = match Request::try_from(text) {
                Ok(req) => server::reinvite(&shared, req, dest, leg_tcp)
                    .await
                    .filter(|r| r.status_code.code() < 300)
                    .and_then(|r| Sdp::parse(&String::from_utf8_lossy(r.body())).ok()),
                Err(_) => None,
            };
            reply.send(answer).ok();
            continue;
        }
        if matches!(ctl, LegControl::Bye | LegControl::Cancel) {
            cseq += 1;
            let remote_to = msg::header(&ok, "To").unwrap_or_default();
            let target = msg::header(&ok, "Contact")
                .map(|c| msg::addr_uri(&c))
                .unwrap_or_else(|| target.uri.clone());
            let text = format!(
                "BYE {target} SIP/2.0\r\nVia: SIP/2.0/{proto} {local};branch=z9hG4bK{};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {remote_to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} BYE\r\nContent-Length: 0\r\n\r\n",
                msg::token()
            );
            if let Ok(bye) = Request::try_from(text) {
                server::send_request(&shared, bye, dest, leg_tcp);
            }
            break;
        }
    }
}

/// Sends `invite` in a new client transaction towards `dest`.
async fn start_client(
    shared: &Arc<Shared>,
    invite: &Request,
    dest: SocketAddr,
    tcp: bool,
) -> Option<Transaction> {
    let key = rsipstack::transaction::key::TransactionKey::from_request(
        invite,
        rsipstack::transaction::key::TransactionRole::Client,
    )
    .ok()?;
    let mut tx = Transaction::new_client(
        key,
        invite.clone(),
        shared.endpoint.clone(),
        shared.flow(dest),
    );
    tx.destination = Some(server::sip_addr(dest, tcp));
    tx.send().await.ok()?;
    Some(tx)
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
