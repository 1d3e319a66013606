//! One call: its caller, the legs Tsunagu places to reach someone, what the caller hears, its
//! part in a group's queue, and what history records of it.
//!
//! Sans-IO like `acd::Acd`: the telephony core feeds what happened (`handle_*`, with the time)
//! and carries out `poll_command`. Nothing here knows SIP or RTP, so every race (two phones
//! answering at once, the caller hanging up while a phone answers, the ACD moving on as an
//! agent picks up) and every rule of the manual is decided here and tested on a virtual clock
//! (`tests/session.rs`). The rules, in one place:
//!
//! - the first answer wins; the other legs are stopped, and an answer that crosses our CANCEL
//!   is hung up;
//! - a queue call rings whoever the ACD chooses; a phone's answer is taken only when the ACD
//!   says so, and an agent fails only when every one of their phones has;
//! - a caller who has something to hear while waiting (greeting, announcement, music) and
//!   offered G.711 is answered by us at once, and agents are rung only after the greeting;
//! - on answer the agent first hears the group's answer-side announcement while the caller
//!   waits in silence (or keeps hearing the queue), then the two are connected;
//! - an agent's hold plays the group's hold music to the caller, answered by us;
//! - diverts: to another group (at most `MAX_DIVERTS` times), to an agent (rung like a direct
//!   call), to an external forwarding (its number rung through the trunk; a caller we answered
//!   hears ringback meanwhile), to a voice file (played, then the call ends), or busy;
//! - an agent placing a call, or answering one that is not a queue call, is busy for the
//!   queues until it ends;
//! - an inbound call belongs in history to whoever answered it; an outbound or internal one to
//!   the caller, and the agent who answered an internal call sees it as incoming.

use crate::agent_state::{AgentId, GroupId};
use crate::clock::Millis;
use crate::ivr::{Key, MenuCmd, MenuRun};
pub use crate::legs::{LegFailure, LegId};
use crate::legs::{LegOp, LegState, Legs};
use crate::route_target::RouteTarget;
use crate::voicemail::{self, VmCmd, Voicemail};
use std::collections::VecDeque;

/// A voice file (VOICE) by id.
pub type VoiceId = i64;

/// A call overflowing from group to group this many times goes no further: two groups
/// diverting to each other while both are full would otherwise pass it back and forth for ever.
pub const MAX_DIVERTS: u32 = 5;
/// How long an agent a queue call was diverted to is rung.
pub const DIVERT_RING_MS: Millis = 30_000;
/// How long the external number of a forwarding (外線転送) is rung.
pub const FORWARD_RING_MS: Millis = 60_000;

/// An external forwarding (FWD) by id.
pub type ForwardId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// The caller hung up after the answer.
    CallerHangup,
    /// The answering side hung up.
    CalleeHangup,
    /// The caller gave up before anyone answered (CANCEL).
    CallerCancelled,
    /// The caller hung up while waiting in a queue, after we had answered them to play the
    /// group's greeting or music.
    Abandoned,
    /// Nobody answered in time.
    NoAnswer,
    /// Every target was busy, or the queue was full with nowhere to overflow.
    Busy,
    /// Every target refused, or none was reachable.
    Unavailable,
    /// No media from either side for too long: a peer vanished.
    MediaTimeout,
    /// A voice file was played to the caller and the call ended with it.
    Announcement,
    /// The caller left a message (or was offered to) and we ended the call after the thanks.
    Voicemail,
}

impl EndCause {
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::CallerHangup => "caller_hangup",
            EndCause::CalleeHangup => "callee_hangup",
            EndCause::CallerCancelled => "caller_cancelled",
            EndCause::Abandoned => "abandoned",
            EndCause::NoAnswer => "no_answer",
            EndCause::Busy => "busy",
            EndCause::Unavailable => "unavailable",
            EndCause::MediaTimeout => "media_timeout",
            EndCause::Announcement => "announcement",
            EndCause::Voicemail => "voicemail",
        }
    }

    fn of(failure: LegFailure) -> EndCause {
        match failure {
            LegFailure::Busy => EndCause::Busy,
            LegFailure::NoAnswer => EndCause::NoAnswer,
            LegFailure::Declined | LegFailure::Unreachable => EndCause::Unavailable,
        }
    }
}

/// What the caller is told when the call ends before it was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Busy,
    NoAnswer,
    Unavailable,
}

impl Reject {
    fn of(cause: EndCause) -> Reject {
        match cause {
            EndCause::Busy => Reject::Busy,
            EndCause::NoAnswer => Reject::NoAnswer,
            _ => Reject::Unavailable,
        }
    }
}

/// The two media sides of a call: the caller, and whichever leg has (or is about to have) it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Caller,
    Callee,
}

