//! A call Tsunagu places itself before there is a caller: it rings a person's own phones
//! (PRES-06 callback, later campaigns and park call-backs), and once one answers, the answered
//! leg is handed to a new session as that session's caller.

use crate::clock::Millis;
use crate::legs::{LegFailure, LegId, LegOp, LegState, Legs};
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Place leg `leg` towards its contact.
    Ring {
        leg: LegId,
    },
    Cancel {
        leg: LegId,
    },
    Hangup {
        leg: LegId,
    },
    /// `leg` answered first: hand it over (the others are being stopped).
    Answered {
        leg: LegId,
    },
    /// Nobody answered.
    Failed {
        failure: LegFailure,
    },
}

#[derive(Debug)]
pub struct Originate {
    legs: Legs,
    done: bool,
    commands: VecDeque<Command>,
}

impl Originate {
    /// Rings `contacts` contacts for `ring_ms`; with none, fails at once as unreachable.
    pub fn new(now: Millis, contacts: usize, ring_ms: Millis) -> Originate {
        let mut o = Originate {
            legs: Legs::default(),
            done: false,
            commands: VecDeque::new(),
        };
        let mut ops = Vec::new();
        for _ in 0..contacts {
            o.legs.add(None, now + ring_ms, &mut ops);
        }
        o.run(ops);
        if contacts == 0 {
            o.finish(LegFailure::Unreachable);
        }
        o
    }

    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.done {
            None
        } else {
            self.legs.next_deadline()
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
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

    fn finish(&mut self, failure: LegFailure) {
        self.done = true;
        self.commands.push_back(Command::Failed { failure });
    }

    pub fn handle_leg_answered(&mut self, _now: Millis, leg: LegId) {
        let mut ops = Vec::new();
        let take = self.legs.answered(leg, false, &mut ops);
        self.run(ops);
        if !take {
            return;
        }
        if self.done {
            self.legs.set(leg, LegState::Gone);
            self.commands.push_back(Command::Hangup { leg });
            return;
        }
        self.done = true;
        self.legs.set(leg, LegState::Connected);
        self.commands.push_back(Command::Answered { leg });
        let mut ops = Vec::new();
        self.legs.stop_all_but(Some(leg), &mut ops);
        self.run(ops);
    }

    pub fn handle_leg_failed(&mut self, _now: Millis, leg: LegId, failure: LegFailure) {
        if self.legs.failed(leg, failure) && !self.done && !self.legs.any_in_play() {
            let outcome = self.legs.outcome();
            self.finish(outcome);
        }
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.done {
            return;
        }
        let mut ops = Vec::new();
        if self.legs.expire(now, &mut ops) {
            self.run(ops);
            if !self.legs.any_in_play() {
                self.finish(LegFailure::NoAnswer);
            }
        }
    }

    /// Gives up (the person who asked for it cancelled, or the server stops).
    pub fn cancel(&mut self, _now: Millis) {
        if self.done {
            return;
        }
        let mut ops = Vec::new();
        self.legs.stop_all_but(None, &mut ops);
        self.run(ops);
        self.finish(LegFailure::NoAnswer);
    }
}
