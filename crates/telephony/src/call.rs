//! One call: a task that runs the engine's session (`engine::session::Session`) and carries
//! out its commands on SIP legs (`sip::Leg`), on the media relay, through the ACD and in the
//! journal. What happens next is always the session's decision; this only knows how.

use crate::acd::{AcdCommand, AcdInput};
use crate::caller_srtp::{self, CallerSrtp};
use crate::directory::IvrOutcome;
use crate::routing::{Plan, Spec};
use crate::Core;
use engine::live::Popup;
use engine::session::{
    AcdOrder, AcdRequest, Command, Divert, EndCause, LegFailure, Reinvite, Reject, Session, Side,
    Start,
};
use engine::TargetKind;
use media::g711::Law;
use media::relay::{spawn_relay, LegMedia, RelayConfig, RelayEvent, RelayHandle};
use media::sdp::Sdp;
use media::RtpEndpoint;
use sip::{Leg, LegEvent, LegEventKind, Refuse, ReinviteRequest};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::journal::{CallStart, Event, Write};
use tokio::sync::mpsc;

/// What wakes a call besides its legs.
pub(crate) enum Internal {
    /// A re-INVITE we passed on came back with the other side's media address.
    PeerMedia {
        side: Side,
        addr: Option<SocketAddr>,
    },
    /// The caller started or stopped speaking during their voicemail message.
    Voice { speaking: bool },
    /// An agent pauses (`paused`) or resumes the recording.
    PauseRecording {
        paused: bool,
        by: Option<i64>,
        reply: tokio::sync::oneshot::Sender<Result<(), RecordingControlError>>,
    },
}

/// Why a recording could not be paused or resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordingControlError {
    #[error("the call is not in progress")]
    NoSuchCall,
    #[error("the call is not being recorded")]
    NotRecording,
}

/// One leg the session placed.
struct Placed {
    leg: Leg,
    early: Option<Sdp>,
    answer: Option<Sdp>,
}

/// The caller's side: their leg, and the SDP that describes their media (their offer, or for
/// a leg we placed ourselves, their answer).
pub(crate) struct CallerSide {
    pub leg: Leg,
    pub sdp: Sdp,
    /// The caller-facing media endpoint, when the caller's leg already has one (a leg handed
    /// over from a call we originated).
    pub media: Option<RtpEndpoint>,
    /// The leg is already answered.
    pub up: bool,
    /// The caller's leg is SRTP (`sdp` has been made plain for the other side already).
    pub srtp: Option<CallerSrtp>,
}

pub(crate) struct CallTask {
    core: Arc<Core>,
    id: i64,
    session: Session,
    caller: Leg,
    caller_leg: sip::LegId,
    /// Describes the caller's media; what the legs we place are offered (rewritten).
    offer: Sdp,
    /// Set when the caller's leg is SRTP: what we send them is made RTP/SAVP with our key.
    caller_srtp: Option<CallerSrtp>,
    specs: Vec<Spec>,
    placed: Vec<Option<Placed>>,
    by_leg: HashMap<sip::LegId, usize>,
    caller_media: Option<RtpEndpoint>,
    callee_media: Option<RtpEndpoint>,
    /// Our media addresses, kept after the endpoints move into the relay.
    caller_rtp: SocketAddr,
    callee_rtp: SocketAddr,
    relay: Option<RelayHandle>,
    /// The G.711 law prompts are encoded in: the caller's (we answered them) or the answer's.
    law: Option<Law>,
    /// Our SDP in the 183 that opened early media to the caller; the 200 repeats it.
    early_sdp: Option<Sdp>,
    /// Shown on the screens of the agents rung for a queue call.
    popup: Option<Popup>,
    popup_sent: bool,
    /// Who the agents' phones see calling.
    ring_from: sip::Identity,
    sink: mpsc::UnboundedSender<LegEvent>,
    events: mpsc::UnboundedReceiver<LegEvent>,
    orders_tx: mpsc::UnboundedSender<AcdCommand>,
    orders: mpsc::UnboundedReceiver<AcdCommand>,
    media_tx: mpsc::UnboundedSender<RelayEvent>,
    media: mpsc::UnboundedReceiver<RelayEvent>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal: mpsc::UnboundedReceiver<Internal>,
    _channel: Option<crate::routing::ChannelGuard>,
    /// The channel a forwarded leg holds of the number it shows.
    forward_channel: Option<crate::routing::ChannelGuard>,
    /// The external party's leg: the left channel of the recording.
    external_leg: usize,
    number_id: Option<i64>,
    recording: Recording,
    recording_paused: bool,
    /// The caller's number and when the call started: what a voicemail message's row says.
    remote_party: String,
    started_at: i64,
    /// A voicemail message being kept: where the session's decision on its end goes.
    message: Option<tokio::sync::oneshot::Sender<engine::voicemail::Ended>>,
}