/// What a side hears from us instead of the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audio {
    /// Greeting once, then music interrupted by the announcement (GROUP-24…26).
    Queue {
        greeting: Option<VoiceId>,
        announcement: Option<VoiceId>,
        music: Option<VoiceId>,
    },
    Once(VoiceId),
    Loop(VoiceId),
    /// The ringback tone, while an answered caller waits for the other party to answer.
    Ringback,
    Silence,
    /// One of voicemail's fixed prompts.
    Voicemail(voicemail::Prompt),
}

/// What a group plays (GROUP-24…27); only the voice files that can be played.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupAudio {
    /// With its length: agents are rung when it has played.
    pub greeting: Option<(VoiceId, Millis)>,
    pub announcement: Option<VoiceId>,
    pub music: Option<VoiceId>,
    /// While an agent holds the call.
    pub hold: Option<VoiceId>,
    /// To the agent alone on answer (着信判別音声).
    pub answer: Option<VoiceId>,
}

impl GroupAudio {
    /// Whether a waiting caller has anything to hear (and so is answered to hear it).
    pub fn plays_while_waiting(&self) -> bool {
        self.greeting.is_some() || self.announcement.is_some() || self.music.is_some()
    }

    fn waiting(&self, with_greeting: bool) -> Audio {
        Audio::Queue {
            greeting: self.greeting.filter(|_| with_greeting).map(|(v, _)| v),
            announcement: self.announcement,
            music: self.music,
        }
    }
}

/// Where a call goes, as the dial plan decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Ring these contacts (each the agent it belongs to, if any) for `ring_ms`.
    Ring {
        contacts: Vec<Option<AgentId>>,
        ring_ms: Millis,
    },
    /// Enter a group's queue: the ACD chooses who rings.
    Queue { group: GroupId, audio: GroupAudio },
    /// Play a voice file and hang up (NUM-05).
    VoiceFile(VoiceId),
    /// Play a voice file, then take a message (VOICE-04).
    Voicemail(VoiceId),
    /// An IVR's button menu (IVR-08): the caller is answered and chooses where to go.
    Menu(MenuRun),
}

/// How a call begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub direction: Direction,
    pub route: Route,
    /// The agent placing the call from one of their phones: busy for the queues from the
    /// first digit.
    pub calling_agent: Option<AgentId>,
    /// The caller's offer has a G.711 law, so prompts can be played to them.
    pub caller_g711: bool,
    /// The caller's leg is already answered (a call we originated: the agent's own phone
    /// answered first); otherwise it is an INVITE waiting for our final response.
    pub caller_up: bool,
}

/// What the session asks of the ACD for its queue call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcdRequest {
    /// The call enters `group`'s queue; agents are not rung before `hold_ms` have passed.
    Enter { group: GroupId, hold_ms: Millis },
    /// An agent's phone answered: may they have it?
    Answered { agent: AgentId },
    /// Every phone of the agent failed.
    Failed { agent: AgentId },
    /// The caller left before an agent had the call.
    CallerLeft,
    /// The connected call ended.
    Ended,
    /// A call the ACD let go of (a divert) ended: nothing more will be said of it.
    Forget,
}

/// Where the ACD sends a call that leaves its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divert {
    /// Queue full with nowhere to go.
    Busy,
    Group {
        group: GroupId,
        audio: GroupAudio,
    },
    Agent(AgentId),
    /// An external forwarding: its number is rung through the trunk.
    Forward(ForwardId),
    /// A voice file that can be played.
    VoiceFile(VoiceId),
    /// A voice file with voicemail on, that can be played.
    Voicemail(VoiceId),
    /// An IVR whose schedule sent the call nowhere yet: its button menu.
    Menu(MenuRun),
    /// A destination that cannot take the call (an IVR before that exists, a voice file that
    /// cannot be played).
    Unavailable,
}

/// What the ACD decided for the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdOrder {
    Ring(AgentId),
    Stop(AgentId),
    Connect(AgentId),
    Divert(Divert),
}

