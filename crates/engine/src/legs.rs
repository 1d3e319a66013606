//! The legs a session places towards phones or a trunk, and the rule between them: the first
//! answer wins, the others are stopped, and an answer that crosses our CANCEL is hung up.
//!
//! Shared by the call session (`session`) and by an originated call (`originate`), which both
//! ring contacts; neither knows what a leg is on the wire.

use crate::agent_state::AgentId;
use crate::clock::Millis;

/// A leg's index within its session.
pub type LegId = usize;

/// Why a leg we placed did not answer, as the SIP edge classifies its final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegFailure {
    /// 486, 600: the phone or every phone of the party is busy.
    Busy,
    /// Nobody answered in time (408, 480, our ring timeout).
    NoAnswer,
    /// The party refused (603).
    Declined,
    /// Not reachable at all: no such user, a server error, nothing sent.
    Unreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegState {
    /// INVITE sent; no final response yet. `deadline` is when we give up (`Millis::MAX`: never,
    /// the ACD decides).
    Calling {
        deadline: Millis,
    },
    /// The phone answered; the session has not yet decided whether it gets the call (a queue
    /// call waits for the ACD's word).
    Answered,
    /// The leg has the call.
    Connected,
    /// CANCEL sent: a 200 may still cross it and must then be hung up.
    Cancelled,
    Gone,
}

#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub agent: Option<AgentId>,
    pub state: LegState,
    pub failure: Option<LegFailure>,
    /// The answer chose a G.711 law (prompts can be played on it).
    pub g711: bool,
}

/// What the legs ask of their owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegOp {
    Ring(LegId),
    Cancel(LegId),
    Hangup(LegId),
}

#[derive(Debug, Default)]
pub(crate) struct Legs {
    pub legs: Vec<Leg>,
}

impl Legs {
    pub fn add(&mut self, agent: Option<AgentId>, deadline: Millis, ops: &mut Vec<LegOp>) -> LegId {
        let leg = self.legs.len();
        self.legs.push(Leg {
            agent,
            state: LegState::Calling { deadline },
            failure: None,
            g711: false,
        });
        ops.push(LegOp::Ring(leg));
        leg
    }

    pub fn get(&self, leg: LegId) -> Option<&Leg> {
        self.legs.get(leg)
    }

    pub fn state(&self, leg: LegId) -> Option<LegState> {
        self.legs.get(leg).map(|l| l.state)
    }

    pub fn set(&mut self, leg: LegId, state: LegState) {
        if let Some(l) = self.legs.get_mut(leg) {
            l.state = state;
        }
    }

    /// Stops a leg that has not got the call: CANCEL while it rings, BYE once it answered.
    pub fn stop(&mut self, leg: LegId, ops: &mut Vec<LegOp>) {
        let Some(l) = self.legs.get_mut(leg) else {
            return;
        };
        match l.state {
            LegState::Calling { .. } => {
                l.state = LegState::Cancelled;
                ops.push(LegOp::Cancel(leg));
            }
            LegState::Answered => {
                l.state = LegState::Gone;
                ops.push(LegOp::Hangup(leg));
            }
            LegState::Connected | LegState::Cancelled | LegState::Gone => {}
        }
    }

    /// Stops every leg but `keep`.
    pub fn stop_all_but(&mut self, keep: Option<LegId>, ops: &mut Vec<LegOp>) {
        for leg in 0..self.legs.len() {
            if Some(leg) != keep {
                self.stop(leg, ops);
            }
        }
    }

    /// A leg's phone answered. True when the answer may be taken; an answer that crossed our
    /// CANCEL, or came twice, is hung up or ignored.
    pub fn answered(&mut self, leg: LegId, g711: bool, ops: &mut Vec<LegOp>) -> bool {
        let Some(l) = self.legs.get_mut(leg) else {
            return false;
        };
        match l.state {
            LegState::Calling { .. } => {
                l.state = LegState::Answered;
                l.g711 = g711;
                true
            }
            LegState::Cancelled => {
                l.state = LegState::Gone;
                ops.push(LegOp::Hangup(leg));
                false
            }
            LegState::Answered | LegState::Connected | LegState::Gone => false,
        }
    }

    /// The leg failed before it got the call. True if it was still in play.
    pub fn failed(&mut self, leg: LegId, failure: LegFailure) -> bool {
        let Some(l) = self.legs.get_mut(leg) else {
            return false;
        };
        match l.state {
            LegState::Calling { .. } | LegState::Answered => {
                l.state = LegState::Gone;
                l.failure = Some(failure);
                true
            }
            LegState::Cancelled => {
                l.state = LegState::Gone;
                false
            }
            LegState::Connected | LegState::Gone => false,
        }
    }

    /// Legs whose ring time is over are cancelled as unanswered.
    pub fn expire(&mut self, now: Millis, ops: &mut Vec<LegOp>) -> bool {
        let mut any = false;
        for (leg, l) in self.legs.iter_mut().enumerate() {
            if let LegState::Calling { deadline } = l.state {
                if deadline <= now {
                    l.state = LegState::Cancelled;
                    l.failure = Some(LegFailure::NoAnswer);
                    ops.push(LegOp::Cancel(leg));
                    any = true;
                }
            }
        }
        any
    }

    pub fn next_deadline(&self) -> Option<Millis> {
        self.legs
            .iter()
            .filter_map(|l| match l.state {
                LegState::Calling { deadline } if deadline != Millis::MAX => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Whether any leg may still answer.
    pub fn any_in_play(&self) -> bool {
        self.legs
            .iter()
            .any(|l| matches!(l.state, LegState::Calling { .. } | LegState::Answered))
    }

    /// Every leg of `agent` is out of play (all their phones failed or were stopped).
    pub fn agent_out(&self, agent: AgentId) -> bool {
        self.legs
            .iter()
            .filter(|l| l.agent == Some(agent))
            .all(|l| !matches!(l.state, LegState::Calling { .. } | LegState::Answered))
    }

    /// The leg of `agent` whose phone answered and waits for the ACD.
    pub fn answered_leg_of(&self, agent: AgentId) -> Option<LegId> {
        self.legs
            .iter()
            .position(|l| l.agent == Some(agent) && l.state == LegState::Answered)
    }

    pub fn legs_of(&self, agent: AgentId) -> Vec<LegId> {
        (0..self.legs.len())
            .filter(|&l| self.legs[l].agent == Some(agent))
            .collect()
    }

    /// Why nobody answered, from the legs' failures: busy only when every one was busy.
    pub fn outcome(&self) -> LegFailure {
        let failures: Vec<LegFailure> = self.legs.iter().filter_map(|l| l.failure).collect();
        if !failures.is_empty() && failures.iter().all(|f| *f == LegFailure::Busy) {
            LegFailure::Busy
        } else if failures.is_empty() || failures.contains(&LegFailure::NoAnswer) {
            LegFailure::NoAnswer
        } else if failures.iter().all(|f| *f == LegFailure::Declined) {
            LegFailure::Declined
        } else {
            LegFailure::Unreachable
        }
    }
}