/// Whether this call is recorded yet (REC-*): from the moment the agent or far party answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recording {
    NotYet,
    /// Answered, but the relay that carries the answer is not up yet.
    Due,
    On,
    /// Not recorded: the setting is off.
    Off,
}

impl CallTask {
    /// Starts the call `plan` describes: media, the history row, the session. Refuses the
    /// caller (and says why) when any of it cannot be had.
    pub(crate) async fn start(
        core: Arc<Core>,
        mut caller: CallerSide,
        call_uuid: String,
        plan: Plan,
    ) {
        let caller_media = match caller.media.take() {
            Some(m) => Some(m),
            None => core.rtp.allocate().await.ok(),
        };
        let (Some(caller_media), Ok(callee_media)) = (caller_media, core.rtp.allocate().await)
        else {
            tracing::warn!("RTP ports exhausted; refusing a call");
            refuse_or_hangup(&caller, Refuse::ServiceUnavailable("no media ports".into()));
            return;
        };
        let id = match core.journal.new_call_id().await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "cannot allocate a call id; refusing the call");
                refuse_or_hangup(&caller, Refuse::ServerError);
                return;
            }
        };
        let now = core.clock.now();
        let mut writes = vec![Write::CallStarted(CallStart {
            id,
            call_uuid,
            direction: plan.direction,
            started_at: ms(now),
            remote_party: plan.remote_party.clone(),
            number_id: plan.number_id,
            number: plan.number.clone(),
            agent_id: plan.agent_id,
            peer_agent_id: plan.peer_agent,
            group_id: plan.group_id,
        })];
        if let Some(f) = &plan.forwarded {
            writes.push(forwarded(id, ms(now), f));
        }
        let started = core.journal.commit(writes).await;
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot record call start; refusing the call");
            refuse_or_hangup(&caller, Refuse::ServerError);
            return;
        }
        metrics::gauge!("tsunagu_calls_active").increment(1.0);
        let mut offer = caller.sdp;
        let law = offer.g711_law();
        let session = Session::new(
            now,
            Start {
                direction: plan.session_direction(),
                route: plan.route.clone(),
                calling_agent: plan.calling_agent,
                caller_g711: law.is_some(),
                caller_up: caller.up,
            },
        );
        if session.answered_by_us() {
            // A caller who hears prompts is answered by us: whoever answers later must use the
            // same codec, so agents are offered only that one.
            if let Some(law) = law {
                let mut keep = vec![law.payload_type()];
                keep.extend(offer.telephone_event_pt());
                offer.restrict_audio(&keep);
            }
        }
        let (sink, events) = mpsc::unbounded_channel();
        let (orders_tx, orders) = mpsc::unbounded_channel();
        let (media_tx, media) = mpsc::unbounded_channel();
        let (internal_tx, internal) = mpsc::unbounded_channel();
        caller.leg.attach(sink.clone());
        let up = caller.up;
        let task = CallTask {
            id,
            caller_leg: caller.leg.id(),
            caller: caller.leg,
            session,
            offer,
            caller_srtp: caller.srtp,
            specs: plan.specs,
            placed: Vec::new(),
            by_leg: HashMap::new(),
            caller_rtp: caller_media.rtp_addr(),
            callee_rtp: callee_media.rtp_addr(),
            caller_media: Some(caller_media),
            callee_media: Some(callee_media),
            relay: None,
            // An answered caller's law is known; otherwise the answer decides.
            law: if caller.up { law } else { None },
            early_sdp: None,
            popup: plan.popup,
            popup_sent: false,
            ring_from: plan.ring_from,
            sink,
            events,
            orders_tx,
            orders,
            media_tx,
            media,
            internal_tx,
            internal,
            _channel: plan.channel,
            forward_channel: plan.forward_channel,
            // Outbound calls are placed by an agent: the far party is the callee.
            external_leg: match plan.direction {
                store::calls::Direction::Outbound => 1,
                store::calls::Direction::Inbound | store::calls::Direction::Internal => 0,
            },
            number_id: plan.number_id,
            recording: Recording::NotYet,
            recording_paused: false,
            remote_party: plan.remote_party.clone(),
            started_at: ms(now),
            message: None,
            core,
        };
        let mut task = task;
        task.core.register_call(id, task.internal_tx.clone());
        if up {
            // The caller's leg is up already: it hears us (ringback) until the other side
            // answers, through the relay the answer will use.
            task.open_caller_media();
        }
        task.run().await;
    }

    fn open_caller_media(&mut self) {
        let (Some(a), Some(b)) = (self.caller_media.take(), self.callee_media.take()) else {
            return;
        };
        self.start_relay(
            LegMedia {
                remote: self.offer.audio_addr(),
                telephone_event_pt: self.offer.telephone_event_pt(),
                srtp: self.caller_srtp.as_ref().map(CallerSrtp::keys),
                endpoint: a,
            },
            LegMedia {
                remote: None,
                telephone_event_pt: None,
                srtp: None,
                endpoint: b,
            },
        );
    }

    async fn run(mut self) {
        loop {
            self.execute().await;
            if self.session.is_ended() {
                break;
            }
            let timeout = self.session.poll_timeout();
            let now = self.core.clock.now();
            let sleep = async {
                match timeout {
                    Some(at) => {
                        tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(ev) = self.events.recv() => self.leg_event(ev).await,
                Some(order) = self.orders.recv() => self.acd_order(order).await,
                Some(m) = self.media.recv() => self.media_event(m),
                Some(i) = self.internal.recv() => match i {
                    Internal::PeerMedia { side, addr } => {
                        if let Some(relay) = &self.relay {
                            relay.set_remote(side_index(side), addr);
                        }
                    }
                    Internal::Voice { speaking } => {
                        self.session.handle_voice(self.core.clock.now(), speaking);
                    }
                    Internal::PauseRecording { paused, by, reply } => {
                        reply.send(self.pause_recording(paused, by)).ok();
                    }
                },
                _ = sleep => self.session.handle_timeout(self.core.clock.now()),
            }
        }
        self.core.unregister_call(self.id);
        metrics::gauge!("tsunagu_calls_active").decrement(1.0);
        // Late events of the legs: what needs an answer gets one.
        self.events.close();
        while let Ok(ev) = self.events.try_recv() {
            if let LegEventKind::Reinvite(r) = ev.kind {
                r.refuse("the call has ended");
            }
        }
    }

    async fn leg_event(&mut self, ev: LegEvent) {
        let now = self.core.clock.now();
        if ev.leg == self.caller_leg {
            match ev.kind {
                LegEventKind::Cancelled | LegEventKind::Bye => {
                    self.session.handle_caller_hangup(now)
                }
                LegEventKind::Reinvite(r) => self.reinvite(Side::Caller, r),
                // The caller's leg reports nothing else.
                _ => {}
            }
            return;
        }
        let Some(&leg) = self.by_leg.get(&ev.leg) else {
            return;
        };
        match ev.kind {
            LegEventKind::Ringing => self.session.handle_leg_ringing(now, leg),
            LegEventKind::EarlyMedia { sdp } => {
                if let (Ok(sdp), Some(Some(p))) = (Sdp::parse(&sdp), self.placed.get_mut(leg)) {
                    p.early = Some(sdp);
                    self.session.handle_leg_early_media(now, leg);
                }
            }
            LegEventKind::Answered { sdp } => {
                let answer = sdp.and_then(|s| Sdp::parse(&s).ok());
                let g711 = answer.as_ref().is_some_and(|a| a.g711_law().is_some());
                if let Some(Some(p)) = self.placed.get_mut(leg) {
                    p.answer = answer;
                }
                self.session.handle_leg_answered(now, leg, g711);
            }
            LegEventKind::Failed { failure, status } => {
                tracing::debug!(call = self.id, leg, status, "leg failed");
                self.session
                    .handle_leg_failed(now, leg, failure_of(failure));
            }
            LegEventKind::Bye => self.session.handle_leg_hangup(now, leg),
            LegEventKind::Reinvite(r) => {
                if self.session.connected_leg() == Some(leg) {
                    self.reinvite(Side::Callee, r);
                } else {
                    // A leg that does not have the call: its media stays where it is.
                    self.answer_reinvite_here(Side::Callee, r);
                }
            }
            LegEventKind::Cancelled => {}
        }
    }

    async fn acd_order(&mut self, order: AcdCommand) {
        let now = self.core.clock.now();
        let order = match order {
            AcdCommand::Ring(a) => AcdOrder::Ring(a),
            AcdCommand::Stop(a) => AcdOrder::Stop(a),
            AcdCommand::Connect(a) => AcdOrder::Connect(a),
            AcdCommand::Divert(target) => AcdOrder::Divert(self.divert_of(target).await),
        };
        self.session.handle_acd(now, order);
    }

    /// Where a divert goes, as the session needs it: a group with what it plays, a voice file
    /// that can be played.
    async fn divert_of(&self, target: Option<engine::RouteTarget>) -> Divert {
        let Some(t) = target else {
            return Divert::Busy;
        };
        match t.kind {
            TargetKind::Group => {
                let config = self.core.directory.get();
                match config.group(t.id) {
                    Some(g) => Divert::Group {
                        group: t.id,
                        audio: self.core.voices.group_audio(&g.fields).await,
                    },
                    None => Divert::Unavailable,
                }
            }
            TargetKind::Agent => Divert::Agent(t.id),
            TargetKind::VoiceFile => match self.core.voices.get(t.id).await {
                Some(_) if crate::voicemail::takes_messages(&self.core, t.id).await => {
                    Divert::Voicemail(t.id)
                }
                Some(_) => Divert::VoiceFile(t.id),
                None => Divert::Unavailable,
            },
            TargetKind::Ivr => {
                let config = self.core.directory.get();
                match config.follow_ivrs(t, ms(self.core.clock.now())) {
                    Some(IvrOutcome::Menu(run)) => Divert::Menu(run),
                    // Follow_ivrs never ends on an IVR: one more step, not a loop.
                    Some(IvrOutcome::Target(next)) if next.kind != TargetKind::Ivr => {
                        Box::pin(self.divert_of(Some(next))).await
                    }
                    _ => Divert::Unavailable,
                }
            }
            TargetKind::Forward => match self.core.directory.get().forwarding(t.id) {
                Some(_) => Divert::Forward(t.id),
                None => Divert::Unavailable,
            },
        }
    }

    fn media_event(&mut self, e: RelayEvent) {
        let now = self.core.clock.now();
        match e {
            RelayEvent::Idle => {
                tracing::info!(call = self.id, "no RTP for too long; ending the call");
                self.session.handle_media_timeout(now);
            }
            RelayEvent::Dtmf { leg, digit } => {
                self.core.journal.record(
                    Event::new(
                        ms(now),
                        "call.dtmf",
                        serde_json::json!({"digit": digit.to_string(), "from": if leg == 0 { "caller" } else { "callee" }}),
                    )
                    .call(self.id),
                );
                if leg == 0 {
                    // An IVR menu the caller is in reads it.
                    self.session.handle_dtmf(now, digit);
                }
            }
            RelayEvent::PlayDone { leg } => self
                .session
                .handle_play_done(now, if leg == 0 { Side::Caller } else { Side::Callee }),
            RelayEvent::Stopped => {}
        }
    }

    /// Carries out what the session decided.
    async fn execute(&mut self) {
        while let Some(cmd) = self.session.poll_command() {
            let now = self.core.clock.now();
            match cmd {
                Command::CallerRinging => self.caller.ringing(),
                Command::AnswerCaller => self.answer_caller(),
                Command::RejectCaller(r) => self.caller.reject(match r {
                    Reject::Busy => Refuse::Busy,
                    Reject::NoAnswer | Reject::Unavailable => Refuse::Unavailable(None),
                }),
                Command::HangupCaller => self.caller.hangup(),
                Command::Ring { leg } => self.ring(leg),
                Command::Cancel { leg } => {
                    if let Some(Some(p)) = self.placed.get(leg) {
                        p.leg.cancel();
                    }
                }
                Command::Hangup { leg } => {
                    if let Some(Some(p)) = self.placed.get(leg) {
                        p.leg.hangup();
                    }
                }
                Command::RingAgent { agent } => {
                    let specs = crate::routing::agent_specs(&self.core, agent, &self.ring_from);
                    let legs = self.session.ring_contacts(now, agent, specs.len());
                    for (leg, spec) in legs.zip(specs) {
                        self.set_spec(leg, spec);
                    }
                }
                Command::RingForward { forward } => self.ring_forward(now, forward).await,
                Command::EarlyMedia { leg } => self.early_media(leg),
                Command::Connect { leg } => self.connect(leg),
                Command::Play { side, audio } => {
                    let program = self.core.voices.program(&audio).await;
                    if let (Some(relay), Some(law), Some(p)) = (&self.relay, self.law, program) {
                        relay.play(side_index(side), p, law);
                    }
                }
                Command::StopPlaying { side } => {
                    if let Some(relay) = &self.relay {
                        relay.stop_playing(side_index(side));
                    }
                }
                Command::Acd(req) => self.acd(req),
                Command::AgentBusy { agent, busy } => self.core.acd.send(AcdInput::DirectCall {
                    agent,
                    active: busy,
                }),
                Command::Answered { owner, peer } => {
                    let w = Write::CallAnswered {
                        call: self.id,
                        at: ms(now),
                        agent: owner,
                        peer_agent: peer,
                    };
                    // Durable before the caller is answered.
                    if let Err(e) = self.core.journal.commit(vec![w]).await {
                        tracing::error!(error = %e, call = self.id, "could not record the answer");
                    }
                    if self.recording == Recording::NotYet {
                        self.recording = if self.core.directory.get().records(self.number_id) {
                            Recording::Due
                        } else {
                            Recording::Off
                        };
                    }
                }
                Command::Route(target) => {
                    let divert = self.divert_of(Some(target)).await;
                    self.session.handle_route(now, divert);
                }
                Command::RecordMessage { voice } => {
                    if let Some(relay) = &self.relay {
                        let (tap, decided) = crate::voicemail::start(
                            &self.core,
                            crate::voicemail::Message {
                                call: self.id,
                                voice_file: voice,
                                caller: self.remote_party.clone(),
                                call_started_at: self.started_at,
                            },
                            self.internal_tx.clone(),
                        );
                        relay.record(tap);
                        self.message = Some(decided);
                    }
                }
                Command::StopMessage(ended) => {
                    if let Some(decided) = self.message.take() {
                        let _ = decided.send(ended);
                        if let Some(relay) = &self.relay {
                            relay.stop_recording();
                        }
                    }
                }
                Command::GroupChanged { group } => self.core.journal.record(Write::CallGroup {
                    call: self.id,
                    group,
                }),
                Command::Ended { cause } => self.ended(now, cause),
            }
            self.start_recording();
        }
    }

    /// A divert to a forwarding (FWD-03): its leg through the trunk, showing its caller
    /// number or the number the caller dialled, or nothing when it cannot be placed.
    async fn ring_forward(&mut self, now: u64, forward: i64) {
        let leg =
            crate::routing::forward_leg(&self.core, forward, self.number_id, self.number_id).await;
        let spec = match leg {
            Ok(leg) => {
                self.core
                    .journal
                    .record(forwarded(self.id, ms(now), &leg.forwarded));
                self.forward_channel = leg.channel;
                Some(leg.spec)
            }
            Err(e) => {
                tracing::info!(call = self.id, forward, why = ?e.refuse, "forwarding not placed");
                None
            }
        };
        let legs = self.session.ring_forward(now, spec.is_some());
        if let (Some(leg), Some(spec)) = (legs.clone().next(), spec) {
            self.set_spec(leg, spec);
        }
    }

    /// REC: the agent pauses the recording (a card number is read out) or resumes it. The
    /// paused stretch is silence in the file and an event in the history.
    fn pause_recording(
        &mut self,
        paused: bool,
        by: Option<i64>,
    ) -> Result<(), RecordingControlError> {
        let (Recording::On, Some(relay)) = (self.recording, &self.relay) else {
            return Err(RecordingControlError::NotRecording);
        };
        if paused == self.recording_paused {
            return Ok(());
        }
        self.recording_paused = paused;
        if paused {
            relay.pause_recording();
        } else {
            relay.resume_recording();
        }
        let kind = if paused {
            "recording.paused"
        } else {
            "recording.resumed"
        };
        self.core.journal.record(
            Event::new(ms(self.core.clock.now()), kind, serde_json::json!({}))
                .call(self.id)
                .agent(by),
        );
        Ok(())
    }

    /// Starts the recording once it is due and the relay carries the answered call.
    fn start_recording(&mut self) {
        if self.recording != Recording::Due || self.session.is_ended() {
            return;
        }
        let Some(relay) = &self.relay else {
            return;
        };
        relay.record(crate::recording::start(
            &self.core,
            self.id,
            self.external_leg,
        ));
        self.recording = Recording::On;
    }

    fn acd(&mut self, req: AcdRequest) {
        let call = u64::try_from(self.id).unwrap_or_default();
        let input = match req {
            AcdRequest::Enter { group, hold_ms } => {
                let popup = if self.popup_sent {
                    None
                } else {
                    self.popup_sent = true;
                    self.popup.clone()
                };
                AcdInput::Arrived {
                    call,
                    group,
                    orders: self.orders_tx.clone(),
                    popup,
                    hold_ms,
                }
            }
            AcdRequest::Answered { agent } => AcdInput::Answered { call, agent },
            AcdRequest::Failed { agent } => AcdInput::Failed { call, agent },
            AcdRequest::CallerLeft => AcdInput::CallerHangup { call },
            AcdRequest::Ended => AcdInput::Ended { call },
            AcdRequest::Forget => AcdInput::Forget { call },
        };
        self.core.acd.send(input);
    }

    fn ended(&mut self, now: u64, cause: EndCause) {
        if let Some(relay) = self.relay.take() {
            let stats = relay.stats();
            let [to_callee, to_caller] = stats.forwarded;
            self.core.journal.record(
                Event::new(
                    ms(now),
                    "call.media",
                    serde_json::json!({
                        "caller_to_callee_packets": to_callee.rtp_packets,
                        "callee_to_caller_packets": to_caller.rtp_packets,
                        "caller_to_callee_bytes": to_callee.rtp_bytes,
                        "callee_to_caller_bytes": to_caller.rtp_bytes,
                        "garbage": stats.garbage,
                        "prompt_packets_to_caller": stats.played[0],
                        "prompt_packets_to_callee": stats.played[1],
                        "caller_lost_packets": stats.lost[0],
                        "callee_lost_packets": stats.lost[1],
                        "caller_srtp": self.caller_srtp.is_some(),
                        // SRTP packets refused (wrong key, replayed, tampered), by leg.
                        "caller_unauthenticated_packets": stats.unauthenticated[0],
                        "callee_unauthenticated_packets": stats.unauthenticated[1],
                    }),
                )
                .call(self.id),
            );
            metrics::counter!("tsunagu_rtp_packets_total", "direction" => "in")
                .increment(to_callee.rtp_packets + to_caller.rtp_packets);
            metrics::counter!("tsunagu_rtp_lost_packets_total")
                .increment(stats.lost[0] + stats.lost[1]);
        }
        self.core.journal.record(Write::CallEnded {
            call: self.id,
            at: ms(now),
            cause: cause.as_str().to_owned(),
        });
        metrics::counter!("tsunagu_calls_total", "outcome" => cause.as_str()).increment(1);
        tracing::info!(call = self.id, cause = cause.as_str(), "call ended");
    }

    fn set_spec(&mut self, leg: usize, spec: Spec) {
        if self.specs.len() <= leg {
            self.specs.resize_with(leg + 1, Spec::none);
        }
        self.specs[leg] = spec;
    }

    fn ring(&mut self, leg: usize) {
        let Some(spec) = self.specs.get(leg).and_then(|s| s.originate.clone()) else {
            // Nothing to call (should not happen): the leg fails at once.
            let now = self.core.clock.now();
            self.session
                .handle_leg_failed(now, leg, LegFailure::Unreachable);
            return;
        };
        let mut offer = self.offer.clone();
        // Our callee-facing address, even once the endpoint has moved into the relay (prompts
        // or early media started it before this leg).
        offer.rewrite_audio(self.callee_rtp);
        let placed = self.core.edge.originate(sip::Originate {
            offer: offer.to_string(),
            ..spec
        });
        placed.attach(self.sink.clone());
        metrics::gauge!("tsunagu_legs_active").increment(1.0);
        self.by_leg.insert(placed.id(), leg);
        if self.placed.len() <= leg {
            self.placed.resize_with(leg + 1, || None);
        }
        self.placed[leg] = Some(Placed {
            leg: placed,
            early: None,
            answer: None,
        });
    }

    /// Answers the caller with our own media to play them something.
    fn answer_caller(&mut self) {
        let Some(law) = self.offer.g711_law() else {
            return;
        };
        self.law = Some(law);
        let te = self.offer.telephone_event_pt();
        if self.relay.is_none() {
            let (Some(a), Some(b)) = (self.caller_media.take(), self.callee_media.take()) else {
                return;
            };
            self.start_relay(
                LegMedia {
                    remote: self.offer.audio_addr(),
                    telephone_event_pt: te,
                    srtp: self.caller_srtp.as_ref().map(CallerSrtp::keys),
                    endpoint: a,
                },
                LegMedia {
                    remote: None,
                    telephone_event_pt: None,
                    srtp: None,
                    endpoint: b,
                },
            );
        }
        let mut answer = Sdp::g711_answer_to(&self.offer, self.caller_rtp, law);
        self.secure_toward_caller(&mut answer);
        self.caller.answer(answer.to_string());
    }

    /// A 183 with SDP before anyone answered: the caller hears that side from now on (a
    /// carrier's ringback or announcement), through the relay the answer will use.
    fn early_media(&mut self, leg: usize) {
        let Some(mut sdp) = self.placed.get(leg).and_then(|p| p.as_ref()?.early.clone()) else {
            return;
        };
        if self.relay.is_some() {
            return;
        }
        let (Some(remote), Some(a), Some(b)) = (
            sdp.audio_addr(),
            self.caller_media.take(),
            self.callee_media.take(),
        ) else {
            return;
        };
        self.start_relay(
            LegMedia {
                remote: self.offer.audio_addr(),
                telephone_event_pt: self.offer.telephone_event_pt(),
                srtp: self.caller_srtp.as_ref().map(CallerSrtp::keys),
                endpoint: a,
            },
            LegMedia {
                remote: Some(remote),
                telephone_event_pt: sdp.telephone_event_pt(),
                srtp: None,
                endpoint: b,
            },
        );
        sdp.rewrite_audio(self.caller_rtp);
        self.secure_toward_caller(&mut sdp);
        self.caller.progress(sdp.to_string());
        tracing::debug!(call = self.id, leg, "early media from the callee");
        self.early_sdp = Some(sdp);
    }

    /// The caller and `leg` hear each other (or, with an answer-side announcement, will).
    fn connect(&mut self, leg: usize) {
        let answer = self
            .placed
            .get_mut(leg)
            .and_then(|p| p.as_mut()?.answer.take());
        let Some(mut answer) = answer else {
            // A 2xx without a usable answer: nothing can flow, so end both sides.
            tracing::warn!(call = self.id, "answer without SDP; ending the call");
            let now = self.core.clock.now();
            self.session.handle_leg_hangup(now, leg);
            return;
        };
        if let Some(relay) = &self.relay {
            // The relay already runs (we answered the caller to play prompts, or early media
            // flows): the answering side takes over its leg 1.
            relay.set_leg(1, answer.audio_addr(), answer.telephone_event_pt());
            if let Some(sdp) = self.early_sdp.take() {
                // The caller has had only a 183: the 200 repeats its SDP.
                self.law = answer.g711_law();
                self.caller.answer(sdp.to_string());
            }
            return;
        }
        let (Some(a), Some(b)) = (self.caller_media.take(), self.callee_media.take()) else {
            return;
        };
        let callee_remote = answer.audio_addr();
        let callee_te = answer.telephone_event_pt();
        if self.law.is_none() {
            // Both sides use the codec the answer chose; prompts are encoded in it.
            self.law = answer.g711_law();
        }
        answer.rewrite_audio(a.rtp_addr());
        self.secure_toward_caller(&mut answer);
        self.start_relay(
            LegMedia {
                remote: self.offer.audio_addr(),
                telephone_event_pt: self.offer.telephone_event_pt(),
                srtp: self.caller_srtp.as_ref().map(CallerSrtp::keys),
                endpoint: a,
            },
            LegMedia {
                remote: callee_remote,
                telephone_event_pt: callee_te,
                srtp: None,
                endpoint: b,
            },
        );
        self.caller.answer(answer.to_string());
    }

    /// An SDP for the caller: RTP/SAVP with our key if theirs is an SRTP leg.
    fn secure_toward_caller(&self, sdp: &mut Sdp) {
        if let Some(srtp) = &self.caller_srtp {
            srtp.to_caller(sdp);
        }
    }

    fn start_relay(&mut self, a: LegMedia, b: LegMedia) {
        self.relay = Some(spawn_relay(
            a,
            b,
            RelayConfig {
                idle_timeout: self.core.rtp_idle_timeout,
            },
            self.media_tx.clone(),
        ));
    }

    /// A re-INVITE from one side: answered here (hold music, or no other side to ask) or
    /// passed to the other side, as the session decides.
    fn reinvite(&mut self, side: Side, r: ReinviteRequest) {
        let offer = r.offer.as_deref().and_then(|o| Sdp::parse(o).ok());
        let Some(mut offer) = offer else {
            r.refuse("");
            return;
        };
        // The leg keeps the security it started with: an SRTP caller's re-offer must bring
        // the same key, a plain leg's must stay plain. The offer is plain from here on.
        match (side, &self.caller_srtp) {
            (Side::Caller, Some(srtp)) => {
                if let Err(why) = srtp.take_reoffer(&mut offer) {
                    r.refuse(why);
                    return;
                }
            }
            _ if !caller_srtp::is_plain_reoffer(&offer) => {
                r.refuse("SRTP cannot be started in a call");
                return;
            }
            _ => {}
        }
        use media::sdp::Direction;
        let held = matches!(offer.direction(), Direction::SendOnly | Direction::Inactive)
            || offer.audio_addr().is_none();
        let now = self.core.clock.now();
        match self.session.handle_reinvite(now, side, held) {
            Reinvite::AnswerHere => self.answer_reinvite_here(side, r),
            Reinvite::Pass => self.pass_reinvite(side, offer, r),
        }
    }

    /// Answers a re-INVITE ourselves with the same media address, mirroring its direction so
    /// that hold (sendonly) is answered recvonly.
    fn answer_reinvite_here(&mut self, side: Side, r: ReinviteRequest) {
        let Some(mut sdp) = r.offer.as_deref().and_then(|o| Sdp::parse(o).ok()) else {
            r.refuse("");
            return;
        };
        if let (Some(relay), Some(remote)) = (&self.relay, sdp.audio_addr()) {
            if side == Side::Caller || self.session.connected_leg().is_some() {
                relay.set_remote(side_index(side), Some(remote));
            }
        }
        sdp.set_direction(sdp.direction().mirrored());
        sdp.rewrite_audio(match side {
            Side::Caller => self.caller_rtp,
            Side::Callee => self.callee_rtp,
        });
        if side == Side::Caller {
            self.secure_toward_caller(&mut sdp);
        }
        r.answer(sdp.to_string());
    }

    /// Passes a re-INVITE (hold, unhold, a new address) to the other side and answers it with
    /// that side's answer, each SDP rewritten to our own addresses.
    fn pass_reinvite(&mut self, side: Side, mut offer: Sdp, r: ReinviteRequest) {
        let other = match side {
            Side::Caller => self
                .session
                .connected_leg()
                .and_then(|l| self.placed.get(l))
                .and_then(|p| p.as_ref().map(|p| p.leg.clone())),
            Side::Callee => Some(self.caller.clone()),
        };
        let Some(other) = other else {
            self.answer_reinvite_here(side, r);
            return;
        };
        if let Some(relay) = &self.relay {
            relay.set_remote(side_index(side), offer.audio_addr());
        }
        let (toward_other, toward_sender, other_side) = match side {
            Side::Caller => (self.callee_rtp, self.caller_rtp, Side::Callee),
            Side::Callee => (self.caller_rtp, self.callee_rtp, Side::Caller),
        };
        offer.rewrite_audio(toward_other);
        // Only the caller's leg may be SRTP: what goes to it is made RTP/SAVP with our key,
        // what comes from it plain (without their key) for the callee.
        let srtp = self.caller_srtp.clone();
        if let (Side::Callee, Some(srtp)) = (side, &srtp) {
            srtp.to_caller(&mut offer);
        }
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let answer = other
                .reinvite(offer.to_string())
                .await
                .and_then(|a| Sdp::parse(&a).ok());
            match answer {
                Some(mut sdp) => {
                    internal
                        .send(Internal::PeerMedia {
                            side: other_side,
                            addr: sdp.audio_addr(),
                        })
                        .ok();
                    sdp.rewrite_audio(toward_sender);
                    match (side, &srtp) {
                        (Side::Caller, Some(srtp)) => srtp.to_caller(&mut sdp),
                        (Side::Callee, Some(_)) => sdp.to_plain_rtp(),
                        (_, None) => {}
                    }
                    r.answer(sdp.to_string());
                }
                None => r.refuse("the other side refused"),
            }
        });
    }
}

impl Drop for CallTask {
    fn drop(&mut self) {
        let placed = self.placed.iter().filter(|p| p.is_some()).count();
        metrics::gauge!("tsunagu_legs_active").decrement(placed as f64);
    }
}

/// History of a forwarded call's second leg.
fn forwarded(call: i64, at: i64, f: &crate::routing::Forwarded) -> Write {
    Write::CallForwarded {
        call,
        at,
        forwarding: f.forwarding,
        to: f.to.clone(),
        from: f.from.clone(),
    }
}

fn refuse_or_hangup(caller: &CallerSide, why: Refuse) {
    if caller.up {
        caller.leg.hangup();
    } else {
        caller.leg.reject(why);
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Caller => 0,
        Side::Callee => 1,
    }
}

fn failure_of(f: sip::Failure) -> LegFailure {
    match f {
        sip::Failure::Busy => LegFailure::Busy,
        sip::Failure::NoAnswer => LegFailure::NoAnswer,
        sip::Failure::Declined => LegFailure::Declined,
        sip::Failure::Unreachable => LegFailure::Unreachable,
    }
}

pub(crate) fn ms(now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX)
}