/// How a re-INVITE (hold, unhold, a new address) is to be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reinvite {
    /// Answer it ourselves, mirroring its direction (nobody on the other side to ask, or we
    /// play hold music instead).
    AnswerHere,
    /// Pass it to the other side and answer with that side's answer.
    Pass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 180 to the caller.
    CallerRinging,
    /// Answer the caller with our own media (G.711), to play them something.
    AnswerCaller,
    /// Refuse the unanswered caller.
    RejectCaller(Reject),
    /// End the answered caller's leg.
    HangupCaller,
    /// Place leg `leg` towards its contact.
    Ring {
        leg: LegId,
    },
    /// Stop a leg that is still ringing.
    Cancel {
        leg: LegId,
    },
    /// End a leg that answered.
    Hangup {
        leg: LegId,
    },
    /// Find `agent`'s phones and call `ring_contacts` with them.
    RingAgent {
        agent: AgentId,
    },
    /// Place the forwarding's leg through the trunk (the caller ID, the restriction list and
    /// the channel limit are the core's) and call `ring_forward` with it, or with none.
    RingForward {
        forward: ForwardId,
    },
    /// The caller hears this leg before it answers (183 with SDP: ringback, an announcement).
    EarlyMedia {
        leg: LegId,
    },
    /// The caller and `leg` are connected; the caller is answered with the leg's media if we
    /// have not answered them yet.
    Connect {
        leg: LegId,
    },
    Play {
        side: Side,
        audio: Audio,
    },
    StopPlaying {
        side: Side,
    },
    Acd(AcdRequest),
    /// The agent is on (or off) a call that is not a queue call.
    AgentBusy {
        agent: AgentId,
        busy: bool,
    },
    /// History: the call was answered; `owner` (when known) owns it, `peer` is the other agent
    /// of an internal call.
    Answered {
        owner: Option<AgentId>,
        peer: Option<AgentId>,
    },
    /// An IVR's menu chose this destination: look it up and answer with
    /// [`Session::handle_route`].
    Route(RouteTarget),
    /// Start keeping the caller's audio: their message after the voice file `voice`.
    RecordMessage {
        voice: VoiceId,
    },
    /// The message is over: keep it (or not) and how much of it.
    StopMessage(voicemail::Ended),
    /// History: the call now belongs to this group (a divert).
    GroupChanged {
        group: GroupId,
    },
    /// The call is over.
    Ended {
        cause: EndCause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Setup,
    Answered { leg: LegId },
    Ended,
}

#[derive(Debug)]
struct Queue {
    audio: GroupAudio,
    /// The ACD decides (false once it let go: a divert).
    managed: bool,
    diverts: u32,
}

#[derive(Debug)]
pub struct Session {
    /// The IVR menu the caller is in, and when it stops waiting for a key.
    menu: Option<(MenuRun, Option<Millis>)>,
    direction: Direction,
    state: State,
    legs: Legs,
    /// How long a leg rings when the session (not the ACD) rings it.
    ring_ms: Millis,
    queue: Option<Queue>,
    caller_g711: bool,
    /// The caller's leg is answered: by us (prompts) or because it was a call we originated.
    caller_up: bool,
    /// We answered the caller to play them something while they wait.
    answered_by_us: bool,
    sent_ringing: bool,
    early_media: bool,
    /// The call's audio is G.711 after the answer (prompts can be played on both sides).
    g711: bool,
    /// The caller hears something from us (cleared when the two sides are connected).
    caller_hears: bool,
    /// A voice file the call ends with once it has played.
    final_prompt: bool,
    /// Voicemail: the voice file that plays first, and once it has, the message being taken.
    voicemail: Option<(VoiceId, Option<Voicemail>)>,
    /// The agent hears the answer-side announcement; the caller waits for its end.
    announcing: bool,
    /// Agents this call keeps busy outside the queues.
    busy: Vec<AgentId>,
    commands: VecDeque<Command>,
}

impl Session {
    pub fn new(now: Millis, start: Start) -> Session {
        let mut s = Session {
            menu: None,
            direction: start.direction,
            state: State::Setup,
            legs: Legs::default(),
            ring_ms: 0,
            queue: None,
            caller_g711: start.caller_g711,
            caller_up: start.caller_up,
            answered_by_us: false,
            sent_ringing: false,
            early_media: false,
            // An answered caller's own law, until an answer says otherwise.
            g711: start.caller_up && start.caller_g711,
            caller_hears: false,
            final_prompt: false,
            voicemail: None,
            announcing: false,
            busy: Vec::new(),
            commands: VecDeque::new(),
        };
        if let Some(agent) = start.calling_agent {
            s.set_busy(agent);
        }
        match start.route {
            Route::Ring { contacts, ring_ms } => {
                s.ring_ms = ring_ms;
                if s.caller_up {
                    s.play_to_caller(Audio::Ringback);
                }
                if contacts.is_empty() {
                    s.fail(now, EndCause::Unavailable);
                }
                let mut ops = Vec::new();
                for agent in contacts {
                    s.legs.add(agent, now + ring_ms, &mut ops);
                }
                s.run(ops);
            }
            Route::Queue { group, audio } => {
                let answer_first = audio.plays_while_waiting() && s.caller_g711;
                let hold_ms = match (&audio.greeting, answer_first) {
                    (Some((_, ms)), true) => *ms,
                    _ => 0,
                };
                if answer_first {
                    s.answer_caller();
                    s.play_to_caller(audio.waiting(true));
                } else if s.caller_up {
                    s.play_to_caller(Audio::Ringback);
                } else {
                    s.ringing_to_caller();
                }
                s.commands
                    .push_back(Command::Acd(AcdRequest::Enter { group, hold_ms }));
                s.queue = Some(Queue {
                    audio,
                    managed: true,
                    diverts: 0,
                });
            }
            Route::VoiceFile(v) => {
                if s.caller_g711 {
                    s.answer_caller();
                    s.final_prompt = true;
                    s.play_to_caller(Audio::Once(v));
                } else {
                    s.fail(now, EndCause::Unavailable);
                }
            }
            Route::Voicemail(v) => s.offer_voicemail(now, v),
            Route::Menu(run) => s.enter_menu(now, run),
        }
        s
    }

