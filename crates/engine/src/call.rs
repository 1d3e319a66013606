//! One call through the B2BUA: the caller's leg and the legs Tsunagu places to reach someone.
//!
//! Sans-IO: the SIP edge feeds what happened on the wire (`handle_*`) with the current time
//! and carries out the commands it polls (`poll_command`). Nothing here knows SIP messages, so
//! every race (two phones answering at once, the caller hanging up while a phone answers, a
//! ring timeout at the same millisecond as a 200) is decided here, deterministically, and
//! tested with a virtual clock.

use std::collections::VecDeque;

/// Milliseconds on the caller-supplied clock.
pub type Millis = u64;

/// Index of an outgoing leg within its call.
pub type LegId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// The caller hung up after the answer.
    CallerHangup,
    /// The answering side hung up.
    CalleeHangup,
    /// The caller gave up before anyone answered.
    CallerCancelled,
    /// Nobody answered in time.
    NoAnswer,
    /// Every target was busy.
    Busy,
    /// Every target refused, or none was reachable.
    Unavailable,
    /// No media from either side for too long: a peer vanished.
    MediaTimeout,
    /// A voice file was played to the caller and the call ended with it (a divert).
    Announcement,
}

impl EndCause {
    pub fn as_str(self) -> &'static str {
        match self {
            EndCause::CallerHangup => "caller_hangup",
            EndCause::CalleeHangup => "callee_hangup",
            EndCause::CallerCancelled => "caller_cancelled",
            EndCause::NoAnswer => "no_answer",
            EndCause::Busy => "busy",
            EndCause::Unavailable => "unavailable",
            EndCause::MediaTimeout => "media_timeout",
            EndCause::Announcement => "announcement",
        }
    }

    /// The final response the caller gets when the call ends before an answer.
    fn caller_status(self) -> u16 {
        match self {
            EndCause::Busy => 486,
            EndCause::NoAnswer => 480,
            _ => 480,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Place leg `leg` towards target number `target` of the offer.
    Ring { leg: LegId, target: usize },
    /// Tell the caller it is ringing (180), once.
    RingingToCaller,
    /// Answer the caller ourselves (200) to play them prompts while they wait.
    AnswerCaller,
    /// Stop a leg that has not answered (CANCEL).
    Cancel { leg: LegId },
    /// Answer the caller with the answering leg's media and connect the two.
    Connect { leg: LegId },
    /// End an answered leg (BYE).
    HangupLeg { leg: LegId },
    /// End the caller's answered leg (BYE).
    HangupCaller,
    /// Refuse the unanswered caller with this final status.
    RejectCaller { status: u16 },
    /// The call is over; written to history.
    Ended {
        cause: EndCause,
        answered_leg: Option<LegId>,
        answered_at: Option<Millis>,
        ended_at: Millis,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    Calling {
        deadline: Millis,
    },
    Answered,
    /// CANCEL sent: a 200 may still cross it and must then be hung up.
    Cancelled,
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ringing,
    Answered { leg: LegId, at: Millis },
    Ended,
}

#[derive(Debug)]
pub struct Call {
    /// Legs are added and stopped by the ACD, which also decides when the call gives up.
    managed: bool,
    state: State,
    legs: Vec<LegState>,
    /// Failure statuses of legs, to choose the caller's final response.
    failures: Vec<u16>,
    sent_ringing: bool,
    /// We answered the caller ourselves: the end before an agent answers is a BYE, not a
    /// final response.
    caller_answered: bool,
    /// How long each leg added after `unmanage` rings.
    direct_ring_ms: Millis,
    commands: VecDeque<Command>,
}

impl Call {
    /// A call offered to `targets`, each rung for `ring_ms`. With no target the call fails at
    /// once as unavailable.
    pub fn new(now: Millis, targets: usize, ring_ms: Millis) -> Call {
        let mut call = Call {
            managed: false,
            state: State::Ringing,
            legs: Vec::with_capacity(targets),
            failures: Vec::new(),
            sent_ringing: false,
            caller_answered: false,
            direct_ring_ms: ring_ms,
            commands: VecDeque::new(),
        };
        for target in 0..targets {
            call.legs.push(LegState::Calling {
                deadline: now + ring_ms,
            });
            call.commands.push_back(Command::Ring {
                leg: target,
                target,
            });
        }
        if targets == 0 {
            call.fail(now, EndCause::Unavailable);
        }
        call
    }

    /// A call waiting in a queue: it rings whoever the ACD chooses (`add_leg`), never times
    /// out or fails on its own, and ends early only when the ACD gives up (`give_up`) or the
    /// caller hangs up.
    /// The caller hears ringback (180) at once while queued, or, when the group has something
    /// to play (`answer_first`), is answered at once to hear it.
    pub fn queued(answer_first: bool) -> Call {
        Call {
            managed: true,
            state: State::Ringing,
            legs: Vec::new(),
            failures: Vec::new(),
            sent_ringing: true,
            caller_answered: answer_first,
            direct_ring_ms: 0,
            commands: VecDeque::from([if answer_first {
                Command::AnswerCaller
            } else {
                Command::RingingToCaller
            }]),
        }
    }

    /// Whether we answered the caller before any leg did.
    pub fn caller_answered(&self) -> bool {
        self.caller_answered
    }

    /// Answers the waiting caller ourselves (to play a voice file), if nobody has yet.
    pub fn answer_caller(&mut self) {
        if self.state == State::Ringing && !self.caller_answered {
            self.caller_answered = true;
            self.commands.push_back(Command::AnswerCaller);
        }
    }

    /// The ACD let go of the call (a divert to an agent): from now on it is an ordinary call,
    /// each leg added rings for `ring_ms`, and the call fails when no leg is left.
    pub fn unmanage(&mut self, ring_ms: Millis) {
        self.managed = false;
        self.direct_ring_ms = ring_ms;
    }

    /// Rings one more target (queued calls): returns its leg.
    pub fn add_leg(&mut self, now: Millis) -> Option<LegId> {
        if self.state != State::Ringing {
            return None;
        }
        let leg = self.legs.len();
        let deadline = if self.managed {
            Millis::MAX
        } else {
            now + self.direct_ring_ms
        };
        self.legs.push(LegState::Calling { deadline });
        self.commands.push_back(Command::Ring { leg, target: leg });
        Some(leg)
    }

    /// Stops a leg that is still ringing (the ACD moved on).
    pub fn cancel_leg(&mut self, leg: LegId) {
        if let Some(s) = self.legs.get_mut(leg) {
            if matches!(s, LegState::Calling { .. }) {
                *s = LegState::Cancelled;
                self.commands.push_back(Command::Cancel { leg });
            }
        }
    }

    /// The ACD gives up on a queued call (busy, no destination): the caller is refused.
    pub fn give_up(&mut self, now: Millis, cause: EndCause) {
        if self.state != State::Ringing {
            return;
        }
        for leg in 0..self.legs.len() {
            self.cancel_leg(leg);
        }
        self.fail(now, cause);
    }

    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    pub fn answered_leg(&self) -> Option<LegId> {
        match self.state {
            State::Answered { leg, .. } => Some(leg),
            _ => None,
        }
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.state != State::Ringing {
            return None;
        }
        self.legs
            .iter()
            .filter_map(|l| match l {
                LegState::Calling { deadline } => Some(*deadline),
                _ => None,
            })
            .min()
    }

    fn leg_mut(&mut self, leg: LegId) -> Option<&mut LegState> {
        self.legs.get_mut(leg)
    }

    /// A leg sent 180/183.
    pub fn handle_leg_ringing(&mut self, _now: Millis, leg: LegId) {
        if self.state == State::Ringing
            && matches!(self.legs.get(leg), Some(LegState::Calling { .. }))
            && !self.sent_ringing
        {
            self.sent_ringing = true;
            self.commands.push_back(Command::RingingToCaller);
        }
    }

    /// A leg answered (2xx). The first answer wins; a later one is hung up at once.
    pub fn handle_leg_answered(&mut self, now: Millis, leg: LegId) {
        let Some(state) = self.leg_mut(leg) else {
            return;
        };
        match state {
            LegState::Calling { .. } => {}
            LegState::Cancelled => {
                // The phone answered while our CANCEL was on its way.
                *state = LegState::Gone;
                self.commands.push_back(Command::HangupLeg { leg });
                return;
            }
            LegState::Answered | LegState::Gone => return,
        }
        *state = LegState::Answered;
        match self.state {
            State::Ringing => {
                self.state = State::Answered { leg, at: now };
                self.commands.push_back(Command::Connect { leg });
                for (other, s) in self.legs.iter_mut().enumerate() {
                    if other != leg && matches!(s, LegState::Calling { .. }) {
                        *s = LegState::Cancelled;
                        self.commands.push_back(Command::Cancel { leg: other });
                    }
                }
            }
            State::Answered { .. } | State::Ended => {
                if let Some(s) = self.leg_mut(leg) {
                    *s = LegState::Gone;
                }
                self.commands.push_back(Command::HangupLeg { leg });
            }
        }
    }

    /// A leg failed with a final non-2xx status (or could not be sent: use 503).
    pub fn handle_leg_failed(&mut self, now: Millis, leg: LegId, status: u16) {
        let Some(state) = self.leg_mut(leg) else {
            return;
        };
        if !matches!(state, LegState::Calling { .. }) {
            return;
        }
        *state = LegState::Gone;
        self.failures.push(status);
        self.fail_if_no_leg_left(now);
    }

    fn fail_if_no_leg_left(&mut self, now: Millis) {
        if self.state != State::Ringing || self.managed {
            return;
        }
        if self
            .legs
            .iter()
            .any(|l| matches!(l, LegState::Calling { .. }))
        {
            return;
        }
        let cause =
            if !self.failures.is_empty() && self.failures.iter().all(|s| *s == 486 || *s == 600) {
                EndCause::Busy
            } else if self
                .failures
                .iter()
                .any(|s| *s == 408 || *s == 480 || *s == 487)
                || self.failures.is_empty()
            {
                EndCause::NoAnswer
            } else {
                EndCause::Unavailable
            };
        self.fail(now, cause);
    }

    fn fail(&mut self, now: Millis, cause: EndCause) {
        self.state = State::Ended;
        self.commands.push_back(if self.caller_answered {
            Command::HangupCaller
        } else {
            Command::RejectCaller {
                status: cause.caller_status(),
            }
        });
        self.commands.push_back(Command::Ended {
            cause,
            answered_leg: None,
            answered_at: None,
            ended_at: now,
        });
    }

    /// Ring timeouts.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.state != State::Ringing {
            return;
        }
        for leg in 0..self.legs.len() {
            if let LegState::Calling { deadline } = self.legs[leg] {
                if deadline <= now {
                    self.legs[leg] = LegState::Cancelled;
                    self.failures.push(408);
                    self.commands.push_back(Command::Cancel { leg });
                }
            }
        }
        self.fail_if_no_leg_left(now);
    }

    /// The caller sent CANCEL (before the answer) or BYE (after it).
    pub fn handle_caller_hangup(&mut self, now: Millis) {
        match self.state {
            State::Ringing => {
                for (leg, s) in self.legs.iter_mut().enumerate() {
                    if matches!(s, LegState::Calling { .. }) {
                        *s = LegState::Cancelled;
                        self.commands.push_back(Command::Cancel { leg });
                    }
                }
                self.state = State::Ended;
                self.commands.push_back(Command::Ended {
                    cause: EndCause::CallerCancelled,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: now,
                });
            }
            State::Answered { leg, at } => {
                self.legs[leg] = LegState::Gone;
                self.state = State::Ended;
                self.commands.push_back(Command::HangupLeg { leg });
                self.commands.push_back(Command::Ended {
                    cause: EndCause::CallerHangup,
                    answered_leg: Some(leg),
                    answered_at: Some(at),
                    ended_at: now,
                });
            }
            State::Ended => {}
        }
    }

    /// The answered leg sent BYE.
    pub fn handle_leg_hangup(&mut self, now: Millis, leg: LegId) {
        if let State::Answered { leg: answered, at } = self.state {
            if answered == leg {
                self.legs[leg] = LegState::Gone;
                self.state = State::Ended;
                self.commands.push_back(Command::HangupCaller);
                self.commands.push_back(Command::Ended {
                    cause: EndCause::CalleeHangup,
                    answered_leg: Some(leg),
                    answered_at: Some(at),
                    ended_at: now,
                });
            }
        }
    }

    /// No media for too long: both sides are hung up.
    pub fn handle_media_timeout(&mut self, now: Millis) {
        if self.state == State::Ringing && self.caller_answered {
            // A waiting caller we answered went silent: nobody is there any more.
            for leg in 0..self.legs.len() {
                self.cancel_leg(leg);
            }
            self.fail(now, EndCause::MediaTimeout);
            return;
        }
        if let State::Answered { leg, at } = self.state {
            self.legs[leg] = LegState::Gone;
            self.state = State::Ended;
            self.commands.push_back(Command::HangupLeg { leg });
            self.commands.push_back(Command::HangupCaller);
            self.commands.push_back(Command::Ended {
                cause: EndCause::MediaTimeout,
                answered_leg: Some(leg),
                answered_at: Some(at),
                ended_at: now,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(c: &mut Call) -> Vec<Command> {
        std::iter::from_fn(|| c.poll_command()).collect()
    }

    #[test]
    fn ring_all_second_answers_others_are_cancelled() {
        let mut c = Call::new(0, 3, 20_000);
        assert_eq!(
            drain(&mut c),
            (0..3)
                .map(|i| Command::Ring { leg: i, target: i })
                .collect::<Vec<_>>()
        );
        c.handle_leg_ringing(100, 0);
        c.handle_leg_ringing(120, 1);
        assert_eq!(
            drain(&mut c),
            vec![Command::RingingToCaller],
            "one 180 to the caller"
        );
        c.handle_leg_answered(3_000, 1);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Connect { leg: 1 },
                Command::Cancel { leg: 0 },
                Command::Cancel { leg: 2 }
            ]
        );
        assert_eq!(c.poll_timeout(), None);
        c.handle_caller_hangup(63_000);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::HangupLeg { leg: 1 },
                Command::Ended {
                    cause: EndCause::CallerHangup,
                    answered_leg: Some(1),
                    answered_at: Some(3_000),
                    ended_at: 63_000
                }
            ]
        );
        assert!(c.is_ended());
    }

    #[test]
    fn simultaneous_answers_the_loser_is_hung_up() {
        let mut c = Call::new(0, 2, 20_000);
        drain(&mut c);
        c.handle_leg_answered(1_000, 0);
        c.handle_leg_answered(1_000, 1);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Connect { leg: 0 },
                Command::Cancel { leg: 1 },
                Command::HangupLeg { leg: 1 }
            ]
        );
        assert_eq!(c.answered_leg(), Some(0));
    }

    #[test]
    fn caller_cancels_while_ringing() {
        let mut c = Call::new(0, 2, 20_000);
        drain(&mut c);
        c.handle_leg_failed(500, 1, 486);
        c.handle_caller_hangup(4_000);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Cancel { leg: 0 },
                Command::Ended {
                    cause: EndCause::CallerCancelled,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 4_000
                }
            ]
        );
        // A 200 that crossed the CANCEL is hung up; a second one changes nothing.
        c.handle_leg_answered(4_010, 0);
        assert_eq!(drain(&mut c), vec![Command::HangupLeg { leg: 0 }]);
        c.handle_leg_answered(4_020, 0);
        assert!(drain(&mut c).is_empty());
    }

    #[test]
    fn ring_timeout_with_a_virtual_clock() {
        let mut c = Call::new(10_000, 2, 20_000);
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(30_000));
        c.handle_timeout(29_999);
        assert!(drain(&mut c).is_empty());
        c.handle_timeout(30_000);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Cancel { leg: 0 },
                Command::Cancel { leg: 1 },
                Command::RejectCaller { status: 480 },
                Command::Ended {
                    cause: EndCause::NoAnswer,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 30_000
                }
            ]
        );
    }

    #[test]
    fn all_busy_is_busy_and_no_target_is_unavailable() {
        let mut c = Call::new(0, 2, 20_000);
        drain(&mut c);
        c.handle_leg_failed(10, 0, 486);
        c.handle_leg_failed(20, 1, 486);
        assert_eq!(drain(&mut c)[0], Command::RejectCaller { status: 486 });
        let mut c = Call::new(0, 0, 20_000);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::RejectCaller { status: 480 },
                Command::Ended {
                    cause: EndCause::Unavailable,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 0
                }
            ]
        );
    }

    #[test]
    fn callee_hangup_and_media_timeout() {
        let mut c = Call::new(0, 1, 20_000);
        drain(&mut c);
        c.handle_leg_answered(5, 0);
        drain(&mut c);
        c.handle_leg_hangup(9_005, 0);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::HangupCaller,
                Command::Ended {
                    cause: EndCause::CalleeHangup,
                    answered_leg: Some(0),
                    answered_at: Some(5),
                    ended_at: 9_005
                }
            ]
        );
        let mut c = Call::new(0, 1, 20_000);
        drain(&mut c);
        c.handle_leg_answered(5, 0);
        drain(&mut c);
        c.handle_media_timeout(60_000);
        let cmds = drain(&mut c);
        assert_eq!(
            cmds[..2],
            [Command::HangupLeg { leg: 0 }, Command::HangupCaller]
        );
        // Events after the end change nothing.
        c.handle_leg_hangup(60_001, 0);
        c.handle_caller_hangup(60_002);
        assert!(drain(&mut c).is_empty());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Ev {
        Ringing(usize),
        Answered(usize),
        Failed(usize, u16),
        Timeout,
        CallerHangup,
        LegHangup(usize),
        MediaTimeout,
    }

    fn ev() -> impl Strategy<Value = Ev> {
        prop_oneof![
            (0..4usize).prop_map(Ev::Ringing),
            (0..4usize).prop_map(Ev::Answered),
            (
                0..4usize,
                prop_oneof![Just(486u16), Just(480), Just(503), Just(603)]
            )
                .prop_map(|(l, s)| Ev::Failed(l, s)),
            Just(Ev::Timeout),
            Just(Ev::CallerHangup),
            (0..4usize).prop_map(Ev::LegHangup),
            Just(Ev::MediaTimeout),
        ]
    }

    proptest! {
        /// Whatever happens, a call is connected at most once, ends at most once, and once the
        /// caller has hung up or the call ended, no leg is ever connected again.
        #[test]
        fn one_outcome_per_call(targets in 0..4usize, events in proptest::collection::vec((ev(), 0..30_000u64), 0..40)) {
            let mut c = Call::new(0, targets, 20_000);
            let mut now = 0;
            let mut connects = 0;
            let mut cmds: Vec<Command> = std::iter::from_fn(|| c.poll_command()).collect();
            let mut ended = cmds.iter().filter(|c| matches!(c, Command::Ended { .. })).count();
            for (e, dt) in events {
                now += dt;
                match e {
                    Ev::Ringing(l) => c.handle_leg_ringing(now, l),
                    Ev::Answered(l) => c.handle_leg_answered(now, l),
                    Ev::Failed(l, s) => c.handle_leg_failed(now, l, s),
                    Ev::Timeout => c.handle_timeout(now),
                    Ev::CallerHangup => c.handle_caller_hangup(now),
                    Ev::LegHangup(l) => c.handle_leg_hangup(now, l),
                    Ev::MediaTimeout => c.handle_media_timeout(now),
                }
                while let Some(cmd) = c.poll_command() {
                    match cmd {
                        Command::Connect { .. } => { prop_assert_eq!(ended, 0); connects += 1; }
                        Command::Ended { .. } => ended += 1,
                        _ => {}
                    }
                    cmds.push(cmd);
                }
            }
            prop_assert!(connects <= 1, "{:?}", cmds);
            prop_assert!(ended <= 1, "{:?}", cmds);
            prop_assert_eq!(ended == 1, c.is_ended());
            if targets == 0 { prop_assert_eq!(ended, 1); }
        }
    }
}