    /// The voice file, then a message (VOICE-04); the voice file alone cannot be played to a
    /// caller without G.711.
    fn offer_voicemail(&mut self, now: Millis, voice: VoiceId) {
        if !self.caller_g711 {
            self.fail(now, EndCause::Unavailable);
            return;
        }
        self.answer_caller();
        self.voicemail = Some((voice, None));
        self.play_to_caller(Audio::Once(voice));
    }

    fn voicemail_commands(&mut self, now: Millis, cmds: Vec<VmCmd>) {
        let voice = self.voicemail.as_ref().map(|(v, _)| *v);
        for c in cmds {
            match c {
                VmCmd::Play(p) => self.play_to_caller(Audio::Voicemail(p)),
                VmCmd::StartRecording => {
                    if let Some(voice) = voice {
                        self.commands.push_back(Command::RecordMessage { voice });
                    }
                }
                VmCmd::StopRecording(ended) => {
                    self.commands.push_back(Command::StopMessage(ended));
                }
                VmCmd::Hangup => self.give_up(now, EndCause::Voicemail),
            }
        }
    }

    /// The message being taken, if any.
    fn message(&mut self) -> Option<&mut Voicemail> {
        self.voicemail.as_mut().and_then(|(_, vm)| vm.as_mut())
    }

    /// The caller started (`speaking`) or stopped speaking, as the media heard it.
    pub fn handle_voice(&mut self, now: Millis, speaking: bool) {
        if self.state != State::Setup {
            return;
        }
        if let Some(vm) = self.message() {
            vm.on_voice(now, speaking);
        }
    }

    fn enter_menu(&mut self, now: Millis, mut run: MenuRun) {
        if !self.caller_g711 {
            // Nothing can be played to this caller: the menu cannot be offered.
            self.fail(now, EndCause::Unavailable);
            return;
        }
        self.answer_caller();
        let cmds = run.begin();
        self.menu = Some((run, None));
        self.menu_commands(now, cmds);
    }

    fn menu_commands(&mut self, now: Millis, cmds: Vec<MenuCmd>) {
        for c in cmds {
            match c {
                MenuCmd::Play(v) => {
                    if let Some((_, deadline)) = &mut self.menu {
                        *deadline = None;
                    }
                    self.play_to_caller(Audio::Once(v));
                }
                MenuCmd::StartTimer(d) => {
                    let ms = Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX);
                    if let Some((_, deadline)) = &mut self.menu {
                        *deadline = Some(now.saturating_add(ms));
                    }
                }
                MenuCmd::Route(t) => {
                    self.menu = None;
                    if self.caller_hears {
                        self.caller_hears = false;
                        self.commands
                            .push_back(Command::StopPlaying { side: Side::Caller });
                    }
                    self.commands.push_back(Command::Route(t));
                }
            }
        }
    }

    /// A key the caller pressed (RFC 4733), for the IVR menu they are in.
    pub fn handle_dtmf(&mut self, now: Millis, digit: char) {
        if self.state != State::Setup {
            return;
        }
        if let (Some(vm), Some(key)) = (self.message(), Key::from_char(digit)) {
            let cmds = vm.on_key(now, key);
            self.voicemail_commands(now, cmds);
            return;
        }
        let (Some((run, _)), Some(key)) = (&mut self.menu, Key::from_char(digit)) else {
            return;
        };
        let cmds = run.on_key(key);
        self.menu_commands(now, cmds);
    }

    /// Where the menu's choice leads, as the core looked it up (`Command::Route`).
    pub fn handle_route(&mut self, now: Millis, divert: Divert) {
        if self.state != State::Setup {
            return;
        }
        let to_agent = matches!(divert, Divert::Agent(_));
        self.divert(now, divert);
        if to_agent && self.answered_by_us && self.state == State::Setup {
            self.play_to_caller(Audio::Ringback);
        }
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match self.state {
            State::Setup => {
                let menu = self.menu.as_ref().and_then(|(_, d)| *d);
                let message = self
                    .voicemail
                    .as_ref()
                    .and_then(|(_, vm)| vm.as_ref()?.deadline());
                [self.legs.next_deadline(), menu, message]
                    .into_iter()
                    .flatten()
                    .min()
            }
            _ => None,
        }
    }

    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// The leg that has the call.
    pub fn connected_leg(&self) -> Option<LegId> {
        match self.state {
            State::Answered { leg } => Some(leg),
            _ => None,
        }
    }

    /// Whether we answered the caller ourselves before any leg did: agents are then offered
    /// only the caller's G.711 law, so that nothing needs transcoding.
    pub fn answered_by_us(&self) -> bool {
        self.answered_by_us
    }

    /// The agent a leg rings.
    pub fn leg_agent(&self, leg: LegId) -> Option<AgentId> {
        self.legs.get(leg).and_then(|l| l.agent)
    }

    fn managed(&self) -> bool {
        self.queue.as_ref().is_some_and(|q| q.managed)
    }

    fn run(&mut self, ops: Vec<LegOp>) {
        for op in ops {
            self.commands.push_back(match op {
                LegOp::Ring(leg) => Command::Ring { leg },
                LegOp::Cancel(leg) => Command::Cancel { leg },
                LegOp::Hangup(leg) => Command::Hangup { leg },
            });
        }
    }

    fn set_busy(&mut self, agent: AgentId) {
        if !self.busy.contains(&agent) {
            self.busy.push(agent);
            self.commands
                .push_back(Command::AgentBusy { agent, busy: true });
        }
    }

    fn ringing_to_caller(&mut self) {
        if !self.sent_ringing && !self.caller_up && !self.early_media {
            self.sent_ringing = true;
            self.commands.push_back(Command::CallerRinging);
        }
    }

    fn answer_caller(&mut self) {
        if !self.caller_up {
            self.caller_up = true;
            self.answered_by_us = true;
            self.g711 = true;
            self.commands.push_back(Command::AnswerCaller);
        }
    }

    fn play_to_caller(&mut self, audio: Audio) {
        self.caller_hears = true;
        self.commands.push_back(Command::Play {
            side: Side::Caller,
            audio,
        });
    }

    /// Rings the contacts found for `agent` (after `Command::RingAgent` or an ACD ring).
    /// Returns the legs added; with none, the agent is unreachable.
    pub fn ring_contacts(
        &mut self,
        now: Millis,
        agent: AgentId,
        contacts: usize,
    ) -> std::ops::Range<LegId> {
        self.ring_legs(now, Some(agent), contacts)
    }

    /// Rings the forwarding's leg (after `Command::RingForward`): `placed` is false when it
    /// cannot be placed (no trunk, restricted, over the channel limit), and the call fails.
    pub fn ring_forward(&mut self, now: Millis, placed: bool) -> std::ops::Range<LegId> {
        self.ring_legs(now, None, usize::from(placed))
    }

    fn ring_legs(
        &mut self,
        now: Millis,
        agent: Option<AgentId>,
        contacts: usize,
    ) -> std::ops::Range<LegId> {
        let first = self.legs.legs.len();
        if self.state != State::Setup {
            return first..first;
        }
        if contacts == 0 {
            match (self.managed(), agent) {
                (true, Some(agent)) => self
                    .commands
                    .push_back(Command::Acd(AcdRequest::Failed { agent })),
                _ if !self.legs.any_in_play() => self.fail(now, EndCause::Unavailable),
                _ => {}
            }
            return first..first;
        }
        let deadline = if self.managed() {
            Millis::MAX
        } else {
            now + self.ring_ms
        };
        let mut ops = Vec::new();
        for _ in 0..contacts {
            self.legs.add(agent, deadline, &mut ops);
        }
        self.run(ops);
        first..self.legs.legs.len()
    }

    /// A leg sent 180/183.
    pub fn handle_leg_ringing(&mut self, _now: Millis, leg: LegId) {
        if self.state == State::Setup
            && matches!(self.legs.state(leg), Some(LegState::Calling { .. }))
        {
            self.ringing_to_caller();
        }
    }

    /// A leg sent a 183 with SDP before answering: the caller hears it (a carrier's ringback
    /// or announcement), unless the caller already hears something else.
    pub fn handle_leg_early_media(&mut self, _now: Millis, leg: LegId) {
        if self.state == State::Setup
            && !self.caller_up
            && !self.early_media
            && matches!(self.legs.state(leg), Some(LegState::Calling { .. }))
        {
            self.early_media = true;
            self.commands.push_back(Command::EarlyMedia { leg });
        }
    }

    /// A leg's phone answered (2xx); `g711` when its answer chose a G.711 law.
    pub fn handle_leg_answered(&mut self, now: Millis, leg: LegId, g711: bool) {
        let mut ops = Vec::new();
        let take = self.legs.answered(leg, g711, &mut ops);
        self.run(ops);
        if !take {
            return;
        }
        if self.state != State::Setup {
            // Someone else has the call already.
            self.legs.set(leg, LegState::Gone);
            self.commands.push_back(Command::Hangup { leg });
            return;
        }
        match (self.managed(), self.leg_agent(leg)) {
            // The ACD decides whose answer wins (Connect or Stop comes back).
            (true, Some(agent)) => self
                .commands
                .push_back(Command::Acd(AcdRequest::Answered { agent })),
            _ => self.connect(now, leg),
        }
    }

    /// A leg failed with a final non-2xx response, or could not be placed.
    pub fn handle_leg_failed(&mut self, now: Millis, leg: LegId, failure: LegFailure) {
        if !self.legs.failed(leg, failure) || self.state != State::Setup {
            return;
        }
        self.after_leg_lost(now, leg);
    }

    /// A leg that lost the call: the ACD hears of an agent all of whose phones failed; an
    /// unmanaged call with no leg left fails.
    fn after_leg_lost(&mut self, now: Millis, leg: LegId) {
        if self.managed() {
            if let Some(agent) = self.leg_agent(leg) {
                if self.legs.agent_out(agent) {
                    self.commands
                        .push_back(Command::Acd(AcdRequest::Failed { agent }));
                }
            }
        } else {
            self.fail_if_no_leg_left(now);
        }
    }

    fn fail_if_no_leg_left(&mut self, now: Millis) {
        if self.state == State::Setup && !self.managed() && !self.legs.any_in_play() {
            let cause = EndCause::of(self.legs.outcome());
            self.fail(now, cause);
        }
    }

    /// The answered leg (or a leg whose answer waits for the ACD) sent BYE.
    pub fn handle_leg_hangup(&mut self, now: Millis, leg: LegId) {
        match self.state {
            State::Answered { leg: answered } if answered == leg => {
                self.legs.set(leg, LegState::Gone);
                self.hangup_caller();
                self.end(now, EndCause::CalleeHangup);
            }
            State::Setup if self.legs.state(leg) == Some(LegState::Answered) => {
                self.legs.set(leg, LegState::Gone);
                self.after_leg_lost(now, leg);
            }
            _ => {}
        }
    }

    /// The caller sent CANCEL (before the answer) or BYE (after it).
    pub fn handle_caller_hangup(&mut self, now: Millis) {
        match self.state {
            State::Setup => {
                if let Some(vm) = self.message() {
                    let cmds = vm.on_hangup(now);
                    self.voicemail_commands(now, cmds);
                }
                let mut ops = Vec::new();
                self.legs.stop_all_but(None, &mut ops);
                self.run(ops);
                let cause = if self.answered_by_us && self.queue.is_some() {
                    EndCause::Abandoned
                } else if self.caller_up {
                    EndCause::CallerHangup
                } else {
                    EndCause::CallerCancelled
                };
                self.end(now, cause);
            }
            State::Answered { leg } => {
                self.legs.set(leg, LegState::Gone);
                self.commands.push_back(Command::Hangup { leg });
                self.end(now, EndCause::CallerHangup);
            }
            State::Ended => {}
        }
    }

    /// Ring timeouts.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.state != State::Setup {
            return;
        }
        if let Some((run, Some(deadline))) = &mut self.menu {
            if *deadline <= now {
                let cmds = run.on_timeout();
                self.menu_commands(now, cmds);
            }
        }
        if let Some(vm) = self.message() {
            let cmds = vm.on_timeout(now);
            self.voicemail_commands(now, cmds);
        }
        let mut ops = Vec::new();
        if self.legs.expire(now, &mut ops) {
            self.run(ops);
            self.fail_if_no_leg_left(now);
        }
    }

    /// No media from either side for too long.
    pub fn handle_media_timeout(&mut self, now: Millis) {
        match self.state {
            State::Setup if self.caller_up => {
                // A waiting caller we answered went silent: nobody is there any more.
                if let Some(vm) = self.message() {
                    let cmds = vm.on_hangup(now);
                    self.voicemail_commands(now, cmds);
                }
                let mut ops = Vec::new();
                self.legs.stop_all_but(None, &mut ops);
                self.run(ops);
                self.hangup_caller();
                self.end(now, EndCause::MediaTimeout);
            }
            State::Answered { leg } => {
                self.legs.set(leg, LegState::Gone);
                self.commands.push_back(Command::Hangup { leg });
                self.hangup_caller();
                self.end(now, EndCause::MediaTimeout);
            }
            _ => {}
        }
    }

    /// A prompt ended on `side`.
    pub fn handle_play_done(&mut self, now: Millis, side: Side) {
        match side {
            Side::Callee if self.announcing => {
                // The agent has heard which line this is: now they hear the caller.
                self.announcing = false;
                self.bridge();
            }
            Side::Caller if self.final_prompt && self.state == State::Setup => {
                self.give_up(now, EndCause::Announcement);
            }
            Side::Caller if self.voicemail.is_some() && self.state == State::Setup => {
                self.caller_hears = false;
                let cmds = match &mut self.voicemail {
                    Some((_, Some(vm))) => vm.on_prompt_done(now),
                    Some((_, taking)) => {
                        // The voice file has played: the message follows.
                        let (vm, cmds) = Voicemail::begin();
                        *taking = Some(vm);
                        cmds
                    }
                    None => Vec::new(),
                };
                self.voicemail_commands(now, cmds);
            }
            Side::Caller if self.menu.is_some() && self.state == State::Setup => {
                self.caller_hears = false;
                if let Some((run, _)) = &mut self.menu {
                    let cmds = run.on_prompt_done();
                    self.menu_commands(now, cmds);
                }
            }
            _ => {}
        }
    }

    /// A re-INVITE from `from`; `held` when it puts the other side on hold (sendonly,
    /// inactive or no address), false when it takes the call back or only moves media.
    pub fn handle_reinvite(&mut self, _now: Millis, from: Side, held: bool) -> Reinvite {
        let State::Answered { .. } = self.state else {
            // Before the answer there is no other side to ask.
            return Reinvite::AnswerHere;
        };
        let hold_music = self.queue.as_ref().and_then(|q| q.audio.hold);
        match (from, hold_music) {
            (Side::Callee, Some(music)) if self.g711 && !self.announcing => {
                // The agent's hold: the caller hears our music, not a silent line.
                if held {
                    self.play_to_caller(Audio::Loop(music));
                } else {
                    self.caller_hears = false;
                    self.commands
                        .push_back(Command::StopPlaying { side: Side::Caller });
                }
                Reinvite::AnswerHere
            }
            _ => Reinvite::Pass,
        }
    }

    /// What the ACD decided for this queue call.
    pub fn handle_acd(&mut self, now: Millis, order: AcdOrder) {
        if self.state == State::Ended {
            return;
        }
        match order {
            AcdOrder::Ring(agent) => {
                if self.state == State::Setup {
                    self.commands.push_back(Command::RingAgent { agent });
                }
            }
            AcdOrder::Stop(agent) => {
                let mut ops = Vec::new();
                for leg in self.legs.legs_of(agent) {
                    if self.connected_leg() != Some(leg) {
                        self.legs.stop(leg, &mut ops);
                    }
                }
                self.run(ops);
            }
            AcdOrder::Connect(agent) => {
                if let (State::Setup, Some(leg)) = (self.state, self.legs.answered_leg_of(agent)) {
                    self.connect(now, leg);
                }
            }
            // A divert the ACD sent before it heard that it let go of the call is stale.
            AcdOrder::Divert(divert) if self.managed() => self.divert(now, divert),
            AcdOrder::Divert(_) => {}
        }
    }

    fn divert(&mut self, now: Millis, divert: Divert) {
        if self.state != State::Setup {
            return;
        }
        let diverts = self.queue.as_ref().map_or(0, |q| q.diverts);
        match divert {
            Divert::Group { group, audio } if diverts < MAX_DIVERTS => {
                // Overflow or timeout to another group: the call queues there (GROUP-14/16),
                // with that group's music, announcements and hold music.
                if self.answered_by_us {
                    self.play_to_caller(audio.waiting(false));
                }
                self.queue = Some(Queue {
                    audio,
                    managed: true,
                    diverts: diverts + 1,
                });
                self.commands.push_back(Command::GroupChanged { group });
                self.commands
                    .push_back(Command::Acd(AcdRequest::Enter { group, hold_ms: 0 }));
            }
            Divert::Agent(agent) => {
                // To one agent: the ACD lets go, and their phones ring like a direct call.
                self.let_go();
                self.ring_ms = DIVERT_RING_MS;
                self.commands.push_back(Command::RingAgent { agent });
            }
            Divert::Forward(forward) => {
                // Out through the trunk: the ACD lets go; a caller we answered hears ringback
                // instead of the queue until the far end answers.
                self.let_go();
                self.ring_ms = FORWARD_RING_MS;
                if self.answered_by_us {
                    self.play_to_caller(Audio::Ringback);
                }
                self.commands.push_back(Command::RingForward { forward });
            }
            Divert::VoiceFile(v) if self.caller_g711 => {
                self.let_go();
                self.final_prompt = true;
                self.answer_caller();
                self.play_to_caller(Audio::Once(v));
            }
            Divert::Voicemail(v) if self.caller_g711 => {
                self.let_go();
                self.offer_voicemail(now, v);
            }
            Divert::Menu(run) => {
                self.let_go();
                self.enter_menu(now, run);
            }
            Divert::Busy => {
                self.let_go();
                self.give_up(now, EndCause::Busy);
            }
            Divert::Group { .. }
            | Divert::VoiceFile(_)
            | Divert::Voicemail(_)
            | Divert::Unavailable => {
                self.let_go();
                self.give_up(now, EndCause::Unavailable);
            }
        }
    }

    /// The ACD no longer decides for this call: stop what it rang.
    fn let_go(&mut self) {
        if let Some(q) = &mut self.queue {
            q.managed = false;
        }
        let mut ops = Vec::new();
        self.legs.stop_all_but(None, &mut ops);
        self.run(ops);
    }

    /// The call fails before an answer, for `cause` (a divert to busy, a voice file that
    /// has played).
    fn give_up(&mut self, now: Millis, cause: EndCause) {
        if self.state != State::Setup {
            return;
        }
        let mut ops = Vec::new();
        self.legs.stop_all_but(None, &mut ops);
        self.run(ops);
        self.fail(now, cause);
    }

    /// `leg` gets the call.
    fn connect(&mut self, _now: Millis, leg: LegId) {
        let g711 = self.legs.get(leg).is_some_and(|l| l.g711);
        self.legs.set(leg, LegState::Connected);
        self.state = State::Answered { leg };
        let mut ops = Vec::new();
        self.legs.stop_all_but(Some(leg), &mut ops);
        // Agents were offered only the caller's law when we answered first.
        self.g711 = self.answered_by_us || (g711 && (!self.caller_up || self.caller_g711));
        // The caller's leg is answered now, if it was not already.
        self.caller_up = true;
        let agent = self.leg_agent(leg);
        let (owner, peer) = match self.direction {
            Direction::Inbound => (agent, None),
            Direction::Outbound => (None, None),
            Direction::Internal => (None, agent),
        };
        // History first: the answer is recorded before the caller hears it.
        self.commands.push_back(Command::Answered { owner, peer });
        self.commands.push_back(Command::Connect { leg });
        self.run(ops);
        if !self.managed() {
            if let Some(agent) = agent {
                self.set_busy(agent);
            }
        }
        let answer = self.queue.as_ref().and_then(|q| q.audio.answer);
        match answer {
            Some(prompt) if self.g711 => {
                // The caller hears nothing new until the agent has heard the announcement.
                if !self.caller_hears {
                    self.play_to_caller(Audio::Silence);
                }
                self.announcing = true;
                self.commands.push_back(Command::Play {
                    side: Side::Callee,
                    audio: Audio::Once(prompt),
                });
            }
            _ => self.bridge(),
        }
    }

    /// The two sides hear each other.
    fn bridge(&mut self) {
        if self.caller_hears {
            self.caller_hears = false;
            self.commands
                .push_back(Command::StopPlaying { side: Side::Caller });
        }
    }

    fn hangup_caller(&mut self) {
        if self.caller_up {
            self.commands.push_back(Command::HangupCaller);
        }
    }

    fn fail(&mut self, now: Millis, cause: EndCause) {
        if self.caller_up {
            self.commands.push_back(Command::HangupCaller);
        } else {
            self.commands
                .push_back(Command::RejectCaller(Reject::of(cause)));
        }
        self.end(now, cause);
    }

    fn end(&mut self, now: Millis, cause: EndCause) {
        if self.state == State::Ended {
            return;
        }
        // A message being taken ends with the call, keeping what was said.
        if let Some(vm) = self.message() {
            let cmds = vm.on_hangup(now);
            self.voicemail_commands(now, cmds);
        }
        let answered = matches!(self.state, State::Answered { .. });
        self.state = State::Ended;
        if let Some(q) = &self.queue {
            let request = match (q.managed, answered) {
                (true, true) => AcdRequest::Ended,
                (true, false) => AcdRequest::CallerLeft,
                (false, _) => AcdRequest::Forget,
            };
            self.commands.push_back(Command::Acd(request));
        }
        for agent in std::mem::take(&mut self.busy) {
            self.commands
                .push_back(Command::AgentBusy { agent, busy: false });
        }
        self.commands.push_back(Command::Ended { cause });
    }
}