#[cfg(test)]
mod queued_tests {
    use super::*;

    fn drain(c: &mut Call) -> Vec<Command> {
        std::iter::from_fn(|| c.poll_command()).collect()
    }

    #[test]
    fn queued_calls_ring_on_demand_and_do_not_fail_on_their_own() {
        let mut c = Call::queued(false);
        assert_eq!(
            drain(&mut c),
            vec![Command::RingingToCaller],
            "ringback while queued"
        );
        assert_eq!(c.add_leg(0), Some(0));
        assert_eq!(drain(&mut c), vec![Command::Ring { leg: 0, target: 0 }]);
        c.handle_leg_failed(10, 0, 486);
        assert!(!c.is_ended(), "the ACD decides, not the last failure");
        assert_eq!(c.add_leg(20), Some(1));
        c.cancel_leg(1);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Ring { leg: 1, target: 1 },
                Command::Cancel { leg: 1 }
            ]
        );
        c.add_leg(30);
        drain(&mut c);
        c.give_up(40, EndCause::Busy);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Cancel { leg: 2 },
                Command::RejectCaller { status: 486 },
                Command::Ended {
                    cause: EndCause::Busy,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 40
                }
            ]
        );
        assert_eq!(c.add_leg(50), None);
    }

    #[test]
    fn a_caller_answered_for_prompts_is_hung_up_not_refused() {
        let mut c = Call::queued(true);
        assert_eq!(drain(&mut c), vec![Command::AnswerCaller], "no 180");
        assert!(c.caller_answered());
        c.add_leg(0);
        c.handle_leg_ringing(5, 0);
        assert_eq!(
            drain(&mut c),
            vec![Command::Ring { leg: 0, target: 0 }],
            "a ringing agent does not make the answered caller hear 180"
        );
        c.give_up(10, EndCause::Announcement);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Cancel { leg: 0 },
                Command::HangupCaller,
                Command::Ended {
                    cause: EndCause::Announcement,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 10
                }
            ]
        );
    }

    #[test]
    fn an_answered_waiting_caller_who_goes_silent_ends_the_call() {
        let mut c = Call::queued(true);
        drain(&mut c);
        c.handle_media_timeout(60_000);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::HangupCaller,
                Command::Ended {
                    cause: EndCause::MediaTimeout,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 60_000
                }
            ]
        );
        // Unanswered callers send no media to time out on: nothing happens to them.
        let mut r = Call::queued(false);
        drain(&mut r);
        r.handle_media_timeout(60_000);
        assert!(drain(&mut r).is_empty());
    }

    #[test]
    fn a_call_let_go_by_the_acd_rings_like_a_direct_call() {
        let mut c = Call::queued(false);
        drain(&mut c);
        c.unmanage(10_000);
        assert_eq!(c.add_leg(100), Some(0));
        assert_eq!(c.poll_timeout(), Some(10_100), "the leg rings for 10 s");
        drain(&mut c);
        c.handle_timeout(10_100);
        assert_eq!(
            drain(&mut c),
            vec![
                Command::Cancel { leg: 0 },
                Command::RejectCaller { status: 480 },
                Command::Ended {
                    cause: EndCause::NoAnswer,
                    answered_leg: None,
                    answered_at: None,
                    ended_at: 10_100
                }
            ]
        );
    }
}
